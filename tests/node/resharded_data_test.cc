// ReshardData: a node's data moved from one shard count to another is served by the new shards
// (each its own partitions), with the versions it had, under fresh actors and a newer
// incarnation; and what cannot be resharded is refused before anything is written.
#include "node/resharded_data.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/byte_codec.h"
#include "node/metadata_keys.h"
#include "node/node_test_util.h"
#include "node/shard_layout.h"
#include "node/stored_incarnation.h"
#include "node/transfer_records.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

using storage::Column;
using storage::MemoryEngine;
using test_support::NodeFixture;
using test_support::Values;
using Strings = std::vector<std::string>;

constexpr int kKeys = 40;

std::vector<storage::Engine*> Pointers(std::vector<MemoryEngine>& engines) {
  std::vector<storage::Engine*> out;
  for (MemoryEngine& engine : engines) out.push_back(&engine);
  return out;
}

std::string Key(int index) {
  return "key-" + std::to_string(index);
}

std::uint64_t CountRecords(storage::Engine& engine, Column column) {
  std::uint64_t count = 0;
  EXPECT_TRUE(engine
                  .Scan(column, "", "",
                        [&](std::string_view, std::string_view) {
                          ++count;
                          return true;
                        })
                  .ok());
  return count;
}

class ReshardedDataTest : public NodeFixture {
 protected:
  // Opens a node over `engine` as shard `index` of `count`.
  void OpenShard(storage::Engine& engine, std::uint32_t index, std::uint32_t count) {
    if (node_) {
      ASSERT_TRUE(node_->Close().ok());
    }
    node_.reset();
    NodeConfig config = config_;
    config.shard_index = index;
    config.shard_count = count;
    node_engine_ = &engine;
    Reopen(config);
  }

  // Which of `engines` (as shards of their count) serves each key, and with which values.
  std::vector<int> ServingShards(std::vector<MemoryEngine>& engines, Strings& values) {
    const auto count = static_cast<std::uint32_t>(engines.size());
    std::vector<int> serving(kKeys, -1);
    values.assign(kKeys, "");
    for (std::uint32_t shard = 0; shard < count; ++shard) {
      OpenShard(engines[shard], shard, count);
      for (int index = 0; index < kKeys; ++index) {
        ClientReply reply = Call(GetRequest{{"b", Key(index)}});
        if (!reply.status.ok()) continue;  // another shard's partition
        EXPECT_EQ(serving[index], -1) << Key(index) << " served by two shards";
        serving[index] = static_cast<int>(shard);
        const Strings read = Values(std::get<GetReply>(reply.body));
        values[index] = read.size() == 1 ? read[0] : "<" + std::to_string(read.size()) + ">";
      }
    }
    return serving;
  }
};

