#include "sim/namespaced_engine.h"

#include "core/assert.h"
#include "node/peer_route.h"
#include "storage/key_encoding.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::sim {

NamespacedEngine::NamespacedEngine(storage::Engine& inner, std::uint8_t space)
    : inner_(inner), space_(space) {
  MERIDIAN_CHECK(space_ < 0xff);  // InnerEnd names the next space
}

std::string NamespacedEngine::Inner(std::string_view key) const {
  std::string inner;
  inner.reserve(key.size() + 1);
  inner.push_back(static_cast<char>(space_));
  inner.append(key);
  return inner;
}

std::string NamespacedEngine::InnerEnd(std::string_view end) const {
  if (!end.empty()) return Inner(end);
  return std::string(1, static_cast<char>(space_ + 1));
}

Result<std::optional<std::string>> NamespacedEngine::Get(storage::Column column,
                                                         std::string_view key) {
  return inner_.Get(column, Inner(key));
}

Status NamespacedEngine::Write(const storage::WriteBatch& batch,
                               const storage::WriteOptions& options) {
  storage::WriteBatch inner;
  inner.ops.reserve(batch.ops.size());
  for (const storage::WriteBatch::Op& op : batch.ops) {
    inner.ops.push_back(storage::WriteBatch::Op{op.column, Inner(op.key), op.value});
  }
  return inner_.Write(inner, options);
}

Status NamespacedEngine::Scan(storage::Column column, std::string_view begin, std::string_view end,
                              const storage::ScanVisitor& visitor) {
  return inner_.Scan(
      column, Inner(begin), InnerEnd(end), [&](std::string_view key, std::string_view value) {
        MERIDIAN_CHECK(!key.empty() && static_cast<std::uint8_t>(key.front()) == space_);
        return visitor(key.substr(1), value);
      });
}

Result<std::uint64_t> NamespacedEngine::ApproximateBytes(storage::Column column,
                                                         std::string_view begin,
                                                         std::string_view end) {
  return inner_.ApproximateBytes(column, Inner(begin), InnerEnd(end));
}

Result<std::optional<std::string>> StoredData::Get(storage::Column column, std::string_view key) {
  // A node keeps its objects in segment order (storage format 2): read them as it does.
  if (shard_count_ == 1) return storage::SegmentOrderedObjects(engine_).Get(column, key);
  const std::uint32_t shard =
      node::ShardOfPartition(storage::PartitionOfKey(key), partition_count_, shard_count_);
  NamespacedEngine space(engine_, static_cast<std::uint8_t>(shard));
  return storage::SegmentOrderedObjects(space).Get(column, key);
}

Status StoredData::Scan(storage::Column column, const storage::ScanVisitor& visitor) {
  if (shard_count_ == 1)
    return storage::SegmentOrderedObjects(engine_).Scan(column, "", "", visitor);
  for (std::uint32_t shard = 0; shard < shard_count_; ++shard) {
    bool more = true;
    NamespacedEngine space(engine_, static_cast<std::uint8_t>(shard));
    MERIDIAN_RETURN_IF_ERROR(storage::SegmentOrderedObjects(space).Scan(
        column, "", "", [&](std::string_view key, std::string_view value) {
          more = visitor(key, value);
          return more;
        }));
    if (!more) break;
  }
  return Status::Ok();
}

}  // namespace meridian::sim
