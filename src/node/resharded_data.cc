#include "node/resharded_data.h"

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/byte_codec.h"
#include "node/cluster_state_record.h"
#include "node/metadata_keys.h"
#include "node/peer_route.h"
#include "node/restored_data.h"
#include "node/shard_layout.h"
#include "node/stored_incarnation.h"
#include "node/transfer_records.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

using storage::Column;

// A batch is written once its keys and values reach this many bytes.
constexpr std::uint64_t kBatchBytes = 4u << 20;

constexpr std::array<Column, 3> kDataColumns = {Column::kObjectsBySegment, Column::kHints,
                                                Column::kStrong};

Status Refused(std::uint32_t shard, const std::string& why) {
  return Status::FailedPrecondition("shard " + std::to_string(shard) + ": " + why);
}

Result<std::uint64_t> ReadFixed(std::uint32_t shard, const std::string& value, std::string_view key,
                                std::size_t width) {
  ByteReader reader(value);
  std::uint32_t value32 = 0;
  std::uint64_t value64 = 0;
  const bool read = width == 4 ? reader.ReadFixed32(value32) : reader.ReadFixed64(value64);
  if (!read || !reader.empty()) {
    return Refused(shard, "metadata \"" + std::string(key) + "\" is malformed");
  }
  return width == 4 ? value32 : value64;
}

// The per-shard records every old shard must agree on, and the ones that say what it is.
struct ShardFacts {
  std::string format_version;  // encoded
  std::string format_release;  // may be empty (absent)
  std::string partition_count;
  std::optional<std::string> cluster_state;
  std::string forwarding;          // encoded (node/transfer_records.h); may be empty (absent)
  std::string completed_incoming;  // likewise
};

bool IsStoredBucketRecord(std::string_view key) {
  return key.starts_with(kStoredBucketPrefix) || key == kStoredBucketsCompleteKey;
}

// Checks the metadata of old shard `shard` of `count` and returns what is copied from it.
Result<ShardFacts> CheckOldShard(storage::Engine& engine, std::uint32_t shard, std::uint32_t count,
                                 std::uint64_t& incarnation) {
  ShardFacts facts;
  Status refused = Status::Ok();
  Status scanned =
      engine.Scan(Column::kMetadata, "", "", [&](std::string_view key, std::string_view value) {
        const std::string text(value);
        if (key == kFormatVersionKey) {
          facts.format_version = text;
        } else if (key == kFormatReleaseKey) {
          facts.format_release = text;
        } else if (key == kPartitionCountKey) {
          facts.partition_count = text;
        } else if (key == kClusterStateKey) {
          facts.cluster_state = text;
        } else if (key == kShardLayoutKey) {
          Result<std::uint64_t> layout = ReadFixed(shard, text, key, 8);
          if (!layout.ok()) {
            refused = layout.status();
          } else if (*layout != ShardLayoutValue(shard, count)) {
            refused = Refused(shard, "its layout says shard " +
                                         std::to_string(ShardLayoutIndex(*layout)) + " of " +
                                         std::to_string(ShardLayoutCount(*layout)) + ", not " +
                                         std::to_string(shard) + " of " + std::to_string(count));
          }
        } else if (key == kIncarnationKey) {
          Result<std::uint64_t> stored = ReadFixed(shard, text, key, 8);
          if (!stored.ok()) {
            refused = stored.status();
          } else {
            incarnation = std::max(incarnation, *stored);
          }
        } else if (key == kForwardingKey) {
          facts.forwarding = text;
        } else if (key == kCompletedIncomingKey) {
          facts.completed_incoming = text;
        } else if (key == kActorIdKey || key == kPartitionActorsKey || key == kOpenMarkerKey ||
                   IsStoredBucketRecord(key)) {
          // Drawn or rebuilt afresh by the new shards' first start.
        } else {
          refused = Refused(shard, "metadata record \"" + std::string(key) +
                                       "\" is unknown to this release, which cannot reshard it");
        }
        return refused.ok();
      });
  MERIDIAN_RETURN_IF_ERROR(scanned);
  MERIDIAN_RETURN_IF_ERROR(refused);
  if (facts.format_version.empty() || facts.partition_count.empty()) {
    return Refused(shard, "no storage format or partition count: the node never started on it");
  }
  Result<std::uint64_t> version = ReadFixed(shard, facts.format_version, kFormatVersionKey, 4);
  if (!version.ok()) return version.status();
  if (*version != kStorageFormatVersion) {
    return Refused(shard, "storage format " + std::to_string(*version) +
                              "; this release reshards format " +
                              std::to_string(kStorageFormatVersion) +
                              " only (start the node once with it to migrate, then stop it)");
  }
  for (Column leftover : {Column::kObjects, Column::kAntiEntropy}) {
    bool any = false;
    MERIDIAN_RETURN_IF_ERROR(engine.Scan(leftover, "", "", [&](std::string_view, std::string_view) {
      any = true;
      return false;
    }));
    if (any) return Refused(shard, "it holds records of storage format 1's columns");
  }
  return facts;
}