TEST_F(ReshardedDataTest, EveryKeyIsServedByItsNewShardWithItsVersion) {
  for (int index = 0; index < kKeys; ++index) Put(Key(index), "v" + std::to_string(index));
  Delete(Key(0), Get(Key(0)).context);  // a tombstone moves too
  const ActorId old_actor = node_->actor_id();
  const std::uint64_t old_incarnation = node_->incarnation();
  ASSERT_TRUE(node_->Close().ok());
  node_.reset();
  const std::uint64_t objects = CountRecords(engine_, Column::kObjectsBySegment);

  std::vector<MemoryEngine> three(3);
  Result<ReshardCounts> counts = ReshardData({&engine_}, Pointers(three));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->objects, objects);
  EXPECT_EQ(counts->objects, static_cast<std::uint64_t>(kKeys));
  std::uint64_t moved = 0;
  for (std::uint32_t shard = 0; shard < 3; ++shard) {
    moved += CountRecords(three[shard], Column::kObjectsBySegment);
    auto layout = three[shard].Get(Column::kMetadata, kShardLayoutKey);
    ASSERT_TRUE(layout.ok() && layout->has_value());
    std::string expected;
    PutFixed64(expected, ShardLayoutValue(shard, 3));
    EXPECT_EQ(**layout, expected);
    // Drawn afresh at the first start: the open marker is set, the actor id is gone.
    EXPECT_TRUE(three[shard].Get(Column::kMetadata, kOpenMarkerKey)->has_value());
    EXPECT_FALSE(three[shard].Get(Column::kMetadata, kActorIdKey)->has_value());
    EXPECT_EQ(*ReadStoredIncarnation(three[shard]), old_incarnation);
  }
  EXPECT_EQ(moved, objects);

  Strings values;
  std::vector<int> serving = ServingShards(three, values);
  std::vector<int> per_shard(3, 0);
  for (int index = 0; index < kKeys; ++index) {
    ASSERT_GE(serving[index], 0) << Key(index) << " is served by no shard";
    ++per_shard[serving[index]];
    EXPECT_EQ(values[index], index == 0 ? "<0>" : "v" + std::to_string(index)) << Key(index);
  }
  for (int shard = 0; shard < 3; ++shard) EXPECT_GT(per_shard[shard], 0) << shard;
  // The last shard opened runs a newer incarnation under a fresh actor; a write there with a
  // context read from the moved data supersedes it (one value, no sibling).
  EXPECT_GT(node_->incarnation(), old_incarnation);
  EXPECT_NE(node_->actor_id(), old_actor);
  int on_last = 1;
  while (serving[on_last] != 2) ++on_last;
  Put(Key(on_last), "rewritten", Get(Key(on_last)).context);
  EXPECT_EQ(Values(Get(Key(on_last))), Strings{"rewritten"});
  ASSERT_TRUE(node_->Close().ok());
  node_.reset();

  // And back to one shard: everything in one place again.
  std::vector<MemoryEngine> one(1);
  counts = ReshardData(Pointers(three), Pointers(one));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->objects, objects);
  serving = ServingShards(one, values);
  for (int index = 0; index < kKeys; ++index) {
    EXPECT_EQ(serving[index], 0) << Key(index);
    EXPECT_EQ(values[index], index == 0         ? "<0>"
                             : index == on_last ? "rewritten"
                                                : "v" + std::to_string(index))
        << Key(index);
  }
}

class ReshardRefusalTest : public ::testing::Test {
 protected:
  // A stopped one-shard node's metadata and an object record of partition 3.
  ReshardRefusalTest() {
    storage::WriteBatch batch;
    std::string version;
    PutFixed32(version, kStorageFormatVersion);
    batch.Put(Column::kMetadata, std::string(kFormatVersionKey), version);
    std::string partitions;
    PutFixed32(partitions, 8);
    batch.Put(Column::kMetadata, std::string(kPartitionCountKey), partitions);
    std::string layout;
    PutFixed64(layout, ShardLayoutValue(0, 1));
    batch.Put(Column::kMetadata, std::string(kShardLayoutKey), layout);
    std::string incarnation;
    PutFixed64(incarnation, 7);
    batch.Put(Column::kMetadata, std::string(kIncarnationKey), incarnation);
    std::string key;
    PutBigEndian32(key, 3);
    key += "object";
    batch.Put(Column::kObjectsBySegment, key, "record");
    EXPECT_TRUE(old_.Write(batch, {}).ok());
  }

  Status Reshard() {
    std::vector<MemoryEngine> two(2);
    Result<ReshardCounts> counts = ReshardData({&old_}, Pointers(two));
    return counts.ok() ? Status::Ok() : counts.status();
  }

  void PutMetadata(std::string_view key, std::string value) {
    storage::WriteBatch batch;
    batch.Put(Column::kMetadata, std::string(key), std::move(value));
    ASSERT_TRUE(old_.Write(batch, {}).ok());
  }

  MemoryEngine old_;
};

