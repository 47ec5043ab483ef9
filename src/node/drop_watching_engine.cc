#include "node/drop_watching_engine.h"

#include <optional>

#include "storage/key_encoding.h"

namespace meridian::node {
namespace {
std::optional<MintRole> RoleOf(storage::Column column) {
  switch (column) {
    case storage::Column::kObjects:
      return MintRole::kReplica;
    case storage::Column::kHints:
      return MintRole::kFallback;
    case storage::Column::kMetadata:
      return std::nullopt;
  }
  return std::nullopt;
}
}  // namespace

Status DropWatchingEngine::Write(const storage::WriteBatch& batch,
                                 const storage::WriteOptions& options) {
  for (const storage::WriteBatch::Op& op : batch.ops) {
    if (op.value.has_value()) continue;
    const std::optional<MintRole> role = RoleOf(op.column);
    if (!role.has_value()) continue;
    auto key = storage::DecodeObjectKey(op.key);
    if (key.ok() && key->partition < actors_.partition_count()) {
      actors_.Retire(key->partition, *role);
    } else {
      actors_.RetireAll(*role);  // not an object key: which partition it held is unknown
    }
  }
  return inner_.Write(batch, options);
}

}  // namespace meridian::node
