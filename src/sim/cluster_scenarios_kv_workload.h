// KvWorkload: the client side of the KV scenarios (cluster-kv, replication-strict,
// divergent-versions) — it sends requests through random live nodes, matches every reply to
// its request, records the history (KvHistory) and checks each read against it — plus the
// end-of-run steps they share: settling after the heal, final reads with r = all, and the
// replica convergence check. See docs/design/simulator.md ("Cluster scenarios").
//
// Two ways to drive it:
//   * ScheduleOperations: one logical client issuing random puts (unique values), deletes and
//     gets every 5..50 ms, keeping the latest token per key (blind writes 1 time in
//     blind_put_one_in);
//   * StartClients: `count` read-modify-write clients, each looping get -> put with the get's
//     token -> think time, on keys drawn from a Zipf-like distribution.
// A request whose node crashes never gets a reply: clients notice it after a client timeout
// and carry on; at the end ResolveLostRequests counts such writes as unconfirmed.
// Single-threaded, like the simulator.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/client_request.h"
#include "sim/cluster_scenarios_kv_history.h"
#include "sim/scenario.h"
#include "sim/seeded_random.h"
#include "sim/simulation.h"

namespace meridian::sim {

struct KvWorkloadConfig {
  std::string bucket = "sim";
  std::vector<std::string> keys;
  node::RequestOptions read_options;   // run reads (final reads use r = all)
  node::RequestOptions write_options;  // puts and deletes
  // Write replies must say durable (the writes ask for dw >= 1).
  bool require_durable = false;
  // Reads are checked with KvHistory's strict checks (a strict-quorum bucket).
  bool strict = false;
  // The bucket's conflict policy is lww: reads are checked with KvHistory's lww rules.
  bool lww = false;
  // ScheduleOperations: a put with a token is blind (no context) one time in this many.
  std::uint32_t blind_put_one_in = 8;
  // ScheduleOperations issues gets (35 % of operations); false: puts and deletes only, so no
  // read repair ever runs during the run.
  bool reads = true;
  // CheckReplicasConverged counts an object that is all tombstones as absent and compares
  // objects without their superseded single-use clock entries: the nodes reap tombstones and
  // prune those entries (SimNodeConfig), so replicas may differ only in how far reaping got.
  bool tombstone_equals_absent = true;
  std::uint32_t shard_count = 1;  // of every node (the checkers read their storage directly)
  std::map<std::string, std::uint32_t> shard_counts;  // per address, where not shard_count
  std::uint32_t ShardsOf(const std::string& address) const {
    auto found = shard_counts.find(address);
    return found == shard_counts.end() ? shard_count : found->second;
  }
};

struct KvCounters {
  std::uint64_t acknowledged = 0;  // writes
  std::uint64_t reads = 0;         // successful reads during the run
  std::uint64_t write_failures = 0;
  std::uint64_t read_failures = 0;
  std::uint64_t unavailable = 0;
  std::uint64_t timeout = 0;
  std::uint64_t lost_with_node = 0;  // no reply: the node crashed
  // Live siblings returned by the successful run reads: 0 (not found), 1, 2, 3, 4 or more.
  std::array<std::uint64_t, 5> versions{};
};

class KvWorkload {
 public:
  KvWorkload(Simulation& simulation, KvWorkloadConfig config);

  void OnReply(const std::string& address, node::ClientReply reply);
  // Random operations on random live nodes until end_ms.
  void ScheduleOperations(std::uint64_t end_ms);
  // Now: a delete of every key the random-operations client has a token for (so there are
  // tombstones to reap), each through a random live node.
  void DeleteEveryKey();
  // Now: a get of every key with r = all through a random live node; its token becomes the
  // random-operations client's (so DeleteEveryKey afterwards covers every value read).
  void ReadEveryKey();
  // `count` read-modify-write clients until end_ms (see above).
  void StartClients(std::uint32_t count, std::uint64_t end_ms, std::uint64_t think_ms_min,
                    std::uint64_t think_ms_max);
  // An administrative request (leave, bucket properties) through a random live node; its reply
  // only has to be Ok, Unavailable or Timeout.
  void SubmitAdmin(node::ClientRequest request);
  // Ok once the last SubmitAdmin was answered with Ok.
  bool admin_succeeded() const { return admin_succeeded_; }

  // Requests that can still be answered (their node has not crashed since), or a client's put
  // about to be sent.
  bool AnyAnswerable() const;
  // Requests whose node crashed: unconfirmed writes.
  void ResolveLostRequests();
  // One get per key through a random live node, with r = all; every one must succeed.
  void SubmitFinalReads();
  bool FinalReadsDone() const { return final_values_.size() == config_.keys.size(); }

  const KvWorkloadConfig& config() const { return config_; }
  const KvHistory& history() const { return history_; }
  const std::map<std::string, std::vector<std::string>>& final_values() const {
    return final_values_;
  }
  const KvCounters& counters() const { return counters_; }

