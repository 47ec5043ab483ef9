// A node worth attacking: three real Nodes (MemoryEngine, one manual clock, seeded random)
// joined into a cluster by passing their messages to each other (serialized and parsed, as on
// the wire), with objects, tombstones, a bucket of n=1 (forwarded writes), hints (a node cut
// off for a while), anti-entropy and reaping rounds. Built once per process; the peer-message
// fuzzers start every input from a copy of node 1's engine, so inputs stay independent.
//
// It also keeps real messages the nodes received while the cluster formed: the seeds of the
// node_message, peer_frame and gossip corpora (fuzz/seed_generator.cc writes them).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/seeded_random.h"
#include "fuzz_support.h"
#include "node/node.h"
#include "node/test_env.h"
#include "storage/memory_engine.h"

namespace meridian::fuzz {

inline constexpr const char* kClusterName = "meridian";
inline constexpr std::size_t kClusterNodes = 3;
inline const std::string& NodeIdOf(std::size_t index) {
  static const std::vector<std::string> ids = {"node1", "node2", "node3"};
  return ids.at(index);
}
inline const std::string& AddressOf(std::size_t index) {
  static const std::vector<std::string> addresses = {"127.0.0.1:7001", "127.0.0.2:7001",
                                                     "127.0.0.3:7001"};
  return addresses.at(index);
}
// A peer the cluster has never heard of.
inline const std::string& StrangerAddress() {
  static const std::string address = "127.0.0.9:7001";
  return address;
}

// Small and quick, with every background protocol firing within seconds.
inline node::NodeConfig ClusterNodeConfig(std::size_t index) {
  node::NodeConfig config;
  config.partition_count = 16;
  config.node_id = NodeIdOf(index);
  config.cluster_name = kClusterName;
  config.peer_address = AddressOf(index);
  config.http_address = "127.0.0.1:" + std::to_string(8001 + index);
  if (index > 0) config.seeds = {AddressOf(0)};
  config.anti_entropy.exchange_interval_ms = 5'000;
  config.reaping.interval_ms = 2'000;
  return config;
}

struct ClusterSnapshot {
  node::NodeConfig config;  // node 1's
  storage::MemoryEngine engine;
  std::uint64_t wall_ms = 0;
  // Real messages the nodes received (node 1's first), serialized, by PeerMessage body case (at
  // most a few each).
  std::map<int, std::vector<std::string>> received;
};

namespace detail {

class ClusterBuilder {
 public:
  ClusterBuilder() {
    for (std::size_t i = 0; i < kClusterNodes; ++i) {
      engines_.push_back(std::make_unique<storage::MemoryEngine>());
      randoms_.push_back(std::make_unique<SplitMix64Random>(1000 + i));
      nodes_.push_back(std::make_unique<node::Node>(
          ClusterNodeConfig(i), node::Env{&clock_, randoms_.back().get(), engines_.back().get()}));
    }
    for (auto& node : nodes_) MERIDIAN_FUZZ_CHECK(node->Open().ok());
  }

  // Ticks every node for `ms` of virtual time, delivering messages after each tick.
  void Run(std::uint64_t ms) {
    for (std::uint64_t t = 0; t < ms; t += 100) {
      clock_.Advance(100);
      for (std::size_t i = 0; i < kClusterNodes; ++i) {
        nodes_[i]->Tick();
        Drain(i);
      }
      Pump();
    }
  }

  bool Converged() const {
    for (const auto& node : nodes_) {
      const cluster::ClusterState& state = node->cluster_state();
      if (state.members().size() != kClusterNodes) return false;
      for (const auto& member : state.members()) {
        if (member->status != cluster::MemberStatus::kUp) return false;
      }
      const cluster::Ring& ring = state.ring();
      if (ring.Nodes().size() != kClusterNodes) return false;
      for (std::uint32_t p = 0; p < ring.partition_count(); ++p) {
        if (ring.PendingOwner(p)) return false;
      }
      if (node->active_transfers() != 0) return false;
    }
    return true;
  }

  node::ClientReply Call(std::size_t index, node::ClientRequest request) {
    const node::RequestId id = next_request_id_++;
    nodes_[index]->Submit(id, std::move(request));
    Drain(index);
    for (int i = 0; i < 100 && !replies_.contains(id); ++i) {
      Pump();
      if (!replies_.contains(id)) Run(100);
    }
    MERIDIAN_FUZZ_CHECK(replies_.contains(id));
    node::ClientReply reply = std::move(replies_[id]);
    replies_.erase(id);
    return reply;
  }

