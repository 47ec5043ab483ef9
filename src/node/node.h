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
// and TakeOutbound() and deliver them (replies to clients, messages to the transport) once
// every write the node made so far is durable (the group commit). An owner may first take
// TakeEarlyOutbound() — messages that depend on no write made during that call — and send
// them once every write made before the call is durable; TakeOutbound() returns them too
// when they were not taken.
// A reply for a write is produced only after the write reached the engine of the node that
// owns the key (synced first when the request or bucket asked for dw >= 1).
//
// Replication (docs/design/replication.md): every key lives on the first n nodes of its
// preference list (its primaries). A get is coordinated by the node that receives it: it asks
// the replicas and answers after r replies (pr of them primaries), then read-repairs replicas
// that were behind. A put or delete is coordinated by a primary (other nodes forward it, at
// most forward_hops_max hops): it mints the dot, stores, sends the object to the other
// replicas and answers after w acknowledgements (dw durable, pw from primaries). With sloppy
// quorum, unreachable primaries are replaced by fallbacks that keep a hint and hand the
// object off when the primary is reachable again (replication/hinted_handoff.h).
// Ownership changes: the old owner of a partition streams it to the new owner before the ring
// flips; afterwards every node that holds data of a partition it is no longer a replica of
// hands it to the partition's replicas and deletes it.
//
// A node without a peer address runs standalone: a one-member cluster owning every partition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "cluster/failure_detector.h"
#include "cluster/membership.h"
#include "cluster/outbound.h"
#include "core/hlc.h"
#include "core/status.h"
#include "core/version_vector.h"
#include "node/bucket_change.h"
#include "node/client_request.h"
#include "node/env.h"
#include "node/forwarded_requests.h"
#include "node/local_store.h"
#include "node/partition_actors.h"
#include "node/partition_replica.h"
#include "node/peer_route.h"
#include "node/peer_suspicion.h"
#include "node/reap_rounds.h"
#include "node/request_ids.h"
#include "node/shell_view.h"
#include "node/slow_requests.h"
#include "node/strong_partitions.h"
#include "node/write_observing_engine.h"
#include "replication/ack_pacer.h"
#include "replication/background_governor.h"
#include "replication/chosen_proposal_cache.h"
#include "replication/get_coordinator.h"
#include "replication/handoff_receiver.h"
#include "replication/handoff_sender.h"
#include "replication/hinted_handoff.h"
#include "replication/put_coordinator.h"
#include "replication/strong_proposer.h"
#include "replication/strong_register.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::node {

// Counters and gauges for /metrics.
struct NodeStats {
  std::uint64_t hints_pending = 0;           // (object, primary) pairs this node still owes
  std::uint64_t hint_records = 0;            // objects held as hints
  std::uint64_t hints_stored = 0;            // since start
  std::uint64_t hints_refused = 0;           // refused past the hint bound
  std::uint64_t writes_refused_storage = 0;  // client writes refused for the storage condition
  std::uint64_t hints_delivered = 0;         // (object, primary) pairs handed off
  std::uint64_t read_repairs = 0;            // replica copies repaired after a get
  std::uint64_t slow_requests = 0;           // gets and writes of slow_request_ms or more
  std::uint64_t peers_suspected = 0;         // peers routed around now (silent since a request)
  // Hedged forwarding (NodeConfig::single_use_entries_max), since start: writes this node forwarded
  // with a fixed version, of those the ones routed again (after their peer went silent, or had
  // not answered within forward_hedge_after_ms: forwards_hedged_unanswered), and forwarded
  // writes refused here because the key's clock had single_use_entries_max entries.
  std::uint64_t forwards_fixed = 0;
  std::uint64_t forwards_hedged = 0;
  std::uint64_t forwards_hedged_unanswered = 0;
  std::uint64_t fixed_versions_refused = 0;
  // Active anti-entropy, summed over the partitions this node is a primary of.
  std::uint64_t aae_exchanges = 0;          // completed as initiator
  std::uint64_t aae_exchanges_in_sync = 0;  // of those, the trees were equal
  std::uint64_t aae_exchanges_failed = 0;   // refused or timed out
  std::uint64_t aae_keys_sent = 0;          // copies sent to another replica for repair
  std::uint64_t aae_keys_received = 0;      // copies received for repair (merged)
  std::uint64_t coordinators = 0;           // coordinated requests in flight
  std::uint64_t transfers = 0;      // partition streams running: ownership and replica copies
  std::uint64_t copies_queued = 0;  // partitions waiting to be handed off or filled
  std::uint64_t hint_bytes = 0;     // stored hint records: keys plus encoded records
  std::uint64_t background_acks_waiting = 0;  // acks of applied batches held by the pacer now
  replication::AckPacerCounters ack_pacing;   // acks of applied background batches held back
  replication::BackgroundStats background;    // the governor's, per kind of background work
  replication::ReapCounters reaping;          // tombstone reaping (this node's rounds and deletes)
  // Strong buckets, operations this node coordinated (since start): completed, and of those
  // the ones that took one round trip; round trips in total.
  std::uint64_t strong_operations = 0;
  std::uint64_t strong_one_round_trip = 0;
  std::uint64_t strong_round_trips = 0;
  std::uint64_t strong_in_flight = 0;
  // Moves of partitions' strong configurations this node ran (docs/design/strong.md).
  std::uint64_t strong_moves_started = 0;
  std::uint64_t strong_moves_succeeded = 0;
  std::uint64_t strong_moves_failed = 0;
  std::uint64_t strong_operations_restarted = 0;  // on a newer configuration, nothing proposed
  // Requests this node's acceptor did not serve because of their epoch.
  std::uint64_t strong_refused_moved = 0;
  std::uint64_t strong_refused_not_ready = 0;
  std::uint64_t strong_refused_not_member = 0;
};

