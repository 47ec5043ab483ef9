// BackgroundGovernor: the token bucket (rate, burst, debt for oversized requests, object
// cost), the stream limit, fairness between kinds (refused kinds first, turns, expiry) and
// the statistics. Properties over random schedules: background_governor_property_test.cc.
#include "replication/background_governor.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace meridian::replication {
namespace {

constexpr WorkKind kHandoff = WorkKind::kOwnershipHandoff;
constexpr WorkKind kCopy = WorkKind::kReplicaCopy;
constexpr WorkKind kHints = WorkKind::kHintReplay;
constexpr WorkKind kRepair = WorkKind::kAntiEntropyRepair;

// 10 bytes per millisecond, a burst of 1,000 bytes, objects free unless a test says otherwise.
BackgroundGovernorConfig Config() {
  BackgroundGovernorConfig config;
  config.bytes_per_second = 10'000;
  config.burst_bytes = 1'000;
  config.object_cost_bytes = 0;
  config.streams_max = 2;
  config.turn_expiry_ms = 200;
  return config;
}

WorkSize Bytes(std::uint64_t bytes) {
  return WorkSize{.bytes = bytes, .objects = 0};
}

TEST(BackgroundGovernorTest, TheDefaultBudgetIsFourMiBPerCoreBetweenOneAndEightCores) {
  constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
  EXPECT_EQ(BackgroundBytesPerSecondForCores(0), 4 * kMiB);
  EXPECT_EQ(BackgroundBytesPerSecondForCores(1), 4 * kMiB);
  EXPECT_EQ(BackgroundBytesPerSecondForCores(2), 8 * kMiB);
  EXPECT_EQ(BackgroundBytesPerSecondForCores(7), 28 * kMiB);
  EXPECT_EQ(BackgroundBytesPerSecondForCores(8), 32 * kMiB);
  EXPECT_EQ(BackgroundBytesPerSecondForCores(96), 32 * kMiB);
  EXPECT_EQ(BackgroundGovernorConfig{}.bytes_per_second, BackgroundBytesPerSecondForCores(8));
}

TEST(BackgroundGovernorTest, NodesSharingAMachineDivideItsDefaultBudgetDownToOneMiB) {
  constexpr std::uint64_t kMiB = std::uint64_t{1} << 20;
  EXPECT_EQ(BackgroundBytesPerSecondShared(2, 1), 8 * kMiB);
  EXPECT_EQ(BackgroundBytesPerSecondShared(2, 0), 8 * kMiB);
  EXPECT_EQ(BackgroundBytesPerSecondShared(2, 5), 8 * kMiB / 5);
  EXPECT_EQ(BackgroundBytesPerSecondShared(16, 4), 8 * kMiB);  // 32 MiB/s at most, shared
  EXPECT_EQ(BackgroundBytesPerSecondShared(1, 3), 4 * kMiB / 3);
  EXPECT_EQ(BackgroundBytesPerSecondShared(1, 8), 1 * kMiB);
  EXPECT_EQ(BackgroundBytesPerSecondShared(2, 64), 1 * kMiB);
}

TEST(BackgroundGovernorTest, AChargeIsDebitedEvenIntoDebtAndEveryKindWaitsForItsRepayment) {
  BackgroundGovernor governor(Config());
  governor.Charge(kRepair, Bytes(3'000), 0);  // 1,000 in the bucket: 2,000 in debt
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(1), 0));
  // 2,001 bytes missing at 10 bytes per millisecond.
  EXPECT_EQ(governor.NextGrantMs(kHints, Bytes(1), 0), std::nullopt);  // handoff is in line
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(1), 200));
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(1), 201));
  EXPECT_EQ(governor.stats().of(kRepair).bytes_granted, 3'000u);
  EXPECT_EQ(governor.stats().of(kRepair).requests_granted, 1u);
}

