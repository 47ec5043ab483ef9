// "cluster-kv": real nodes serve a KV workload sent through random nodes while one extra node
// joins and one node leaves (ownership moves, handoff runs) and the Nemesis injects the faults
// step 2 (one replica per key) must survive: crashes followed by restarts, message loss
// bursts (reordering comes from random latency) and clock skew. No partitions: with one replica
// a partitioned owner only makes requests fail, and that is covered by cluster-membership.
// Every write uses dw = 1, so an acknowledged write is durable on its owner.
// Checked:
//   * throughout: RingInvariants; every reply matches exactly one request; writes are acknowledged
//     durable; errors are only Unavailable or Timeout (counted); reads return only written values;
//   * after the heal: the cluster converges (the joined node up, the leaver removed, no pending
//     owner) within liveness_ms_max; every request still in flight is answered or lost with its
//     node;
//   * then every key is read through a random node and checked against KvHistory (no
//     acknowledged write lost, nothing resurrected, no phantom or duplicate), and the owner's
//     engine must hold every key that has values (data lives on its owner).
#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "core/assert.h"
#include "core/hash.h"
#include "sim/cluster_scenarios.h"
#include "sim/cluster_scenarios_kv_history.h"
#include "sim/nemesis.h"
#include "storage/key_encoding.h"

namespace meridian::sim {
namespace {

constexpr std::string_view kBucket = "sim";
constexpr std::uint32_t kKeyCount = 24;  // few keys: many writes per key, siblings, overwrites
constexpr std::uint64_t kOpGapMsMin = 5;
constexpr std::uint64_t kOpGapMsMax = 50;
constexpr std::uint64_t kFormationMsMax = 30'000;
constexpr std::uint64_t kFinalReadMsMax = 10'000;
constexpr std::uint64_t kLeaveRetryMs = 1'000;

enum class Op { kGet, kPut, kDelete, kAdmin };

struct Token {
  std::string context;
  KvHistory::ValueSet covered;
};

struct PendingRequest {
  Op op = Op::kGet;
  std::string key;
  std::string value;              // a put's value
  KvHistory::ValueSet covered;    // what the write's token covers
  std::string address;            // submitted there
  std::uint64_t incarnation = 0;  // the node's simulator incarnation at submission
  bool final_read = false;
};

struct Counters {
  std::uint64_t acknowledged = 0;
  std::uint64_t reads = 0;
  std::uint64_t unavailable = 0;
  std::uint64_t timeout = 0;
  std::uint64_t lost_with_node = 0;
};

class KvWorkload {
 public:
  KvWorkload(Simulation& simulation, std::vector<std::string> keys)
      : simulation_(simulation),
        random_(simulation.DeriveRandom("workload")),
        keys_(std::move(keys)) {}

  void OnReply(const std::string& address, node::ClientReply reply);
  // Random operations on random live nodes until end_ms.
  void ScheduleOperations(std::uint64_t end_ms);
  void Leave(const std::string& leaver);
  void SubmitFinalReads();

  // Requests that can still be answered (their node has not crashed since).
  bool AnyAnswerable() const;
  // Requests whose node crashed: unconfirmed writes.
  void ResolveLostRequests();
  bool FinalReadsDone() const { return final_values_.size() == keys_.size(); }

  const KvHistory& history() const { return history_; }
  const std::map<std::string, std::vector<std::string>>& final_values() const {
    return final_values_;
  }
  const Counters& counters() const { return counters_; }

 private:
  void RunOneOperation();
  void Submit(const std::string& address, PendingRequest request, node::ClientRequest body);

