// PlanFileDescriptors: RocksDB, peers and clients each get a share of the descriptor limit;
// caps that fit are kept, caps that do not are lowered (never raised) and reported.
#include "runtime/file_descriptor_budget.h"

#include <gtest/gtest.h>

namespace meridian::runtime {
namespace {

FileDescriptorWants Defaults() {
  return FileDescriptorWants{.http_connections_max = 1024,
                             .resp_connections_max = 1024,
                             .peer_connections_max = 1024,
                             .peer_pending_max = 64};
}

std::uint64_t Total(const FileDescriptorPlan& plan) {
  return kFileDescriptorsBase + static_cast<std::uint64_t>(plan.rocksdb_open_files) +
         plan.http_connections_max + plan.resp_connections_max + plan.peer_connections_max +
         plan.peer_pending_max;
}

TEST(FileDescriptorBudgetTest, ALargeLimitKeepsEveryCapAndBoundsRocksDb) {
  auto plan = PlanFileDescriptors(1u << 20, Defaults());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->rocksdb_open_files, kRocksDbOpenFilesMax);
  EXPECT_EQ(plan->http_connections_max, 1024u);
  EXPECT_EQ(plan->resp_connections_max, 1024u);
  EXPECT_EQ(plan->peer_connections_max, 1024u);
  EXPECT_EQ(plan->peer_pending_max, 64u);
  EXPECT_TRUE(plan->lowered.empty());
}

// The common default of 1,024 descriptors: with the default caps, idle clients alone could
// take every descriptor (issue 11: RocksDB then failed with "Too many open files").
TEST(FileDescriptorBudgetTest, ASmallLimitLowersTheConnectionCapsSoThatEverythingFits) {
  auto plan = PlanFileDescriptors(1024, Defaults());
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_LE(Total(*plan), 1024u);
  EXPECT_EQ(plan->rocksdb_open_files, (1024 - 128) / 4);
  EXPECT_GE(plan->peer_connections_max, 100u);
  EXPECT_GE(plan->peer_pending_max, 1u);
  EXPECT_LT(plan->peer_pending_max, plan->peer_connections_max);
  EXPECT_GE(plan->http_connections_max, 200u);
  EXPECT_GE(plan->resp_connections_max, 200u);
  EXPECT_EQ(plan->lowered.size(), 4u);
  EXPECT_EQ(plan->lowered[0].rfind("pending peer handshakes 64 -> ", 0), 0u) << plan->lowered[0];
}

TEST(FileDescriptorBudgetTest, AStandaloneNodeWithoutRespGivesHttpTheRest) {
  FileDescriptorWants wants{.http_connections_max = 5000};
  auto plan = PlanFileDescriptors(2048, wants);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->resp_connections_max, 0u);
  EXPECT_EQ(plan->peer_connections_max, 0u);
  EXPECT_EQ(Total(*plan), 2048u);
  ASSERT_EQ(plan->lowered.size(), 1u);
  EXPECT_EQ(plan->lowered[0],
            "HTTP connections 5000 -> " + std::to_string(plan->http_connections_max));
}

TEST(FileDescriptorBudgetTest, CapsThatFitAreNeverRaised) {
  FileDescriptorWants wants{.http_connections_max = 10,
                            .resp_connections_max = 5,
                            .peer_connections_max = 8,
                            .peer_pending_max = 2};
  auto plan = PlanFileDescriptors(1024, wants);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->http_connections_max, 10u);
  EXPECT_EQ(plan->resp_connections_max, 5u);
  EXPECT_EQ(plan->peer_connections_max, 8u);
  EXPECT_EQ(plan->peer_pending_max, 2u);
  EXPECT_TRUE(plan->lowered.empty());
}

TEST(FileDescriptorBudgetTest, ALimitBelowTheMinimumIsRefusedWithWhatToDo) {
  auto plan = PlanFileDescriptors(150, Defaults());
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("ulimit -n"), std::string::npos);
}

TEST(FileDescriptorBudgetTest, RaisingTheSoftLimitReachesTheHardLimit) {
  auto raised = RaiseFileDescriptorLimit();
  ASSERT_TRUE(raised.ok()) << raised.status().ToString();
  EXPECT_GE(raised->current, raised->previous);
  auto again = RaiseFileDescriptorLimit();  // idempotent
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->previous, raised->current);
  EXPECT_EQ(again->current, raised->current);
}

}  // namespace
}  // namespace meridian::runtime
