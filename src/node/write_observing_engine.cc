#include "node/write_observing_engine.h"

#include <map>
#include <string>
#include <vector>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "storage/key_encoding.h"
#include "storage/tictac_keys.h"
#include "storage/tictac_tree.h"

namespace meridian::node {
namespace {
std::optional<MintRole> RoleOf(storage::Column column) {
  switch (column) {
    case storage::Column::kObjects:
      return MintRole::kReplica;
    case storage::Column::kHints:
      return MintRole::kFallback;
    case storage::Column::kMetadata:
    case storage::Column::kAntiEntropy:
    case storage::Column::kStrong:
    case storage::Column::kObjectsBySegment:  // never written through here
      return std::nullopt;
  }
  return std::nullopt;
}

struct Change {
  std::uint32_t partition = 0;
  std::string storage_key;
  std::optional<std::uint64_t> old_hash;
  std::optional<std::uint64_t> new_hash;
  std::uint32_t superseded_single_use = 0;
};
}  // namespace

Result<std::optional<std::string>> WriteObservingEngine::Get(storage::Column column,
                                                             std::string_view key) {
  auto value = inner_.Get(column, key);
  if (column != storage::Column::kObjects || !value.ok()) return value;
  if (value->has_value() && (*value)->size() > kReadMemoValueBytesMax) {
    if (auto kept = read_memo_.find(key); kept != read_memo_.end()) read_memo_.erase(kept);
    return value;
  }
  if (read_memo_.size() >= kReadMemoMax) read_memo_.clear();
  read_memo_.insert_or_assign(std::string(key), *value);
  return value;
}

Result<std::optional<std::uint64_t>> WriteObservingEngine::OldHash(
    std::string_view storage_key,
    const std::map<std::string, std::optional<std::string>, std::less<>>& read_memo) {
  auto read = read_memo.find(storage_key);
  if (read == read_memo.end()) return inner_.GetObjectVersionHash(storage_key);
  std::optional<std::uint64_t> hash;
  if (read->second.has_value()) {
    auto decoded = storage::EncodedObjectVersionHash(*read->second);
    if (!decoded.ok()) return inner_.GetObjectVersionHash(storage_key);  // the stored hash
    hash = *decoded;
  }
  if constexpr (kChecksRememberedHashes) {
    // Every write passes through here and clears the memo: nothing changed it since the read.
    auto stored = inner_.GetObjectVersionHash(storage_key);
    MERIDIAN_CHECK(stored.ok() && *stored == hash);
  }
  return hash;
}

Status WriteObservingEngine::Write(const storage::WriteBatch& batch,
                                   const storage::WriteOptions& options) {
  ++writes_;
  // What was read before this write; the next write's reads start afresh.
  const auto read_memo = std::move(read_memo_);
  read_memo_.clear();
  if (refusal_.has_value()) {
    for (const storage::WriteBatch::Op& op : batch.ops) {
      const bool new_data =
          op.column == storage::Column::kObjects || op.column == storage::Column::kHints;
      if (new_data && op.value.has_value()) return *refusal_;
    }
  }
  bool objects_touched = false;
  for (const storage::WriteBatch::Op& op : batch.ops) {
    objects_touched = objects_touched || op.column == storage::Column::kObjects;
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
  if (stored_buckets_ != nullptr) {
    // Before the data, in its own earlier write: a crash that keeps the data keeps the record.
    storage::WriteBatch records = stored_buckets_->RecordsBefore(batch);
    if (!records.empty()) {
      MERIDIAN_RETURN_IF_ERROR(inner_.Write(records, storage::WriteOptions{}));
      stored_buckets_->Written(records);
    }
  }
  if (!objects_touched) return inner_.Write(batch, options);

  std::vector<Change> changes;
  std::map<std::string, std::optional<std::uint64_t>, std::less<>> in_batch;  // latest per key
  for (const storage::WriteBatch::Op& op : batch.ops) {
    if (op.column != storage::Column::kObjects) continue;
    auto key = storage::DecodeObjectKey(op.key);
    if (!key.ok()) continue;  // not an object: no tree holds it
    Change change{key->partition, op.key, std::nullopt, std::nullopt, op.superseded_single_use};
    if (auto seen = in_batch.find(op.key); seen != in_batch.end()) {
      change.old_hash = seen->second;
    } else {
      auto old_hash = OldHash(op.key, read_memo);
      if (!old_hash.ok()) return old_hash.status();
      change.old_hash = *old_hash;
    }
    if (op.value.has_value()) {
      auto hash = storage::PutObjectVersionHash(op);
      if (!hash.ok()) {
        return Status::Corruption("refusing to store an object that does not decode: " +
                                  hash.status().message());
      }
      change.new_hash = *hash;
    }
    in_batch[op.key] = change.new_hash;
    changes.push_back(std::move(change));
  }
  MERIDIAN_RETURN_IF_ERROR(inner_.Write(batch, options));
  if (observer_ != nullptr) {
    for (const Change& change : changes) {
      if (change.old_hash == change.new_hash) continue;
      observer_->OnObjectChanged(change.partition, change.storage_key, change.old_hash,
                                 change.new_hash, change.superseded_single_use);
    }
  }
  return Status::Ok();
}

}  // namespace meridian::node