  // Messages to or from a cut-off node are dropped.
  void CutOff(std::size_t index) { cut_off_.insert(index); }
  void Heal() { cut_off_.clear(); }

  ClusterSnapshot Snapshot() {
    ClusterSnapshot snapshot;
    snapshot.config = ClusterNodeConfig(0);
    MERIDIAN_FUZZ_CHECK(nodes_[0]->Close().ok());
    engines_[0]->MakeAllDurable();
    snapshot.engine = *engines_[0];
    snapshot.wall_ms = clock_.WallMillis();
    snapshot.received = std::move(received_);
    return snapshot;
  }

 private:
  void Drain(std::size_t index) {
    for (node::ClientReply& reply : nodes_[index]->TakeReplies()) {
      replies_[reply.id] = std::move(reply);
    }
    for (cluster::Outbound& out : nodes_[index]->TakeOutbound()) {
      in_flight_.emplace_back(index, std::move(out));
    }
  }

  void Pump() {
    for (int round = 0; round < 1000 && !in_flight_.empty(); ++round) {
      auto batch = std::move(in_flight_);
      in_flight_.clear();
      for (auto& [from, out] : batch) {
        std::size_t to = kClusterNodes;
        for (std::size_t i = 0; i < kClusterNodes; ++i) {
          if (AddressOf(i) == out.to_address) to = i;
        }
        if (to == kClusterNodes || cut_off_.contains(from) || cut_off_.contains(to)) continue;
        const std::string bytes = out.message.SerializeAsString();
        proto::PeerMessage parsed;
        MERIDIAN_FUZZ_CHECK(parsed.ParseFromString(bytes));
        // Node 1's first, then any node's: every type the cluster exchanged.
        std::vector<std::string>& kept = received_[parsed.body_case()];
        if (to == 0 && kept.size() < 4) kept.push_back(bytes);
        if (to != 0 && kept.size() < 2) kept.push_back(bytes);
        nodes_[to]->Receive(AddressOf(from), parsed);
        Drain(to);
      }
    }
  }

