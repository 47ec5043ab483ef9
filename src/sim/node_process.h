// NodeProcess: the sim::Process adapter over node::Node, so the real cluster code runs inside
// the deterministic simulator. Start() opens the node, Stop() closes it cleanly, Tick(),
// Receive() and TakeOutbound() pass straight through. A crash is the Simulation destroying the
// adapter without Stop() (the node's engine then drops its unsynced writes).
//
// Client requests: a workload calls Submit() inside Simulation::Invoke (so the messages the
// request causes are sent at once; with shards, a request for a follower's partition first
// crosses to it, as below). Every reply the node produces — at once, or later when a
// forwarded request is answered or times out — goes to the ReplySink right after the call that
// produced it, tagged with this node's address; the workload matches replies to requests by
// request id. Requests in flight on a node that crashes never get a reply (the client's
// connection died with it). Not thread-safe (the simulator is single-threaded).
//
// Shards (NodeConfig::shard_count > 1): the process is S node::Nodes, each over its own key
// space of the machine's one engine (NamespacedEngine), as the server runs S shards over S
// databases. It does what the server's runtime (runtime::ClusteredShards) does between them:
// client requests go to the shard of their key's partition (everything else to shard 0, the
// shell); peer messages to the shard node::RoutePeerMessage names; the shell's view goes to
// every follower after its ticks and state changes; a peer's bucket check waits for every
// follower's look; and the followers' completed transfers and member reports go to the shell.
// What crosses between shards in the server (client requests and peer messages to a follower,
// a follower's messages to peers, views, checks, reports) crosses here at least one input late
// (crossings_), after a delay drawn from the process's seeded random source (most at once, some
// a millisecond or a few later, a few up to 200 ms later, as when a loop stalls on a slow
// sync), in order per destination loop as in the server's channels; the process asks the
// simulator to wake it when the next one is due (WakeAfterMs). node() is the shell.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/client_request.h"
#include "node/node.h"
#include "sim/process.h"
#include "storage/engine.h"

namespace meridian::sim {

// Receives every client reply; `address` is the node the request was submitted to.
using ReplySink = std::function<void(const std::string& address, node::ClientReply reply)>;

class NodeProcess final : public Process {
 public:
  // `sink` may be empty (replies are then discarded).
  NodeProcess(const node::NodeConfig& config, node::Env env, std::string address, ReplySink sink);

  Status Start() override;
  Status Stop() override;
  void Tick() override;
  void Receive(const std::string& from_address, const proto::PeerMessage& message) override;
  std::vector<cluster::Outbound> TakeOutbound() override;
  std::vector<cluster::Outbound> TakeEarlyOutbound() override;

  // Submits a client request; its reply reaches the sink (now or after a later call).
  void Submit(node::RequestId id, node::ClientRequest request);

  const node::Node& node() const { return *shards_.front(); }
  std::size_t shard_count() const { return shards_.size(); }
  const node::Node& shard(std::size_t index) const { return *shards_[index]; }
  const std::string& address() const { return address_; }
  // Every follower has applied a view of the shell's current cluster state (always, with one
  // shard): what the shell knows, every shard acts on.
  bool ViewsCurrent() const;
  // Crossings between the shards so far: run, run after a drawn delay of 1 ms or more, and the
  // longest delay drawn.
  std::uint64_t crossings_run() const { return crossings_run_; }
  std::uint64_t crossings_delayed() const { return crossings_delayed_; }
  std::uint64_t longest_crossing_delay_ms() const { return longest_crossing_delay_ms_; }
  // Wakes the process when its next crossing is due (none with one shard).
  std::optional<std::uint64_t> WakeAfterMs() const override;
  void Wake() override;

 private:
  void PassReplies();
  // Between the shards after an input (`tick`: the shell's tick): the shell's view, bucket
  // checks and transfer reports, each put into the crossings.
  void Settle(bool tick);
  // Runs the crossings queued before this input that are due (in order per destination; those
  // they queue wait for a later input).
  void RunCrossings();
  // Queues `run` for the loop of shard `lane`, due after a drawn delay.
  void Cross(std::size_t lane, std::function<void()> run);
  // The followers' messages to peers (their outbound, or early outbound) cross to the
  // transport's loop, as the runtime's followers hand them to the peer transport.
  void CrossFollowerMessages(bool early);

  std::vector<std::unique_ptr<storage::Engine>> engines_;  // one key space per shard (S > 1)
  std::vector<std::unique_ptr<node::Node>> shards_;
  std::vector<std::uint64_t> applied_versions_;  // per follower: the state version it has
  // Bucket changes the shell is making, by request id: the followers hold the bucket until the
  // reply.
  std::map<node::RequestId, std::string> held_changes_;
  // What crosses between the shards' loops in the server: run at the start of a later input of
  // the process once due, and never before an earlier crossing to the same loop (`lane`: the
  // destination shard), as the runtime's channels keep their order. Dropped with the process at
  // a crash, as queued tasks die with the server.
  struct Crossing {
    std::size_t lane = 0;
    std::uint64_t sequence = 0;  // per lane, from 1: they run in this order
    std::uint64_t due_ms = 0;    // the process's monotonic time from which it may run
    bool delayed = false;        // drawn a delay of 1 ms or more
    std::function<void()> run;
  };
  std::deque<Crossing> crossings_;
  std::vector<std::uint64_t> lane_queued_;  // per lane: the last sequence queued
  std::vector<std::uint64_t> lane_run_;     // per lane: the last sequence run
  std::uint64_t crossings_run_ = 0;
  std::uint64_t crossings_delayed_ = 0;
  std::uint64_t longest_crossing_delay_ms_ = 0;
  Random* random_ = nullptr;  // draws the crossings' delays (S > 1 only)
  Clock* clock_ = nullptr;
  // Followers' messages that crossed to the transport's loop: sent with the next outbound.
  std::vector<cluster::Outbound> transport_outbox_;
  std::uint64_t published_version_ = 0;       // the shell's state version in the last views
  std::vector<std::uint64_t> views_applied_;  // per follower: the version of its last view
  std::string address_;
  ReplySink sink_;
};

// How a simulated cluster's nodes are configured.
struct ClusterLayout {
  // The first node bootstraps the cluster; the others join through `seeds` on their first start.
  std::string bootstrap_address;
  std::vector<std::string> seeds;
  // Used for every node; node_id, peer_address and seeds are filled in per address.
  node::NodeConfig base;
  std::map<std::string, std::uint32_t> shard_counts;  // per address, where not base's
};

// A NodeConfig for `address`: node id and peer address are the address itself (valid node ids
// allow host:port), seeds are none for the bootstrap node and layout.seeds for the others.
node::NodeConfig NodeConfigFor(const ClusterLayout& layout, const std::string& address);

// Small defaults for simulation speed: 64 partitions, ticks every 100 ms, gossip every second.
node::NodeConfig SimNodeConfig();

// A factory building a NodeProcess per machine. `sink` (may be null) must outlive every process
// it builds; it is read when a reply arrives, so it may be assigned after the factory is made.
ProcessFactory NodeProcessFactory(ClusterLayout layout, const ReplySink* sink);

}  // namespace meridian::sim