  Simulation& simulation_;
  SeededRandom random_;
  std::vector<std::string> keys_;
  KvHistory history_;
  std::map<std::string, Token> tokens_;
  std::map<node::RequestId, PendingRequest> pending_;
  std::map<std::string, std::vector<std::string>> final_values_;
  node::RequestId next_request_id_ = 1;
  std::uint64_t next_value_ = 1;
  Counters counters_;
};

void KvWorkload::ScheduleOperations(std::uint64_t end_ms) {
  const std::uint64_t at_ms =
      simulation_.now_ms() + UniformBetween(random_, kOpGapMsMin, kOpGapMsMax);
  if (at_ms >= end_ms) return;
  simulation_.Schedule(at_ms, "kv-op", [this, end_ms] {
    RunOneOperation();
    ScheduleOperations(end_ms);
  });
}

void KvWorkload::RunOneOperation() {
  const std::vector<std::string> live = simulation_.live_addresses();
  if (live.empty()) return;
  const std::string address = live[random_.Uniform(live.size())];
  PendingRequest request;
  request.key = keys_[random_.Uniform(keys_.size())];
  const ObjectId id{std::string(kBucket), request.key};
  const auto token = tokens_.find(request.key);
  const bool has_token = token != tokens_.end();
  const std::uint64_t draw = random_.Uniform(100);
  if (draw < 50) {
    request.op = Op::kPut;
    request.value = fmt::format("v{}", next_value_++);
    // Mostly a causal overwrite; sometimes a blind write, which makes siblings.
    const bool blind = !has_token || random_.Uniform(8) == 0;
    std::string context;
    if (!blind) {
      context = token->second.context;
      request.covered = token->second.covered;
    }
    history_.OnPutSent(request.key, request.value);
    Submit(address, std::move(request),
           node::PutRequest{id, std::string(), std::move(context),
                            node::RequestOptions{.dw = QuorumValue::Number(1)}});
    return;
  }
  if (draw < 65 && has_token) {
    request.op = Op::kDelete;
    request.covered = token->second.covered;
    Submit(address, std::move(request),
           node::DeleteRequest{id, token->second.context,
                               node::RequestOptions{.dw = QuorumValue::Number(1)}});
    return;
  }
  request.op = Op::kGet;
  Submit(address, std::move(request), node::GetRequest{id});
}

void KvWorkload::Submit(const std::string& address, PendingRequest request,
                        node::ClientRequest body) {
  if (auto* put = std::get_if<node::PutRequest>(&body)) put->value = request.value;
  const node::RequestId id = next_request_id_++;
  request.address = address;
  request.incarnation = simulation_.IncarnationOf(address);
  pending_.emplace(id, std::move(request));
  const bool submitted = simulation_.Invoke(address, "kv", [&](Process& process) {
    static_cast<NodeProcess&>(process).Submit(id, std::move(body));
  });
  MERIDIAN_CHECK(submitted);  // callers pick live nodes
}

void KvWorkload::Leave(const std::string& leaver) {
  const std::vector<std::string> live = simulation_.live_addresses();
  if (live.empty()) return;
  PendingRequest request;
  request.op = Op::kAdmin;
  Submit(live[random_.Uniform(live.size())], std::move(request), node::ClusterLeaveRequest{leaver});
}

void KvWorkload::SubmitFinalReads() {
  const std::vector<std::string> live = simulation_.live_addresses();
  for (const std::string& key : keys_) {
    PendingRequest request;
    request.op = Op::kGet;
    request.key = key;
    request.final_read = true;
    Submit(live[random_.Uniform(live.size())], std::move(request),
           node::GetRequest{ObjectId{std::string(kBucket), key}});
  }
}

bool KvWorkload::AnyAnswerable() const {
  for (const auto& [id, request] : pending_) {
    if (simulation_.IsUp(request.address) &&
        simulation_.IncarnationOf(request.address) == request.incarnation) {
      return true;
    }
  }
  return false;
}

void KvWorkload::ResolveLostRequests() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    const PendingRequest& request = it->second;
    if (simulation_.IsUp(request.address) &&
        simulation_.IncarnationOf(request.address) == request.incarnation) {
      ++it;
      continue;
    }
    ++counters_.lost_with_node;
    if (request.op == Op::kPut || request.op == Op::kDelete) {
      history_.OnWriteUnconfirmed(request.key, request.covered);
    }
    it = pending_.erase(it);
  }
}

void KvWorkload::OnReply(const std::string& address, node::ClientReply reply) {
  const auto it = pending_.find(reply.id);
  if (it == pending_.end()) {
    simulation_.Fail(
        fmt::format("{} answered request {}, which is not waiting for a reply", address, reply.id));
    return;
  }
  const PendingRequest request = std::move(it->second);
  pending_.erase(it);
  if (request.address != address) {
    simulation_.Fail(fmt::format("request {} was sent to {} but {} answered it", reply.id,
                                 request.address, address));
    return;
  }
  const bool write = request.op == Op::kPut || request.op == Op::kDelete;
  if (!reply.status.ok()) {
    const StatusCode code = reply.status.code();
    if (request.final_read || (code != StatusCode::kUnavailable && code != StatusCode::kTimeout)) {
      simulation_.Fail(fmt::format("{} request on key {} at {} failed: {}",
                                   request.final_read ? "final read" : "a", request.key, address,
                                   reply.status.ToString()));
      return;
    }
    ++(code == StatusCode::kUnavailable ? counters_.unavailable : counters_.timeout);
    if (write) history_.OnWriteUnconfirmed(request.key, request.covered);
    return;
  }
  switch (request.op) {
    case Op::kAdmin:
      return;
    case Op::kGet: {
      const auto& get = std::get<node::GetReply>(reply.body);
      std::vector<std::string> values;
      for (const node::SiblingValue& sibling : get.values) values.push_back(sibling.value);
      if (const Status read = history_.CheckRead(request.key, values); !read.ok()) {
        simulation_.Fail(read.message());
        return;
      }
      ++counters_.reads;
      if (request.final_read) final_values_[request.key] = values;
      if (!get.context.empty()) {
        tokens_[request.key] = Token{get.context, {values.begin(), values.end()}};
      }
      return;
    }
    case Op::kPut:
    case Op::kDelete: {
      const auto& written = std::get<node::WriteReply>(reply.body);
      if (!written.durable) {
        simulation_.Fail(fmt::format("a dw=1 write on key {} at {} was acknowledged not durable",
                                     request.key, address));
        return;
      }
      ++counters_.acknowledged;
      history_.OnWriteAcknowledged(request.key, request.value, request.covered);
      if (written.context.empty()) {
        tokens_.erase(request.key);  // the client must read before its next causal write
      } else {
        Token next{written.context, request.covered};
        if (!request.value.empty()) next.covered.insert(request.value);
        tokens_[request.key] = std::move(next);
      }
      return;
    }
  }
}

