#include "node/stored_incarnation.h"

#include <string>

#include "core/byte_codec.h"
#include "node/metadata_keys.h"

namespace meridian::node {

Result<std::uint64_t> ReadStoredIncarnation(storage::Engine& engine) {
  auto stored = engine.Get(storage::Column::kMetadata, kIncarnationKey);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::uint64_t{0};
  ByteReader reader(**stored);
  std::uint64_t incarnation = 0;
  if (!reader.ReadFixed64(incarnation) || !reader.empty()) {
    return Status::Corruption("metadata \"node/incarnation\" is malformed");
  }
  return incarnation;
}

Result<std::uint64_t> RaiseStoredIncarnation(storage::Engine& engine, std::uint64_t at_least) {
  Result<std::uint64_t> stored = ReadStoredIncarnation(engine);
  if (!stored.ok() || *stored >= at_least) return stored;
  std::string encoded;
  PutFixed64(encoded, at_least);
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kIncarnationKey), std::move(encoded));
  MERIDIAN_RETURN_IF_ERROR(engine.Write(batch, storage::WriteOptions{.sync = true}));
  MERIDIAN_RETURN_IF_ERROR(engine.CommitPending());
  return at_least;
}

}  // namespace meridian::node