// Strong buckets' coordination (docs/design/strong.md).
struct StrongConfig {
  // A consensus phase without a quorum of answers after this long starts again, higher.
  std::uint64_t phase_timeout_ms = 300;
  // Random pause after a refused phase (another coordinator's ballot), uniform in [min, max].
  std::uint64_t backoff_ms_min = 1;
  std::uint64_t backoff_ms_max = 20;
  // Keys whose last chosen proposal this node remembers for the 1-round-trip fast path.
  std::size_t fast_path_keys_max = 100'000;
  // Writes of a key are forwarded to its first reachable primary (one coordinator per key:
  // serialised, on the fast path). Off: any primary that receives a write coordinates it, so
  // coordinators contend for the key's ballots (the simulator's strong-cluster-dueling).
  bool route_writes_to_first_primary = true;
  // Thrifty phases (StrongProposerConfig::thrifty): each phase goes to a majority of the key's
  // primaries first — the first ones in preference order that this node sees reachable, the
  // same majority from every coordinator, so reads find it agreeing — and to the rest after
  // widen_after_ms without a quorum (checked every tick) or on a refusal.
  bool thrifty = true;
  std::uint64_t widen_after_ms = 50;
  // TEST ONLY (StrongProposerConfig::unsafe_skip_prepare): breaks linearizability, so the
  // simulator can show its checker notices. Never set outside tests; no flag exposes it.
  bool unsafe_skip_prepare = false;
  // Moves of partitions' configurations (replication::StrongMove): at most this many at once
  // on this node, each given up after move_timeout_ms and tried again after move_retry_ms;
  // partitions are checked for a needed move every move_check_interval_ms.
  std::size_t moves_max = 8;
  std::uint64_t move_timeout_ms = 30'000;
  std::uint64_t move_retry_ms = 1'000;
  std::uint64_t move_check_interval_ms = 200;
  // A move wanted this long is run by any member of the configuration, not only the first
  // reachable one.
  std::uint64_t move_takeover_ms = 5'000;
  std::size_t move_page_bytes_max = 1 << 20;
  // TEST ONLY (StrongMoveConfig::install_delay_ms): the simulator's slow copy.
  std::uint64_t move_install_delay_ms = 0;
  // TEST ONLY: acceptors keep serving an epoch they retired or whose successor they accepted
  // (no fencing), so the simulator can show that moves need it. Never set outside tests.
  bool unsafe_unfenced = false;
};

struct NodeConfig {
  std::uint32_t partition_count = 256;     // fixed at cluster creation; power of two
  std::size_t key_bytes_max = 1024;        // longer keys are refused (TooLarge)
  std::size_t value_bytes_max = 8u << 20;  // larger values are refused (TooLarge)
  std::uint64_t tick_interval_ms = 100;    // how often the Env calls Tick()
  // Shards (docs/design/write_path.md, "The shards"): a server may split its partitions over
  // shard_count Nodes, each on its own thread and storage; this one owns the partitions of
  // its range (ShardOfPartition) and is sent only their object requests (anything else is
  // Internal) and peer messages (RoutePeerMessage). Fixed when the data is created. In a
  // cluster, shard 0 is the node shell and the others follow it (FollowsShell); the server
  // still allows more than one shard only for a standalone node. Shard 0 owns bucket properties and
  // other shards take them from it (MergeBucketProps), and a change of a bucket's consistency or n,
  // which needs every shard's storage checked, is made only when the request says the other shards
  // were (SetBucketRequest::other_shards_checked, HoldBucket), else refused.
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;

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
  // The one budget of handoff, replica copies and hint replay (docs/design/governor.md).
  replication::BackgroundGovernorConfig background;
  // What this node applies for its peers (hint and handoff batches) is charged to the same
  // budget, and their acks wait while it is in debt (replication/ack_pacer.h).
  replication::AckPacerConfig ack_pacing;
  std::uint64_t forward_timeout_ms = 5000;  // a forwarded request's deadline
  // Hedged forwarding (docs/design/replication.md "Hedged forwarding"): a plain write to a
  // bucket with sloppy quorum is forwarded with a version this node fixes (FixedVersion), and
  // when the primary it went to goes silent (suspected) before answering, the write is routed
  // again — to another primary or taken here as a fallback — under the same version. Only to
  // members whose record has kMemberFeatureFixedVersions.
  // single_use_entries_max: the most single-use entries a key's clock takes from forwarded
  // writes applied here; a forwarded write to a key that has them is sent again without a
  // fixed version (and is not hedged). Bounds the clock growth of keys written through
  // forwarders. 0: this node forwards no write with a fixed version (a forward to a silent
  // primary is answered "may or may not have been applied").
  std::size_t single_use_entries_max = 32;
  // A write forwarded with a fixed version and not answered within this long, while its peer
  // is not (yet) suspected — it answers other traffic, but this write was lost or is stuck —
  // is routed again as if the peer had gone silent, avoiding that peer (and every other that
  // left it unanswered before); at most forward_hops_max times, then taken here as a fallback.
  // 0: only silence routes a forward again.
  std::uint64_t forward_hedge_after_ms = 1'000;
  // The most bytes (values, contexts, keys) of forwarded writes kept for routing them again;
  // a write forwarded beyond it gets no fixed version and is not hedged.
  std::size_t hedge_retained_bytes_max = 64u << 20;
  // What this node's member record advertises (cluster::Member::features). Tests set 0 to
  // act as a node of an earlier release.
  std::uint64_t features = cluster::kMemberFeaturesOfThisRelease;
  // A peer silent since a request to it for this long is routed around (peer_suspicion.h).
  PeerSuspicionConfig suspicion;
  // Active anti-entropy among each partition's primaries (replication/anti_entropy.h).
  replication::AntiEntropyConfig anti_entropy;
  // Tombstone reaping by causal acknowledgement (node/reap_rounds.h); needs anti-entropy.
  replication::ReapConfig reaping;
  std::uint64_t request_timeout_ms = 4000;  // a coordinated get or write's deadline
  std::size_t coordinators_max = 10000;     // coordinated requests in flight at once
  // A get or write coordinated or forwarded here that took this long or more is recorded with
  // where its time went (TakeSlowRequests); 0: none.
  std::uint64_t slow_request_ms = 500;
  replication::HintedHandoffConfig hints;
  std::size_t forwarded_requests_max = 10000;       // in flight at once; more get Unavailable
  std::uint32_t forward_hops_max = 2;               // a request is forwarded at most this often
  std::size_t partition_drop_keys_per_tick = 1000;  // deleting data of partitions moved away
  StrongConfig strong;
  // A change of a bucket's consistency or n asks every member whether it holds the bucket's
  // data (bucket_change.h), re-asking silent ones every bucket_change_resend_ms, and gives up
  // (nothing changed) after bucket_change_timeout_ms.
  std::uint64_t bucket_change_timeout_ms = 8000;
  std::uint64_t bucket_change_resend_ms = 500;
  // A status request with reports waits this long at most for the members' answers.
  std::uint64_t member_report_timeout_ms = 1000;
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
  // Whether this node may take new data (the runtime watches the disk and the engine; the
  // node cannot). Not OK (InsufficientStorage for a full disk, the engine's error after a
  // failed write): every write that would store new data here fails with that status and
  // changes nothing — a client write this node would coordinate goes to another reachable
  // primary, or is answered with the status; replica writes, hints, handoff and repair
  // batches are refused (their senders go elsewhere or retry). Reads, deletes of hints and
  // the node's own metadata go on. OK again: everything resumes.
  void SetStorageCondition(Status condition);
  const Status& storage_condition() const { return storage_condition_; }

