// HandoffSender and the background budget: it sends nothing without a stream slot, holds its
// slot until it is done, failed or destroyed, asks the budget before every batch, and a batch
// the budget holds back waits built — writes to its keys meanwhile still reach the target.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "replication/fake_budget.h"
#include "replication/handoff_harness.h"

namespace meridian::replication {
namespace {

using namespace test_support;  // NOLINT: test helpers
using storage::MemoryEngine;

constexpr std::uint32_t kPartition = 9;

HandoffTransfer Transfer(bool replica_copy = false) {
  return HandoffTransfer{.transfer_id = 5,
                         .partition = kPartition,
                         .target_address = std::string(kTargetAddress),
                         .source_address = std::string(kSourceAddress),
                         .replica_copy = replica_copy};
}

void Fill(MemoryEngine& engine, int count) {
  for (int i = 0; i < count; ++i) {
    PutObject(engine, StorageKey(kPartition, "key-" + std::to_string(i)),
              Siblings(kSourceActor, {"value-" + std::to_string(i)}));
  }
}

// Delivers the sender's messages to the receiver and the acks back, at `now_ms`, until quiet.
void Exchange(HandoffSender& sender, HandoffReceiver& receiver, std::uint64_t now_ms) {
  for (int round = 0; round < 1000; ++round) {
    std::vector<cluster::Outbound> outbound = sender.TakeOutbound();
    if (outbound.empty()) return;
    for (const cluster::Outbound& out : outbound) {
      if (out.message.has_handoff_batch()) {
        receiver.Receive(kSourceAddress, out.message.handoff_batch(), now_ms);
      } else if (out.message.has_handoff_mirror()) {
        ASSERT_TRUE(receiver.Receive(out.message.handoff_mirror()).ok());
      }
    }
    for (const cluster::Outbound& ack : receiver.TakeOutbound()) {
      sender.Receive(ack.message.handoff_ack(), now_ms);
    }
  }
  ADD_FAILURE() << "the exchange did not settle";
}

TEST(HandoffSenderBudgetTest, SendsNothingWithoutAStreamAndStartsOnceItHasOne) {
  MemoryEngine source;
  Fill(source, 3);
  FakeBudget budget;
  budget.streams_allowed = false;
  HandoffSender sender(Transfer(), source, budget);
  sender.Tick(0);
  sender.Tick(100);
  EXPECT_FALSE(sender.holds_stream());
  EXPECT_TRUE(sender.TakeOutbound().empty());
  EXPECT_TRUE(budget.spend_requests.empty());
  EXPECT_EQ(sender.NextTickMs(), 100u);  // polls
  EXPECT_EQ(budget.stream_requests,
            (std::vector<WorkKind>{WorkKind::kOwnershipHandoff, WorkKind::kOwnershipHandoff}));

  budget.streams_allowed = true;
  sender.Tick(200);
  EXPECT_TRUE(sender.holds_stream());
  EXPECT_EQ(budget.streams_held, 1u);
  std::vector<cluster::Outbound> sent = sender.TakeOutbound();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].message.handoff_batch().entries_size(), 3);
  // Asked for exactly what the batch holds.
  ASSERT_EQ(budget.spend_requests.size(), 1u);
  EXPECT_EQ(budget.spend_requests[0].objects, 3u);
  EXPECT_EQ(budget.spend_requests[0].bytes, sender.progress().bytes_sent);
  // Holding its stream, it does not ask for another one.
  sender.Tick(300);
  EXPECT_EQ(budget.stream_requests.size(), 3u);
}

TEST(HandoffSenderBudgetTest, AReplicaCopyIsItsOwnKindOfWork) {
  MemoryEngine source;
  Fill(source, 1);
  FakeBudget budget;
  HandoffSender sender(Transfer(/*replica_copy=*/true), source, budget);
  sender.Tick(0);
  EXPECT_EQ(budget.stream_requests, std::vector<WorkKind>{WorkKind::kReplicaCopy});
}

