// Ownership handoff end to end: a HandoffSender streaming a partition to a HandoffReceiver over
// a test link with virtual time (tests/replication/handoff_harness.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "replication/handoff_harness.h"
#include "storage/segment_ordered_memory_engine.h"

namespace meridian::replication {
namespace {

using namespace test_support;  // NOLINT: test helpers
// The objects column as a node keeps it (segment order), so scans run in its order.
using MemoryEngine = storage::test_support::SegmentOrderedMemoryEngine;

constexpr std::uint32_t kPartition = 7;

HandoffSenderConfig SmallBatches() {
  HandoffSenderConfig config;
  config.batch_bytes_max = 300;
  config.ack_timeout_ms = 50;
  config.retries_max = 5;
  return config;
}

// `count` objects in each of partitions kPartition - 1, kPartition and kPartition + 1.
void FillNeighbourhood(MemoryEngine& engine, int count) {
  for (std::uint32_t partition = kPartition - 1; partition <= kPartition + 1; ++partition) {
    for (int i = 0; i < count; ++i) {
      const std::string name = "key-" + std::to_string(i);
      PutObject(engine, StorageKey(partition, name),
                Siblings(kSourceActor, {"p" + std::to_string(partition) + "-" + name}));
    }
  }
}

TEST(HandoffTransferTest, CopiesExactlyThePartitionsKeys) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 20);
  HandoffLoop loop(source, target, kPartition, SmallBatches());
  loop.Run();

  ASSERT_EQ(loop.sender().state(), HandoffState::kDone) << loop.sender().failure().ToString();
  EXPECT_TRUE(loop.sender().failure().ok());
  const storage::KeyRange range = storage::PartitionRange(kPartition);
  EXPECT_EQ(Contents(target), Contents(source, range));  // nothing of other partitions
  EXPECT_EQ(Contents(target).size(), 20u);
  const HandoffProgress& progress = loop.sender().progress();
  EXPECT_EQ(progress.objects_acknowledged, 20u);
  EXPECT_EQ(progress.objects_sent, 20u);
  EXPECT_GT(progress.batches_sent, 3u);  // 300-byte batches: several
  EXPECT_EQ(progress.retransmissions, 0u);
  EXPECT_EQ(loop.receiver().counters().objects_changed, 20u);
}

TEST(HandoffTransferTest, AFilteredCopyCarriesOnlyTheKeysItAccepts) {
  // Enough keys that the skipped ones end batches of their own (4,096 skipped keys a batch).
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 10'000);
  const auto carries = [](std::string_view storage_key) {
    return storage_key.ends_with("000");  // key-1000, key-2000, ... key-9000
  };
  HandoffLoop loop(source, target, kPartition, SmallBatches(), {}, 11, UnlimitedBudget(), carries);
  // A mirrored write of a key the copy does not carry is not forwarded.
  const std::string rejected = StorageKey(kPartition, "key-7");
  ASSERT_TRUE(
      loop.sender().MirrorWrite(rejected, EncodeObject(Siblings(kSourceActor, {"x"}))).ok());
  EXPECT_EQ(loop.sender().progress().mirrored_writes, 0u);
  loop.Run();

  ASSERT_EQ(loop.sender().state(), HandoffState::kDone) << loop.sender().failure().ToString();
  std::map<std::string, std::string> expected;
  for (const auto& [key, value] : Contents(source, storage::PartitionRange(kPartition))) {
    if (carries(key)) expected.emplace(key, value);
  }
  EXPECT_EQ(expected.size(), 9u);
  EXPECT_EQ(Contents(target), expected);
  EXPECT_EQ(loop.sender().progress().objects_sent, 9u);
  EXPECT_GE(loop.sender().progress().batches_sent, 3u);  // 10,000 keys scanned 4,096 at a time
}

TEST(HandoffTransferTest, LastPartitionHasNoUpperBound) {
  MemoryEngine source;
  MemoryEngine target;
  const std::uint32_t last_partition = 0xffffffff;
  PutObject(source, StorageKey(last_partition - 1, "before"), Siblings(kSourceActor, {"b"}));
  PutObject(source, StorageKey(last_partition, "a"), Siblings(kSourceActor, {"a"}));
  PutObject(source, StorageKey(last_partition, "z"), Siblings(kSourceActor, {"z"}));
  HandoffLoop loop(source, target, last_partition, SmallBatches());
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  EXPECT_EQ(Contents(target), Contents(source, storage::PartitionRange(last_partition)));
  EXPECT_EQ(Contents(target).size(), 2u);
}