  std::vector<ClientReply> TakeReplies();
  std::vector<cluster::Outbound> TakeOutbound();
  // Messages produced by the last Submit, Receive or Tick before it wrote anything (a strong
  // coordinator's requests to other acceptors): they need not wait for that call's writes.
  // TakeOutbound() includes them when they were not taken here first.
  std::vector<cluster::Outbound> TakeEarlyOutbound();
  // Gets and writes that took NodeConfig::slow_request_ms or more, recorded since the last call,
  // each with where its time went (slow_requests.h). For the owner's log.
  std::vector<SlowRequests::Line> TakeSlowRequests() { return slow_requests_.Take(); }
  const SlowRequests& slow_requests() const { return slow_requests_; }

  ActorId actor_id() const { return store_.actor_id(); }
  std::uint64_t incarnation() const { return incarnation_; }
  const NodeConfig& config() const { return config_; }
  const cluster::ClusterState& cluster_state() const { return membership_->state(); }
  // This node's opinion of a member's liveness (true for itself and unmonitored members).
  bool IsAlive(const cluster::NodeId& id) const;
  // The failure detector considers `node` alive and it is not suspected (peer_suspicion.h), by
  // this node nor, for a follower, by its shell's latest view: routing sends it requests.
  bool Reachable(const cluster::NodeId& node) const;
  // Partitions this node is streaming to their new owner.
  std::size_t active_transfers() const;
  // Partitions whose strong configuration this node serves (and does not know replaced) but
  // which differ from the ring's primaries, or whose move it is running (0: settled here).
  std::uint32_t StrongPartitionsUnsettled() const;
  NodeStats Stats() const;
  // Figures of this node that only the runtime knows, for its member report; kept until the
  // next call.
  void SetLocalLoad(const LocalLoad& load) { local_load_ = load; }
  // Why this node does not propose `partition`'s tombstones now ("" when it does or may), for
  // diagnostics: a PartitionReplica::ReapRefusal reason, "no_replica", "in_round", "resting".
  std::string ReapStatus(std::uint32_t partition) const;
  // Whether this node's shard owns `partition` (always, with one shard).
  bool OwnsPartition(std::uint32_t partition) const {
    return ShardOfPartition(partition, config_.partition_count, config_.shard_count) ==
           config_.shard_index;
  }
  // Peer messages that reached this shard although node::RoutePeerMessage names another (or
  // none): dropped unhandled. Always 0 unless the router has a bug.
  std::uint64_t misrouted_peer_messages() const { return misrouted_peer_messages_; }
  // Another shard's bucket properties (shard 0's, which owns them): each record is merged as a
  // gossiped one is (the newer version wins), and the result persisted. For shards other than
  // 0 of a sharded node.
  void MergeBucketProps(const std::map<std::string, cluster::BucketPropsRecord>& records);
  // For shards other than 0, while shard 0 changes a bucket's consistency or n: from now on
  // this shard refuses the bucket's gets, puts and deletes as sealed (Unavailable) until
  // ReleaseBucket; returns whether it stores any data of the bucket (objects, hints, strong
  // records). Not persisted: a restart releases it.
  Result<bool> HoldBucket(const std::string& bucket);
  void ReleaseBucket(const std::string& bucket);

