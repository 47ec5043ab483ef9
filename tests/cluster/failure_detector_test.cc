#include "cluster/failure_detector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

namespace meridian::cluster {
namespace {

NodeId IdOf(int index) {
  return "node-" + std::to_string(index);
}
std::string AddressOf(int index) {
  return "10.0.0." + std::to_string(index) + ":7000";
}

std::vector<FailureDetectorPeer> PeersOf(int node_count) {
  std::vector<FailureDetectorPeer> peers;
  for (int i = 0; i < node_count; ++i) peers.push_back({IdOf(i), AddressOf(i), 1});
  return peers;
}

// A small deterministic cluster: FailureDetectors joined by a seeded network with jittery
// latency (0.5 ms + exponential, a 1% tail of 50-200 ms) and optional loss. Nodes tick every
// 100 ms of virtual time.
class TestCluster {
 public:
  static constexpr std::uint64_t kTickMs = 100;

  TestCluster(int node_count, const FailureDetectorConfig& config, double loss, std::uint64_t seed)
      : config_(config), loss_(loss), random_(seed) {
    for (int i = 0; i < node_count; ++i) {
      address_to_index_[AddressOf(i)] = i;
      nodes_.push_back(std::make_unique<FailureDetector>(IdOf(i), 1, config));
      nodes_.back()->SetPeers(PeersOf(node_count));
    }
    crashed_.assign(node_count, false);
  }

  FailureDetector& node(int index) { return *nodes_[index]; }
  std::uint64_t now_ms() const { return now_ms_; }
  void Crash(int index) { crashed_[index] = true; }
  // Replaces a crashed node by a fresh process with the given incarnation.
  void Restart(int index, std::uint64_t incarnation) {
    crashed_[index] = false;
    nodes_[index] = std::make_unique<FailureDetector>(IdOf(index), incarnation, config_);
    nodes_[index]->SetPeers(PeersOf(static_cast<int>(nodes_.size())));
  }
  // Messages sent by `index` in [from_ms, until_ms) are lost.
  void DropFrom(int index, std::uint64_t from_ms, std::uint64_t until_ms) {
    drops_.push_back({index, from_ms, until_ms});
  }
  // Messages sent by or to `index` in [from_ms, until_ms) are lost: a partition.
  void Isolate(int index, std::uint64_t from_ms, std::uint64_t until_ms) {
    drops_.push_back({index, from_ms, until_ms});
    drops_.push_back({index, from_ms, until_ms, /*to=*/true});
  }

  // Runs to end_ms; after every tick calls on_tick (if set).
  void RunUntil(std::uint64_t end_ms, const std::function<void()>& on_tick = {}) {
    while (true) {
      const std::uint64_t next_tick_ms = (now_ms_ / kTickMs + 1) * kTickMs;
      if (!in_flight_.empty() && in_flight_.top().at_ms < next_tick_ms) {
        Delivery delivery = in_flight_.top();
        in_flight_.pop();
        now_ms_ = delivery.at_ms;
        if (crashed_[delivery.to_index]) continue;
        FailureDetector& receiver = *nodes_[delivery.to_index];
        EXPECT_TRUE(receiver.Receive(delivery.from_address, delivery.message, now_ms_).ok());
        Flush(delivery.to_index);
        continue;
      }
      if (next_tick_ms > end_ms) break;
      now_ms_ = next_tick_ms;
      for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (crashed_[i]) continue;
        nodes_[i]->Tick(now_ms_);
        Flush(static_cast<int>(i));
      }
      if (on_tick) on_tick();
    }
    now_ms_ = end_ms;
  }

  // Live nodes' opinions that a live peer is down, at this instant.
  int FalseDownCount() const {
    int count = 0;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (crashed_[i]) continue;
      for (const NodeId& down : nodes_[i]->DownPeers(now_ms_)) {
        if (!crashed_[std::stoi(down.substr(5))]) ++count;
      }
    }
    return count;
  }

 private:
  struct Delivery {
    std::uint64_t at_ms;
    std::uint64_t order;  // ties broken by send order: deterministic
    int to_index;
    std::string from_address;
    proto::PeerMessage message;
    bool operator>(const Delivery& other) const {
      return at_ms != other.at_ms ? at_ms > other.at_ms : order > other.order;
    }
  };
  struct Drop {
    int index;
    std::uint64_t from_ms;
    std::uint64_t until_ms;
    bool to = false;  // index is the receiver (else the sender)
  };

