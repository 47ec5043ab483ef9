#include "replication/object_merge.h"

#include "core/object_codec.h"
#include "storage/tictac_keys.h"

namespace meridian::replication {
namespace {

// The merge of `incoming` with the stored copy; nullopt when the stored copy includes it.
Result<std::optional<DvvSet>> Merged(storage::Engine& engine, storage::Column column,
                                     std::string_view storage_key, const DvvSet& incoming) {
  auto stored_bytes = engine.Get(column, storage_key);
  if (!stored_bytes.ok()) return stored_bytes.status();
  if (!stored_bytes->has_value()) return std::optional<DvvSet>(incoming);
  auto stored = DecodeObject(**stored_bytes);
  if (!stored.ok()) {
    // Overwriting it could drop writes only this replica has; an operator must look.
    return Status::Corruption("the local copy is unreadable: " + stored.status().message());
  }
  auto merged = DvvSet::Merge(*stored, incoming);
  if (!merged.ok()) return merged.status();  // a reused dot: keep the stored copy as it is
  if (*merged == *stored) return std::optional<DvvSet>();
  return std::optional<DvvSet>(std::move(merged).value());
}

}  // namespace

Result<std::optional<std::string>> MergeWithStored(storage::Engine& engine, storage::Column column,
                                                   std::string_view storage_key,
                                                   const DvvSet& incoming) {
  auto merged = Merged(engine, column, storage_key, incoming);
  if (!merged.ok()) return merged.status();
  if (!merged->has_value()) return std::optional<std::string>();
  return std::optional<std::string>(EncodeObject(**merged));
}

Result<std::optional<storage::WriteBatch::Op>> MergedObjectPut(storage::Engine& engine,
                                                               std::string_view storage_key,
                                                               const DvvSet& incoming) {
  auto merged = Merged(engine, storage::Column::kObjects, storage_key, incoming);
  if (!merged.ok()) return merged.status();
  if (!merged->has_value()) return std::optional<storage::WriteBatch::Op>();
  return std::optional<storage::WriteBatch::Op>(
      storage::WriteBatch::Op{storage::Column::kObjects, std::string(storage_key),
                              EncodeObject(**merged), storage::ObjectVersionHash(**merged)});
}

}  // namespace meridian::replication