  node::test_support::ManualClock clock_;
  std::vector<std::unique_ptr<storage::MemoryEngine>> engines_;
  std::vector<std::unique_ptr<SplitMix64Random>> randoms_;
  std::vector<std::unique_ptr<node::Node>> nodes_;
  std::vector<std::pair<std::size_t, cluster::Outbound>> in_flight_;
  std::map<node::RequestId, node::ClientReply> replies_;
  node::RequestId next_request_id_ = 1;
  std::set<std::size_t> cut_off_;
  std::map<int, std::vector<std::string>> received_;
};

inline ClusterSnapshot BuildCluster() {
  ClusterBuilder cluster;
  for (int i = 0; i < 600 && !cluster.Converged(); ++i) cluster.Run(100);
  MERIDIAN_FUZZ_CHECK(cluster.Converged());
  const auto put = [&](std::size_t at, std::string bucket, std::string key, std::string value,
                       std::string context = "") {
    node::ClientReply reply = cluster.Call(
        at, node::PutRequest{
                {std::move(bucket), std::move(key)}, std::move(value), std::move(context), {}});
    MERIDIAN_FUZZ_CHECK(reply.status.ok());
    return std::get<node::WriteReply>(reply.body).context;
  };
  // A bucket of one replica: writes coordinated elsewhere are forwarded (KvRequest/KvReply).
  BucketPropsPatch one;
  one.n = 1;
  MERIDIAN_FUZZ_CHECK(cluster.Call(0, node::SetBucketRequest{"one", one}).status.ok());
  cluster.Run(3'000);
  for (int i = 0; i < 12; ++i) {
    put(i % kClusterNodes, "b", "key-" + std::to_string(i), "value-" + std::to_string(i));
    put(i % kClusterNodes, "one", "key-" + std::to_string(i), "one-" + std::to_string(i));
  }
  // Siblings, an overwrite with a context, and tombstones (reaping candidates).
  put(1, "b", "key-0", "sibling");
  const std::string context = put(0, "b", "key-1", "again");
  put(0, "b", "key-1", "overwritten", context);
  for (int i = 2; i < 5; ++i) {
    node::ClientReply reply =
        cluster.Call(0, node::DeleteRequest{{"b", "key-" + std::to_string(i)}, "", {}});
    MERIDIAN_FUZZ_CHECK(reply.status.ok());
  }
  const auto read = [&](std::size_t at, const std::string& key) {
    MERIDIAN_FUZZ_CHECK(cluster.Call(at, node::GetRequest{{"b", key}, {}}).status.ok());
  };
  read(1, "key-0");
  // Node 3 cut off: sloppy writes of its keys go to a fallback (a hint, replayed once it is
  // back); with n=1 there is a fallback even among three nodes.
  cluster.CutOff(2);
  cluster.Run(10'000);
  for (int i = 0; i < 12; ++i) put(i % 2, "one", "hinted-" + std::to_string(i), "h");
  cluster.Heal();
  // Hint replay, anti-entropy exchanges and reaping rounds.
  cluster.Run(20'000);
  read(0, "hinted-1");
  return cluster.Snapshot();
}

}  // namespace detail

inline const ClusterSnapshot& Cluster() {
  static const ClusterSnapshot snapshot = detail::BuildCluster();
  return snapshot;
}

// Node 1 reopened from the snapshot over a copy of its engine: what the fuzzers attack.
class FuzzedNode {
 public:
  FuzzedNode() : engine_(Cluster().engine), clock_(Cluster().wall_ms), random_(4242) {
    node_ = std::make_unique<node::Node>(Cluster().config, node::Env{&clock_, &random_, &engine_});
    MERIDIAN_FUZZ_CHECK(node_->Open().ok());
  }

  node::Node& node() { return *node_; }
  node::test_support::ManualClock& clock() { return clock_; }

  // Delivers a peer message and checks what the node did.
  void Receive(const std::string& from_address, const proto::PeerMessage& message) {
    node_->Receive(from_address, message);
    CheckOutputs();
  }

  void Tick() {
    clock_.Advance(node_->config().tick_interval_ms);
    node_->Tick();
    CheckOutputs();
  }

  // What a node sends must be sendable: a body, so a non-empty frame, within the transport's
  // default frame limit. (Destinations may be anything a peer named, e.g. an empty reply
  // address: PeerTransport::Send refuses those.) Replies only answer requests.
  void CheckOutputs() {
    for (const cluster::Outbound& out : node_->TakeOutbound()) {
      MERIDIAN_FUZZ_CHECK(out.message.body_case() != proto::PeerMessage::BODY_NOT_SET);
      const std::size_t bytes = out.message.ByteSizeLong();
      MERIDIAN_FUZZ_CHECK(bytes > 0 && bytes <= (16u << 20));
    }
    for (const node::ClientReply& reply : node_->TakeReplies()) {
      MERIDIAN_FUZZ_CHECK(submitted_.erase(reply.id) == 1);
    }
  }

  void Submit(node::ClientRequest request) {
    const node::RequestId id = next_request_id_++;
    submitted_.insert(id);
    node_->Submit(id, std::move(request));
    CheckOutputs();
  }

  // Lets time pass until every client request had its one reply (by its deadline at the latest),
  // stops cleanly and checks the node comes back up on what it persisted: no peer message
  // may leave a node that cannot restart.
  void Restart() {
    const std::uint64_t deadline_ms =
        std::max(node_->config().request_timeout_ms, node_->config().forward_timeout_ms);
    for (std::uint64_t ms = 0; ms <= deadline_ms && !submitted_.empty();
         ms += node_->config().tick_interval_ms) {
      Tick();
    }
    MERIDIAN_FUZZ_CHECK(submitted_.empty());
    MERIDIAN_FUZZ_CHECK(node_->Close().ok());
    node_.reset();
    engine_.MakeAllDurable();
    node_ = std::make_unique<node::Node>(Cluster().config, node::Env{&clock_, &random_, &engine_});
    const Status reopened = node_->Open();
    if (!reopened.ok()) Fail("node does not reopen: " + reopened.ToString());
    node_->Close().IgnoreError();
  }

 private:
  storage::MemoryEngine engine_;
  node::test_support::ManualClock clock_;
  SplitMix64Random random_;
  std::unique_ptr<node::Node> node_;
  node::RequestId next_request_id_ = 1;
  std::set<node::RequestId> submitted_;
};

}  // namespace meridian::fuzz
