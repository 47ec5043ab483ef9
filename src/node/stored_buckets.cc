#include "node/stored_buckets.h"

#include <optional>
#include <utility>

#include "core/assert.h"
#include "node/metadata_keys.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

bool HoldsBucketData(storage::Column column) {
  return column == storage::Column::kObjects || column == storage::Column::kHints ||
         column == storage::Column::kStrong;
}

std::string RecordKey(std::string_view bucket) {
  std::string key(kStoredBucketPrefix);
  key.append(bucket);
  return key;
}

}  // namespace

Result<std::uint64_t> StoredBuckets::Load(storage::Engine& engine) {
  buckets_.clear();
  auto complete = engine.Get(storage::Column::kMetadata, kStoredBucketsCompleteKey);
  if (!complete.ok()) return complete.status();
  if (complete->has_value()) {
    MERIDIAN_RETURN_IF_ERROR(engine.Scan(storage::Column::kMetadata, kStoredBucketPrefix,
                                         storage::PrefixScanEnd(kStoredBucketPrefix),
                                         [&](std::string_view key, std::string_view) {
                                           buckets_.emplace(key.substr(kStoredBucketPrefix.size()));
                                           return true;
                                         }));
    loaded_ = true;
    return std::uint64_t{0};
  }
  for (storage::Column column :
       {storage::Column::kObjects, storage::Column::kHints, storage::Column::kStrong}) {
    MERIDIAN_RETURN_IF_ERROR(
        engine.Scan(column, "", "", [&](std::string_view key, std::string_view) {
          if (auto bucket = storage::BucketOfObjectKey(key); bucket.has_value())
            buckets_.emplace(*bucket);
          return true;
        }));
  }
  storage::WriteBatch records;
  for (const std::string& bucket : buckets_) {
    records.Put(storage::Column::kMetadata, RecordKey(bucket), "");
  }
  records.Put(storage::Column::kMetadata, std::string(kStoredBucketsCompleteKey), "");
  MERIDIAN_RETURN_IF_ERROR(engine.Write(records, storage::WriteOptions{.sync = true}));
  loaded_ = true;
  return static_cast<std::uint64_t>(buckets_.size());
}

bool StoredBuckets::MayHold(std::string_view bucket) const {
  MERIDIAN_CHECK(loaded_);
  return buckets_.find(bucket) != buckets_.end();
}

storage::WriteBatch StoredBuckets::RecordsBefore(const storage::WriteBatch& batch) const {
  storage::WriteBatch records;
  if (!loaded_) return records;  // before Load: Load's scan sees whatever is written
  for (const storage::WriteBatch::Op& op : batch.ops) {
    if (!op.value.has_value() || !HoldsBucketData(op.column)) continue;
    std::optional<std::string_view> bucket = storage::BucketOfObjectKey(op.key);
    if (!bucket.has_value() || buckets_.find(*bucket) != buckets_.end()) continue;
    const std::string key = RecordKey(*bucket);
    bool listed = false;
    for (const storage::WriteBatch::Op& record : records.ops) listed = listed || record.key == key;
    if (!listed) records.Put(storage::Column::kMetadata, key, "");
  }
  return records;
}

void StoredBuckets::Written(const storage::WriteBatch& records) {
  for (const storage::WriteBatch::Op& op : records.ops) {
    MERIDIAN_CHECK(op.key.starts_with(kStoredBucketPrefix));
    buckets_.emplace(op.key.substr(kStoredBucketPrefix.size()));
  }
}

}  // namespace meridian::node