// Batches per new shard, written as they fill.
class ShardWriter {
 public:
  explicit ShardWriter(const std::vector<storage::Engine*>& to) : to_(to), batches_(to.size()) {}

  Status Put(std::uint32_t shard, Column column, std::string_view key, std::string_view value) {
    Pending& pending = batches_.at(shard);
    pending.batch.Put(column, std::string(key), std::string(value));
    pending.bytes += key.size() + value.size();
    return pending.bytes >= kBatchBytes ? Flush(shard) : Status::Ok();
  }

  Status FlushAll() {
    for (std::uint32_t shard = 0; shard < batches_.size(); ++shard) {
      MERIDIAN_RETURN_IF_ERROR(Flush(shard));
    }
    return Status::Ok();
  }

 private:
  struct Pending {
    storage::WriteBatch batch;
    std::uint64_t bytes = 0;
  };

  Status Flush(std::uint32_t shard) {
    Pending& pending = batches_.at(shard);
    if (pending.batch.empty()) return Status::Ok();
    MERIDIAN_RETURN_IF_ERROR(to_.at(shard)->Write(pending.batch, storage::WriteOptions{}));
    MERIDIAN_RETURN_IF_ERROR(to_.at(shard)->CommitPending());
    pending = Pending{};
    return Status::Ok();
  }

  const std::vector<storage::Engine*>& to_;
  std::vector<Pending> batches_;
};

}  // namespace

