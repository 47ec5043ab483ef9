// PeerSuspicion: silence after a request, cleared by anything heard; probes rate limited.
#include "node/peer_suspicion.h"

#include <gtest/gtest.h>

namespace meridian::node {
namespace {

TEST(PeerSuspicionTest, APeerSilentSinceARequestIsSuspectedUntilHeardFrom) {
  PeerSuspicion suspicion({.suspect_after_ms = 1'000, .probe_interval_ms = 500});
  EXPECT_FALSE(suspicion.Suspect("a:1", 0));
  suspicion.OnRequestSent("a:1", 100);
  suspicion.OnRequestSent("a:1", 900);  // the oldest unanswered request counts
  EXPECT_FALSE(suspicion.Suspect("a:1", 1'099));
  EXPECT_TRUE(suspicion.Suspect("a:1", 1'100));
  EXPECT_FALSE(suspicion.Suspect("b:1", 1'100));  // never asked anything
  EXPECT_EQ(suspicion.SuspectCount(1'100), 1u);
  suspicion.OnHeard("a:1");
  EXPECT_FALSE(suspicion.Suspect("a:1", 5'000));
  suspicion.OnRequestSent("a:1", 5'000);  // a new silence starts from the next request
  EXPECT_FALSE(suspicion.Suspect("a:1", 5'500));
  EXPECT_TRUE(suspicion.Suspect("a:1", 6'000));
}

TEST(PeerSuspicionTest, HearingOfThePeerElsewhereClearsOnlyASuspicionThatBeganBeforeIt) {
  // A shard learns from its shell when the shell last heard from a peer (node/shell_view.h).
  PeerSuspicion suspicion({.suspect_after_ms = 1'000, .probe_interval_ms = 500});
  suspicion.OnRequestSent("a:1", 2'000);
  suspicion.OnHeardAt("a:1", 1'500);  // heard before the request: says nothing of it
  EXPECT_TRUE(suspicion.Suspect("a:1", 3'000));
  suspicion.OnHeardAt("a:1", 2'000);
  EXPECT_FALSE(suspicion.Suspect("a:1", 3'000));
  suspicion.OnHeardAt("b:1", 9'000);  // nothing waited: nothing changes
  EXPECT_FALSE(suspicion.Suspect("b:1", 9'000));
  EXPECT_EQ(suspicion.SuspectCount(9'000), 0u);
}

TEST(PeerSuspicionTest, SuspectsAreProbedAtMostOncePerInterval) {
  PeerSuspicion suspicion({.suspect_after_ms = 1'000, .probe_interval_ms = 500});
  suspicion.OnRequestSent("a:1", 0);
  suspicion.OnRequestSent("b:1", 600);
  EXPECT_TRUE(suspicion.TakeProbes(999).empty());
  EXPECT_EQ(suspicion.TakeProbes(1'000), std::vector<std::string>{"a:1"});
  EXPECT_TRUE(suspicion.TakeProbes(1'499).empty());
  EXPECT_EQ(suspicion.TakeProbes(1'600), (std::vector<std::string>{"a:1", "b:1"}));
  suspicion.OnHeard("a:1");
  EXPECT_EQ(suspicion.TakeProbes(2'200), std::vector<std::string>{"b:1"});
}

TEST(PeerSuspicionTest, ZeroDisablesItAndOnlyRequestsThatExpectAnAnswerCount) {
  PeerSuspicion off({.suspect_after_ms = 0, .probe_interval_ms = 500});
  off.OnRequestSent("a:1", 0);
  EXPECT_FALSE(off.Suspect("a:1", 1'000'000));

  proto::PeerMessage repair;
  repair.mutable_replica_write()->set_request_id(0);  // read repair: never acknowledged
  EXPECT_FALSE(PeerSuspicion::ExpectsAnswer(repair));
  proto::PeerMessage write;
  write.mutable_replica_write()->set_request_id(7);
  EXPECT_TRUE(PeerSuspicion::ExpectsAnswer(write));
  proto::PeerMessage ping;
  ping.mutable_heartbeat_ping()->set_from_id("n1");
  EXPECT_TRUE(PeerSuspicion::ExpectsAnswer(ping));
  proto::PeerMessage pong;
  pong.mutable_heartbeat_pong()->set_from_id("n1");
  EXPECT_FALSE(PeerSuspicion::ExpectsAnswer(pong));
}

}  // namespace
}  // namespace meridian::node
