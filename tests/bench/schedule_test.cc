// Open-loop schedule arithmetic: intended start times without drift, and how many operations
// fall due by a time or within a run.
#include "bench/schedule.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

namespace meridian::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(OpenLoopScheduleTest, OffsetsAreMultiplesOfTheInterval) {
  OpenLoopSchedule schedule(1000);
  EXPECT_EQ(schedule.Offset(0), nanoseconds(0));
  EXPECT_EQ(schedule.Offset(1), milliseconds(1));
  EXPECT_EQ(schedule.Offset(1000), seconds(1));
  EXPECT_EQ(schedule.Offset(3'600'000), seconds(3600));  // an hour: no accumulated drift
}

TEST(OpenLoopScheduleTest, FractionalIntervalsDoNotDrift) {
  OpenLoopSchedule schedule(3);  // 333,333,333.3 ns apart
  EXPECT_EQ(schedule.Offset(1), nanoseconds(333'333'333));
  EXPECT_EQ(schedule.Offset(2), nanoseconds(666'666'667));
  EXPECT_EQ(schedule.Offset(3), seconds(1));
  EXPECT_EQ(schedule.Offset(3 * 86'400), seconds(86'400));
  OpenLoopSchedule slow(0.5);  // one every two seconds
  EXPECT_EQ(slow.Offset(5), seconds(10));
}

TEST(OpenLoopScheduleTest, DueByCountsStartsAtOrBeforeATime) {
  OpenLoopSchedule schedule(1000);
  EXPECT_EQ(schedule.DueBy(nanoseconds(-1)), 0u);
  EXPECT_EQ(schedule.DueBy(nanoseconds(0)), 1u);  // operation 0 starts at once
  EXPECT_EQ(schedule.DueBy(nanoseconds(999'999)), 1u);
  EXPECT_EQ(schedule.DueBy(milliseconds(1)), 2u);
  EXPECT_EQ(schedule.DueBy(seconds(1)), 1001u);
}

TEST(OpenLoopScheduleTest, CountWithinIsTheOperationsOfARun) {
  EXPECT_EQ(OpenLoopSchedule(1000).CountWithin(seconds(10)), 10'000u);
  EXPECT_EQ(OpenLoopSchedule(50'000).CountWithin(seconds(2)), 100'000u);
  EXPECT_EQ(OpenLoopSchedule(3).CountWithin(seconds(1)), 3u);
  EXPECT_EQ(OpenLoopSchedule(3).CountWithin(nanoseconds(0)), 0u);
}

RC_GTEST_PROP(OpenLoopScheduleProperty, DueByAgreesWithOffsets, ()) {
  const double rate = *rc::gen::inRange<int>(1, 2'000'000) / 7.0;
  const auto index = *rc::gen::inRange<std::uint64_t>(0, 100'000'000);
  OpenLoopSchedule schedule(rate);
  const nanoseconds at = schedule.Offset(index);
  RC_ASSERT(schedule.Offset(index + 1) >= at);
  // Everything up to `index` is due at its offset; the next one is not due just before its own.
  RC_ASSERT(schedule.DueBy(at) >= index + 1);
  RC_ASSERT(schedule.DueBy(schedule.Offset(index + 1) - nanoseconds(1)) <= index + 1);
}

}  // namespace
}  // namespace meridian::bench
