// meridian::client::Client: the C++ client library of Meridian's HTTP API (docs/api.md).
//
// A Client holds one keep-alive HTTP/1.1 connection (plain TCP or TLS) to one server
// endpoint and issues blocking requests on it. Every call returns a Result; no exception
// leaves the library.
//
// Thread-safety: a Client is NOT thread-safe. Use one Client per thread (they are cheap:
// one connection each), or serialise calls yourself. Distinct Clients are independent.
//
// Connection reuse: the connection is opened lazily and reused across calls. A connection
// the server closed while idle is detected and replaced before a request is sent; if an
// idempotent request (GET, DELETE, bucket-property PUT, cluster leave/remove/weight) still
// fails on a reused connection before any reply arrives, it is re-sent once on a fresh
// connection. An object PUT is never re-sent: a repeated blind PUT would create an extra
// sibling; neither is a cluster join.
//
// AsyncClient (at the end of this file) issues the object requests without blocking, over a
// pool of keep-alive connections on one event loop.
//
// Causal contexts are opaque tokens: pass the context of a Get to the next Put/Delete of
// the same key to supersede exactly the values that Get returned.
//
// Quorum settings (GetOptions r/pr, WriteOptions w/pw/dw, BucketProps r/w/pr/pw/dw) are text:
// "one", "quorum", "all" or a decimal number such as "2" (docs/api.md "Bucket properties").
// The client checks only that form; the server checks ranges (numbers 0..9, r/w within the
// key's replicas) and refuses with kBadRequest (server_code "invalid_parameter" for request
// options, "invalid_props" for bucket properties).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meridian/result.h"

namespace boost::asio {
class io_context;  // declared only: AsyncClient can run on a caller's Boost.Asio event loop
}

namespace meridian::client {

inline constexpr std::string_view kDefaultBucket = "default";

struct ClientOptions {
  // "http://HOST[:PORT]" or "https://HOST[:PORT]"; HOST is a name, an IPv4 address or a
  // bracketed IPv6 address. Default ports: 80 and 443.
  std::string endpoint = "http://127.0.0.1:8080";
  // PEM file of trusted CA certificates for https. Empty: the system's default trust store.
  std::string ca_file;
  // Verify the server's certificate chain and that it names the endpoint's host.
  bool verify_peer = true;
  // Upper bound on connecting plus one request/reply exchange; 0 means no limit.
  std::uint32_t timeout_ms = 10000;
  // Replies with a larger body are rejected as kProtocolError (a limit on memory use).
  std::uint64_t response_body_bytes_max = 256ull * 1024 * 1024;
  // Bearer token of a user (`meridian user add`), sent as "Authorization: Bearer <token>" on
  // every request. Empty: none (a node with --users-file answers 401 unauthenticated).
  std::string token;
  // A client certificate (`meridian cert client --name USER`) and its key, both PEM, presented
  // on https: a node started with --tls-client-ca takes it as that user's credential. Both or
  // neither.
  std::string certificate_file;
  std::string private_key_file;
};

// One of the concurrent values of an object.
struct Sibling {
  std::string value;  // arbitrary bytes
  std::int64_t timestamp_ms = 0;
};

// What one object request achieved: the server's X-Meridian-Consistency header.
struct Consistency {
  std::uint32_t n = 0;          // replicas of the key (the bucket's n, capped by the node count)
  std::uint32_t required = 0;   // r of a get, w of a write, as resolved for this request
  std::uint32_t replies = 0;    // replicas that answered (get) or acknowledged (write) in time
  std::uint32_t primaries = 0;  // of `replies`, primaries
  std::uint32_t fallbacks = 0;  // of `replies`, fallbacks standing in for unreachable primaries
  std::uint32_t durable = 0;    // writes: of `replies`, synced to disk
  std::uint32_t hinted = 0;     // writes: of `replies`, stored with a hint for a primary
  std::uint32_t behind = 0;     // gets: of `replies`, copies older than the answer (repaired)

