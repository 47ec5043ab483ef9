// Client requests a Node accepts and the replies it produces. Requests are validated at
// the edge (api/) for syntax; the Node validates semantics and limits again, so any
// transport that reaches it gets the same errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/bucket_props.h"
#include "core/dvv_set.h"
#include "core/hlc.h"
#include "core/object_id.h"
#include "core/quorum.h"
#include "core/status.h"
#include "node/member_report.h"
#include "replication/consistency_receipt.h"

namespace meridian::node {

// Chosen by the submitter; echoed in the reply. Unique among requests in flight.
using RequestId = std::uint64_t;

// Per-request overrides of the bucket's quorum settings (r, w, pr, pw, dw, sloppy_quorum).
using RequestOptions = QuorumOverrides;
using replication::ConsistencyReceipt;

struct GetRequest {
  ObjectId id;
  RequestOptions options;
};
// A write's condition on the key's current version (docs/api.md "Conditional writes"). In a
// strong bucket it is checked atomically; in an eventual bucket by the coordinating primary
// against its own copy (node/write_condition_check.h).
enum class WriteCondition : std::uint8_t {
  kNone,
  kIfMatch,    // If-Match: the current version is exactly the request's context
  kIfAbsent,   // If-None-Match: * (SET NX): the key does not exist
  kIfPresent,  // SET XX: the key exists
};
inline constexpr WriteCondition kLastWriteCondition = WriteCondition::kIfPresent;

// A forwarded write's version, fixed by the node that took it from its client, so that every
// node that applies it (the primary it was sent to, or whoever takes it when that primary goes
// silent) makes the same sibling: a single-use dot (DvvSet::Apply) and its timestamp. Set only
// on writes between nodes (docs/design/replication.md "Hedged forwarding").
struct FixedVersion {
  ActorId actor = 0;  // the single-use actor; never 0
  HlcTimestamp timestamp;
  friend bool operator==(const FixedVersion&, const FixedVersion&) = default;
};

struct PutRequest {
  ObjectId id;
  std::string value;
  std::string context;  // token from a previous get; empty = blind write (may create a sibling)
  RequestOptions options;
  // With an empty context: supersede every version the coordinating replica holds now (what a
  // Redis SET means), instead of adding a sibling. Versions only other replicas hold (written
  // concurrently elsewhere) still survive as siblings.
  bool overwrite = false;
  WriteCondition condition = WriteCondition::kNone;
  std::optional<FixedVersion> fixed_version;
};
// A delete writes a tombstone. With an empty context it supersedes everything the node
// currently holds for the key ("delete what is there now").
struct DeleteRequest {
  ObjectId id;
  std::string context;
  RequestOptions options;
  WriteCondition condition = WriteCondition::kNone;
  std::optional<FixedVersion> fixed_version;
};
struct GetBucketRequest {
  std::string bucket;
};
struct SetBucketRequest {
  std::string bucket;
  BucketPropsPatch patch;
  // Set only by the server's shard router (runtime/sharded_kv_service.h), for shard 0 of a node
  // of several shards: every other shard holds the bucket (Node::HoldBucket) and stores none of
  // its data, so a change of its consistency or n needs only this shard's check. Without it
  // such a change is refused on a node of several shards; ignored with one shard.
  bool other_shards_checked = false;
};
// Every bucket whose properties were set (the cluster state's records), in name order. A
// bucket used only with the defaults has no record and is not listed: keys are stored by
// partition first, so finding every bucket that holds data would scan every key.
struct ListBucketsRequest {};

// Cluster administration (docs/api.md "Cluster"). Every node accepts them; changes are
// gossiped, and only the claimant turns membership changes into ownership changes.
struct ClusterStatusRequest {
  // Also ask every reachable member for its report (MemberView::report); the reply then waits
  // for their answers, at most NodeConfig::member_report_timeout_ms.
  bool include_reports = false;
};
struct ClusterRingRequest {
  bool include_partitions = false;  // every partition's owner and pending owner
};
// Makes this node join the cluster that the seeds (peer addresses) belong to.
struct ClusterJoinRequest {
  std::vector<std::string> seeds;
};
// Starts moving a member's partitions away; it is removed once it owns nothing.
struct ClusterLeaveRequest {
  std::string node;  // empty: this node
};
// Marks a member removed at once (for a dead node); its partitions are reassigned.
struct ClusterRemoveRequest {
  std::string node;
};
struct ClusterSetWeightRequest {
  std::string node;
  std::uint32_t weight = 1;
};

// Changes this node's background budget (docs/operations.md "Background work") until it
// restarts; absent fields stay as they are, so an empty request reads the setting. A node of
// several shards gives each shard its share of bytes_per_second (runtime::ShardedKvService).
struct ClusterBackgroundRequest {
  std::optional<std::uint64_t> bytes_per_second;  // 0: unlimited
  std::optional<bool> paused;                     // true: no new background work starts
};

// Read-only inspection of one key (admin endpoints, docs/api.md "Cluster"). Both are answered
// by the receiving node alone, from its own state: nothing is forwarded, no replica is asked,
// nothing is repaired or written.
// Where the key lives as this node sees it: partition, owner, primaries and fallbacks.
struct ClusterLocateRequest {
  ObjectId id;
};
// This node's own copy of the key: its objects column and any hint it keeps for the key.
struct ClusterLocalRequest {
  ObjectId id;
};

using ClientRequest =
    std::variant<GetRequest, PutRequest, DeleteRequest, GetBucketRequest, SetBucketRequest,
                 ListBucketsRequest, ClusterStatusRequest, ClusterRingRequest, ClusterJoinRequest,
                 ClusterLeaveRequest, ClusterRemoveRequest, ClusterSetWeightRequest,
                 ClusterLocateRequest, ClusterLocalRequest, ClusterBackgroundRequest>;

struct SiblingValue {
  std::string value;
  HlcTimestamp timestamp;
};

// `found` is false for a missing or deleted key; `context` is then still set when the key
// has a history (a tombstone), so a client can write after the delete without a sibling.
struct GetReply {
  bool found = false;
  std::vector<SiblingValue> values;  // live siblings, in dot order; size > 1 means siblings
  std::string context;               // covers every sibling returned
  ConsistencyReceipt receipt;
};
// `context` covers exactly the request's context plus the new write, so passing it to the
// next write overwrites this one. It is empty when no such token exists: when another write
// coordinated by the same node came in after the request's context was issued, the only
// token covering the new write would also cover that intervening write, which the client has
// not seen (and a later write with it would silently discard it). Then the client should get
// the key again before its next write.
struct WriteReply {
  std::string context;
  bool durable = false;  // synced to disk before the reply (on the coordinator)
  ConsistencyReceipt receipt;
};
struct BucketReply {
  std::string bucket;
  BucketProps props;
};
struct BucketListReply {
  std::vector<BucketReply> buckets;  // in name order
  BucketProps defaults;              // the properties of a bucket without a record
};

// One member as this node sees it: the gossiped record plus this node's local opinion of
// its liveness (failure detection is a local opinion, used for routing only).
struct MemberView {
  std::string id;
  std::string peer_address;
  std::string http_address;
  std::string zone;
  std::uint32_t weight = 1;
  std::string status;  // joining | up | leaving | removed
  std::uint64_t incarnation = 0;
  bool alive = true;  // this node's opinion (always true for itself)
  double phi = 0;     // suspicion level behind `alive`
  std::uint32_t partitions_owned = 0;
  std::uint32_t partitions_incoming = 0;  // pending transfers to this member
  std::uint32_t shards = 1;               // the shard count the member gossips
  // Only when reports were asked for: the member's own report, or why there is none.
  std::optional<MemberReport> report;
  std::string report_missing;
};
struct ClusterStatusReply {
  std::string cluster_name;
  std::string self;
  std::string claimant;
  std::uint64_t ring_version = 0;
  std::uint32_t partition_count = 0;
  std::vector<MemberView> members;
};
struct RingReply {
  std::uint32_t partition_count = 0;
  std::uint64_t version = 0;
  struct Partition {
    std::string owner;
    std::string pending_owner;  // empty: none
  };
  std::vector<Partition> partitions;  // only when requested
  std::vector<MemberView> members;    // per-member counts
};
// Acknowledges an accepted administrative change (it then spreads by gossip).
struct AdminReply {
  std::string message;
};

// The background budget after a ClusterBackgroundRequest: the whole node's (every shard's
// share added up).
struct BackgroundReply {
  std::uint64_t bytes_per_second = 0;  // 0: unlimited
  bool paused = false;
  std::uint32_t shards = 1;
};

// Where a key lives, from this node's ring: the walk of the key's preference list.
struct LocateReply {
  ObjectId id;
  std::uint32_t partition = 0;
  std::uint32_t n = 0;                       // the bucket's n
  std::string owner;                         // the partition's owner
  std::optional<std::string> pending_owner;  // the member it is being transferred to
  std::vector<std::string> primaries;        // up to n: the replicas writes go to
  std::vector<std::string> fallbacks;        // the next nodes of the walk, up to n
};
// This node's own copy of a key, as stored (no merge, no read repair).
struct LocalCopyReply {
  std::string node;  // this node's id
  std::uint32_t partition = 0;
  // This node keeps the key as a replica in its own view: it is one of the key's primaries
  // (for the bucket's n) or the partition's pending owner.
  bool holds_replica = false;
  std::optional<DvvSet> object;  // the objects column; nullopt: no record
  struct Hint {
    std::vector<std::string> targets;  // the primaries the object is still owed to
    DvvSet object;
  };
  std::optional<Hint> hint;  // the hint record this node keeps for the key, if any
};

using ReplyBody =
    std::variant<GetReply, WriteReply, BucketReply, BucketListReply, ClusterStatusReply, RingReply,
                 AdminReply, LocateReply, LocalCopyReply, BackgroundReply>;

struct ClientReply {
  RequestId id = 0;
  Status status;  // body is meaningful only when status.ok()
  ReplyBody body;
  // Between nodes only: a write with a fixed version was not applied because the key's clock
  // holds the most single-use entries it takes (NodeConfig::single_use_entries_max); the
  // forwarder sends it again without one.
  bool fixed_version_refused = false;
};

}  // namespace meridian::node
