// NamespacedEngine: one shard's view of its machine's engine in the simulator. A simulated
// machine has one engine (its disk; the Simulation commits it after every input and drops its
// unsynced writes at a crash), while a node split into shards keeps each shard's data in its
// own database; this adapter gives each shard its own key space inside the one engine by
// prefixing every key with the shard's index byte. Every operation is the inner engine's;
// commits cover every shard's writes at once (as a shared WAL would: never less durable than
// per-shard databases). Simulator only; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/engine.h"

namespace meridian::sim {

class NamespacedEngine final : public storage::Engine {
 public:
  NamespacedEngine(storage::Engine& inner, std::uint8_t space);

  Result<std::optional<std::string>> Get(storage::Column column, std::string_view key) override;
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override;
  Status Scan(storage::Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override;
  Result<std::uint64_t> ApproximateBytes(storage::Column column, std::string_view begin,
                                         std::string_view end) override;
  Status CommitPending() override { return inner_.CommitPending(); }
  Result<storage::CommitTicket> BeginCommit() override { return inner_.BeginCommit(); }
  Status FinishCommit(const storage::CommitTicket& ticket) override {
    return inner_.FinishCommit(ticket);
  }
  Status RequestCompaction() override { return inner_.RequestCompaction(); }
  Status Failure() const override { return inner_.Failure(); }
  Status Recover() override { return inner_.Recover(); }

 private:
  std::string Inner(std::string_view key) const;
  // The inner end of [begin, end): the next space's first key when `end` is empty.
  std::string InnerEnd(std::string_view end) const;

  storage::Engine& inner_;
  std::uint8_t space_;
};

// What a simulated node stores under partition-prefixed keys (objects, hints), read straight
// from its machine's engine whatever its shard count: with shards, each key is in the key
// space of its partition's shard (node::ShardOfPartition); objects under their logical keys,
// through storage::SegmentOrderedObjects as the node reads them. For the checkers.
class StoredData {
 public:
  StoredData(storage::Engine& engine, std::uint32_t partition_count, std::uint32_t shard_count)
      : engine_(engine), partition_count_(partition_count), shard_count_(shard_count) {}

  // `key` must be partition-prefixed (storage::EncodeObjectKey).
  Result<std::optional<std::string>> Get(storage::Column column, std::string_view key);
  // Every key of `column`, shard by shard (each shard's in order).
  Status Scan(storage::Column column, const storage::ScanVisitor& visitor);

 private:
  storage::Engine& engine_;
  std::uint32_t partition_count_;
  std::uint32_t shard_count_;
};

}  // namespace meridian::sim
