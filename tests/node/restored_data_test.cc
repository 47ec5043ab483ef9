// PrepareRestoredData on a node's data: the next Open draws a fresh actor id (and fresh
// partition actors) even when the data comes from a clean stop, whose saved actors would
// otherwise be kept; and it starts above the raised incarnation.
#include "node/restored_data.h"

#include <gtest/gtest.h>

#include "node/node_test_util.h"
#include "node/stored_incarnation.h"

namespace meridian::node {
namespace {

using test_support::NodeFixture;
using test_support::Values;
using Strings = std::vector<std::string>;

class RestoredDataTest : public NodeFixture {};

TEST_F(RestoredDataTest, NextOpenAfterACleanStopStillDrawsFreshActors) {
  Put("k", "v1");
  const ActorId actor = node_->actor_id();
  const std::uint64_t incarnation = node_->incarnation();
  ASSERT_TRUE(node_->Close().ok());  // a clean stop: the actors are saved
  Result<std::uint64_t> stored = PrepareRestoredData(engine_, incarnation + 5);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(*stored, incarnation + 5);
  Reopen(config_);
  EXPECT_NE(node_->actor_id(), actor);
  EXPECT_EQ(node_->incarnation(), incarnation + 6);
  // The data is still there, and a write after it is a new version of it.
  EXPECT_EQ(Values(Get("k")), Strings{"v1"});
  Put("k", "v2", Get("k").context);
  EXPECT_EQ(Values(Get("k")), Strings{"v2"});
}

TEST_F(RestoredDataTest, IncarnationIsNeverLowered) {
  const std::uint64_t incarnation = node_->incarnation();
  ASSERT_TRUE(node_->Close().ok());
  Result<std::uint64_t> stored = PrepareRestoredData(engine_, 0);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, incarnation);
  Reopen(config_);
  EXPECT_EQ(node_->incarnation(), incarnation + 1);
}

}  // namespace
}  // namespace meridian::node
