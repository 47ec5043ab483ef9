// NodeService's early messages (Node::TakeEarlyOutbound): a strong coordinator's requests to
// the other acceptors leave while its own acceptor's sync is still running, but a request that
// depends on that sync (the next phase, which counted the own answer) waits for it, and so does
// the client's reply.
//
// Three real Nodes form a cluster by exchanging their messages in memory (manual clock); then
// node 1 runs under a NodeService whose engine's syncs wait for the test (GatedEngine), while
// the test carries node 1's messages to the other two and their answers back.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "node/node.h"
#include "node/test_env.h"
#include "runtime/gated_engine.h"
#include "runtime/node_service.h"
#include "storage/memory_engine.h"

namespace meridian::runtime {
namespace {

using node::test_support::ManualClock;

constexpr std::size_t kNodes = 3;

std::string IdOf(std::size_t i) {
  return "node" + std::to_string(i + 1);
}
std::string AddressOf(std::size_t i) {
  return "127.0.0." + std::to_string(i + 1) + ":7001";
}

node::NodeConfig ConfigOf(std::size_t i) {
  node::NodeConfig config;
  config.partition_count = 16;
  config.node_id = IdOf(i);
  config.peer_address = AddressOf(i);
  config.http_address = "127.0.0.1:" + std::to_string(8001 + i);
  if (i > 0) config.seeds = {AddressOf(0)};
  // The service below must not tick during the test (a tick may write, and the gate would
  // hold its sync); the formation ticks the nodes by hand.
  config.tick_interval_ms = 3'600'000;
  return config;
}

class NodeServiceEarlyTest : public ::testing::Test {
 protected:
  NodeServiceEarlyTest() {
    for (std::size_t i = 0; i < kNodes; ++i) {
      randoms_.push_back(std::make_unique<SplitMix64Random>(100 + i));
      if (i == 0) {
        nodes_.push_back(std::make_unique<node::Node>(
            ConfigOf(i), node::Env{&clock_, randoms_.back().get(), &gated_}));
      } else {
        engines_.push_back(std::make_unique<storage::MemoryEngine>());
        nodes_.push_back(std::make_unique<node::Node>(
            ConfigOf(i), node::Env{&clock_, randoms_.back().get(), engines_.back().get()}));
      }
      EXPECT_TRUE(nodes_.back()->Open().ok());
    }
  }
  ~NodeServiceEarlyTest() override { gated_.Open(); }

  std::size_t IndexOf(const std::string& address) const {
    for (std::size_t i = 0; i < kNodes; ++i) {
      if (AddressOf(i) == address) return i;
    }
    ADD_FAILURE() << "unknown address " << address;
    return 0;
  }

  // Hand-run mode (before the service exists): messages carried until none are left.
  void Pump() {
    for (int round = 0; round < 1000; ++round) {
      bool any = false;
      for (std::size_t from = 0; from < kNodes; ++from) {
        for (cluster::Outbound& out : nodes_[from]->TakeOutbound()) {
          any = true;
          nodes_[IndexOf(out.to_address)]->Receive(AddressOf(from), out.message);
        }
        for (node::ClientReply& reply : nodes_[from]->TakeReplies()) {
          replies_[reply.id] = std::move(reply);
        }
      }
      if (!any) return;
    }
  }
  void RunFor(std::uint64_t ms) {
    for (std::uint64_t t = 0; t < ms; t += 100) {
      clock_.Advance(100);
      for (auto& node : nodes_) node->Tick();
      Pump();
    }
  }
  bool Converged() const {
    for (const auto& node : nodes_) {
      const cluster::ClusterState& state = node->cluster_state();
      if (state.members().size() != kNodes || state.ring().Nodes().size() != kNodes) return false;
      for (const auto& member : state.members()) {
        if (member->status != cluster::MemberStatus::kUp) return false;
      }
      for (std::uint32_t p = 0; p < state.ring().partition_count(); ++p) {
        if (state.ring().PendingOwner(p)) return false;
      }
      if (node->active_transfers() != 0) return false;
    }
    return true;
  }
  node::ClientReply CallByHand(std::size_t index, node::ClientRequest request) {
    const node::RequestId id = next_id_++;
    nodes_[index]->Submit(id, std::move(request));
    for (int i = 0; i < 50 && !replies_.contains(id); ++i) RunFor(100);
    EXPECT_TRUE(replies_.contains(id));
    return replies_[id];
  }