  // A clustered node split into shards (node/shell_view.h): shard 0 is the shell; the other
  // shards follow it — they never gossip, join, ping or report to members, and take the
  // shell's cluster state and opinions from ShellViews instead. Each shard runs the reaping
  // rounds of its own partitions and answers those of others' rounds that are its own
  // (docs/design/tombstones.md, "Shards").
  bool FollowsShell() const { return config_.shard_index != 0 && !config_.peer_address.empty(); }
  // The shell: its view for a shard that last applied state version `applied_version`
  // (kNoStateVersion: none yet); the state is included only when it changed since.
  ShellView MakeShellView(std::uint64_t applied_version);
  // The version of this node's cluster state (0 before Open); a view carries the state only
  // when it changed.
  std::uint64_t state_version() const;
  // A follower: takes the shell's view. Until the first, it knows no ring (requests are
  // answered Unavailable, as on a node still joining).
  void ApplyShellView(const ShellView& view);
  // A follower: partitions whose incoming ownership transfer it completed since the last call;
  // the shell reports each to the claimant (ReportTransferComplete).
  std::vector<std::uint32_t> TakeTransferCompletions();
  // The shell: reports a follower's completed transfer (as its own are reported).
  void ReportTransferComplete(std::uint32_t partition);
  // The shell: a peer's bucket check (a consistency or n change elsewhere) is answered only
  // once every shard has the seal in effect and has looked at its storage. The shell seals and
  // looks at its own, and hands each such check out here; the runtime publishes the view (with
  // the seal) to every follower, asks each CheckSealedBucket, and answers OnShardCheck with
  // whether any of them stores data of the bucket (or why one could not look).
  struct ShardCheck {
    std::uint64_t id = 0;
    std::string bucket;
  };
  std::vector<ShardCheck> TakeShardChecks();
  void OnShardCheck(std::uint64_t id, Result<bool> followers_hold_data);
  // A follower: its part of the node's member report (hints, transfers, queued copies,
  // anti-entropy), which the runtime hands to the shell now and then (SetShardReport).
  MemberReport ShardReport() const;
  // The shell: follower `shard`'s latest part; the node's own report (cluster status, and the
  // answer to a peer's report request) adds every follower's to the shell's.
  void SetShardReport(std::uint32_t shard, MemberReport report);
  // A follower: whether it stores data of `bucket`, which its view must show sealed (else
  // Unavailable: the seal has not reached this shard, so a write could still land after).
  Result<bool> CheckSealedBucket(const std::string& bucket);

 private:
  using Origin = ForwardedRequests::Origin;

  std::uint64_t NowMs() const;
  void Deliver(const Origin& origin, proto::KvRequest::Op op, ClientReply reply);
  // "put in bucket "b" (partition 7) forwarded by 127.0.0.2:7100", for a slow request's line.
  std::string DescribeRequest(proto::KvRequest::Op op, const Origin& origin,
                              const std::string& storage_key) const;
  // Records a forwarded request answered (or expired) with `outcome` if it was slow.
  void NoteIfSlowForward(const ForwardedRequests::Entry& entry, const Status& outcome);
  // Records a coordination answered `outcome` if it was slow (slow_requests.h).
  void NoteIfSlow(proto::KvRequest::Op op, const Origin& origin, const std::string& storage_key,
                  const ReplicaTimes& times, const std::vector<replication::ReplicaTarget>& targets,
                  const Status& outcome);
  void Reply(RequestId id, Result<ReplyBody> result);

  // Routing (node_routing.cc): validation, quorum resolution, forwarding writes to a primary.
  // A write is never forwarded to a node in `origin.unanswered_by` (it did not answer it in
  // time).
  void Route(const Origin& origin, ClientRequest request, std::uint32_t hops);
  // Sends `request` to `target` to coordinate. `hedgeable`: a plain write to a bucket with
  // sloppy quorum, which this node may forward with a fixed version
  // (NodeConfig::single_use_entries_max) and route again if `target` goes silent.
  void Forward(const Origin& origin, ClientRequest request, const cluster::NodeId& target,
               std::uint32_t hops, bool hedgeable);
  // True when `node`'s member record says it applies fixed versions.
  bool AppliesFixedVersions(const cluster::NodeId& node) const;
  void ExpireForwards();
  // Ring-derived placement, recomputed when the ring or the largest bucket n changes.
  void RefreshPlacement();
  cluster::ZoneOf ZoneLookup() const;
  // Primaries (and, when `with_fallbacks`, the rest of the walk) of a partition for n replicas.
  cluster::PreferenceList PreferenceOf(std::uint32_t partition, std::uint32_t n,
                                       bool with_fallbacks) const;
  // The first n primaries of a partition (ComputePrimaries), from a per-partition cache that
  // the next cluster-state change (ring, members' zones) empties.
  std::vector<cluster::NodeId> PrimariesOf(std::uint32_t partition, std::uint32_t n) const;
  // Heartbeat pings to suspected peers, so a healed link clears the suspicion at once.
  void ProbeSuspects();
  // The peer address of a member, or "" when unknown.
  std::string AddressOf(const cluster::NodeId& node) const;
  // Whether this node keeps data of `partition`: it is a primary for the largest n of any
  // bucket, or the partition's pending owner.
  bool HoldsReplica(std::uint32_t partition);