TEST(HandoffTransferTest, MergesWithObjectsTheReceiverHolds) {
  MemoryEngine source;
  MemoryEngine target;
  const DvvSet base = Siblings(kSourceActor, {"base"});
  // Concurrent writes on both sides: both siblings must survive.
  const DvvSet source_concurrent = Overwritten(base, kSourceActor, "from-source");
  const DvvSet target_concurrent = Overwritten(base, kTargetActor, "from-target");
  PutObject(source, StorageKey(kPartition, "concurrent"), source_concurrent);
  PutObject(target, StorageKey(kPartition, "concurrent"), target_concurrent);
  // The receiver is behind: the sender's version supersedes its copy.
  PutObject(source, StorageKey(kPartition, "receiver-stale"),
            Overwritten(base, kSourceActor, "new"));
  PutObject(target, StorageKey(kPartition, "receiver-stale"), base);
  // The receiver is ahead: its copy must not go back.
  PutObject(source, StorageKey(kPartition, "receiver-ahead"), base);
  PutObject(target, StorageKey(kPartition, "receiver-ahead"), Overwritten(base, kTargetActor, "n"));
  // Only the receiver has it.
  PutObject(target, StorageKey(kPartition, "receiver-only"), Siblings(kTargetActor, {"mine"}));

  HandoffLoop loop(source, target, kPartition, SmallBatches());
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);

  auto contents = Contents(target);
  ASSERT_EQ(contents.size(), 4u);
  const DvvSet concurrent = Decoded(contents[StorageKey(kPartition, "concurrent")]);
  EXPECT_EQ(concurrent, DvvSet::Merge(source_concurrent, target_concurrent).value());
  ASSERT_EQ(concurrent.siblings().size(), 2u);
  EXPECT_EQ(concurrent.siblings()[0].value, "from-source");
  EXPECT_EQ(concurrent.siblings()[1].value, "from-target");
  const DvvSet stale = Decoded(contents[StorageKey(kPartition, "receiver-stale")]);
  ASSERT_EQ(stale.siblings().size(), 1u);
  EXPECT_EQ(stale.siblings()[0].value, "new");
  const DvvSet ahead = Decoded(contents[StorageKey(kPartition, "receiver-ahead")]);
  ASSERT_EQ(ahead.siblings().size(), 1u);
  EXPECT_EQ(ahead.siblings()[0].value, "n");
  EXPECT_EQ(Decoded(contents[StorageKey(kPartition, "receiver-only")]).siblings()[0].value, "mine");
}

TEST(HandoffTransferTest, EmptyPartitionCompletesWithOneEmptyLastBatch) {
  MemoryEngine source;
  MemoryEngine target;
  PutObject(source, StorageKey(kPartition + 1, "elsewhere"), Siblings(kSourceActor, {"x"}));
  std::vector<proto::HandoffBatch> batches;
  LinkFaults faults;
  faults.drop = [&](const proto::PeerMessage& message, std::uint64_t) {
    if (message.has_handoff_batch()) batches.push_back(message.handoff_batch());
    return false;
  };
  HandoffLoop loop(source, target, kPartition, SmallBatches(), faults);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_TRUE(batches[0].last());
  EXPECT_EQ(batches[0].entries_size(), 0);
  EXPECT_EQ(batches[0].partition(), kPartition);
  EXPECT_EQ(batches[0].reply_address(), kSourceAddress);
  EXPECT_TRUE(Contents(target).empty());
}

TEST(HandoffTransferTest, ObjectLargerThanABatchTravelsAlone) {
  MemoryEngine source;
  MemoryEngine target;
  PutObject(source, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"small"}));
  PutObject(source, StorageKey(kPartition, "b"), Siblings(kSourceActor, {std::string(5000, 'b')}));
  PutObject(source, StorageKey(kPartition, "c"), Siblings(kSourceActor, {"small"}));
  int entries = 0;
  int big_batch_entries = 0;  // entries in the batch that carried "b"
  LinkFaults faults;
  faults.drop = [&](const proto::PeerMessage& message, std::uint64_t) {
    if (message.has_handoff_batch()) {
      entries += message.handoff_batch().entries_size();
      for (const auto& entry : message.handoff_batch().entries()) {
        if (entry.storage_key() == StorageKey(kPartition, "b")) {
          big_batch_entries = message.handoff_batch().entries_size();
        }
      }
    }
    return false;
  };
  HandoffLoop loop(source, target, kPartition, SmallBatches(), faults);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  EXPECT_EQ(entries, 3);
  EXPECT_EQ(big_batch_entries, 1);  // over the batch limit: alone
  EXPECT_EQ(Contents(target), Contents(source));
}