TEST(BackgroundGovernorTest, BucketStartsFullAndRefillsAtTheRate) {
  BackgroundGovernor governor(Config());
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(600), 0));
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(600), 0));  // 400 left
  // 200 bytes missing at 10 bytes per millisecond.
  EXPECT_EQ(governor.NextGrantMs(kHandoff, Bytes(600), 0), 20u);
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(600), 19));
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(600), 20));
  // A long pause fills the bucket to the burst, no further.
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(1'000), 1'000'000));
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(1), 1'000'000));
}

TEST(BackgroundGovernorTest, RefillsOfAFewMillisecondsAreExactWithSlowRates) {
  BackgroundGovernorConfig config = Config();
  config.bytes_per_second = 1'500;  // 1.5 bytes per millisecond
  BackgroundGovernor governor(config);
  ASSERT_TRUE(governor.TrySpend(kHandoff, Bytes(1'000), 0));
  EXPECT_EQ(governor.NextGrantMs(kHandoff, Bytes(3), 0), 2u);
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(3), 1));  // 1.5 bytes
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(3), 2));   // 3 bytes
}

TEST(BackgroundGovernorTest, ObjectsCostTheirObjectCost) {
  BackgroundGovernorConfig config = Config();
  config.object_cost_bytes = 100;
  BackgroundGovernor governor(config);
  EXPECT_EQ(governor.ChargeOf(WorkSize{.bytes = 50, .objects = 3}), 350u);
  EXPECT_TRUE(governor.TrySpend(kHints, WorkSize{.bytes = 50, .objects = 3}, 0));  // 650 left
  EXPECT_FALSE(governor.TrySpend(kHints, WorkSize{.bytes = 0, .objects = 7}, 0));
  EXPECT_TRUE(governor.TrySpend(kHints, WorkSize{.bytes = 0, .objects = 6}, 0));
  // Statistics count what was moved, not the charge.
  EXPECT_EQ(governor.stats().of(kHints).bytes_granted, 50u);
  EXPECT_EQ(governor.stats().of(kHints).objects_granted, 9u);
  EXPECT_EQ(governor.stats().of(kHints).requests_granted, 2u);
  EXPECT_EQ(governor.stats().of(kHints).spend_refused, 1u);
}

TEST(BackgroundGovernorTest, ARequestLargerThanTheBurstPassesWhenFullAndLeavesDebt) {
  BackgroundGovernor governor(Config());
  ASSERT_TRUE(governor.TrySpend(kHandoff, Bytes(100), 0));
  // Not full: an oversized request waits until the bucket is full again.
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(5'000), 0));
  EXPECT_EQ(governor.NextGrantMs(kHandoff, Bytes(5'000), 0), 10u);
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(5'000), 10));
  // Now 4,000 bytes in debt: even one byte waits until it is repaid (401 ms at 10 bytes/ms).
  EXPECT_EQ(governor.NextGrantMs(kHandoff, Bytes(1), 10), 411u);
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(1), 410));
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(1), 411));
}

TEST(BackgroundGovernorTest, ZeroBytesPerSecondIsUnlimited) {
  BackgroundGovernorConfig config = Config();
  config.bytes_per_second = 0;
  BackgroundGovernor governor(config);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(governor.TrySpend(i % 2 == 0 ? kHandoff : kHints, Bytes(1'000'000), 0));
  }
  EXPECT_EQ(governor.NextGrantMs(kCopy, Bytes(1u << 30), 7), 7u);
  EXPECT_EQ(governor.stats().Total().bytes_granted, 100'000'000u);
  EXPECT_EQ(governor.stats().Total().spend_refused, 0u);
}

TEST(BackgroundGovernorTest, TimeGoingBackwardsAddsNothing) {
  BackgroundGovernor governor(Config());
  ASSERT_TRUE(governor.TrySpend(kHandoff, Bytes(1'000), 100));
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(1), 50));
  EXPECT_EQ(governor.NextGrantMs(kHandoff, Bytes(10), 50), 101u);
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(10), 101));
}