  // Coordination (node_replication.cc).
  // The preference list a request selects its replicas from (fallbacks only when needed).
  cluster::PreferenceList SelectionListOf(std::uint32_t partition,
                                          const ResolvedQuorum& quorum) const;
  void CoordinateGet(const Origin& origin, const GetRequest& request, const ResolvedQuorum& quorum,
                     ConflictPolicy policy);
  void CoordinateWrite(const Origin& origin, ClientRequest request, const ResolvedQuorum& quorum,
                       ConflictPolicy policy, std::uint32_t hops);
  // Registers a replica call of `coordination` to its `target` (appending the call id, which is
  // the request id to use, to `calls`) and returns the message to fill, queued to `address`.
  proto::PeerMessage& StartReplicaCall(std::uint64_t coordination, std::size_t target,
                                       const std::string& address,
                                       std::vector<std::uint64_t>& calls);
  void AdvanceRead(std::uint64_t coordination);
  void AdvanceWrite(std::uint64_t coordination);
  void ReadRepair(const ObjectId& id, const std::string& storage_key,
                  const replication::GetCoordinator& coordinator);
  void ExpireCoordinators();
  void TickHints(std::uint64_t now_ms);
  // This node's copy: its objects column merged with any hinted copy.
  Result<std::optional<DvvSet>> ReadLocal(const std::string& storage_key);
  // Whether this node became a replica of `partition` and is still waiting for its copy (a
  // fill): its "not found" then counts for a read only like a fallback's.
  bool Filling(std::uint32_t partition);
  // Merges `object` into the local objects column (synced when `sync`).
  Status MergeLocal(const std::string& storage_key, const DvvSet& object, bool sync);
  void HandleReplicaWrite(const std::string& from_address, const proto::ReplicaWrite& write);
  void HandleReplicaRead(const std::string& from_address, const proto::ReplicaRead& read);
  // Strong buckets, acceptor side (node_strong.cc): answers a proposer's request from the
  // key's acceptor record, written synced first when it changed.
  void HandleStrongRequest(const std::string& from_address, const proto::StrongRequest& request);
  // An acceptor's answer, or why it did not act on the request's epoch (check.verdict).
  struct StrongAnswer {
    replication::EpochCheck check{replication::EpochVerdict::kServe, {}};
    replication::AcceptorReply reply;
  };
  Result<StrongAnswer> Accept(const proto::StrongRequest& request);
  // Moves (node_strong_moves.cc): a member's scan of its records of a partition for a move
  // (it retires the old epoch first), a new member's install of a page of merged records.
  Result<proto::StrongScanReply> ScanForMove(const proto::StrongScanRequest& request);
  Status InstallForMove(const proto::StrongInstallRequest& request);
  void HandleStrongScan(const std::string& from_address, const proto::StrongScanRequest& request);
  void HandleStrongInstall(const std::string& from_address,
                           const proto::StrongInstallRequest& request);
  void OnStrongScanReply(const std::string& from_address, const proto::StrongScanReply& reply);
  void OnStrongMoveRegisterReply(const std::string& from_address, const proto::StrongReply& reply);
  void OnStrongInstallReply(const std::string& from_address,
                            const proto::StrongInstallReply& reply);
  // Starts the moves this node should run (it is the first reachable member of a partition's
  // configuration, which differs from the ring's primaries or is being replaced) and drives
  // the running ones.
  void TickStrongMoves(std::uint64_t now_ms);
  bool StartMoveIfNeeded(std::uint32_t partition, std::uint64_t now_ms);
  void PumpMove(std::uint32_t partition);
  void FinishMove(std::uint32_t partition);
  // A majority of the move's old members answered its register with a newer configuration:
  // the move is obsolete (it finished); this node stops serving the old epoch.
  void ObsoleteMove(std::uint32_t partition, const replication::StrongConfiguration& newer);
  // Whether strong requests may be sent to `node` now: itself, or a member that is not
  // removed (the failure detector stops watching removed members and calls them alive), that
  // this node sees reachable and whose address it knows.
  bool StrongPeerUsable(const cluster::NodeId& node) const;
  // The configuration a coordinator here uses for `partition` (the ring's primaries at epoch 0
  // when it knows none: acceptors answer that with the configuration they know).
  replication::StrongConfiguration StrongConfigurationFor(std::uint32_t partition) const;
  // A coordination told of a newer configuration: restarted there when it proposed nothing,
  // else answered "may or may not have been applied".
  void RestartStrong(std::uint64_t id);
  // Coordinator side: a get, put or delete on a strong bucket, routed (writes go to a primary,
  // so a key written from one place keeps the fast path), then run by a StrongProposer.
  void RouteStrong(const Origin& origin, ClientRequest request, const BucketProps& props,
                   std::uint32_t partition, std::uint32_t hops);
  void StartStrong(const Origin& origin, ClientRequest request,
                   replication::StrongConfiguration configuration, std::uint32_t n,
                   std::uint32_t restarts = 0);
  // Sends the proposer's requests (answering its own acceptor's at once) and finishes it once
  // it decided.
  void PumpStrong(std::uint64_t id);
  void OnStrongReply(const std::string& from_address, const proto::StrongReply& reply);
  void FinishStrong(std::uint64_t id);
  // A strong write of `storage_key` ended here: the key is free, and the next write waiting
  // for it starts (under `configuration`).
  void StartNextStrongWrite(const std::string& storage_key,
                            replication::StrongConfiguration configuration, std::uint32_t n);
  void TickStrong(std::uint64_t now_ms);
  void OnReplicaWriteAck(const proto::ReplicaWriteAck& ack);
  void OnReplicaReadReply(const proto::ReplicaReadReply& reply);
  void MirrorIfTransferring(const std::string& storage_key, const std::string& encoded);
  // A key was stored here (by any path: called from the engine's write observer): if this node
  // is a primary of its partition but not one of the key's own primaries (a bucket with fewer
  // replicas), the partition hands its strays on again.
  void NoteIfStray(std::string_view storage_key);

  // Bucket properties: cluster-wide, kept in the gossiped cluster state (node_admin.cc).
  BucketProps BucketPropsOf(std::string_view bucket) const;
  // The reply to a bucket request, or nullopt when it comes later (a change being checked).
  std::optional<Result<ReplyBody>> HandleBucket(RequestId id, const ClientRequest& request);
  // Whether this node stores any object, hint or acceptor record of `bucket` (a scan of one
  // prefix per partition and column).
  Result<bool> HoldsBucketData(const std::string& bucket);
  // A change of `bucket` from `current` to `next` that needs every member's storage checked
  // (node_bucket_changes.cc, bucket_change.h); nullopt: the reply comes when it ends.
  std::optional<Result<ReplyBody>> StartBucketChange(RequestId id, const std::string& bucket,
                                                     const BucketProps& current,
                                                     const BucketProps& next);
  void OnBucketCheckRequest(const std::string& from_address,
                            const proto::BucketCheckRequest& request);
  void OnBucketCheckReply(const std::string& from_address, const proto::BucketCheckReply& reply);
  // Sends what is due and ends the changes that are decided; unseals seals of this node that
  // no running change owns (left by a restart).
  void TickBucketChanges(std::uint64_t now_ms);
  void AdvanceBucketChange(const std::string& bucket, std::uint64_t now_ms);
  // Whether a seal made by `origin` may still belong to a running change: `origin` is this
  // node with a change of the bucket running, or a member neither removed nor down.
  bool SealMayBeLive(const std::string& bucket, const cluster::NodeId& origin) const;

