#include "replication/ack_pacer.h"

#include <gtest/gtest.h>

#include "replication/background_governor.h"
#include "replication/fake_budget.h"

namespace meridian::replication {
namespace {

cluster::Outbound Ack(std::string to, std::uint64_t batch_id) {
  cluster::Outbound out;
  out.to_address = std::move(to);
  out.message.mutable_hint_ack()->set_batch_id(batch_id);
  return out;
}

TEST(AckPacerTest, AnAckLeavesAtOnceWhileTheBudgetIsOutOfDebtAndTheWorkIsCharged) {
  test_support::FakeBudget budget;
  AckPacer pacer(budget, AckPacerConfig{});
  pacer.Hold(WorkKind::kHintReplay, WorkSize{100, 2}, Ack("a:1", 7), 10);
  ASSERT_EQ(budget.charges.size(), 1u);
  EXPECT_EQ(budget.charge_kinds[0], WorkKind::kHintReplay);
  EXPECT_EQ(budget.charges[0].bytes, 100u);
  EXPECT_EQ(budget.charges[0].objects, 2u);
  auto released = pacer.Release(10);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].to_address, "a:1");
  EXPECT_EQ(released[0].message.hint_ack().batch_id(), 7u);
  EXPECT_EQ(pacer.held(), 0u);
  EXPECT_EQ(pacer.counters().acks_held, 0u);
}

TEST(AckPacerTest, AcksWaitWhileInDebtAndLeaveInOrderOnceRepaid) {
  test_support::FakeBudget budget;
  budget.in_debt = true;
  AckPacer pacer(budget, AckPacerConfig{.hold_max_ms = 1'000});
  pacer.Hold(WorkKind::kHintReplay, WorkSize{1, 1}, Ack("a:1", 1), 0);
  pacer.Hold(WorkKind::kReplicaCopy, WorkSize{1, 1}, Ack("b:1", 2), 5);
  EXPECT_TRUE(pacer.Release(5).empty());
  EXPECT_TRUE(pacer.Release(500).empty());
  EXPECT_EQ(pacer.held(), 2u);
  budget.in_debt = false;
  auto released = pacer.Release(600);
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(released[0].to_address, "a:1");
  EXPECT_EQ(released[1].to_address, "b:1");
  EXPECT_EQ(pacer.counters().acks_held, 2u);
  EXPECT_EQ(pacer.counters().held_ms_total, 600u + 595u);
  EXPECT_EQ(pacer.counters().acks_expired, 0u);
}

TEST(AckPacerTest, AnAckIsNeverHeldLongerThanHoldMax) {
  test_support::FakeBudget budget;
  budget.in_debt = true;
  AckPacer pacer(budget, AckPacerConfig{.hold_max_ms = 300});
  pacer.Hold(WorkKind::kHintReplay, WorkSize{1, 1}, Ack("a:1", 1), 100);
  pacer.Hold(WorkKind::kHintReplay, WorkSize{1, 1}, Ack("a:1", 2), 200);
  EXPECT_TRUE(pacer.Release(399).empty());
  auto first = pacer.Release(400);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].message.hint_ack().batch_id(), 1u);
  auto second = pacer.Release(500);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].message.hint_ack().batch_id(), 2u);
  EXPECT_EQ(pacer.counters().acks_expired, 2u);
}

TEST(AckPacerTest, HoldMaxZeroSwitchesPacingOffButStillCharges) {
  test_support::FakeBudget budget;
  budget.in_debt = true;
  AckPacer pacer(budget, AckPacerConfig{.hold_max_ms = 0});
  pacer.Hold(WorkKind::kOwnershipHandoff, WorkSize{10, 1}, Ack("a:1", 1), 0);
  EXPECT_EQ(pacer.Release(0).size(), 1u);
  EXPECT_EQ(budget.charges.size(), 1u);
}

// With the real governor: what a receiver applies beyond its budget is paid for by waiting,
// so the acks (and with them the senders) follow the configured rate.
TEST(AckPacerTest, WithTheGovernorAcksFollowTheBudgetsRate) {
  BackgroundGovernor governor(BackgroundGovernorConfig{.bytes_per_second = 1'000'000,
                                                       .object_cost_bytes = 0,
                                                       .burst_bytes = 100'000,
                                                       .streams_max = 4,
                                                       .turn_expiry_ms = 1'000});
  AckPacer pacer(governor, AckPacerConfig{.hold_max_ms = 10'000});
  // Four senders each deliver a 200 KB batch at t=0: 800 KB against a 100 KB bucket refilled
  // at 1 MB/s leaves 700 KB of debt, paid off at t=700 ms.
  for (std::uint64_t sender = 0; sender < 4; ++sender) {
    pacer.Hold(WorkKind::kHintReplay, WorkSize{200'000, 1}, Ack("s:" + std::to_string(sender), 1),
               0);
  }
  EXPECT_TRUE(governor.InDebt(0));
  EXPECT_TRUE(pacer.Release(0).empty());
  EXPECT_TRUE(pacer.Release(699).empty());
  EXPECT_EQ(pacer.Release(700).size(), 4u);
  EXPECT_FALSE(governor.InDebt(700));
  EXPECT_EQ(pacer.counters().acks_expired, 0u);
}

}  // namespace
}  // namespace meridian::replication