 private:
  enum class Op { kGet, kPut, kDelete, kAdmin };
  struct Token {
    std::string context;
    KvHistory::ValueSet covered;
  };
  struct Pending {
    Op op = Op::kGet;
    std::string key;
    std::string value;              // a put's value
    KvHistory::ValueSet covered;    // what the write's token covers
    KvHistory::Step read_sent = 0;  // a get's step
    std::string address;            // submitted there
    std::uint64_t incarnation = 0;  // the node's simulator incarnation at submission
    bool final_read = false;
    std::optional<std::uint32_t> client;  // a read-modify-write client's request
  };

  void RunOneOperation();
  // A read-modify-write client's next get (now), or its put after a get.
  void ClientGet(std::uint32_t client);
  void ClientNext(std::uint32_t client);
  void WatchClientRequest(node::RequestId id);
  const std::string& ZipfKey();
  void Submit(const std::string& address, Pending request, node::ClientRequest body);
  node::RequestId SubmitTo(const std::string& address, Pending request, node::ClientRequest body);
  void Finish(node::RequestId id, const Pending& request);

  Simulation& simulation_;
  KvWorkloadConfig config_;
  SeededRandom random_;
  std::vector<std::uint64_t> zipf_cumulative_;  // integer weights ~ 1/(rank + 1)
  KvHistory history_;
  std::map<std::string, Token> tokens_;  // the random-operations client's tokens
  struct Client {
    std::uint64_t end_ms = 0;
    std::uint64_t think_ms_min = 0;
    std::uint64_t think_ms_max = 0;
    std::uint64_t next_value = 1;
  };
  std::vector<Client> clients_;
  std::uint64_t client_puts_scheduled_ = 0;  // a get answered, its put not yet sent
  std::map<node::RequestId, Pending> pending_;
  std::map<std::string, std::vector<std::string>> final_values_;
  node::RequestId next_request_id_ = 1;
  std::uint64_t next_value_ = 1;
  bool admin_succeeded_ = false;
  KvCounters counters_;
};

// Every live node's background replication is idle: hints_pending, transfers and
// copies_queued are 0. Otherwise Unavailable naming the first busy node and its numbers.
Status CheckReplicationIdle(Simulation& simulation);

// The end of a KV scenario after Nemesis::HealEverything: waits (up to liveness_ms_max) until
// the network is whole again (SimNetwork::Whole: no connection still stalled by a partition),
// `converged` is Ok, no request is answerable and replication is idle; then sends the final
// reads, waits for them and for their read repair to land (no coordinator left, replication
// idle, then 2.5 s for repair messages in flight), and checks KvHistory::CheckFinal on every
// key and CheckReplicasConverged. Records the first failure in the simulation; returns it.
Status FinishKvRun(Simulation& simulation, KvWorkload& workload,
                   const std::function<Status()>& converged, std::uint64_t liveness_ms_max);

// After the heal, with no client read at all (so no read repair): waits until the workload's
// requests are answered, replication is idle and CheckReplicasConverged holds — what hinted
// handoff and anti-entropy achieve alone — and returns how long that took; a failure (recorded
// in the simulation) past bound_ms.
Result<std::uint64_t> AwaitConvergenceWithoutReads(Simulation& simulation, KvWorkload& workload,
                                                   std::uint64_t bound_ms);

// Applies `patch` to the workload's bucket (a bucket change through a random live node; run
// it before any fault) and runs until every live node knows it, within within_ms. Records a
// failure in the simulation; returns it.
Status SetWorkloadBucketProps(Simulation& simulation, KvWorkload& workload,
                              const BucketPropsPatch& patch, std::uint64_t within_ms);
// The workload bucket as `options` ask (bucket_n, lww), or nothing when they ask for the
// defaults. The workload must have been configured with the same `lww`.
Status SetWorkloadBucketFromOptions(Simulation& simulation, KvWorkload& workload,
                                    const ScenarioOptions& options);

// Replica convergence, read from the engines: for every workload key, every primary (of the
// final ring of the first live node, for the bucket's n) holds the same object (decoded and
// compared as DvvSets; all or none hold one; with tombstone_equals_absent, all-tombstone
// objects count as absent and superseded single-use entries are left out); no node holds an object
// it is not one of the primaries of (for the n of the object's bucket) in its objects column; no
// hint record is left.
Status CheckReplicasConverged(Simulation& simulation, const KvWorkloadConfig& config);

// "W writes acknowledged, F failed; R reads ok, ..." for a summary line.
std::string KvCountersText(const KvCounters& counters);

// "versions seen by R reads: 0:a 1:b 2:c 3:d 4+:e (1 version: p%)".
std::string VersionHistogramText(const KvCounters& counters);

}  // namespace meridian::sim
