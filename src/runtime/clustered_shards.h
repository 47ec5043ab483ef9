// ClusteredShards: what the runtime carries between the shards of a clustered node
// (docs/design/write_path.md, "What a clustered node needs before it can have shards"). Shard 0
// is the node shell and runs on the peer transport's loop; every other shard follows it
// (node::Node::FollowsShell) on a loop of its own. Carried, each in a LoopChannel:
//   * every peer message to its shard's loop (node::RoutePeerMessage), in arrival order;
//   * every follower's messages to peers back to the transport's loop, in the order the
//     follower sent them;
//   * the shell's view (node::ShellView) to every follower, after every tick of the shell and
//     after every input of the shell that changed its cluster state: a follower's view lags
//     the shell's by at most a tick interval plus one hop between loops;
//   * every bucket check the shell hands out (node::Node::TakeShardChecks): the view with the
//     seal first, then each follower's CheckSealedBucket, the combined answer back to the
//     shell (OnShardCheck: holds data if any follower does, else the first error);
//   * every follower's completed incoming transfers to the shell (ReportTransferComplete);
//   * every follower's part of the node's member report (hints, transfers, anti-entropy), about
//     once a second (SetShardReport), so cluster status shows the whole node.
//
// The messages waiting in a follower's channel are bounded: one that would take them past
// `queue_bytes_max` is dropped and counted (delivery between nodes is at most once, and every
// protocol retries what matters), so a follower slower than its peers' traffic cannot grow the
// node's memory without bound.
//
// Contract: Start is called once, after every node opened and before any loop runs; Deliver
// runs on the shell's loop. Everything here must outlive the loops' last run; tasks left in a
// channel when the loops stop are dropped with it (a message dropped so is a message lost, which
// every protocol tolerates).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/outbound.h"
#include "node/node.h"
#include "proto/peer.pb.h"
#include "runtime/cross_loop.h"
#include "runtime/node_service.h"

namespace meridian::runtime {

class ClusteredShards {
 public:
  struct Shard {
    node::Node* node = nullptr;
    NodeService* service = nullptr;
    LoopChannel* channel = nullptr;  // to the shard's loop (shard 0: the transport's loop)
  };
  // `shards` are indexed by shard number, at least two; `send` runs on shard 0's loop and
  // hands a message to the peer transport.
  using Send = std::function<void(const cluster::Outbound&)>;
  ClusteredShards(std::vector<Shard> shards, Send send, std::uint64_t queue_bytes_max);
  ClusteredShards(const ClusteredShards&) = delete;
  ClusteredShards& operator=(const ClusteredShards&) = delete;

  // Gives every follower the shell's view and connects the services' sinks and hooks.
  void Start();
  // On the shell's loop: a message from the peer listening at `from_address`, to its shard.
  void Deliver(const std::string& from_address, proto::PeerMessage message);

  // Any thread: peer messages dropped because no shard could take them (an answer whose id
  // names no shard), and because their follower's queue was full.
  std::uint64_t unroutable_messages() const { return unroutable_.load(std::memory_order_relaxed); }
  std::uint64_t dropped_messages() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  Shard& shell() { return shards_.front(); }
  // On the shell's loop.
  void AfterShellInput(bool tick);
  void PublishViews();
  void CheckFollowers(node::Node::ShardCheck check);
  // On follower `s`'s loop.
  void AfterFollowerInput(std::uint32_t s, bool tick);

  std::vector<Shard> shards_;
  Send send_;
  std::uint32_t partition_count_;
  std::uint64_t report_every_ticks_;           // a follower's report every this many ticks
  std::vector<std::uint64_t> follower_ticks_;  // each touched on its follower's loop only
  std::uint64_t published_version_ = 0;        // the shell's state version in the last views
  const std::uint64_t queue_bytes_max_;
  // Per follower: bytes of the messages in its channel (added on the shell's loop, taken off
  // on the follower's once received).
  std::vector<std::unique_ptr<std::atomic<std::uint64_t>>> queued_bytes_;
  std::atomic<std::uint64_t> unroutable_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace meridian::runtime