TEST(HandoffTransferTest, LostBatchIsResentAfterTheTimeout) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 10);
  int batches_seen = 0;
  LinkFaults faults;
  faults.drop = [&](const proto::PeerMessage& message, std::uint64_t) {
    return message.has_handoff_batch() && ++batches_seen == 2;  // the second batch is lost
  };
  HandoffLoop loop(source, target, kPartition, SmallBatches(), faults);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  EXPECT_EQ(loop.sender().progress().retransmissions, 1u);
  EXPECT_GE(loop.now_ms(), 50u);  // waited for the ack timeout
  EXPECT_EQ(Contents(target), Contents(source, storage::PartitionRange(kPartition)));
}

TEST(HandoffTransferTest, LostAckIsRecoveredByResendingFromTheCursor) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 10);
  int acks_seen = 0;
  LinkFaults faults;
  faults.drop = [&](const proto::PeerMessage& message, std::uint64_t) {
    return message.has_handoff_ack() && (++acks_seen == 1 || acks_seen == 3);
  };
  HandoffLoop loop(source, target, kPartition, SmallBatches(), faults);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  EXPECT_EQ(loop.sender().progress().retransmissions, 2u);
  // The re-sent batches were applied twice; the merge made the second time a no-op.
  EXPECT_EQ(loop.receiver().counters().objects_changed, 10u);
  EXPECT_EQ(loop.sender().progress().objects_acknowledged, 10u);
  EXPECT_EQ(Contents(target), Contents(source, storage::PartitionRange(kPartition)));
}

TEST(HandoffTransferTest, DuplicatedAndReorderedMessagesAreHarmless) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 30);
  LinkFaults faults;
  faults.seed = 5;
  faults.duplicate_percent = 100;
  faults.delay_ms_max = 20;  // a round trip stays below the ack timeout: no retransmission
  HandoffLoop loop(source, target, kPartition, SmallBatches(), faults);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  EXPECT_EQ(loop.sender().progress().retransmissions, 0u);
  EXPECT_GT(loop.receiver().counters().batches_applied, loop.sender().progress().batches_sent);
  EXPECT_EQ(Contents(target), Contents(source, storage::PartitionRange(kPartition)));
}

TEST(HandoffTransferTest, ThrottlingTakesAtLeastBytesOverRateOfVirtualTime) {
  MemoryEngine source;
  MemoryEngine target;
  for (int i = 0; i < 100; ++i) {
    PutObject(source, StorageKey(kPartition, "key-" + std::to_string(i)),
              Siblings(kSourceActor, {std::string(1000, 'v')}));
  }
  HandoffSenderConfig config = SmallBatches();
  config.batch_bytes_max = 4096;
  config.ack_timeout_ms = 100'000;  // a throttled stream must not look like a lost one
  HandoffLoop loop(source, target, kPartition, config, {}, /*target_incarnation=*/11,
                   ByteBudget(50'000, config.batch_bytes_max));
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);

  const std::uint64_t bytes = loop.sender().progress().bytes_sent;
  EXPECT_GT(bytes, 100'000u);
  EXPECT_EQ(loop.governor().stats().of(WorkKind::kOwnershipHandoff).bytes_granted, bytes);
  EXPECT_GT(loop.governor().stats().of(WorkKind::kOwnershipHandoff).spend_refused, 0u);
  // The budget starts full and holds one batch: (bytes - batch) / rate at least.
  const double seconds_min = static_cast<double>(bytes - config.batch_bytes_max) / 50'000.0;
  EXPECT_GE(static_cast<double>(loop.now_ms()), seconds_min * 1000.0);
  // ... and the throttle does not stall either: within a few milliseconds per batch of that.
  const double seconds_max = static_cast<double>(bytes) / 50'000.0;
  EXPECT_LE(
      static_cast<double>(loop.now_ms()),
      seconds_max * 1000.0 + 2.0 * static_cast<double>(loop.sender().progress().batches_sent));
}

TEST(HandoffTransferTest, UnlimitedRateSendsEachBatchAsSoonAsTheLastIsAcknowledged) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 40);
  HandoffLoop loop(source, target, kPartition, SmallBatches());
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  // Instant link, no throttle: one step for the batch and one for its ack, no waiting.
  EXPECT_LE(loop.now_ms(), 2 * loop.sender().progress().batches_sent);
}

