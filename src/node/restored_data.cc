#include "node/restored_data.h"

#include <string>

#include "node/metadata_keys.h"
#include "node/stored_incarnation.h"

namespace meridian::node {

Result<std::uint64_t> PrepareRestoredData(storage::Engine& engine,
                                          std::uint64_t incarnation_floor) {
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kOpenMarkerKey), std::string("1"));
  MERIDIAN_RETURN_IF_ERROR(engine.Write(batch, storage::WriteOptions{.sync = true}));
  MERIDIAN_RETURN_IF_ERROR(engine.CommitPending());
  return RaiseStoredIncarnation(engine, incarnation_floor);
}

}  // namespace meridian::node