  // Cluster administration (node_admin.cc).
  Result<ReplyBody> HandleAdmin(const ClientRequest& request);
  std::vector<MemberView> MemberViews() const;
  // Member reports (node_member_reports.cc).
  ClusterStatusReply StatusReply() const;
  // Starts asking the members for their reports; the reply comes when all answered or the
  // timeout passed (nullopt), or at once when no other member is reachable.
  std::optional<Result<ReplyBody>> StartStatusReport(RequestId id);
  MemberReport OwnReport(std::uint64_t now_ms) const;
  void OnMemberReportRequest(const std::string& from_address,
                             const proto::MemberReportRequest& request);
  void OnMemberReportReply(const std::string& from_address, const proto::MemberReportReply& reply);
  void TickStatusReports(std::uint64_t now_ms);
  void FinishStatusReport(std::uint64_t report_id);
  // Applies an operator's change of this shard's background budget; the setting after it.
  Result<ReplyBody> SetBackground(const ClusterBackgroundRequest& request);
  // Read-only inspection of one key from this node's own state (ClusterLocate/LocalRequest).
  Result<ReplyBody> Locate(const ObjectId& id) const;
  Result<ReplyBody> ReadLocalCopy(const ObjectId& id);

  // Partition replicas (node_handoff.cc): each partition's role and background work lives in
  // a PartitionReplica; the node recomputes placements when the ring changes, ticks the
  // replicas, routes their messages and carries out their outputs.
  void TickReplicas();
  // The replica of `partition`, created with its current placement when there is none.
  // Both note the partition as touched: CollectOutbound gathers its output after this turn.
  PartitionReplica& ReplicaFor(std::uint32_t partition);
  PartitionReplica* FindReplica(std::uint32_t partition);
  // Recomputes every partition's placement (the ring or the largest n changed) and tells the
  // replicas that care; `first`: the first computation of this node's life.
  void RecomputePlacements(bool first);
  // Whether this node holds objects of `partition` (one step of a scan).
  bool HasObjects(std::uint32_t partition);
  // Whether `column` holds any record of `partition` (one step of a scan).
  Result<bool> PartitionHasRecords(storage::Column column, std::uint32_t partition);
  // Carries out a replica's output: persistence first, then its messages.
  void ApplyReplicaOutput(PartitionReplica& replica);
  void OnBatchApplied(const std::string& from_address, const proto::HandoffBatch& batch);
  void DropMovedPartitions();
  void OnFillRequest(const proto::ReplicaFillRequest& request);
  Status PersistForwarding();
  Status LoadForwarding();
  Status PersistCompletedIncoming();
  Status LoadCompletedIncoming();
  // Tombstone reaping (node_reaping.cc): this node's rounds as reaper, its answers as a member
  // (ReapLocalView), and the conditional deletes of committed rounds.
  void TickReaping(std::uint64_t now_ms);
  void StartReapRound(std::uint64_t now_ms);
  void OnReapOutcome(const ReapRoundOutcome& outcome, std::uint64_t now_ms);
  void OnReapCommit(const proto::ReapCommit& commit);
  void ApplyReapDeletes(std::uint64_t now_ms);
  std::vector<proto::ReapVerdict> JudgeReapRound(const proto::ReapPrepare& prepare);
  // The verdict on candidate `index`, a prune of `key`'s superseded single-use entries of
  // `actors` (ascending): rejected where this node holds a copy of one of those writes.
  // `reading`: keys of read coordinators; `retained`: per key, the fixed actors of the
  // forwards this node holds to route again.
  void JudgePruneByActors(proto::ReapVerdict& verdict, int index, const std::string& key,
                          std::span<const ActorId> actors,
                          const std::set<std::string, std::less<>>& reading,
                          const std::map<std::string, std::vector<ActorId>, std::less<>>& retained);
  bool HoldsNothing();

  void SyncMembershipViews();
  void PersistClusterStateIfChanged();
  Status PersistClusterState(bool sync);
  // Gathers what the components produced. `all_replicas`: every partition replica's output
  // (after a tick, which visits them all); otherwise only the replicas touched since the last
  // collection (FindReplica/ReplicaFor): a message or request reaches a few partitions, and
  // walking every replica after each one cost ~8 % of a node's CPU (perf, 2026-12-03).
  void CollectOutbound(bool all_replicas = false);
  void Touch(std::uint32_t partition);
  // Opens the hints of every partition that has stored hints (their replica objects hold them).
  Status OpenHints();
  // Stores a hint for `storage_key` with its partition's hints.
  Status StoreHint(const std::string& storage_key, const DvvSet& object,
                   const std::vector<cluster::NodeId>& targets, bool sync);
  // The size of an applied batch, as the background budget charges it.
  static replication::WorkSize BatchSize(
      const google::protobuf::RepeatedPtrField<proto::HandoffEntry>& entries);
  // Charges an applied background batch and sends its ack once the budget allows (AckPacer).
  void PaceAck(replication::WorkKind kind, replication::WorkSize size, cluster::Outbound ack,
               std::uint64_t now_ms);