TEST_F(ReshardRefusalTest, ACleanDirectoryIsResharded) {
  std::vector<MemoryEngine> two(2);
  Result<ReshardCounts> counts = ReshardData({&old_}, Pointers(two));
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->objects, 1u);
  EXPECT_EQ(counts->partition_count, 8u);
  EXPECT_EQ(counts->stored_incarnation, 7u);
  // Partition 3 of 8 is shard 0's of 2 (partitions 0-3).
  EXPECT_EQ(CountRecords(two[0], Column::kObjectsBySegment), 1u);
  EXPECT_EQ(CountRecords(two[1], Column::kObjectsBySegment), 0u);
}

TEST_F(ReshardRefusalTest, TransferRecordsAreSplitByTheirPartitionsShard) {
  PutMetadata(kForwardingKey, EncodeForwardingRecord({{3, "10.0.0.2:7000"}, {5, "10.0.0.3:7000"}}));
  PutMetadata(kCompletedIncomingKey, EncodeCompletedIncomingRecord({1, 6, 7}));
  std::vector<MemoryEngine> two(2);
  ASSERT_TRUE(ReshardData({&old_}, Pointers(two)).ok());
  // Partitions 0-3 are shard 0's of 2, 4-7 shard 1's.
  const auto forwarding = [&](int shard) {
    auto stored = two[shard].Get(Column::kMetadata, kForwardingKey);
    return DecodeForwardingRecord(stored->value_or(EncodeForwardingRecord({})), 8).value();
  };
  const auto completed = [&](int shard) {
    auto stored = two[shard].Get(Column::kMetadata, kCompletedIncomingKey);
    return DecodeCompletedIncomingRecord(stored->value_or(EncodeCompletedIncomingRecord({})), 8)
        .value();
  };
  EXPECT_EQ(forwarding(0), (ForwardingRecord{{3, "10.0.0.2:7000"}}));
  EXPECT_EQ(forwarding(1), (ForwardingRecord{{5, "10.0.0.3:7000"}}));
  EXPECT_EQ(completed(0), (CompletedIncomingRecord{1}));
  EXPECT_EQ(completed(1), (CompletedIncomingRecord{6, 7}));
}

TEST_F(ReshardRefusalTest, AMalformedTransferRecordIsRefused) {
  PutMetadata(kCompletedIncomingKey, EncodeCompletedIncomingRecord({9}));  // outside the ring
  const Status status = Reshard();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("node/completed_incoming\" is malformed"), std::string::npos)
      << status.ToString();
}

TEST_F(ReshardRefusalTest, AnEmptyTransferListStaysEmpty) {
  PutMetadata(kCompletedIncomingKey, EncodeCompletedIncomingRecord({}));
  std::vector<MemoryEngine> two(2);
  ASSERT_TRUE(ReshardData({&old_}, Pointers(two)).ok());
  EXPECT_FALSE(two[0].Get(Column::kMetadata, kCompletedIncomingKey)->has_value());
}

TEST_F(ReshardRefusalTest, AnUnknownRecordIsRefused) {
  PutMetadata("future/record", "x");
  const Status status = Reshard();
  EXPECT_NE(status.message().find("\"future/record\" is unknown"), std::string::npos)
      << status.ToString();
}

TEST_F(ReshardRefusalTest, AnotherStorageFormatIsRefused) {
  std::string version;
  PutFixed32(version, 1);
  PutMetadata(kFormatVersionKey, version);
  const Status status = Reshard();
  EXPECT_NE(status.message().find("storage format 1"), std::string::npos) << status.ToString();
}

TEST_F(ReshardRefusalTest, ALayoutThatDoesNotMatchIsRefused) {
  std::string layout;
  PutFixed64(layout, ShardLayoutValue(1, 2));
  PutMetadata(kShardLayoutKey, layout);
  const Status status = Reshard();
  EXPECT_NE(status.message().find("layout says shard 1 of 2"), std::string::npos)
      << status.ToString();
}

TEST_F(ReshardRefusalTest, MoreShardsThanPartitionsAreRefused) {
  std::vector<MemoryEngine> nine(9);
  Result<ReshardCounts> counts = ReshardData({&old_}, Pointers(nine));
  EXPECT_EQ(counts.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::node