  void Flush(int from_index) {
    for (Outbound& out : nodes_[from_index]->TakeOutbound()) {
      if (std::bernoulli_distribution(loss_)(random_)) continue;
      const int to_index = address_to_index_.at(out.to_address);
      const bool dropped = std::any_of(drops_.begin(), drops_.end(), [&](const Drop& drop) {
        return drop.index == (drop.to ? to_index : from_index) && now_ms_ >= drop.from_ms &&
               now_ms_ < drop.until_ms;
      });
      if (dropped) continue;
      double latency_ms = 0.5 + std::exponential_distribution<double>(1.0 / 2.0)(random_);
      if (std::bernoulli_distribution(0.01)(random_)) {
        latency_ms += std::uniform_real_distribution<double>(50.0, 200.0)(random_);
      }
      in_flight_.push({now_ms_ + static_cast<std::uint64_t>(latency_ms + 0.5), next_order_++,
                       address_to_index_.at(out.to_address), AddressOf(from_index),
                       std::move(out.message)});
    }
  }

  FailureDetectorConfig config_;
  double loss_;
  std::mt19937_64 random_;
  std::vector<std::unique_ptr<FailureDetector>> nodes_;
  std::vector<bool> crashed_;
  std::map<std::string, int> address_to_index_;
  std::vector<Drop> drops_;
  std::priority_queue<Delivery, std::vector<Delivery>, std::greater<>> in_flight_;
  std::uint64_t next_order_ = 0;
  std::uint64_t now_ms_ = 0;
};

TEST(SelectMonitoredPeersTest, SmallClusterMonitorsEveryOtherMember) {
  std::vector<NodeId> members = {"c", "a", "self", "b", "a"};
  EXPECT_EQ(SelectMonitoredPeers("self", members, 64, 8), (std::vector<NodeId>{"a", "b", "c"}));
}

TEST(SelectMonitoredPeersTest, LargeClusterMonitorsKSuccessorsAndEveryNodeIsWatchedKTimes) {
  constexpr int kNodes = 300;
  constexpr std::size_t kWatchers = 8;
  std::vector<NodeId> members;
  for (int i = 0; i < kNodes; ++i) members.push_back(IdOf(i));
  std::vector<NodeId> shuffled = members;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(5));
  std::map<NodeId, int> watched_by;
  for (const NodeId& self : members) {
    const std::vector<NodeId> monitored = SelectMonitoredPeers(self, members, 64, kWatchers);
    ASSERT_EQ(monitored.size(), kWatchers);
    EXPECT_TRUE(std::is_sorted(monitored.begin(), monitored.end()));
    EXPECT_EQ(std::count(monitored.begin(), monitored.end(), self), 0);
    // Deterministic: the order in which membership lists members does not matter.
    EXPECT_EQ(SelectMonitoredPeers(self, shuffled, 64, kWatchers), monitored);
    for (const NodeId& id : monitored) ++watched_by[id];
  }
  ASSERT_EQ(watched_by.size(), static_cast<std::size_t>(kNodes));
  for (const auto& [id, watchers] : watched_by) EXPECT_EQ(watchers, 8) << id;
}

TEST(SelectMonitoredPeersTest, ThresholdIsTheClusterSizeIncludingSelf) {
  std::vector<NodeId> members;
  for (int i = 0; i < 64; ++i) members.push_back(IdOf(i));
  EXPECT_EQ(SelectMonitoredPeers(IdOf(0), members, 64, 8).size(), 63u);
  members.push_back(IdOf(64));
  EXPECT_EQ(SelectMonitoredPeers(IdOf(0), members, 64, 8).size(), 8u);
}