TEST(BackgroundGovernorTest, ARefusedKindGoesBeforeKindsThatWereNot) {
  BackgroundGovernor governor(Config());
  ASSERT_TRUE(governor.TrySpend(kHandoff, Bytes(1'000), 0));  // empty now
  EXPECT_FALSE(governor.TrySpend(kHints, Bytes(800), 0));     // hints wait first
  // At 50 ms the bucket holds 500 bytes: enough for a small handoff request, but hints are
  // first in line, so the handoff is refused and lines up behind them.
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(100), 50));
  EXPECT_EQ(governor.NextGrantMs(kHandoff, Bytes(100), 50), std::nullopt);
  EXPECT_EQ(governor.NextGrantMs(kHints, Bytes(800), 50), 80u);
  EXPECT_TRUE(governor.TrySpend(kHints, Bytes(800), 80));
  // Now the handoff is first.
  EXPECT_FALSE(governor.TrySpend(kHints, Bytes(10), 85));
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(100), 90));
  EXPECT_TRUE(governor.TrySpend(kHints, Bytes(10), 91));
}

// One kind asks for a byte every millisecond, another for a full burst: without the line the
// small requests would keep the bucket from ever holding a burst.
TEST(BackgroundGovernorTest, ManySmallRequestsCannotStarveALargeOne) {
  BackgroundGovernor governor(Config());
  std::uint64_t large_grants = 0;
  std::uint64_t small_grants = 0;
  std::uint64_t last_large_ms = 0;
  std::uint64_t longest_wait_ms = 0;
  for (std::uint64_t now_ms = 0; now_ms < 10'000; ++now_ms) {
    if (governor.TrySpend(kRepair, Bytes(1), now_ms)) ++small_grants;
    if (governor.TrySpend(kHandoff, Bytes(1'000), now_ms)) {
      ++large_grants;
      longest_wait_ms = std::max(longest_wait_ms, now_ms - last_large_ms);
      last_large_ms = now_ms;
    }
  }
  // The small kind gets one byte per turn; the large one waits about a burst's refill.
  EXPECT_GE(large_grants, 90u);
  EXPECT_GE(small_grants, 90u);
  EXPECT_LE(longest_wait_ms, 110u);
}

TEST(BackgroundGovernorTest, KindsThatKeepAskingTakeTurns) {
  BackgroundGovernor governor(Config());
  std::map<WorkKind, std::uint64_t> grants;
  const std::array<WorkKind, 3> kinds = {kHandoff, kCopy, kHints};
  for (std::uint64_t now_ms = 0; now_ms < 30'000; now_ms += 10) {
    for (WorkKind kind : kinds) {
      if (governor.TrySpend(kind, Bytes(1'000), now_ms)) ++grants[kind];
    }
  }
  // 30 s at 10 bytes per millisecond is 300 bursts, shared evenly.
  for (WorkKind kind : kinds) {
    EXPECT_GE(grants[kind], 99u) << WorkKindName(kind);
    EXPECT_LE(grants[kind], 101u) << WorkKindName(kind);
  }
}

TEST(BackgroundGovernorTest, AKindThatStopsAskingLosesItsTurnAfterTheExpiry) {
  BackgroundGovernor governor(Config());  // turn_expiry_ms = 200
  ASSERT_TRUE(governor.TrySpend(kHandoff, Bytes(1'000), 0));
  EXPECT_FALSE(governor.TrySpend(kHints, Bytes(100), 0));  // and never asks again
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(100), 150));
  EXPECT_FALSE(governor.TrySpend(kHandoff, Bytes(100), 200));
  EXPECT_TRUE(governor.TrySpend(kHandoff, Bytes(100), 201));
}

TEST(BackgroundGovernorTest, StreamsAreLimitedAndFreedOnRelease) {
  BackgroundGovernor governor(Config());  // streams_max = 2
  std::optional<StreamSlot> first = governor.TryAcquireStream(kHandoff, 0);
  std::optional<StreamSlot> second = governor.TryAcquireStream(kCopy, 0);
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(first->id(), second->id());
  EXPECT_EQ(first->kind(), kHandoff);
  EXPECT_EQ(governor.streams_held(), 2u);
  EXPECT_FALSE(governor.TryAcquireStream(kHandoff, 1).has_value());
  EXPECT_EQ(governor.stats().of(kHandoff).streams_held, 1u);
  EXPECT_EQ(governor.stats().of(kCopy).streams_held, 1u);
  EXPECT_EQ(governor.stats().of(kHandoff).streams_refused, 1u);

  governor.ReleaseStream(std::move(*first));
  EXPECT_EQ(first->id(), 0u);  // moved from
  EXPECT_EQ(governor.streams_held(), 1u);
  EXPECT_EQ(governor.stats().of(kHandoff).streams_held, 0u);
  std::optional<StreamSlot> third = governor.TryAcquireStream(kHandoff, 2);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(governor.stats().Total().streams_held, 2u);
}

TEST(BackgroundGovernorTest, AKindRefusedAStreamGetsTheNextFreeOne) {
  BackgroundGovernorConfig config = Config();
  config.streams_max = 1;
  BackgroundGovernor governor(config);
  std::optional<StreamSlot> held = governor.TryAcquireStream(kHandoff, 0);
  ASSERT_TRUE(held.has_value());
  EXPECT_FALSE(governor.TryAcquireStream(kCopy, 10).has_value());  // the copy waits first
  governor.ReleaseStream(std::move(*held));
  // The handoff asks first after the release, but the copy was refused first.
  EXPECT_FALSE(governor.TryAcquireStream(kHandoff, 20).has_value());
  std::optional<StreamSlot> copy = governor.TryAcquireStream(kCopy, 20);
  ASSERT_TRUE(copy.has_value());
  governor.ReleaseStream(std::move(*copy));
  EXPECT_TRUE(governor.TryAcquireStream(kHandoff, 30).has_value());
}

TEST(BackgroundGovernorTest, ZeroStreamsMaxIsUnlimited) {
  BackgroundGovernorConfig config = Config();
  config.streams_max = 0;
  BackgroundGovernor governor(config);
  std::vector<StreamSlot> slots;
  for (int i = 0; i < 50; ++i) {
    std::optional<StreamSlot> slot = governor.TryAcquireStream(kCopy, 0);
    ASSERT_TRUE(slot.has_value());
    slots.push_back(std::move(*slot));
  }
  EXPECT_EQ(governor.streams_held(), 50u);
  for (StreamSlot& slot : slots) governor.ReleaseStream(std::move(slot));
  EXPECT_EQ(governor.streams_held(), 0u);
}

// An operator's pause: nothing new is granted (bytes or streams), nobody is put in line or
// counted as throttled, held streams and charges go on, and the bucket refills meanwhile.
TEST(BackgroundGovernorTest, WhilePausedNothingNewIsGrantedAndResumingGoesOnWhereItWas) {
  BackgroundGovernor governor(Config());
  std::optional<StreamSlot> held = governor.TryAcquireStream(kHints, 0);
  ASSERT_TRUE(held.has_value());
  ASSERT_TRUE(governor.TrySpend(kHints, Bytes(1'000), 0));  // the bucket is empty now
  governor.SetPaused(true);
  EXPECT_TRUE(governor.paused());
  EXPECT_TRUE(governor.stats().paused);
  EXPECT_FALSE(governor.TryAcquireStream(kRepair, 10).has_value());
  EXPECT_FALSE(governor.TrySpend(kHints, Bytes(1), 200));
  EXPECT_EQ(governor.NextGrantMs(kHints, Bytes(1), 200), std::nullopt);
  EXPECT_EQ(governor.stats().Total().spend_refused, 0u);
  EXPECT_EQ(governor.stats().Total().streams_refused, 0u);
  governor.Charge(kCopy, Bytes(100), 200);  // a receiver applying what arrived
  EXPECT_EQ(governor.stats().of(kCopy).bytes_granted, 100u);
  governor.ReleaseStream(std::move(*held));
  governor.SetPaused(false);
  // Refilled for 200 ms at 10 bytes/ms while paused (2,000, capped at the burst of 1,000), less
  // the 100 charged: 900 now, so 900 fits and 901 does not.
  EXPECT_FALSE(governor.TrySpend(kRepair, Bytes(901), 200));
  EXPECT_TRUE(governor.TrySpend(kRepair, Bytes(900), 200));
  EXPECT_TRUE(governor.TryAcquireStream(kRepair, 200).has_value());
}

// The rate changes from the moment it is set: what was refilled before stays, the rest comes
// at the new rate; 0 is unlimited, and a limit set again starts from the bucket as it was.
TEST(BackgroundGovernorTest, ANewRateAppliesFromWhenItIsSet) {
  BackgroundGovernor governor(Config());  // 10 bytes/ms, burst 1,000
  ASSERT_TRUE(governor.TrySpend(kHints, Bytes(1'000), 0));
  governor.SetBytesPerSecond(1'000, 50);  // 500 refilled at the old rate, then 1 byte/ms
  EXPECT_EQ(governor.stats().bytes_per_second, 1'000u);
  EXPECT_EQ(governor.NextGrantMs(kHints, Bytes(600), 50), 150u);
  EXPECT_FALSE(governor.TrySpend(kHints, Bytes(600), 149));
  EXPECT_TRUE(governor.TrySpend(kHints, Bytes(600), 150));
  governor.SetBytesPerSecond(0, 150);
  EXPECT_TRUE(governor.TrySpend(kHints, Bytes(1'000'000), 150));
  EXPECT_FALSE(governor.InDebt(150));
  governor.SetBytesPerSecond(10'000, 150);
  EXPECT_FALSE(governor.TrySpend(kHints, Bytes(1), 150));  // the bucket is as it was: empty
  EXPECT_TRUE(governor.TrySpend(kHints, Bytes(10), 151));
}

TEST(BackgroundGovernorDeathTest, ReleasingASlotTwiceIsABug) {
  EXPECT_DEATH(
      {
        BackgroundGovernor governor(Config());
        std::optional<StreamSlot> slot = governor.TryAcquireStream(kHandoff, 0);
        const std::uint64_t id = slot->id();
        governor.ReleaseStream(std::move(*slot));
        governor.ReleaseStream(StreamSlot(id, kHandoff));
      },
      "held != held_.end");
}

TEST(BackgroundGovernorDeathTest, ReleasingAMovedFromOrUnknownSlotIsABug) {
  EXPECT_DEATH(
      {
        BackgroundGovernor governor(Config());
        std::optional<StreamSlot> slot = governor.TryAcquireStream(kHandoff, 0);
        StreamSlot taken = std::move(*slot);
        governor.ReleaseStream(std::move(*slot));
      },
      "slot.id\\(\\) != 0");
  EXPECT_DEATH(
      {
        BackgroundGovernor governor(Config());
        governor.ReleaseStream(StreamSlot(12345, kCopy));
      },
      "held != held_.end");
}

TEST(BackgroundGovernorDeathTest, AnAbsurdChargeIsABug) {
  EXPECT_DEATH(
      {
        BackgroundGovernor governor(Config());
        (void)governor.TrySpend(kHandoff, Bytes(BackgroundGovernor::kChargeMax + 1), 0);
      },
      "kChargeMax");
}

TEST(WorkKindTest, NamesAreTheMetricLabels) {
  EXPECT_EQ(WorkKindName(WorkKind::kOwnershipHandoff), "ownership_handoff");
  EXPECT_EQ(WorkKindName(WorkKind::kReplicaCopy), "replica_copy");
  EXPECT_EQ(WorkKindName(WorkKind::kHintReplay), "hint_replay");
  EXPECT_EQ(WorkKindName(WorkKind::kAntiEntropyRepair), "anti_entropy_repair");
  EXPECT_EQ(WorkKindName(WorkKind::kTombstoneReaping), "tombstone_reaping");
}

}  // namespace
}  // namespace meridian::replication
