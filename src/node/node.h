// Node: one server's protocol state machine — the local object store, cluster membership
// (gossip, claimant), failure detection, request routing to each key's owner, and partition
// handoff when ownership changes.
//
// Inputs: Submit(client request), Receive(message from a peer), Tick(). Outputs: replies
// (TakeReplies) and messages to peers (TakeOutbound). It reaches storage, time and randomness
// only through its Env (node/env.h), so the same code runs in the real runtime and in the
// deterministic simulator. Not thread-safe: the owner calls it from one thread.
//
// Ordering duties for the owner: after every Submit, Receive or Tick, drain TakeReplies()
// and TakeOutbound() and deliver them (replies to clients, messages to the transport).
// A reply for a write is produced only after the write reached the engine of the node that
// owns the key (synced first when the request or bucket asked for dw >= 1).
//
// Routing (step 2: one replica per key): the owner of the key's partition serves it; any other
// node forwards the request to the owner (at most forward_hops_max hops) and answers the client
// when the owner replies or forward_timeout_ms passes. While a partition moves, the old owner
// serves it and streams it to the new owner; once the stream is complete it forwards the
// partition's requests to the new owner until the ring flips.
//
// A node without a peer address runs standalone: a one-member cluster owning every partition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/failure_detector.h"
#include "cluster/membership.h"
#include "cluster/outbound.h"
#include "core/hlc.h"
#include "core/status.h"
#include "core/version_vector.h"
#include "node/client_request.h"
#include "node/env.h"
#include "node/forwarded_requests.h"
#include "node/local_store.h"
#include "replication/handoff_receiver.h"
#include "replication/handoff_sender.h"

namespace meridian::node {

struct NodeConfig {
  std::uint32_t partition_count = 256;     // fixed at cluster creation; power of two
  std::size_t key_bytes_max = 1024;        // longer keys are refused (TooLarge)
  std::size_t value_bytes_max = 8u << 20;  // larger values are refused (TooLarge)
  std::uint64_t tick_interval_ms = 100;    // how often the Env calls Tick()

  // Cluster identity. Without a peer address the node runs standalone.
  std::string node_id = "node1";
  std::string cluster_name = "meridian";
  std::string peer_address;  // "host:port" where peers reach this node
  std::string http_address;  // advertised to the cluster (shown by cluster status)
  std::string zone;
  std::uint32_t weight = 1;
  // Peer addresses to join through on first start; empty: bootstrap a new cluster.
  std::vector<std::string> seeds;

  std::uint64_t gossip_interval_ms = 1000;
  cluster::FailureDetectorConfig failure_detector;
  replication::HandoffSenderConfig handoff;
  std::uint64_t forward_timeout_ms = 5000;          // a forwarded request's deadline
  std::size_t forwarded_requests_max = 10000;       // in flight at once; more get Unavailable
  std::uint32_t forward_hops_max = 2;               // a request is forwarded at most this often
  std::size_t partition_drop_keys_per_tick = 1000;  // deleting data of partitions moved away
};

class Node {
 public:
  Node(const NodeConfig& config, Env env);
  ~Node();

  // Opens the local store (identity, see LocalStore::Open), raises and persists this node's
  // incarnation, loads the persisted cluster state and starts membership: a first start with
  // seeds joins through them; without seeds (or standalone) the node bootstraps a cluster.
  Status Open();
  // Marks a clean stop (synced). Requests submitted afterwards get Unavailable.
  Status Close();
  // The HTTP address advertised to the cluster, when known only after binding. Before Open().
  void SetHttpAddress(std::string address);

  // Handles one client request; exactly one reply with the same id follows (now or later).
  void Submit(RequestId id, ClientRequest request);
  // A message from the peer listening at `from_address`.
  void Receive(const std::string& from_address, const proto::PeerMessage& message);
  // Called every tick_interval_ms of the Env's monotonic clock: gossip, failure detection,
  // handoff, forwarded-request deadlines.
  void Tick();