TEST(FailureDetectorTest, TickPingsMonitoredPeersOncePerInterval) {
  FailureDetector detector("node-0", 3);
  detector.SetPeers(PeersOf(3));
  EXPECT_EQ(detector.MonitoredPeers(), (std::vector<NodeId>{"node-1", "node-2"}));
  detector.Tick(1000);
  std::vector<Outbound> out = detector.TakeOutbound();
  ASSERT_EQ(out.size(), 2u);
  std::vector<std::string> addresses;
  for (const Outbound& message : out) {
    ASSERT_TRUE(message.message.has_heartbeat_ping());
    const proto::HeartbeatPing& ping = message.message.heartbeat_ping();
    EXPECT_EQ(ping.from_id(), "node-0");
    EXPECT_EQ(ping.incarnation(), 3u);
    EXPECT_EQ(ping.sent_at_ms(), 1000u);
    addresses.push_back(message.to_address);
  }
  EXPECT_NE(out[0].message.heartbeat_ping().sequence(), out[1].message.heartbeat_ping().sequence());
  std::sort(addresses.begin(), addresses.end());
  EXPECT_EQ(addresses, (std::vector<std::string>{AddressOf(1), AddressOf(2)}));
  detector.Tick(1500);
  EXPECT_TRUE(detector.TakeOutbound().empty());
  detector.Tick(2000);
  EXPECT_EQ(detector.TakeOutbound().size(), 2u);
}

TEST(FailureDetectorTest, AnswersPingsAlsoFromStrangersWithoutMonitoringThem) {
  FailureDetector detector("node-0", 2);
  detector.SetPeers(PeersOf(2));
  proto::PeerMessage ping_message;
  proto::HeartbeatPing* ping = ping_message.mutable_heartbeat_ping();
  ping->set_from_id("stranger");
  ping->set_incarnation(1);
  ping->set_sequence(17);
  ping->set_sent_at_ms(900);
  ASSERT_TRUE(detector.Receive("10.9.9.9:7000", ping_message, 1000).ok());
  std::vector<Outbound> out = detector.TakeOutbound();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to_address, "10.9.9.9:7000");
  ASSERT_TRUE(out[0].message.has_heartbeat_pong());
  const proto::HeartbeatPong& pong = out[0].message.heartbeat_pong();
  EXPECT_EQ(pong.from_id(), "node-0");
  EXPECT_EQ(pong.incarnation(), 2u);
  EXPECT_EQ(pong.ping_sequence(), 17u);
  EXPECT_EQ(pong.ping_sent_at_ms(), 900u);
  EXPECT_FALSE(detector.IsMonitored("stranger"));
  EXPECT_EQ(detector.Phi("stranger", 1'000'000), 0.0);
  EXPECT_EQ(detector.MonitoredPeers(), (std::vector<NodeId>{"node-1"}));
}