  friend bool operator==(const Consistency&, const Consistency&) = default;
};

// Per-request overrides of the bucket's read settings (query parameters of GET).
struct GetOptions {
  std::optional<std::string> r;   // replies to wait for
  std::optional<std::string> pr;  // of those, how many must come from primaries
  // false: only primaries count (no fallbacks stand in for unreachable ones).
  std::optional<bool> sloppy_quorum;
};

struct GetResult {
  // False when the key is missing or deleted; `siblings` is then empty, and `context` is set
  // when the key has a history (a delete), so a following Put can supersede the tombstone.
  bool found = false;
  // One element for a single value; several for concurrent values (siblings).
  std::vector<Sibling> siblings;
  std::string context;
  // Absent when the server sent no (or an unreadable) X-Meridian-Consistency header.
  std::optional<Consistency> consistency;
};

struct WriteOptions {
  // The context of a previous Get (or write) of this key. Empty: a blind write, which for a
  // Put becomes a sibling of whatever is stored (in a `siblings` bucket).
  std::string context;
  // Per-request overrides of the bucket's write settings (query parameters of PUT/DELETE).
  std::optional<std::string> w;   // acknowledgements to wait for
  std::optional<std::string> pw;  // of those, how many must come from primaries
  std::optional<std::string> dw;  // of those, how many must be synced to disk
  // false: only primaries count (no fallbacks stand in for unreachable ones).
  std::optional<bool> sloppy_quorum;
  // Older spelling of `dw`: true = "1", false = "0". Setting both `durable_write` and `dw`
  // is kInvalidArgument.
  std::optional<bool> durable_write;
  // Compare-and-set (docs/api.md "Conditional writes"): the write happens only when the key's
  // current version satisfies the condition, else the result is kPreconditionFailed and
  // nothing was written. Atomic in strong buckets; in eventual buckets checked by the
  // coordinating primary against its copy. kIfMatch needs `context`.
  enum class Condition {
    kNone,
    kIfMatch,    // the current version is exactly `context` (If-Match)
    kIfAbsent,   // the key does not exist (If-None-Match: *)
    kIfPresent,  // the key exists (If-Match: *)
  };
  Condition condition = Condition::kNone;
};
using PutOptions = WriteOptions;
using DeleteOptions = WriteOptions;

struct WriteResult {
  // Covers the request's context plus this write; pass it to the next Put to overwrite
  // this write. May be empty if the server sent none.
  std::string context;
  // True when the server synced the write to disk before replying.
  bool durable = false;
  // Absent when the server sent no (or an unreadable) X-Meridian-Consistency header.
  std::optional<Consistency> consistency;
};

// A bucket's properties. The initial values are the server's defaults; a field an older
// server does not send keeps its initial value.
struct BucketProps {
  std::string consistency = "eventual";  // or "strong" (docs/design/strong.md)
  std::string conflict_policy;           // "siblings" or "lww"
  std::uint32_t n = 3;                   // replicas of every key
  // Quorum settings as text: "one", "quorum", "all" or a number ("0", "2").
  std::string r = "quorum";   // replies a get waits for
  std::string w = "quorum";   // acknowledgements a write waits for
  std::string pr = "0";       // of r, from primaries
  std::string pw = "0";       // of w, from primaries
  std::string dw = "0";       // of w, synced to disk
  bool sloppy_quorum = true;  // fallbacks stand in for unreachable primaries
  std::string json;           // the full `props` object as the server sent it
};

// One entry of ListBuckets.
struct BucketListing {
  std::string bucket;
  BucketProps props;
  bool sealed = false;     // a change of consistency or n is being checked
  bool configured = true;  // false: never configured, listed because the user may use it
};

// The properties to change; unset fields stay as they are. Quorum settings as in BucketProps.
struct BucketPropsUpdate {
  std::optional<std::string> consistency;  // set while the bucket holds no data
  std::optional<std::string> conflict_policy;
  std::optional<std::uint32_t> n;
  std::optional<std::string> r;
  std::optional<std::string> w;
  std::optional<std::string> pr;
  std::optional<std::string> pw;
  std::optional<std::string> dw;
  std::optional<bool> sloppy_quorum;
};

// Cluster administration (docs/api.md "Cluster"). Each result carries typed fields and
// `json`, the reply body exactly as the server sent it (for tools that print or forward it).

// One member as the answering node sees it.
// One outgoing partition stream a member reports (GET /v1/cluster/status, docs/api.md).
struct ClusterTransfer {
  std::uint32_t partition = 0;
  std::string kind;  // "ownership" or "replica_copy"
  std::string peer;  // the receiving member
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;  // estimated at the start; 0: unknown
  std::uint64_t objects_done = 0;
  double elapsed_seconds = 0;
  double bytes_per_second = 0;
  std::optional<double> eta_seconds;  // unknown without a total or a rate yet
};

// What a member reports about its own work and load.
struct ClusterMemberReport {
  bool load_known = false;  // the disk and request figures below are filled in
  std::uint64_t disk_used_bytes = 0;
  std::uint64_t disk_capacity_bytes = 0;
  std::uint64_t disk_available_bytes = 0;
  std::uint32_t requests_window_seconds = 0;
  double requests_per_second = 0;
  double errors_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  std::uint64_t hints_pending = 0;
  std::uint64_t hint_bytes = 0;
  std::vector<ClusterTransfer> transfers;
  std::uint64_t copies_queued = 0;
  std::uint64_t aae_exchanges = 0;
  std::uint64_t aae_exchanges_failed = 0;
  std::uint64_t aae_keys_repaired = 0;
};

struct ClusterMember {
  std::string id;
  std::string peer_address;  // where peers reach it; empty for a standalone node
  std::string http_address;
  std::string zone;
  std::uint32_t weight = 1;
  std::string status;  // "joining", "up", "leaving" or "removed"
  std::uint64_t incarnation = 0;
  bool alive = true;  // the answering node's opinion (always true for itself)
  double phi = 0;     // the suspicion level behind `alive`
  std::uint32_t partitions_owned = 0;
  std::uint32_t partitions_incoming = 0;  // pending transfers to this member
  // The member's shard count (docs/operations.md "Shards"); 1 from a node of release 0.1.0,
  // whose replies do not carry it.
  std::uint32_t shards = 1;
  // In a status reply: the member's report, or (report_missing) why there is none.
  std::optional<ClusterMemberReport> report;
  std::string report_missing;
  // The member's release ("0.2.0"), from its report; empty when unknown (no report, or a
  // member of release 0.1.0, which does not report it).
  std::string meridian_version;
};

struct ClusterStatusResult {
  std::string cluster_name;
  std::string self;      // the answering node's id
  std::string claimant;  // the member that turns membership changes into ring changes
  std::uint64_t ring_version = 0;
  std::uint32_t partition_count = 0;
  std::vector<ClusterMember> members;
  std::string json;
};

struct RingPartition {
  std::uint32_t partition = 0;
  std::string owner;
  std::string pending_owner;  // empty: no transfer pending
};

struct ClusterRingResult {
  std::uint32_t partition_count = 0;
  std::uint64_t version = 0;
  std::vector<ClusterMember> members;
  std::vector<RingPartition> partitions;  // empty unless requested
  std::string json;
};

// An accepted membership change; it then spreads through the cluster by gossip.
struct ClusterAdminResult {
  std::string message;  // the server's one-line description of the change
};

// Where a key lives, as the answering node sees it (GET /v1/cluster/locate/{bucket}/{key}).
struct KeyLocation {
  std::string bucket;
  std::string key;  // as the server echoed it (bytes that are not UTF-8 come back as U+FFFD)
  std::uint32_t partition = 0;
  std::uint32_t n = 0;                 // the bucket's replica count
  std::string owner;                   // the partition's owner
  std::string pending_owner;           // empty: no transfer pending
  std::vector<std::string> primaries;  // the key's replicas, in preference order
  std::vector<std::string> fallbacks;  // the next nodes of the walk (up to n)
  std::string json;
};

// One version in a node's own copy of a key: the write's dot (actor, counter) and its value.
struct LocalSibling {
  std::string actor;  // a 64-bit actor id in decimal
  std::uint64_t counter = 0;
  std::int64_t timestamp_ms = 0;
  bool tombstone = false;
  std::string value;  // bytes (empty for a tombstone)
};
// A stored object: its causal history (actor -> highest counter seen) and its siblings.
struct LocalObject {
  std::vector<std::pair<std::string, std::uint64_t>> clock;
  std::vector<LocalSibling> siblings;
};
// One node's own copy of a key, read from its storage alone: no other node is asked and
// nothing is repaired (GET /v1/cluster/local/{bucket}/{key}).
struct LocalCopyResult {
  std::string node;  // the answering node's id
  std::uint32_t partition = 0;
  bool holds_replica = false;         // it is a primary of the key (or receives its partition)
  std::optional<LocalObject> object;  // its replica copy; nullopt: none
  std::optional<LocalObject> hint;    // a copy it keeps for unreachable primaries; nullopt: none
  std::vector<std::string> hint_targets;  // the primaries the hint is still owed to
  std::string json;
};

// A finished backup of one node (POST /v1/cluster/backup): a consistent copy of its data in a
// directory on the node's machine (docs/operations.md "Backup and restore").
struct BackupResult {
  std::string directory;
  std::string node;  // the backed-up node's id
  std::string cluster_name;
  std::uint64_t ring_version = 0;
  std::uint64_t bytes = 0;
  std::uint64_t files = 0;
  std::uint64_t milliseconds = 0;  // how long the node took
  std::string json;
};

// A node's background budget (POST /v1/cluster/background; docs/operations.md "Background
// work"): every shard's share added up.
struct BackgroundSetting {
  std::uint64_t bytes_per_second = 0;  // 0: unlimited
  bool paused = false;
  std::uint32_t shards = 1;
  std::string json;
};

class Client {
 public:
  // Fails with kInvalidArgument for a malformed endpoint and kTlsError for an unreadable
  // CA file. Does not connect.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A missing or deleted key is a success with found == false. kInvalidArgument for an
  // option that is not a quorum setting (see above).
  Result<GetResult> Get(std::string_view bucket, std::string_view key,
                        const GetOptions& options = {});
  Result<WriteResult> Put(std::string_view bucket, std::string_view key, std::string_view value,
                          const PutOptions& options = {});
  // Deleting a missing key succeeds. Both: kInvalidArgument for an option that is not a
  // quorum setting, or for both `durable_write` and `dw`.
  Result<WriteResult> Delete(std::string_view bucket, std::string_view key,
                             const DeleteOptions& options = {});