TEST(HandoffTransferTest, RetriesExhaustedFailsWithTheReason) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 5);
  LinkFaults faults;
  faults.drop = [](const proto::PeerMessage& message, std::uint64_t) {
    return message.has_handoff_batch();  // the target is unreachable
  };
  HandoffSenderConfig config = SmallBatches();
  config.retries_max = 3;
  HandoffLoop loop(source, target, kPartition, config, faults);
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kFailed);
  EXPECT_EQ(loop.sender().failure().code(), StatusCode::kUnavailable);
  EXPECT_NE(loop.sender().failure().message().find("gave up after 4 failed attempts"),
            std::string::npos)
      << loop.sender().failure().message();
  EXPECT_NE(loop.sender().failure().message().find("no acknowledgement"), std::string::npos);
  EXPECT_EQ(loop.sender().progress().batches_sent, 4u);  // the first and three retries
  EXPECT_EQ(loop.now_ms(), 4u * 50u);                    // each attempt waited out its timeout
  EXPECT_FALSE(loop.sender().NextTickMs().has_value());
  // A finished sender stays finished.
  loop.sender().Tick(1'000'000);
  EXPECT_TRUE(loop.sender().TakeOutbound().empty());
}

TEST(HandoffTransferTest, LastBatchIsDurableWhenAcknowledged) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 20);
  HandoffLoop loop(source, target, kPartition, SmallBatches());
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  target.DropUnsyncedWrites();  // a crash right after the transfer completed
  EXPECT_EQ(Contents(target), Contents(source, storage::PartitionRange(kPartition)));
}

TEST(HandoffTransferTest, ReceiverCrashMidTransferRestartsTheStream) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 40);
  HandoffLoop loop(source, target, kPartition, SmallBatches());
  bool crashed = false;
  loop.on_step = [&](std::uint64_t) {
    if (!crashed && loop.acks_delivered() == 3) {
      crashed = true;
      target.DropUnsyncedWrites();  // the three acknowledged batches are gone
      loop.RestartReceiver(/*incarnation=*/12);
    }
  };
  loop.Run();
  ASSERT_TRUE(crashed);
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  EXPECT_EQ(loop.sender().progress().restarts, 1u);
  target.DropUnsyncedWrites();
  EXPECT_EQ(Contents(target), Contents(source, storage::PartitionRange(kPartition)));
}

TEST(HandoffTransferTest, WritesDuringTheTransferReachTheReceiverEvenIfMirrorsAreLost) {
  MemoryEngine source;
  MemoryEngine target;
  FillNeighbourhood(source, 100);
  LinkFaults faults;
  faults.drop = [](const proto::PeerMessage& message, std::uint64_t) {
    return message.has_handoff_mirror();  // only the acknowledged stream can carry them
  };
  HandoffLoop loop(source, target, kPartition, SmallBatches(), faults);
  int writes = 0;
  loop.on_step = [&](std::uint64_t) {
    if (loop.sender().state() != HandoffState::kRunning || writes >= 20) return;
    // Keys the scan passes early, keys in the middle, new keys before and after every key.
    const int step = writes++;
    const std::string names[] = {"key-0", "key-5", "a-new-" + std::to_string(step),
                                 "z-new-" + std::to_string(step)};
    const std::string storage_key = StorageKey(kPartition, names[step % 4]);
    auto stored = source.Get(storage::Column::kObjects, storage_key);
    ASSERT_TRUE(stored.ok());
    DvvSet object = stored->has_value() ? Decoded(**stored) : DvvSet{};
    object = Overwritten(object, kSourceActor, "write-" + std::to_string(step));
    PutObject(source, storage_key, object);
    ASSERT_TRUE(loop.sender().MirrorWrite(storage_key, EncodeObject(object)).ok());
  };
  loop.Run();
  ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
  EXPECT_EQ(writes, 20);
  EXPECT_EQ(loop.sender().progress().mirrored_writes, 20u);
  EXPECT_EQ(loop.receiver().counters().mirrored_objects_applied, 0u);
  target.DropUnsyncedWrites();
  EXPECT_EQ(Contents(target), Contents(source, storage::PartitionRange(kPartition)));
}

TEST(HandoffTransferTest, MirroredWritesAreAppliedAtOnce) {
  MemoryEngine source;
  MemoryEngine target;
  PutObject(source, StorageKey(kPartition, "a"), Siblings(kSourceActor, {"a"}));
  HandoffLoop loop(source, target, kPartition, SmallBatches());
  const std::string storage_key = StorageKey(kPartition, "b");
  const DvvSet object = Siblings(kSourceActor, {"b"});
  PutObject(source, storage_key, object);
  ASSERT_TRUE(loop.sender().MirrorWrite(storage_key, EncodeObject(object)).ok());
  loop.Step();  // delivers nothing yet; carries the mirror and the first batch
  loop.Step();
  EXPECT_EQ(loop.receiver().counters().mirrored_objects_applied, 1u);
  auto stored = target.Get(storage::Column::kObjects, storage_key);
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ(Decoded(**stored), object);

  const Status outside = loop.sender().MirrorWrite(StorageKey(kPartition + 1, "x"), "bytes");
  EXPECT_EQ(outside.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::replication