  // Service mode: node 1's messages as the service sent them, and carrying one to its peer.
  std::vector<cluster::Outbound> StrongRequestsSent(proto::StrongRequest::Kind kind) {
    std::vector<cluster::Outbound> found;
    for (const cluster::Outbound& out : sent_) {
      if (out.message.has_strong_request() && out.message.strong_request().kind() == kind) {
        found.push_back(out);
      }
    }
    return found;
  }
  // Delivers `out` to its node and hands that node's strong replies to the service.
  void Carry(NodeService& service, const cluster::Outbound& out) {
    const std::size_t to = IndexOf(out.to_address);
    nodes_[to]->Receive(AddressOf(0), out.message);
    for (cluster::Outbound& answer : nodes_[to]->TakeOutbound()) {
      if (answer.message.has_strong_reply()) service.Receive(AddressOf(to), answer.message);
    }
  }
  bool RunUntil(const std::function<bool()>& done) { return RunLoopUntil(io_, done); }

  ManualClock clock_;
  GatedEngine gated_;
  std::vector<std::unique_ptr<storage::MemoryEngine>> engines_;
  std::vector<std::unique_ptr<SplitMix64Random>> randoms_;
  std::vector<std::unique_ptr<node::Node>> nodes_;
  std::map<node::RequestId, node::ClientReply> replies_;
  node::RequestId next_id_ = 1;
  boost::asio::io_context io_;
  std::vector<cluster::Outbound> sent_;
};

TEST_F(NodeServiceEarlyTest, RequestsLeaveDuringTheOwnSyncAndWhatDependsOnItWaits) {
  for (int i = 0; i < 600 && !Converged(); ++i) RunFor(100);
  ASSERT_TRUE(Converged());
  const node::ClientReply made =
      CallByHand(0, node::SetBucketRequest{"s", {.consistency = Consistency::kStrong}});
  ASSERT_TRUE(made.status.ok()) << made.status.ToString();
  RunFor(3'000);  // gossip: every node knows the bucket is strong
  // A key whose first primary is node 1, so node 1 coordinates its writes.
  std::string key;
  for (int k = 0; k < 100 && key.empty(); ++k) {
    const std::string candidate = "k" + std::to_string(k);
    const node::ClientReply located =
        CallByHand(0, node::ClusterLocateRequest{ObjectId{"s", candidate}});
    const auto& where = std::get<node::LocateReply>(located.body);
    if (!where.primaries.empty() && where.primaries.front() == IdOf(0)) key = candidate;
  }
  ASSERT_FALSE(key.empty());
  ASSERT_TRUE(gated_.BeginCommit().ok());  // the formation's writes count as synced

  std::optional<node::ClientReply> reply;  // outlives the service that may complete it
  NodeService service(io_, *nodes_[0], NodeService::CommitHooks::ForEngine(gated_));
  OpenGateOnExit open_gate(gated_);  // declared after the service: opened before it stops
  service.SetOutboundSink([this](cluster::Outbound out) { sent_.push_back(std::move(out)); });
  service.Submit(node::PutRequest{{"s", key}, "v", "", {}},
                 [&reply](node::ClientReply r) { reply = std::move(r); });

  // Phase 1: the prepare reaches the other acceptor while node 1's own promise is syncing.
  ASSERT_TRUE(RunUntil([&] {
    return gated_.syncs_started() == 1 &&
           !StrongRequestsSent(proto::StrongRequest::KIND_PREPARE).empty();
  }));
  EXPECT_EQ(gated_.syncs_finished(), 0);
  const std::vector<cluster::Outbound> prepares =
      StrongRequestsSent(proto::StrongRequest::KIND_PREPARE);
  ASSERT_EQ(prepares.size(), 1u) << "thrifty: one other acceptor makes a majority";
  EXPECT_GE(service.loop_stats().early_messages, 1u);

  // Its promise completes the quorum, but the propose counted node 1's own promise: it waits
  // for that sync.
  Carry(service, prepares.front());
  io_.poll();
  EXPECT_TRUE(StrongRequestsSent(proto::StrongRequest::KIND_PROPOSE).empty());
  gated_.Release();
  ASSERT_TRUE(
      RunUntil([&] { return !StrongRequestsSent(proto::StrongRequest::KIND_PROPOSE).empty(); }));

  // Phase 2: the other acceptor accepts; the reply waits for node 1's own accept to sync.
  Carry(service, StrongRequestsSent(proto::StrongRequest::KIND_PROPOSE).front());
  ASSERT_TRUE(RunUntil([&] { return gated_.syncs_started() == 2; }));
  io_.poll();
  EXPECT_FALSE(reply.has_value());
  gated_.Release();
  ASSERT_TRUE(RunUntil([&] { return reply.has_value(); }));
  EXPECT_TRUE(reply->status.ok()) << reply->status.ToString();
  EXPECT_EQ(gated_.syncs_finished(), 2);
}

}  // namespace
}  // namespace meridian::runtime
