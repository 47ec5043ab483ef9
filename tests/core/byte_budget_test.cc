// ByteBudget: reservations fit within the capacity, refusals hold nothing and are counted,
// and every reservation gives its bytes back (resize, release, move, destruction).
#include "core/byte_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <utility>

namespace meridian {
namespace {

TEST(ByteBudgetTest, ReservationsFitTheCapacityAndReleaseOnDestruction) {
  ByteBudget budget(100);
  {
    std::optional<ByteBudget::Reservation> a = budget.TryReserve(60);
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(budget.used(), 60u);
    EXPECT_FALSE(budget.TryReserve(41).has_value());  // refused: holds nothing
    EXPECT_EQ(budget.used(), 60u);
    EXPECT_EQ(budget.refused(), 1u);
    std::optional<ByteBudget::Reservation> b = budget.TryReserve(40);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(budget.used(), 100u);
    EXPECT_FALSE(budget.TryReserve(1).has_value());
  }
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(budget.refused(), 2u);
}

TEST(ByteBudgetTest, ResizeGrowsOnlyWithinTheCapacityAndAlwaysShrinks) {
  ByteBudget budget(100);
  ByteBudget::Reservation held = budget.Empty();
  EXPECT_TRUE(held.Resize(70));
  EXPECT_FALSE(held.Resize(101));
  EXPECT_EQ(held.bytes(), 70u);  // a refused growth changes nothing
  EXPECT_EQ(budget.used(), 70u);
  EXPECT_TRUE(held.Resize(10));
  EXPECT_EQ(budget.used(), 10u);
  held.Release();
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_EQ(held.bytes(), 0u);
}

TEST(ByteBudgetTest, AMovedReservationIsReleasedOnceByItsNewOwner) {
  ByteBudget budget(100);
  ByteBudget::Reservation outer;
  {
    std::optional<ByteBudget::Reservation> inner = budget.TryReserve(30);
    ASSERT_TRUE(inner.has_value());
    outer = std::move(*inner);
  }
  EXPECT_EQ(budget.used(), 30u);  // the moved-from one released nothing
  ByteBudget::Reservation other = std::move(outer);
  EXPECT_EQ(budget.used(), 30u);
  other = ByteBudget::Reservation();
  EXPECT_EQ(budget.used(), 0u);
}

// Two threads (the front ends' loop and the node's) reserve from one budget: together they
// never hold more than its capacity, every grant is counted once, and all of it returns.
TEST(ByteBudgetTest, ThreadsSharingABudgetNeverExceedItAndReturnEverything) {
  constexpr std::uint64_t kCapacity = 1000;
  ByteBudget budget(kCapacity);
  std::atomic<std::uint64_t> held{0};
  std::atomic<bool> overran{false};
  std::atomic<std::uint64_t> granted{0};
  auto worker = [&](std::uint64_t size) {
    for (int i = 0; i < 20000; ++i) {
      std::optional<ByteBudget::Reservation> reservation = budget.TryReserve(size);
      if (!reservation) continue;
      granted.fetch_add(1);
      if (held.fetch_add(size) + size > kCapacity) overran = true;
      ASSERT_TRUE(reservation->Resize(size / 2));  // shrinking always succeeds
      held.fetch_sub(size - size / 2);
      held.fetch_sub(size / 2);
    }
  };
  std::thread a(worker, 300);
  std::thread b(worker, 450);
  a.join();
  b.join();
  EXPECT_FALSE(overran.load());
  EXPECT_GT(granted.load(), 0u);
  EXPECT_EQ(granted.load() + budget.refused(), 40000u);
  EXPECT_EQ(budget.used(), 0u);
}

}  // namespace
}  // namespace meridian