  NodeConfig config_;
  // Before every component that holds one of its stream slots, so it outlives them.
  replication::BackgroundGovernor governor_;
  replication::AckPacer ack_pacer_;  // acks of applied background batches, paced by governor_
  // What every partition's hints share (bounds, counters); before the replicas that use it.
  replication::NodeHintState hint_state_;
  // Every component reaches storage through watched_engine_ (in env_), so each deletion of
  // an object or hint record retires its partition's actor (partition_actors.h). Under it the
  // objects column is kept in segment order (storage format 2) over the bare engine, which
  // only the migration from format 1 at Open reaches directly.
  PartitionActors actors_;
  storage::Engine& bare_engine_;
  storage::SegmentOrderedObjects ordered_engine_;
  WriteObservingEngine watched_engine_;
  // The buckets this shard's storage ever held data of (HoldsBucketData's quick "no").
  StoredBuckets stored_buckets_;
  // Passes each object's version-hash change to its partition's tree.
  struct TreeUpdater final : ObjectChangeObserver {
    explicit TreeUpdater(Node& node) : node(node) {}
    void OnObjectChanged(std::uint32_t partition, std::string_view storage_key,
                         std::optional<std::uint64_t> old_hash,
                         std::optional<std::uint64_t> new_hash,
                         std::uint32_t superseded_single_use) override;
    Node& node;
  };
  TreeUpdater tree_updater_{*this};
  struct ReapJudge final : ReapLocalView {
    explicit ReapJudge(Node& node) : node(node) {}
    std::vector<proto::ReapVerdict> Judge(const proto::ReapPrepare& prepare) override {
      return node.JudgeReapRound(prepare);
    }
    bool HoldsNothing() override { return node.HoldsNothing(); }
    Node& node;
  };
  ReapJudge reap_judge_{*this};
  Env env_;
  LocalStore store_;
  HybridLogicalClock bucket_clock_;  // versions bucket-property changes made here
  std::uint64_t incarnation_ = 0;
  bool opened_ = false;
  std::unique_ptr<cluster::Membership> membership_;
  std::unique_ptr<cluster::FailureDetector> detector_;
  std::unique_ptr<replication::HandoffReceiver> receiver_;
  PartitionReplicaConfig replica_config_;
  // Per partition, as of the last ring (or largest n) change; empty before the first.
  std::vector<PartitionPlacement> placements_;
  // Partitions with background state (ordered: deterministic ticks).
  replication::AntiEntropyCounters anti_entropy_counters_;  // all partitions' (outlive replicas_)
  replication::ReapCounters reap_counters_;                 // likewise
  std::map<std::uint32_t, std::unique_ptr<PartitionReplica>> replicas_;
  RequestIds transfer_ids_{0, 0, 1};  // per shard (Open)
  ForwardedRequests forwarded_;
  SlowRequests slow_requests_;
  PeerSuspicion suspicion_;
  ReapRounds reap_rounds_;
  // Removed members (id, incarnation, shard) whose shard answered a round of this node holding
  // nothing: that shard is not asked again. Every other removed member with an address is
  // asked, since it may still hold data it hands on (an orphan) — found by the reaping
  // scenario, seed 136.
  std::set<std::tuple<cluster::NodeId, std::uint64_t, std::uint32_t>> drained_removed_;
  // With the incarnation and the shard index, a round id unique per reaper (and shard).
  std::uint32_t next_reap_round_ = 0;
  // The partition from which the next round's group is looked for (StartReapRound).
  std::uint32_t next_reap_group_from_ = 0;
  std::uint64_t reaped_since_compaction_ = 0;  // see Node::ApplyReapDeletes