Result<ReshardCounts> ReshardData(const std::vector<storage::Engine*>& from,
                                  const std::vector<storage::Engine*>& to) {
  if (from.empty() || to.empty()) {
    return Status::InvalidArgument("resharding needs at least one shard on each side");
  }
  const auto old_count = static_cast<std::uint32_t>(from.size());
  const auto new_count = static_cast<std::uint32_t>(to.size());
  ReshardCounts counts;
  std::uint64_t incarnation = 0;
  std::vector<ShardFacts> facts;
  for (std::uint32_t shard = 0; shard < old_count; ++shard) {
    Result<ShardFacts> checked = CheckOldShard(*from[shard], shard, old_count, incarnation);
    if (!checked.ok()) return checked.status();
    if (shard > 0 && (checked->format_version != facts[0].format_version ||
                      checked->partition_count != facts[0].partition_count)) {
      return Refused(shard, "its storage format or partition count differs from shard 0's");
    }
    facts.push_back(std::move(checked).value());
  }
  Result<std::uint64_t> partitions = ReadFixed(0, facts[0].partition_count, kPartitionCountKey, 4);
  if (!partitions.ok()) return partitions.status();
  counts.partition_count = static_cast<std::uint32_t>(*partitions);
  if (counts.partition_count == 0 || new_count > counts.partition_count) {
    return Status::InvalidArgument("a node of " + std::to_string(counts.partition_count) +
                                   " partitions has at most that many shards, not " +
                                   std::to_string(new_count));
  }

  // The transfer records, entry by entry to the new shard of each entry's partition.
  std::vector<ForwardingRecord> forwarding(new_count);
  std::vector<CompletedIncomingRecord> completed(new_count);
  for (std::uint32_t shard = 0; shard < old_count; ++shard) {
    if (!facts[shard].forwarding.empty()) {
      auto record = DecodeForwardingRecord(facts[shard].forwarding, counts.partition_count);
      if (!record.ok()) return Refused(shard, record.status().message());
      for (auto& [partition, address] : *record) {
        forwarding[ShardOfPartition(partition, counts.partition_count, new_count)][partition] =
            address;
      }
    }
    if (!facts[shard].completed_incoming.empty()) {
      auto record =
          DecodeCompletedIncomingRecord(facts[shard].completed_incoming, counts.partition_count);
      if (!record.ok()) return Refused(shard, record.status().message());
      for (std::uint32_t partition : *record) {
        completed[ShardOfPartition(partition, counts.partition_count, new_count)].insert(partition);
      }
    }
  }

  ShardWriter writer(to);
  for (std::uint32_t shard = 0; shard < old_count; ++shard) {
    for (Column column : kDataColumns) {
      Status copied = Status::Ok();
      MERIDIAN_RETURN_IF_ERROR(
          from[shard]->Scan(column, "", "", [&](std::string_view key, std::string_view value) {
            if (key.size() < 4) {
              copied = Refused(shard, "a record without a partition prefix in a data column");
              return false;
            }
            const std::uint32_t partition = storage::PartitionOfKey(key);
            if (partition >= counts.partition_count) {
              copied = Refused(shard, "a record of partition " + std::to_string(partition) +
                                          " outside the ring");
              return false;
            }
            if (ShardOfPartition(partition, counts.partition_count, old_count) != shard) {
              copied = Refused(shard, "a record of partition " + std::to_string(partition) +
                                          ", which belongs to another shard");
              return false;
            }
            copied = writer.Put(ShardOfPartition(partition, counts.partition_count, new_count),
                                column, key, value);
            counts.bytes += key.size() + value.size();
            ++(column == Column::kObjectsBySegment ? counts.objects
               : column == Column::kHints          ? counts.hints
                                                   : counts.strong_records);
            return copied.ok();
          }));
      MERIDIAN_RETURN_IF_ERROR(copied);
    }
  }
  MERIDIAN_RETURN_IF_ERROR(writer.FlushAll());

  for (std::uint32_t shard = 0; shard < new_count; ++shard) {
    storage::WriteBatch metadata;
    metadata.Put(Column::kMetadata, std::string(kFormatVersionKey), facts[0].format_version);
    if (!facts[0].format_release.empty()) {
      metadata.Put(Column::kMetadata, std::string(kFormatReleaseKey), facts[0].format_release);
    }
    metadata.Put(Column::kMetadata, std::string(kPartitionCountKey), facts[0].partition_count);
    std::string layout;
    PutFixed64(layout, ShardLayoutValue(shard, new_count));
    metadata.Put(Column::kMetadata, std::string(kShardLayoutKey), std::move(layout));
    if (facts[0].cluster_state.has_value()) {
      metadata.Put(Column::kMetadata, std::string(kClusterStateKey), *facts[0].cluster_state);
    }
    if (!forwarding[shard].empty()) {
      metadata.Put(Column::kMetadata, std::string(kForwardingKey),
                   EncodeForwardingRecord(forwarding[shard]));
    }
    if (!completed[shard].empty()) {
      metadata.Put(Column::kMetadata, std::string(kCompletedIncomingKey),
                   EncodeCompletedIncomingRecord(completed[shard]));
    }
    MERIDIAN_RETURN_IF_ERROR(to[shard]->Write(metadata, storage::WriteOptions{.sync = true}));
    MERIDIAN_RETURN_IF_ERROR(to[shard]->CommitPending());
    Result<std::uint64_t> stored = PrepareRestoredData(*to[shard], incarnation);
    if (!stored.ok()) return stored.status();
    counts.stored_incarnation = *stored;
  }
  return counts;
}

}  // namespace meridian::node