TEST(HandoffSenderBudgetTest, ABatchHeldBackWaitsBuiltAndWritesMeanwhileStillArrive) {
  MemoryEngine source;
  MemoryEngine target;
  Fill(source, 4);
  FakeBudget budget;
  budget.spends_left = 0;
  HandoffSender sender(Transfer(), source, budget);
  HandoffReceiver receiver(target, kTargetActor);

  sender.Tick(0);
  EXPECT_TRUE(sender.TakeOutbound().empty());
  EXPECT_EQ(sender.NextTickMs(), 0u);  // behind other work: at the next opportunity
  // A write to a key of the waiting batch: mirrored at once, and sent again in a batch.
  const std::string key = StorageKey(kPartition, "key-1");
  const DvvSet newer = Overwritten(Siblings(kSourceActor, {"value-1"}), kSourceActor, "newer");
  PutObject(source, key, newer);
  ASSERT_TRUE(sender.MirrorWrite(key, EncodeObject(newer)).ok());
  sender.Tick(10);
  sender.Tick(20);
  // The batch was built once and asked about on every tick, with the same size.
  ASSERT_EQ(budget.spend_requests.size(), 3u);
  EXPECT_EQ(budget.spend_requests[0].bytes, budget.spend_requests[2].bytes);
  std::vector<cluster::Outbound> mirrors = sender.TakeOutbound();
  ASSERT_EQ(mirrors.size(), 1u);
  EXPECT_TRUE(mirrors[0].message.has_handoff_mirror());
  ASSERT_TRUE(receiver.Receive(mirrors[0].message.handoff_mirror()).ok());

  budget.spends_left = 1000;
  for (std::uint64_t now_ms = 30; sender.state() == HandoffState::kRunning; now_ms += 10) {
    ASSERT_LT(now_ms, 1000u);
    sender.Tick(now_ms);
    Exchange(sender, receiver, now_ms);
  }
  ASSERT_EQ(sender.state(), HandoffState::kDone) << sender.failure().ToString();
  EXPECT_EQ(Contents(target), Contents(source, storage::PartitionRange(kPartition)));
  EXPECT_EQ(Decoded(Contents(target).at(key)), newer);
  EXPECT_EQ(sender.progress().objects_acknowledged, 5u);  // key-1 went twice
  EXPECT_FALSE(sender.holds_stream());
  EXPECT_EQ(budget.streams_held, 0u);
}

TEST(HandoffSenderBudgetTest, GivesItsStreamBackWhenDoneFailedOrDestroyed) {
  MemoryEngine source;
  MemoryEngine target;
  Fill(source, 10);
  HandoffSenderConfig config;
  config.batch_bytes_max = 100;
  {
    // Done.
    HandoffLoop loop(source, target, kPartition, config);
    loop.Run();
    ASSERT_EQ(loop.sender().state(), HandoffState::kDone);
    EXPECT_EQ(loop.governor().streams_held(), 0u);
  }
  {
    // Failed: the target never answers.
    LinkFaults faults;
    faults.drop = [](const proto::PeerMessage& message, std::uint64_t) {
      return message.has_handoff_batch();
    };
    config.ack_timeout_ms = 10;
    config.retries_max = 1;
    HandoffLoop loop(source, target, kPartition, config, faults);
    loop.Run();
    ASSERT_EQ(loop.sender().state(), HandoffState::kFailed);
    EXPECT_EQ(loop.governor().streams_held(), 0u);
  }
  // Destroyed while running.
  BackgroundGovernor governor(BackgroundGovernorConfig{.streams_max = 1});
  {
    HandoffSender sender(Transfer(), source, governor);
    sender.Tick(0);
    ASSERT_TRUE(sender.holds_stream());
    EXPECT_EQ(governor.streams_held(), 1u);
  }
  EXPECT_EQ(governor.streams_held(), 0u);
}