bool SeesLeaving(Simulation& simulation, const std::string& leaver) {
  for (const std::string& address : simulation.live_addresses()) {
    const cluster::Member* member =
        NodeAt(simulation, address)->node().cluster_state().FindMember(leaver);
    if (member != nullptr && !cluster::IsActive(member->status)) return true;
  }
  return false;
}

// Asks for the leave until some live node has recorded it (the node that accepted it may crash
// before gossiping it), every kLeaveRetryMs until end_ms.
void ScheduleLeave(Simulation& simulation, KvWorkload& workload, const std::string& leaver,
                   std::uint64_t at_ms, std::uint64_t end_ms) {
  if (at_ms >= end_ms) return;
  simulation.Schedule(at_ms, "leave", [&simulation, &workload, leaver, at_ms, end_ms] {
    if (SeesLeaving(simulation, leaver)) return;
    workload.Leave(leaver);
    ScheduleLeave(simulation, workload, leaver, at_ms + kLeaveRetryMs, end_ms);
  });
}

// Every key that has values must be stored on its partition's owner (read from its engine).
Status CheckDataOnOwners(Simulation& simulation, const KvWorkload& workload,
                         std::uint64_t& stray_keys) {
  const std::string reference = simulation.live_addresses().front();
  const cluster::Ring& ring = NodeAt(simulation, reference)->node().cluster_state().ring();
  for (const auto& [key, values] : workload.final_values()) {
    if (values.empty()) continue;
    const std::uint32_t partition = PartitionOf(ObjectHash(kBucket, key), ring.partition_count());
    const cluster::NodeId& owner = ring.Owner(partition);
    auto stored = simulation.EngineOf(owner).Get(storage::Column::kObjects,
                                                 storage::EncodeObjectKey(partition, kBucket, key));
    if (!stored.ok() || !stored->has_value()) {
      return Status::Internal(fmt::format("key {} (partition {}) is not stored on its owner {}",
                                          key, partition, owner));
    }
  }
  // Copies left on nodes that no longer own the partition are counted, not failed: they are
  // garbage (a node that restarts forgets which moved-away partitions it still has to delete),
  // and merging them back later is harmless because newer versions dominate them.
  stray_keys = 0;
  for (const std::string& address : simulation.addresses()) {
    for (std::uint32_t partition = 0; partition < ring.partition_count(); ++partition) {
      if (ring.Owner(partition) == address) continue;
      const storage::KeyRange range = storage::PartitionRange(partition);
      MERIDIAN_RETURN_IF_ERROR(
          simulation.EngineOf(address).Scan(storage::Column::kObjects, range.begin, range.end,
                                            [&](std::string_view, std::string_view) {
                                              ++stray_keys;
                                              return true;
                                            }));
    }
  }
  return Status::Ok();
}

}  // namespace