TEST(FailureDetectorTest, RejectsMalformedMessages) {
  FailureDetector detector("node-0", 1);
  proto::PeerMessage other;
  other.mutable_kv_request()->set_request_id(1);
  EXPECT_EQ(detector.Receive("a:1", other, 0).code(), StatusCode::kInvalidArgument);
  proto::PeerMessage bad_ping;
  bad_ping.mutable_heartbeat_ping()->set_from_id("bad id!");
  EXPECT_EQ(detector.Receive("a:1", bad_ping, 0).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(detector.TakeOutbound().empty());
}

TEST(FailureDetectorTest, PeerThatNeverAnswersIsDeclaredDown) {
  FailureDetector detector("node-0", 1);
  detector.SetPeers(PeersOf(2));
  EXPECT_TRUE(detector.IsAlive("node-1", 0));  // not yet monitored: no evidence
  std::uint64_t now_ms = 1000;
  while (detector.IsAlive("node-1", now_ms)) {
    detector.Tick(now_ms);
    detector.TakeOutbound();
    now_ms += 100;
    ASSERT_LT(now_ms, 60'000u);
  }
  // First estimate 1000 ms (std 250) + pause 3000 ms: phi 8 after about 5.3 s.
  EXPECT_GE(now_ms - 1000, 5200u);
  EXPECT_LE(now_ms - 1000, 5400u);
  EXPECT_EQ(detector.DownPeers(now_ms), (std::vector<NodeId>{"node-1"}));
}

proto::PeerMessage PongFrom(const NodeId& id, std::uint64_t incarnation) {
  proto::PeerMessage message;
  message.mutable_heartbeat_pong()->set_from_id(id);
  message.mutable_heartbeat_pong()->set_incarnation(incarnation);
  return message;
}

TEST(FailureDetectorTest, IncarnationsRefuteOrAreIgnored) {
  FailureDetector detector("node-0", 1);
  detector.SetPeers({{"node-1", AddressOf(1), 5}});
  for (std::uint64_t now_ms = 0; now_ms <= 10'000; now_ms += 1000) {
    ASSERT_TRUE(detector.Receive(AddressOf(1), PongFrom("node-1", 5), now_ms).ok());
  }
  // A previous life's pongs are no evidence: the peer goes down regardless.
  for (std::uint64_t now_ms = 11'000; now_ms <= 20'000; now_ms += 1000) {
    ASSERT_TRUE(detector.Receive(AddressOf(1), PongFrom("node-1", 4), now_ms).ok());
  }
  EXPECT_FALSE(detector.IsAlive("node-1", 20'000));
  // A higher incarnation: history cleared, alive at once.
  ASSERT_TRUE(detector.Receive(AddressOf(1), PongFrom("node-1", 6), 20'000).ok());
  EXPECT_TRUE(detector.IsAlive("node-1", 20'000));
  EXPECT_LT(detector.Phi("node-1", 20'000), 0.01);
  // Membership learning of a restart first also refutes a stale "down".
  EXPECT_FALSE(detector.IsAlive("node-1", 40'000));
  detector.SetPeers({{"node-1", AddressOf(1), 7}});
  EXPECT_TRUE(detector.IsAlive("node-1", 40'000));
  // Removed from membership: no longer monitored.
  detector.SetPeers({});
  EXPECT_FALSE(detector.IsMonitored("node-1"));
}

FailureDetectorConfig DefaultConfig() {
  return {};
}

TEST(FailureDetectorTest, HealthyJitteryLossyClusterHasNoFalseDown) {
  TestCluster cluster(6, DefaultConfig(), /*loss=*/0.01, /*seed=*/11);
  int false_downs = 0;
  double max_phi = 0.0;
  cluster.RunUntil(15 * 60'000, [&] {
    false_downs += cluster.FalseDownCount();
    for (int i = 0; i < 6; ++i) {
      for (int j = 0; j < 6; ++j) {
        if (i != j) max_phi = std::max(max_phi, cluster.node(i).Phi(IdOf(j), cluster.now_ms()));
      }
    }
  });
  EXPECT_EQ(false_downs, 0);
  EXPECT_LT(max_phi, 3.0);
}

TEST(FailureDetectorTest, LostHeartbeatsWithinToleranceDoNotCauseFalseDown) {
  TestCluster cluster(4, DefaultConfig(), /*loss=*/0.0, /*seed=*/12);
  // Node 3 goes silent for 2.5 s (two to three heartbeat rounds lost) every 30 s.
  for (std::uint64_t start_ms = 60'000; start_ms < 600'000; start_ms += 30'000) {
    cluster.DropFrom(3, start_ms, start_ms + 2500);
  }
  int false_downs = 0;
  cluster.RunUntil(600'000, [&] { false_downs += cluster.FalseDownCount(); });
  EXPECT_EQ(false_downs, 0);
}

TEST(FailureDetectorTest, CrashIsDetectedByEveryPeerAndRestartIsUpAtOnce) {
  constexpr int kNodes = 5;
  TestCluster cluster(kNodes, DefaultConfig(), /*loss=*/0.001, /*seed=*/13);
  cluster.RunUntil(120'000);
  ASSERT_EQ(cluster.FalseDownCount(), 0);
  const std::uint64_t crash_ms = 120'000;
  cluster.Crash(0);
  std::map<int, std::uint64_t> detected_at_ms;
  cluster.RunUntil(crash_ms + 15'000, [&] {
    for (int i = 1; i < kNodes; ++i) {
      if (!detected_at_ms.contains(i) && !cluster.node(i).IsAlive(IdOf(0), cluster.now_ms())) {
        detected_at_ms[i] = cluster.now_ms();
      }
    }
  });
  ASSERT_EQ(detected_at_ms.size(), static_cast<std::size_t>(kNodes - 1));
  for (const auto& [observer, at_ms] : detected_at_ms) {
    // Documented bound for the defaults (docs/design/failure_detection.md): at most
    // 6.2 s of silence after the last heartbeat, plus one 100 ms tick of polling.
    EXPECT_GE(at_ms - crash_ms, 2500u) << "observer " << observer;
    EXPECT_LE(at_ms - crash_ms, 6300u) << "observer " << observer;
    EXPECT_EQ(cluster.node(observer).DownPeers(cluster.now_ms()), std::vector<NodeId>{IdOf(0)});
  }
  EXPECT_EQ(cluster.FalseDownCount(), 0);

  // Restart with a higher incarnation: its first ping makes it alive at each peer at once.
  cluster.Restart(0, 2);
  const std::uint64_t now_ms = cluster.now_ms();
  cluster.node(0).Tick(now_ms);
  for (Outbound& out : cluster.node(0).TakeOutbound()) {
    const int observer = std::stoi(out.to_address.substr(7));
    ASSERT_FALSE(cluster.node(observer).IsAlive(IdOf(0), now_ms));
    ASSERT_TRUE(cluster.node(observer).Receive(AddressOf(0), out.message, now_ms).ok());
    EXPECT_TRUE(cluster.node(observer).IsAlive(IdOf(0), now_ms));
  }
  int false_downs = 0;
  cluster.RunUntil(now_ms + 60'000, [&] { false_downs += cluster.FalseDownCount(); });
  EXPECT_EQ(false_downs, 0);
}

// Issue 10 item 3: after a partition of any length the detector's part of the recovery is one
// heartbeat round — the first ping or pong through the healed network ends the outage (its
// interval is not learnt), whatever the length — and later detection is as fast as before.
TEST(FailureDetectorTest, AfterAPartitionOfAnyLengthEveryoneIsAliveWithinOneHeartbeatRound) {
  constexpr int kNodes = 5;
  const FailureDetectorConfig config = DefaultConfig();
  for (const std::uint64_t partition_ms : {5'000u, 15'000u, 30'000u, 60'000u}) {
    TestCluster cluster(kNodes, config, /*loss=*/0.0, /*seed=*/partition_ms);
    cluster.RunUntil(30'000);
    const std::uint64_t heal_ms = 30'000 + partition_ms;
    cluster.Isolate(2, 30'000, heal_ms);
    cluster.RunUntil(heal_ms);
    if (partition_ms >= 15'000) {
      EXPECT_FALSE(cluster.node(0).IsAlive(IdOf(2), heal_ms)) << partition_ms;
      EXPECT_FALSE(cluster.node(2).IsAlive(IdOf(0), heal_ms)) << partition_ms;
    }
    std::optional<std::uint64_t> all_alive_ms;
    cluster.RunUntil(heal_ms + 10'000, [&] {
      if (all_alive_ms) return;
      for (int i = 0; i < kNodes; ++i) {
        for (int j = 0; j < kNodes; ++j) {
          if (i != j && !cluster.node(i).IsAlive(IdOf(j), cluster.now_ms())) return;
        }
      }
      all_alive_ms = cluster.now_ms() - heal_ms;
    });
    ASSERT_TRUE(all_alive_ms.has_value()) << partition_ms;
    // One ping round (1 s), its pong's latency, one 100 ms tick of polling.
    EXPECT_LE(*all_alive_ms, config.heartbeat_interval_ms + 300) << partition_ms;
    // And the outage left no trace: a crash right after is detected within the usual bound.
    const std::uint64_t crash_ms = cluster.now_ms();
    cluster.Crash(2);
    cluster.RunUntil(crash_ms + 6'300);
    EXPECT_FALSE(cluster.node(0).IsAlive(IdOf(2), cluster.now_ms())) << partition_ms;
  }
}

TEST(FailureDetectorTest, InALargeClusterExactlyTheKWatchersDetectACrash) {
  constexpr int kNodes = 20;
  FailureDetectorConfig config;
  config.monitored_peers_max = 10;
  config.monitored_peers_when_large = 3;
  TestCluster cluster(kNodes, config, /*loss=*/0.001, /*seed=*/14);
  cluster.RunUntil(60'000);
  std::vector<int> watchers;
  for (int i = 0; i < kNodes; ++i) {
    EXPECT_EQ(cluster.node(i).MonitoredPeers().size(), 3u);
    if (cluster.node(i).IsMonitored(IdOf(7))) watchers.push_back(i);
  }
  ASSERT_EQ(watchers.size(), 3u);
  cluster.Crash(7);
  cluster.RunUntil(60'000 + 10'000);
  for (int i = 0; i < kNodes; ++i) {
    if (i == 7) continue;
    const bool watcher = std::find(watchers.begin(), watchers.end(), i) != watchers.end();
    EXPECT_EQ(cluster.node(i).IsAlive(IdOf(7), cluster.now_ms()), !watcher) << "node " << i;
  }
  EXPECT_EQ(cluster.FalseDownCount(), 0);
}

}  // namespace
}  // namespace meridian::cluster