  // Coordinated requests in flight, by coordination id, and the replica calls they wait on.
  struct PendingRead {
    Origin origin;
    ObjectId id;
    std::string storage_key;
    replication::GetCoordinator coordinator;
    ReplicaTimes times;
    bool answered = false;
    std::vector<std::uint64_t> calls;
    Status local_error;  // this node's own read failed (reported when the read fails)
  };
  struct PendingWrite {
    Origin origin;
    proto::KvRequest::Op op;
    std::string storage_key;
    replication::PutCoordinator coordinator;
    ReplicaTimes times;
    std::string context;   // for the reply
    bool durable = false;  // the coordinator's own copy was synced
    std::vector<std::uint64_t> calls;
  };
  struct ReplicaCall {
    std::uint64_t coordination = 0;
    std::size_t target = 0;
  };
  struct StrongCoordination {
    Origin origin;
    proto::KvRequest::Op op;
    replication::StrongOp op_spec;  // for the reply's wording
    std::string storage_key;
    std::vector<cluster::NodeId> acceptors;
    replication::StrongProposer proposer;
    std::vector<std::uint64_t> calls;
    replication::StrongConfiguration configuration;  // whose epoch the requests carry
    std::uint32_t n = 0;                             // the bucket's replication factor
    ClientRequest request;                           // for a restart on a newer configuration
    std::uint32_t restarts = 0;
    bool moved = false;  // an acceptor named a newer configuration
  };
  struct StrongCall {
    std::uint64_t coordination = 0;
    std::size_t acceptor = 0;
    replication::StrongRequest::Kind kind = replication::StrongRequest::Kind::kQuery;
    replication::Ballot ballot;
    std::string address;  // the acceptor's, which alone may answer
  };
  std::map<std::uint64_t, StrongCoordination> strong_;
  std::map<std::uint64_t, StrongCall> strong_calls_;
  // A move's request to a member: its register phase, a scan page or an install page.
  struct StrongMoveCall {
    enum class Kind : std::uint8_t { kRegister, kScan, kInstall };
    std::uint32_t partition = 0;
    Kind kind = Kind::kRegister;
    std::size_t member = 0;
    replication::StrongRequest::Kind request_kind = replication::StrongRequest::Kind::kQuery;
    replication::Ballot ballot;
    std::string after;       // kScan
    std::uint64_t page = 0;  // kInstall
    std::string address;
  };
  std::map<std::uint64_t, StrongMoveCall> strong_move_calls_;
  // Changes of a bucket's consistency or n being checked, by bucket.
  struct PendingBucketChange {
    RequestId request;
    BucketChange change;
    cluster::BucketPropsRecord seal;  // the sealed record this change wrote
    BucketProps previous;             // restored when the change does not happen
    BucketProps next;
  };
  std::map<std::string, PendingBucketChange> bucket_changes_;
  // Status requests waiting for members' reports (node_member_reports.cc), by report id.
  struct PendingStatusReport {
    RequestId request;
    ReportCollection collection;
  };
  std::map<std::uint64_t, PendingStatusReport> status_reports_;
  std::optional<LocalLoad> local_load_;  // SetLocalLoad's
  StrongPartitions strong_partitions_{config_.partition_count};
  std::uint64_t next_move_check_ms_ = 0;
  std::uint32_t next_move_partition_ = 0;  // where the next check starts (turns)
  std::size_t strong_moves_running_ = 0;
  std::uint64_t strong_moves_started_ = 0;
  std::uint64_t strong_moves_succeeded_ = 0;
  std::uint64_t strong_moves_failed_ = 0;
  std::uint64_t strong_operations_restarted_ = 0;
  std::uint64_t strong_refused_[4] = {};  // by replication::EpochVerdict
  // Strong writes coordinated here run one at a time per key (each may start from the fast
  // path's cached proposal); the rest wait here, by storage key.
  std::map<std::string, std::deque<std::pair<Origin, ClientRequest>>> strong_waiting_;
  std::set<std::string> strong_busy_keys_;
  std::size_t strong_waiting_count_ = 0;  // requests in strong_waiting_, bounded with the rest
  replication::ChosenProposalCache strong_fast_path_{config_.strong.fast_path_keys_max};
  std::uint64_t strong_round_floor_ = 0;  // the highest round seen in any strong operation
  std::uint64_t strong_operations_ = 0;
  std::uint64_t strong_one_round_trip_ = 0;
  std::uint64_t strong_round_trips_ = 0;
  std::map<std::uint64_t, PendingRead> reads_;
  // Of reads_, those already answered and only waiting for stragglers (for read repair); they
  // do not count toward coordinators_max, and beyond it the oldest stop waiting.
  std::size_t answered_reads_ = 0;
  std::map<std::uint64_t, PendingWrite> writes_;
  std::map<std::uint64_t, ReplicaCall> replica_calls_;
  std::uint64_t next_coordination_id_ = 1;
  RequestIds call_ids_{0, 0, 1};           // replica, strong, report and bucket-check calls (Open)
  std::uint32_t next_hint_partition_ = 0;  // where TickHints starts next (turns)
  std::vector<std::uint32_t> touched_;     // partitions reached since the last collection
  std::vector<bool> touched_flags_;        // by partition: in touched_
  std::uint64_t read_repairs_ = 0;
  std::uint64_t misrouted_peer_messages_ = 0;
  // The shell of a sharded clustered node: when it last heard from each peer address.
  std::map<std::string, std::uint64_t> heard_ms_;
  // A follower: the shell's failure detector's opinion, and transfers for the shell to report.
  std::set<cluster::NodeId> shell_down_;
  // A follower: the peers its shell suspected in the latest view, less those heard here since.
  std::set<std::string> shell_suspects_;
  std::vector<std::uint32_t> transfer_completions_;
  // The shell: each follower's latest part of the member report, by shard (SetShardReport).
  std::map<std::uint32_t, MemberReport> shard_reports_;
  // The shell: peers' bucket checks waiting for the followers (TakeShardChecks), by id.
  struct PendingShardCheck {
    std::string from_address;
    std::string bucket;
    proto::BucketCheckReply reply;  // filled in but for the answer
    cluster::BucketPropsRecord seal;
  };
  std::map<std::uint64_t, PendingShardCheck> shard_checks_;
  std::vector<ShardCheck> shard_checks_out_;
  std::uint64_t next_shard_check_id_ = 1;
  // Answers a peer's bucket check from this shard's storage and the followers' answer.
  void AnswerBucketCheck(const std::string& from_address, const std::string& bucket,
                         proto::BucketCheckReply reply, const cluster::BucketPropsRecord& seal,
                         const Result<bool>& followers_hold_data);
  Status storage_condition_;            // SetStorageCondition's
  std::set<std::string> held_buckets_;  // HoldBucket's
  std::uint64_t writes_refused_storage_ = 0;
  std::uint64_t forwards_fixed_ = 0;   // forwarded with a fixed version
  std::uint64_t forwards_hedged_ = 0;  // routed again: the peer went silent or did not answer
  std::uint64_t forwards_hedged_unanswered_ = 0;  // of those: no answer in forward_hedge_after_ms
  std::uint64_t fixed_versions_refused_ = 0;      // refused here: the key's clock was full

  // Placement derived from the ring (see RefreshPlacement).
  std::optional<std::uint64_t> placement_state_version_;
  std::optional<std::uint64_t> placement_ring_hash_;
  std::uint32_t placement_n_max_ = 0;
  std::set<std::uint32_t> placement_ns_;  // every n in use (the buckets' and the default's)
  std::uint32_t ring_nodes_ = 1;          // distinct owners
  // PrimariesOf's cache: per partition the walk for the largest n asked so far (empty: not
  // computed), valid for cluster state version primaries_cache_version_.
  mutable std::vector<std::vector<cluster::NodeId>> primaries_cache_;
  mutable std::vector<std::uint32_t> primaries_cache_n_;
  mutable std::optional<std::uint64_t> primaries_cache_version_;

  std::uint64_t persisted_state_version_ = 0;
  std::uint64_t detector_state_version_ = ~0ull;
  std::vector<ClientReply> replies_;
  std::vector<cluster::Outbound> outbound_;
  std::vector<cluster::Outbound> early_outbound_;  // TakeEarlyOutbound's
  // watched_engine_.writes() when the current Submit, Receive or Tick began.
  std::uint64_t writes_at_input_ = 0;
};

}  // namespace meridian::node
