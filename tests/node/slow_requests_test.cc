// SlowRequests and ReplicaTimes: the threshold, the bound on untaken lines, and the wording.
#include "node/slow_requests.h"

#include <gtest/gtest.h>

namespace meridian::node {
namespace {

TEST(SlowRequestsTest, OnlyRequestsAtTheThresholdOrAboveAreSlowAndZeroTurnsItOff) {
  const SlowRequests slow(500);
  EXPECT_FALSE(slow.IsSlow(499));
  EXPECT_TRUE(slow.IsSlow(500));
  const SlowRequests off(0);
  EXPECT_FALSE(off.IsSlow(0));
  EXPECT_FALSE(off.IsSlow(1'000'000));
}

TEST(SlowRequestsTest, UntakenLinesAreBoundedAndTheRestOnlyCounted) {
  SlowRequests slow(10, /*capacity=*/2);
  slow.Add(10, "a");
  slow.Add(20, "b");
  slow.Add(30, "c");  // past the bound: counted, not kept
  EXPECT_EQ(slow.count(), 3u);
  EXPECT_EQ(slow.dropped(), 1u);
  std::vector<SlowRequests::Line> lines = slow.Take();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].description, "a");
  EXPECT_EQ(lines[1].took_ms, 20u);
  EXPECT_TRUE(slow.Take().empty());
  slow.Add(40, "d");  // room again once taken
  EXPECT_EQ(slow.lines().size(), 1u);
  EXPECT_EQ(slow.count(), 4u);
}

TEST(ReplicaTimesTest, EachTargetsFirstAnswerCountsFromTheStart) {
  ReplicaTimes times(/*started_ms=*/1'000, /*targets=*/3);
  times.Answered(1, 1'250);
  times.Answered(1, 1'900);  // a second answer does not move it
  times.Answered(0, 1'000);
  EXPECT_EQ(times.Elapsed(1'600), 600u);
  EXPECT_EQ(times.Elapsed(900), 0u);  // a clock before the start is no negative time
  EXPECT_EQ(times.Describe({"n1 (here)", "n2", "n3"}), "n1 (here) 0 ms, n2 250 ms, n3 no answer");
}

}  // namespace
}  // namespace meridian::node