  // The same operations on the bucket "default".
  Result<GetResult> Get(std::string_view key) { return Get(kDefaultBucket, key); }
  Result<WriteResult> Put(std::string_view key, std::string_view value,
                          const PutOptions& options = {}) {
    return Put(kDefaultBucket, key, value, options);
  }
  Result<WriteResult> Delete(std::string_view key, const DeleteOptions& options = {}) {
    return Delete(kDefaultBucket, key, options);
  }

  Result<BucketProps> GetBucketProps(std::string_view bucket);
  // Returns the bucket's full properties after the change. kInvalidArgument for a quorum
  // setting that is not one, quorum, all or a number.
  Result<BucketProps> SetBucketProps(std::string_view bucket, const BucketPropsUpdate& update);
  // GET /v1/buckets: the buckets whose properties were set, in name order, limited to those
  // this client's user may read (plus the buckets it is limited to, with the defaults).
  Result<std::vector<BucketListing>> ListBuckets();

  // Succeeds when the server answers GET /health with 200.
  Result<void> Health();

  // Cluster administration. Requests to a node started without a peer address (standalone)
  // other than ClusterStatus/ClusterRing fail with kBadRequest (server code
  // "invalid_argument"); an unknown member gives kNotFound.
  // With `reports`, every member reachable from the node adds its report (transfers, hints,
  // disk, request rates; ClusterMember::report), which costs the node one message per member
  // and up to a second of waiting for a silent one.
  Result<ClusterStatusResult> ClusterStatus(bool reports = true);
  // With `partitions`, ClusterRingResult::partitions lists every partition's owner.
  Result<ClusterRingResult> ClusterRing(bool partitions = false);
  // Makes the server's node join the cluster the seeds ("host:port" peer addresses) belong
  // to. kInvalidArgument without seeds. Never re-sent automatically.
  Result<ClusterAdminResult> ClusterJoin(const std::vector<std::string>& seeds);
  // Starts moving the member's partitions away; it is removed once it owns none.
  // An empty `node` means the server's own node.
  Result<ClusterAdminResult> ClusterLeave(std::string_view node = {});
  // Marks a (dead) member removed at once; its partitions are reassigned. kInvalidArgument
  // for an empty `node`.
  Result<ClusterAdminResult> ClusterRemove(std::string_view node);
  // Changes a member's weight (its share of partitions). kInvalidArgument for an empty
  // `node` or weight 0.
  Result<ClusterAdminResult> ClusterSetWeight(std::string_view node, std::uint32_t weight);
  // Admin inspection of one key (read-only). ClusterLocate: its partition, owner, primaries and
  // fallbacks in the server's view. ClusterLocal: the server's own stored copy of it (replica
  // copy and hint), without asking any other node. kInvalidArgument for a bad bucket name or
  // an empty key.
  Result<KeyLocation> ClusterLocate(std::string_view bucket, std::string_view key);
  Result<LocalCopyResult> ClusterLocal(std::string_view bucket, std::string_view key);
  // Makes the server write a backup of its own node into `directory`, an absolute path on
  // the server's machine that must not exist yet (kBadRequest otherwise). Needs the admin
  // role. A large node takes a while: give the client a long enough timeout. Not re-sent.
  Result<BackupResult> Backup(std::string_view directory);
  // Changes the server's node's background budget until it restarts: a new byte rate for the
  // whole node (0: unlimited), and/or paused (no new background work starts) or resumed;
  // neither reads the setting. Needs the admin role.
  Result<BackgroundSetting> ClusterBackground(std::optional<std::uint64_t> bytes_per_second,
                                              std::optional<bool> paused);

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  // POST /v1/cluster/<endpoint> with a JSON body; a 200 {"message"} reply is the result.
  Result<ClusterAdminResult> SendClusterAdmin(std::string_view endpoint, std::string body,
                                              bool idempotent);
  std::unique_ptr<Impl> impl_;
};

// How many connections an AsyncClient keeps, and how deep it pipelines.
struct PoolOptions {
  // Persistent keep-alive connections to the endpoint, each opened when first needed; a
  // request waits for a free connection when all are busy. At least 1.
  std::uint32_t connections = 16;
  // Requests in flight on one connection (HTTP/1.1 pipelining: sent back to back, replies in
  // order). 1 = no pipelining: a request goes only to a connection with nothing in flight.
  std::uint32_t pipeline_depth = 1;
};

// AsyncClient: the object operations of Client (Get, Put, Delete) without blocking, over a
// pool of keep-alive connections, driven by one Boost.Asio event loop.
//
// Every call returns at once; its callback runs later, exactly once, on the thread running
// the loop, with the same results and errors as the blocking call (never inside the call
// itself, not even for kInvalidArgument). ClientOptions mean what they mean for Client;
// timeout_ms bounds connecting plus the exchange, counted from when a connection takes the
// request (time spent waiting for a free connection is not counted).
//
// Thread-safety: NOT thread-safe. Make every call, and run the loop, on one thread. For
// several threads use one AsyncClient (and loop) per thread.
//
// Connection reuse and re-sending follow Client's rules: a connection idle for a second or
// more is checked before reuse; when a reused connection breaks before a request's reply
// began, idempotent requests (Get, Delete) and requests not yet handed to the socket are
// re-sent once on a fresh connection; a Put that may have reached the server is never
// re-sent. When a connection breaks or times out, every request in flight on it fails
// (pipelined requests share their connection's fate).
//
// Destroying the client closes its connections and drops the callbacks of pending requests
// without calling them. Do not destroy it from inside one of its callbacks.
class AsyncClient {
 public:
  using GetCallback = std::function<void(Result<GetResult>)>;
  using WriteCallback = std::function<void(Result<WriteResult>)>;

  // A client with an event loop of its own, run by Run(). Fails as Client::Create does, and
  // with kInvalidArgument for zero connections or pipeline depth. Does not connect.
  static Result<std::unique_ptr<AsyncClient>> Create(ClientOptions options, PoolOptions pool = {});
  // A client on the caller's event loop, which must outlive it; callbacks run on the thread
  // running `loop`, and the calls must be made on that thread too.
  static Result<std::unique_ptr<AsyncClient>> Create(boost::asio::io_context& loop,
                                                     ClientOptions options, PoolOptions pool = {});

  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // As Client::Get / Put / Delete; the arguments are copied before the call returns.
  void Get(std::string_view bucket, std::string_view key, const GetOptions& options,
           GetCallback done);
  void Put(std::string_view bucket, std::string_view key, std::string_view value,
           const PutOptions& options, WriteCallback done);
  void Delete(std::string_view bucket, std::string_view key, const DeleteOptions& options,
              WriteCallback done);

  // Requests whose callbacks have not run yet.
  std::size_t Pending() const;
  // Runs the event loop on this thread until no request is pending (callbacks may issue
  // more requests; those are waited for too).
  void Run();

 private:
  class Impl;
  explicit AsyncClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::client