// Two streams over one stream slot: the second starts when the first is done, and the byte
// budget is shared — together they take at least their bytes over the rate.
TEST(HandoffSenderBudgetTest, StreamsShareOneSlotAndOneByteBudget) {
  MemoryEngine source;
  MemoryEngine first_target;
  MemoryEngine second_target;
  for (std::uint32_t partition : {kPartition, kPartition + 1}) {
    for (int i = 0; i < 30; ++i) {
      PutObject(source, StorageKey(partition, "key-" + std::to_string(i)),
                Siblings(kSourceActor, {std::string(100, 'v')}));
    }
  }
  HandoffSenderConfig config;
  config.batch_bytes_max = 1'000;
  BackgroundGovernor governor(ByteBudget(10'000, config.batch_bytes_max));  // one stream
  HandoffSender first(Transfer(), source, governor, config);
  HandoffTransfer second_transfer = Transfer();
  second_transfer.partition = kPartition + 1;
  second_transfer.transfer_id = 6;
  HandoffSender second(second_transfer, source, governor, config);
  HandoffReceiver first_receiver(first_target, kTargetActor);
  HandoffReceiver second_receiver(second_target, kTargetActor);

  std::uint64_t now_ms = 0;
  std::optional<std::uint64_t> first_done_ms;
  std::optional<std::uint64_t> second_started_ms;
  for (; second.state() == HandoffState::kRunning; now_ms += 5) {
    ASSERT_LT(now_ms, 100'000u);
    first.Tick(now_ms);
    second.Tick(now_ms);
    EXPECT_LE(governor.streams_held(), 1u);
    if (!first_done_ms && first.state() == HandoffState::kDone) first_done_ms = now_ms;
    if (!second_started_ms && second.holds_stream()) second_started_ms = now_ms;
    Exchange(first, first_receiver, now_ms);
    Exchange(second, second_receiver, now_ms);
  }
  ASSERT_EQ(first.state(), HandoffState::kDone);
  ASSERT_EQ(second.state(), HandoffState::kDone);
  ASSERT_TRUE(first_done_ms.has_value());
  ASSERT_TRUE(second_started_ms.has_value());
  EXPECT_GE(*second_started_ms, *first_done_ms);
  EXPECT_EQ(Contents(second_target).size(), 30u);
  const std::uint64_t bytes = first.progress().bytes_sent + second.progress().bytes_sent;
  EXPECT_EQ(governor.stats().Total().bytes_granted, bytes);
  // The budget started full (one burst) and refills 10 bytes per millisecond.
  EXPECT_GE(now_ms, (bytes - config.batch_bytes_max) / 10);
}

}  // namespace
}  // namespace meridian::replication

namespace meridian::replication {
namespace {

// A batch of small objects stops at batch_objects_max (the receiver merges a batch in one turn
// of its event loop), and the stream still moves everything.
TEST(HandoffSenderBudgetTest, ABatchHoldsAtMostBatchObjectsMax) {
  MemoryEngine source;
  MemoryEngine target;
  Fill(source, 25);
  HandoffSenderConfig config;
  config.batch_objects_max = 10;
  FakeBudget budget;
  HandoffSender sender(Transfer(), source, budget, config);
  HandoffReceiver receiver(target, 1);
  std::uint64_t now_ms = 0;
  std::vector<int> sizes;
  for (int step = 0; step < 20 && sender.state() != HandoffState::kDone; ++step) {
    sender.Tick(now_ms);
    for (const cluster::Outbound& out : sender.TakeOutbound()) {
      ASSERT_TRUE(out.message.has_handoff_batch());
      sizes.push_back(out.message.handoff_batch().entries_size());
      receiver.Receive(kSourceAddress, out.message.handoff_batch(), now_ms);
    }
    for (const cluster::Outbound& ack : receiver.TakeOutbound()) {
      sender.Receive(ack.message.handoff_ack(), now_ms);
    }
    now_ms += 100;
  }
  EXPECT_EQ(sender.state(), HandoffState::kDone);
  EXPECT_EQ(sizes, (std::vector<int>{10, 10, 5}));
  EXPECT_EQ(receiver.counters().objects_changed, 25u);
}

}  // namespace
}  // namespace meridian::replication
