#include "replication/object_merge.h"

#include "core/object_codec.h"

namespace meridian::replication {

Result<std::optional<std::string>> MergeWithStored(storage::Engine& engine, storage::Column column,
                                                   std::string_view storage_key,
                                                   const DvvSet& incoming) {
  auto stored_bytes = engine.Get(column, storage_key);
  if (!stored_bytes.ok()) return stored_bytes.status();
  if (!stored_bytes->has_value()) return std::optional<std::string>(EncodeObject(incoming));
  auto stored = DecodeObject(**stored_bytes);
  if (!stored.ok()) {
    // Overwriting it could drop writes only this replica has; an operator must look.
    return Status::Corruption("the local copy is unreadable: " + stored.status().message());
  }
  auto merged = DvvSet::Merge(*stored, incoming);
  if (!merged.ok()) return merged.status();  // a reused dot: keep the stored copy as it is
  if (*merged == *stored) return std::optional<std::string>();
  return std::optional<std::string>(EncodeObject(*merged));
}

}  // namespace meridian::replication