ScenarioOutcome RunClusterKv(const ScenarioOptions& options) {
  const std::vector<std::string> all_addresses = ScenarioAddresses(options.node_count + 1);
  const std::vector<std::string> addresses(all_addresses.begin(), all_addresses.end() - 1);
  const std::string joiner = all_addresses.back();
  ClusterLayout layout;
  layout.bootstrap_address = addresses.front();
  layout.seeds = addresses;  // joins try each initial node in turn
  layout.base = SimNodeConfig();

  std::vector<std::string> keys;
  for (std::uint32_t index = 0; index < kKeyCount; ++index)
    keys.push_back(fmt::format("k{:02}", index));

  ReplySink sink;  // set below; outlives the simulation's processes
  SimulationConfig config;
  config.seed = options.seed;
  config.tick_interval_ms = layout.base.tick_interval_ms;
  Simulation simulation(config, NodeProcessFactory(layout, &sink));
  KvWorkload workload(simulation, keys);
  sink = [&workload](const std::string& address, node::ClientReply reply) {
    workload.OnReply(address, std::move(reply));
  };
  RingInvariants ring_invariants(simulation);
  simulation.AddInvariant("ring", [&] { return ring_invariants.Check(); });

  NemesisConfig nemesis_config;
  nemesis_config.crashed_max = 1;
  nemesis_config.partition_weight = 0;
  nemesis_config.one_way_partition_weight = 0;
  nemesis_config.isolate_weight = 0;
  nemesis_config.heal_weight = 0;
  Nemesis nemesis(simulation, nemesis_config);

  SeededRandom plan_random = simulation.DeriveRandom("plan");
  const std::string leaver = addresses.size() >= 2
                                 ? addresses[1 + plan_random.Uniform(addresses.size() - 1)]
                                 : std::string();
  ExpectedMembers expected;
  for (const std::string& address : all_addresses) expected[address] = cluster::MemberStatus::kUp;
  if (!leaver.empty()) expected[leaver] = cluster::MemberStatus::kRemoved;
  ExpectedMembers initial;
  for (const std::string& address : addresses) initial[address] = cluster::MemberStatus::kUp;

  Status status = Status::Ok();
  for (const std::string& address : addresses) {
    status = simulation.AddProcess(address);
    if (!status.ok()) break;
  }
  if (status.ok()) {
    status = simulation.RunUntil([&] { return CheckClusterConverged(simulation, initial).ok(); },
                                 simulation.now_ms() + kFormationMsMax);
    if (!status.ok() && !simulation.failure().has_value()) {
      simulation.Fail("formation: " + CheckClusterConverged(simulation, initial).message());
    }
  }
  const std::uint64_t start_ms = simulation.now_ms();
  const std::uint64_t end_ms = start_ms + options.duration_ms;
  if (status.ok()) {
    workload.ScheduleOperations(end_ms);
    simulation.Schedule(start_ms + options.duration_ms / 4, "join", [&] {
      const Status added = simulation.AddProcess(joiner);
      if (!added.ok())
        simulation.Fail(fmt::format("{} did not start: {}", joiner, added.ToString()));
    });
    if (!leaver.empty()) {
      ScheduleLeave(simulation, workload, leaver, start_ms + options.duration_ms / 2, end_ms);
    }
    status = nemesis.RunSafetyPhase(options.duration_ms);
  }
  if (status.ok()) status = nemesis.HealEverything();
  if (status.ok() && !leaver.empty() && !SeesLeaving(simulation, leaver)) workload.Leave(leaver);
  if (status.ok()) {
    auto settled = [&] {
      return !workload.AnyAnswerable() && CheckClusterConverged(simulation, expected).ok();
    };
    status = simulation.RunUntil(settled, simulation.now_ms() + options.liveness_ms_max);
    if (!status.ok() && !simulation.failure().has_value()) {
      simulation.Fail(fmt::format("liveness: not settled within {} ms: {}", options.liveness_ms_max,
                                  workload.AnyAnswerable()
                                      ? std::string("requests are still unanswered")
                                      : CheckClusterConverged(simulation, expected).message()));
    }
  }
  if (status.ok()) {
    workload.ResolveLostRequests();
    workload.SubmitFinalReads();
    status = simulation.RunUntil([&] { return workload.FinalReadsDone(); },
                                 simulation.now_ms() + kFinalReadMsMax);
    if (!status.ok() && !simulation.failure().has_value()) {
      simulation.Fail("final reads did not complete: " + status.ToString());
    }
  }
  std::uint64_t stray_keys = 0;
  if (status.ok()) {
    for (const auto& [key, values] : workload.final_values()) {
      if (const Status checked = workload.history().CheckFinal(key, values); !checked.ok()) {
        simulation.Fail(checked.message());
        break;
      }
    }
  }
  if (status.ok() && !simulation.failure().has_value()) {
    if (const Status placed = CheckDataOnOwners(simulation, workload, stray_keys); !placed.ok()) {
      simulation.Fail(placed.message());
    }
  }
  if (!status.ok() && !simulation.failure().has_value()) simulation.Fail(status.ToString());

  ScenarioOutcome outcome = OutcomeOf(simulation);
  outcome.fault_log = nemesis.log();
  const Counters& counters = workload.counters();
  outcome.fault_log.push_back(fmt::format(
      "summary: joiner {} leaver {}; {} writes acknowledged, {} reads, {} unavailable, {} "
      "timeout, {} lost with a crashed node; {} stray keys on non-owners",
      joiner, leaver, counters.acknowledged, counters.reads, counters.unavailable, counters.timeout,
      counters.lost_with_node, stray_keys));
  return outcome;
}

}  // namespace meridian::sim
