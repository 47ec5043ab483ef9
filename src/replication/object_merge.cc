#include "replication/object_merge.h"

#include "core/object_codec.h"
#include "storage/tictac_keys.h"

namespace meridian::replication {
namespace {

// What to write: nullptr when the stored copy includes `incoming`; `&incoming` when there is
// no stored copy (no copy of it taken: values go up to 8 MiB); otherwise the merge, kept in
// `merged`.
Result<const DvvSet*> Merged(storage::Engine& engine, storage::Column column,
                             std::string_view storage_key, const DvvSet& incoming,
                             std::optional<DvvSet>& merged) {
  auto stored_bytes = engine.Get(column, storage_key);
  if (!stored_bytes.ok()) return stored_bytes.status();
  if (!stored_bytes->has_value()) return &incoming;
  auto stored = DecodeObject(**stored_bytes);
  if (!stored.ok()) {
    // Overwriting it could drop writes only this replica has; an operator must look.
    return Status::Corruption("the local copy is unreadable: " + stored.status().message());
  }
  auto merge = DvvSet::Merge(*stored, incoming);
  if (!merge.ok()) return merge.status();  // a reused dot: keep the stored copy as it is
  if (*merge == *stored) return static_cast<const DvvSet*>(nullptr);
  merged = std::move(merge).value();
  return &*merged;
}

}  // namespace

Result<std::optional<std::string>> MergeWithStored(storage::Engine& engine, storage::Column column,
                                                   std::string_view storage_key,
                                                   const DvvSet& incoming) {
  std::optional<DvvSet> holder;
  auto merged = Merged(engine, column, storage_key, incoming, holder);
  if (!merged.ok()) return merged.status();
  if (*merged == nullptr) return std::optional<std::string>();
  return std::optional<std::string>(EncodeObject(**merged));
}

Result<std::optional<storage::WriteBatch::Op>> MergedObjectPut(storage::Engine& engine,
                                                               std::string_view storage_key,
                                                               const DvvSet& incoming) {
  std::optional<DvvSet> holder;
  auto merged = Merged(engine, storage::Column::kObjects, storage_key, incoming, holder);
  if (!merged.ok()) return merged.status();
  if (*merged == nullptr) return std::optional<storage::WriteBatch::Op>();
  return std::optional<storage::WriteBatch::Op>(
      storage::WriteBatch::Op{storage::Column::kObjects, std::string(storage_key),
                              EncodeObject(**merged), storage::ObjectVersionHash(**merged),
                              static_cast<std::uint32_t>((*merged)->SupersededSingleUseEntries())});
}

}  // namespace meridian::replication
