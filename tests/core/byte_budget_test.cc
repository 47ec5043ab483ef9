// ByteBudget: reservations fit within the capacity, refusals hold nothing and are counted,
// and every reservation gives its bytes back (resize, release, move, destruction).
#include "core/byte_budget.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace meridian