  std::vector<ClientReply> TakeReplies();
  std::vector<cluster::Outbound> TakeOutbound();

  ActorId actor_id() const { return store_.actor_id(); }
  std::uint64_t incarnation() const { return incarnation_; }
  const NodeConfig& config() const { return config_; }
  const cluster::ClusterState& cluster_state() const { return membership_->state(); }
  // This node's opinion of a member's liveness (true for itself and unmonitored members).
  bool IsAlive(const cluster::NodeId& id) const;
  // Partitions this node is streaming to their new owner.
  std::size_t active_transfers() const { return senders_.size(); }

 private:
  using Origin = ForwardedRequests::Origin;

  std::uint64_t NowMs() const;
  void Deliver(const Origin& origin, proto::KvRequest::Op op, ClientReply reply);
  void Reply(RequestId id, Result<ReplyBody> result);

  // Routing (node_routing.cc).
  void Route(const Origin& origin, ClientRequest request, std::uint32_t hops);
  Result<ReplyBody> HandleLocally(ClientRequest request);
  void MirrorIfTransferring(const ObjectId& id);
  void ExpireForwards();

  // Bucket properties: cluster-wide, kept in the gossiped cluster state (node_admin.cc).
  BucketProps BucketPropsOf(std::string_view bucket) const;
  Result<ReplyBody> HandleBucket(const ClientRequest& request);

  // Cluster administration (node_admin.cc).
  Result<ReplyBody> HandleAdmin(const ClientRequest& request);
  std::vector<MemberView> MemberViews() const;

  // Handoff (node_handoff.cc).
  void TickHandoffs();
  void OnBatchApplied(const std::string& from_address, const proto::HandoffBatch& batch);
  void DropMovedPartitions();
  void HandOffOrphans(std::uint64_t now_ms);
  Status PersistForwarding();
  Status LoadForwarding();
  Status PersistCompletedIncoming();
  Status LoadCompletedIncoming();

  void SyncMembershipViews();
  void PersistClusterStateIfChanged();
  Status PersistClusterState(bool sync);
  void CollectOutbound();

  NodeConfig config_;
  Env env_;
  LocalStore store_;
  HybridLogicalClock bucket_clock_;  // versions bucket-property changes made here
  std::uint64_t incarnation_ = 0;
  bool opened_ = false;
  std::unique_ptr<cluster::Membership> membership_;
  std::unique_ptr<cluster::FailureDetector> detector_;
  std::unique_ptr<replication::HandoffReceiver> receiver_;
  std::map<std::uint32_t, std::unique_ptr<replication::HandoffSender>> senders_;
  // Partitions whose outgoing stream completed -> the address it went to: their requests are
  // forwarded there until the ring flips. Persisted (synced), so it survives a crash.
  std::map<std::uint32_t, std::string> forwarding_;
  std::set<std::uint32_t> partitions_to_drop_;  // moved away: delete local data gradually
  // Owned here with a pending owner, for the ring whose content hash is outgoing_ring_hash_.
  std::vector<std::uint32_t> outgoing_;
  std::optional<std::uint64_t> outgoing_ring_hash_;
  std::set<std::uint32_t> orphans_;  // data held here for partitions owned elsewhere
  std::optional<std::uint64_t> orphan_scan_ring_hash_;  // ring content last scanned
  // Received in full; reported to the claimant until the ring flips. Persisted (synced).
  std::set<std::uint32_t> completed_incoming_;
  std::uint64_t next_completion_report_ms_ = 0;
  std::uint64_t next_transfer_id_ = 1;
  ForwardedRequests forwarded_;
  std::uint64_t persisted_state_version_ = 0;
  std::uint64_t detector_state_version_ = ~0ull;
  std::vector<ClientReply> replies_;
  std::vector<cluster::Outbound> outbound_;
};

}  // namespace meridian::node
