// RenderNodeMetrics: the background governor's series, per kind, and the hint bytes gauge;
// RenderEventLoopMetrics: the event loop's stalls.
#include "runtime/node_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::runtime {
namespace {

TEST(NodeMetricsTest, BackgroundWorkIsShownPerKindWithTheLimits) {
  node::NodeStats stats;
  stats.hint_bytes = 1234;
  replication::BackgroundKindStats& hints =
      stats.background.kinds[replication::WorkKindIndex(replication::WorkKind::kHintReplay)];
  hints.bytes_granted = 500;
  hints.objects_granted = 7;
  hints.spend_refused = 3;
  replication::BackgroundKindStats& copies =
      stats.background.kinds[replication::WorkKindIndex(replication::WorkKind::kReplicaCopy)];
  copies.streams_held = 2;
  copies.streams_refused = 9;
  stats.background.bytes_per_second = 1000;
  stats.background.streams_max = 4;
  stats.strong_operations = 10;
  stats.strong_one_round_trip = 8;
  stats.strong_round_trips = 13;
  stats.strong_moves_succeeded = 5;
  stats.strong_refused_not_ready = 2;

  const std::string text = RenderNodeMetrics(stats);
  for (const std::string line : {
           "meridian_hint_bytes 1234\n",
           "meridian_background_bytes_total{kind=\"hint_replay\"} 500\n",
           "meridian_background_bytes_total{kind=\"ownership_handoff\"} 0\n",
           "meridian_background_objects_total{kind=\"hint_replay\"} 7\n",
           "meridian_background_throttled_total{kind=\"hint_replay\",limit=\"bytes\"} 3\n",
           "meridian_background_throttled_total{kind=\"replica_copy\",limit=\"streams\"} 9\n",
           "meridian_background_streams{kind=\"replica_copy\"} 2\n",
           "meridian_background_streams{kind=\"tombstone_reaping\"} 0\n",
           "meridian_background_bytes_per_second_limit 1000\n",
           "meridian_background_streams_limit 4\n",
           "meridian_strong_operations_total 10\n",
           "meridian_strong_one_round_trip_total 8\n",
           "meridian_strong_round_trips_total 13\n",
           "meridian_strong_in_flight 0\n",
           "meridian_strong_moves_total{outcome=\"succeeded\"} 5\n",
           "meridian_strong_refused_total{reason=\"not_ready\"} 2\n",
           "# TYPE meridian_background_throttled_total counter\n",
           "# TYPE meridian_background_streams gauge\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin:\n" << text;
  }
}

TEST(NodeMetricsTest, EventLoopStallsAreShownInSeconds) {
  NodeService::LoopStats stats;
  stats.stalls = 3;
  stats.stall_microseconds = 450'000;
  stats.longest_stall_microseconds = 200'000;
  stats.slow_ticks = 1;
  stats.tick_microseconds = 2'500'000;
  stats.syncs = 10;
  stats.sync_microseconds = 30'000;
  stats.longest_sync_microseconds = 120'000;
  stats.slow_syncs = 2;
  stats.early_messages = 7;
  const std::string text = RenderEventLoopMetrics(stats);
  for (const std::string line : {
           "meridian_event_loop_stalls_total 3\n",
           "meridian_event_loop_stall_seconds_total 0.45\n",
           "meridian_event_loop_longest_stall_seconds 0.2\n",
           "meridian_node_tick_seconds_total 2.5\n",
           "meridian_node_slow_ticks_total 1\n",
           "meridian_commit_syncs_total 10\n",
           "meridian_commit_sync_seconds_total 0.03\n",
           "meridian_commit_longest_sync_seconds 0.12\n",
           "meridian_commit_slow_syncs_total 2\n",
           "meridian_commit_early_messages_total 7\n",
           "# TYPE meridian_event_loop_stalls_total counter\n",
           "# TYPE meridian_event_loop_longest_stall_seconds gauge\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\nin:\n" << text;
  }
}

// A node's shards add up what each owns (hints, transfers, ...), but a peer is suspected by the
// shell and, through its view, by every follower too: the node shows the most any shard does.
TEST(NodeMetricsTest, ShardsAddUpWhatTheyOwnButNotTheirSuspicionsOfOnePeer) {
  node::NodeStats shell;
  shell.hints_pending = 2;
  shell.peers_suspected = 3;
  node::NodeStats follower;
  follower.hints_pending = 5;
  follower.peers_suspected = 3;
  node::NodeStats total;
  Accumulate(total, shell);
  Accumulate(total, follower);
  EXPECT_EQ(total.hints_pending, 7u);
  EXPECT_EQ(total.peers_suspected, 3u);
  node::NodeStats more;
  more.peers_suspected = 4;
  Accumulate(total, more);
  EXPECT_EQ(total.peers_suspected, 4u);
}

}  // namespace
}  // namespace meridian::runtime
