// "strong-cluster": real nodes serve a strong bucket (docs/design/strong.md) to a few clients
// that read, put, compare-and-set and delete three hot keys through random live nodes while the
// Nemesis crashes and restarts nodes (losing unsynced writes), partitions the network (two-way
// splits, one-way cuts, isolation), drops message bursts and skews clocks. Membership stays fixed:
// ring changes under strong traffic need the fencing protocol that is not built yet. Checked:
//   * gets return one value at most; compare-and-set (If-Match on the version the client last
//     saw, If-None-Match) answers 412 when its condition does not hold;
//   * every operation's outcome goes into a history (a write whose node crashed or that failed
//     with anything but a refusal before it was applied counts as unknown) that the
//     linearizability checker (sim/linearizability.h) must accept;
//   * after the heal, every client completes operations again (liveness).
#include <fmt/format.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/assert.h"
#include "sim/cluster_scenarios.h"
#include "sim/linearizability.h"
#include "sim/nemesis.h"
#include "sim/strong_protocol_sim.h"

namespace meridian::sim {
namespace {

constexpr std::uint64_t kClientTimeoutMs = 10'000;
constexpr std::uint32_t kClients = 4;
constexpr std::uint32_t kKeys = 3;
const char* const kBucket = "strong";

class StrongClients {
 public:
  StrongClients(Simulation& simulation, std::uint64_t end_ms)
      : simulation_(simulation),
        random_(simulation.DeriveRandom("strong-clients")),
        end_ms_(end_ms) {}

  void Start() {
    for (std::uint32_t client = 0; client < kClients; ++client) Next(client);
  }
  // Clients keep issuing operations until this time.
  void ExtendTo(std::uint64_t end_ms) {
    end_ms_ = end_ms;
    for (std::uint32_t client = 0; client < kClients; ++client) {
      if (!busy_[client]) Next(client);
    }
  }

  void OnReply(const std::string& address, node::ClientReply reply) {
    (void)address;
    const auto it = pending_.find(reply.id);
    if (it == pending_.end()) return;  // answered after the client gave up: already unknown
    const Pending pending = it->second;
    pending_.erase(it);
    Operation& op = history_[pending.index];
    const std::uint64_t took_ms = simulation_.now_ms() - pending.called_ms;
    latency_ms_total_ += took_ms;
    latency_ms_max_ = std::max(latency_ms_max_, took_ms);
    ++answered_;
    op.return_time = ++clock_;
    if (!pending.knew_strong) {
      // Served by a node that had not heard that the bucket is strong (a joiner before gossip
      // reached it): served as eventual, outside the strong register. A documented limitation
      // (docs/api.md): not an observation of the register, and a write may or may not exist.
      op.outcome = op.kind == OpKind::kRead ? OpOutcome::kFailed : OpOutcome::kUnknown;
      ++failed_;
      seen_.erase({pending.client, op.key});
    } else if (reply.status.ok()) {
      op.outcome = OpOutcome::kOk;
      ++ok_;
      if (simulation_.now_ms() > healed_ms_) ++ok_after_heal_[pending.client];
      Seen& seen = seen_[{pending.client, op.key}];
      if (op.kind == OpKind::kRead) {
        const auto& get = std::get<node::GetReply>(reply.body);
        if (get.values.size() > 1) {
          simulation_.Fail(fmt::format("a strong get returned {} values", get.values.size()));
        }
        if (get.found && !get.values.empty()) op.observed = get.values[0].value;
        seen = Seen{op.observed, get.context};
      } else {
        const auto& write = std::get<node::WriteReply>(reply.body);
        op.succeeded = true;
        seen = Seen{op.kind == OpKind::kDelete ? std::nullopt : op.value, write.context};
      }
    } else if (reply.status.code() == StatusCode::kFailedPrecondition && op.kind == OpKind::kCas) {
      op.outcome = OpOutcome::kOk;  // refused: the condition did not hold
      op.succeeded = false;
      ++ok_;
      ++refused_;
      if (simulation_.now_ms() > healed_ms_) ++ok_after_heal_[pending.client];
      seen_.erase({pending.client, op.key});
    } else if (reply.status.code() == StatusCode::kInvalidArgument ||
               reply.status.code() == StatusCode::kInternal) {
      simulation_.Fail("a strong request failed: " + reply.status.ToString());
    } else {
      // Unavailable or Timeout: a write may still have been applied (a forwarded write's
      // coordinator may have proposed it before the answer was lost).
      op.outcome = op.kind == OpKind::kRead ? OpOutcome::kFailed : OpOutcome::kUnknown;
      ++failed_;
      seen_.erase({pending.client, op.key});
    }
    busy_[pending.client] = false;
    ScheduleNext(pending.client);
  }

  void MarkHealed() { healed_ms_ = simulation_.now_ms(); }
  bool AllRecovered() const {
    for (std::uint32_t client = 0; client < kClients; ++client) {
      const auto it = ok_after_heal_.find(client);
      if (it == ok_after_heal_.end() || it->second < 3) return false;
    }
    return true;
  }
  bool Idle() const { return pending_.empty(); }
  const std::vector<Operation>& history() const { return history_; }
  std::string Summary() const {
    return fmt::format(
        "{} operations, {} ok (of which {} refused conditional writes), {} failed or unknown, {} "
        "lost with a node",
        history_.size(), ok_, refused_, failed_, lost_);
  }

 private:
  struct Pending {
    std::uint32_t client = 0;
    std::size_t index = 0;
    std::uint64_t called_ms = 0;
    // The node asked knew the bucket is strong (a node that just joined may not have heard
    // yet: it serves the bucket as eventual, and refuses a strong context with a 400).
    bool knew_strong = true;
  };
  // What a client last saw of a key: the value (nullopt: absent) and its context.
  struct Seen {
    std::optional<std::string> value;
    std::string context;
  };

  void ScheduleNext(std::uint32_t client) {
    simulation_.Schedule(simulation_.now_ms() + random_.Uniform(20), "strong-client",
                         [this, client] { Next(client); });
  }

  void Next(std::uint32_t client) {
    if (busy_[client] || simulation_.now_ms() >= end_ms_) return;
    const std::vector<std::string> live = simulation_.live_addresses();
    if (live.empty()) {
      ScheduleNext(client);
      return;
    }
    const std::string address = live[random_.Uniform(live.size())];
    Operation op;
    op.id = history_.size() + 1;
    op.client = client;
    op.key = fmt::format("k{}", random_.Uniform(kKeys));
    const ObjectId id{kBucket, op.key};
    node::ClientRequest request;
    const std::uint64_t pick = random_.Uniform(100);
    if (pick < 40) {
      op.kind = OpKind::kRead;
      request = node::GetRequest{id, {}};
    } else if (pick < 65) {
      op.kind = OpKind::kWrite;
      op.value = fmt::format("c{}-{}", client, op.id);
      request = node::PutRequest{id, *op.value, "", {}};
    } else if (pick < 88) {
      // Compare-and-set: on the version this client last saw, or create-only.
      op.kind = OpKind::kCas;
      op.value = fmt::format("c{}-{}", client, op.id);
      node::PutRequest put{id, *op.value, "", {}};
      const auto seen = seen_.find({client, op.key});
      if (seen != seen_.end() && seen->second.value) {
        put.condition = node::WriteCondition::kIfMatch;
        put.context = seen->second.context;
        op.expected = seen->second.value;
      } else {
        put.condition = node::WriteCondition::kIfAbsent;
      }
      request = std::move(put);
    } else {
      op.kind = OpKind::kDelete;
      request = node::DeleteRequest{id, "", {}};
    }
    op.call_time = ++clock_;
    op.outcome = OpOutcome::kUnknown;
    const std::size_t index = history_.size();
    history_.push_back(std::move(op));
    const node::RequestId request_id = next_request_id_++;
    const NodeProcess* target = NodeAt(simulation_, address);
    const cluster::BucketPropsRecord* props =
        target == nullptr ? nullptr : target->node().cluster_state().FindBucketProps(kBucket);
    const bool knew_strong = props != nullptr && props->props.consistency == Consistency::kStrong;
    pending_[request_id] = Pending{client, index, simulation_.now_ms(), knew_strong};
    busy_[client] = true;
    const bool submitted = simulation_.Invoke(address, "strong", [&](Process& process) {
      static_cast<NodeProcess&>(process).Submit(request_id, std::move(request));
    });
    MERIDIAN_CHECK(submitted);
    simulation_.Schedule(simulation_.now_ms() + kClientTimeoutMs, "strong-client-timeout",
                         [this, request_id] {
                           const auto it = pending_.find(request_id);
                           if (it == pending_.end()) return;
                           // No answer (its node crashed): unknown for a write; the checker
                           // ignores a failed read.
                           Operation& lost = history_[it->second.index];
                           if (lost.kind == OpKind::kRead) lost.outcome = OpOutcome::kFailed;
                           lost.return_time = ++clock_;
                           ++lost_;
                           const std::uint32_t client = it->second.client;
                           pending_.erase(it);
                           busy_[client] = false;
                           Next(client);
                         });
  }

  Simulation& simulation_;
  SeededRandom random_;
  std::uint64_t end_ms_;
  std::uint64_t healed_ms_ = ~std::uint64_t{0};
  std::vector<Operation> history_;
  std::map<node::RequestId, Pending> pending_;
  std::map<std::uint32_t, bool> busy_;
  std::map<std::uint32_t, std::uint64_t> ok_after_heal_;
  std::map<std::pair<std::uint32_t, std::string>, Seen> seen_;
  std::uint64_t refused_ = 0;
  node::RequestId next_request_id_ = 1;
  std::uint64_t clock_ = 0;
  std::uint64_t ok_ = 0;
  std::uint64_t failed_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t answered_ = 0;
  std::uint64_t latency_ms_total_ = 0;
  std::uint64_t latency_ms_max_ = 0;

 public:
  std::uint64_t latency_ms_mean() const {
    return answered_ == 0 ? 0 : latency_ms_total_ / answered_;
  }
  std::uint64_t latency_ms_max() const { return latency_ms_max_; }
};

bool EveryNodeKnowsTheBucketIsStrong(Simulation& simulation) {
  for (const std::string& address : simulation.live_addresses()) {
    const NodeProcess* process = NodeAt(simulation, address);
    if (process == nullptr) return false;
    for (std::size_t s = 0; s < process->shard_count(); ++s) {
      const cluster::BucketPropsRecord* record =
          process->shard(s).cluster_state().FindBucketProps(kBucket);
      if (record == nullptr || record->props.consistency != Consistency::kStrong) return false;
    }
  }
  return true;
}

bool StrongConfigurationsSettled(Simulation& simulation) {
  for (const std::string& address : simulation.live_addresses()) {
    const NodeProcess* process = NodeAt(simulation, address);
    if (process == nullptr) return false;
    for (std::size_t s = 0; s < process->shard_count(); ++s) {
      if (process->shard(s).StrongPartitionsUnsettled() != 0) return false;
    }
  }
  return true;
}

bool SomeNodeSeesLeaving(Simulation& simulation, const std::string& leaver) {
  for (const std::string& address : simulation.live_addresses()) {
    const cluster::Member* member =
        NodeAt(simulation, address)->node().cluster_state().FindMember(leaver);
    if (member != nullptr && !cluster::IsActive(member->status)) return true;
  }
  return false;
}

struct StrongClusterVariant {
  bool unsafe_skip_prepare = false;
  bool dueling = false;
  // Ring changes under traffic: a node joins a quarter into the safety phase, another leaves
  // halfway (asked again until some node recorded it) and a third gets three times the
  // weight at three quarters. (Removes are covered end to end: the Nemesis restarts what it
  // finds down, so a node crashed for good needs a scenario of its own.)
  bool membership = false;
  // TEST ONLY: acceptors do not stop serving an epoch being replaced (no fencing).
  bool unfenced = false;
};

ScenarioOutcome RunStrongClusterWith(const ScenarioOptions& options, StrongClusterVariant variant) {
  const bool unsafe_skip_prepare = variant.unsafe_skip_prepare;
  const bool dueling = variant.dueling;
  const std::vector<std::string> all_addresses =
      ScenarioAddresses(options.node_count + (variant.membership ? 1 : 0));
  const std::vector<std::string> addresses(all_addresses.begin(),
                                           all_addresses.begin() + options.node_count);
  ClusterLayout layout;
  layout.bootstrap_address = addresses.front();
  layout.seeds = addresses;
  layout.base = SimNodeConfig();
  layout.base.strong.unsafe_skip_prepare = unsafe_skip_prepare;
  layout.base.strong.unsafe_unfenced = variant.unfenced;
  // Moves take a while, as copying a large partition would: operations meet them mid-way.
  // Few partitions, so that every ring change moves the hot keys' acceptors.
  if (variant.membership) {
    layout.base.strong.move_install_delay_ms = 1'000;
    layout.base.partition_count = 8;
  }
  layout.base.strong.route_writes_to_first_primary = !dueling;
  // Both phase styles are swept: thrifty (the default) with one coordinator per key, every
  // acceptor asked at once in the dueling variant.
  layout.base.strong.thrifty = !dueling;
  layout.base.shard_count = options.shard_count;

  ReplySink sink;
  SimulationConfig config;
  config.seed = options.seed;
  config.tick_interval_ms = layout.base.tick_interval_ms;
  Simulation simulation(config, NodeProcessFactory(layout, &sink));
  StrongClients* clients_ptr = nullptr;
  node::RequestId admin_id = 1'000'000'000;
  bool bucket_set = false;
  sink = [&](const std::string& address, node::ClientReply reply) {
    if (reply.id >= 1'000'000'000) {
      if (reply.id == admin_id && reply.status.ok()) bucket_set = true;
      return;
    }
    if (clients_ptr != nullptr) clients_ptr->OnReply(address, std::move(reply));
  };
  RingInvariants ring_invariants(simulation);
  simulation.AddInvariant("ring", [&] { return ring_invariants.Check(); });

  NemesisConfig nemesis_config;
  nemesis_config.crashed_max = 1;
  Nemesis nemesis(simulation, nemesis_config);

  Status status = FormCluster(simulation, addresses);
  if (status.ok()) {
    // The bucket becomes strong while empty, and every node learns it before traffic starts
    // (until a node hears, it holds the bucket sealed and refuses it: docs/api.md).
    simulation.Invoke(addresses.front(), "bucket", [&](Process& process) {
      static_cast<NodeProcess&>(process).Submit(
          admin_id, node::SetBucketRequest{kBucket, {.consistency = Consistency::kStrong}});
    });
    // ... and every partition's strong configuration has moved from the first node (where
    // the cluster began) to the ring's primaries.
    status = simulation.RunUntil(
        [&] {
          return bucket_set && EveryNodeKnowsTheBucketIsStrong(simulation) &&
                 StrongConfigurationsSettled(simulation);
        },
        simulation.now_ms() + kFormationMsMax);
  }
  if (!status.ok() && !simulation.failure().has_value()) {
    simulation.Fail("setup: " + status.ToString());
  }
  StrongClients clients(simulation, simulation.now_ms() + options.duration_ms);
  clients_ptr = &clients;
  std::vector<std::string> outcome_notes;
  SeededRandom plan_random = simulation.DeriveRandom("plan");
  std::string leaver;

  std::function<void(std::uint64_t, std::uint64_t)> schedule_leave;
  schedule_leave = [&](std::uint64_t at_ms, std::uint64_t end_ms) {
    if (at_ms >= end_ms) return;
    simulation.Schedule(at_ms, "leave", [&, at_ms, end_ms] {
      if (SomeNodeSeesLeaving(simulation, leaver)) return;
      const std::vector<std::string> live = simulation.live_addresses();
      if (!live.empty()) {
        simulation.Invoke(live[plan_random.Uniform(live.size())], "leave", [&](Process& process) {
          static_cast<NodeProcess&>(process).Submit(admin_id + 1,
                                                    node::ClusterLeaveRequest{leaver});
        });
      }
      schedule_leave(at_ms + 1'000, end_ms);
    });
  };
  auto moves_started = [&] {
    std::uint64_t started = 0;
    for (const std::string& address : simulation.live_addresses()) {
      if (const NodeProcess* process = NodeAt(simulation, address)) {
        for (std::size_t s = 0; s < process->shard_count(); ++s) {
          started += process->shard(s).Stats().strong_moves_started;
        }
      }
    }
    return started;
  };
  const std::uint64_t moves_before_traffic = moves_started();
  if (status.ok()) {
    clients.Start();
    // Power cuts between a coordinator's early requests and its own acceptor's sync.
    simulation.SetMidInputCrashes(5'000, simulation.now_ms() + options.duration_ms, 800);
    if (variant.membership) {
      const std::string joiner = all_addresses.back();
      leaver = addresses[1 + plan_random.Uniform(addresses.size() - 1)];
      const std::uint64_t start_ms = simulation.now_ms();
      simulation.Schedule(start_ms + options.duration_ms / 4, "join", [&, joiner] {
        const Status added = simulation.AddProcess(joiner);
        if (!added.ok()) {
          simulation.Fail(fmt::format("{} did not start: {}", joiner, added.ToString()));
        }
      });
      schedule_leave(start_ms + options.duration_ms / 2, start_ms + options.duration_ms);
      // A weight change moves ownership widely: many partitions' acceptors change at once.
      std::string heavier = addresses[plan_random.Uniform(addresses.size())];
      if (heavier == leaver) heavier = addresses.front();
      simulation.Schedule(start_ms + options.duration_ms * 3 / 4, "weight", [&, heavier] {
        const std::vector<std::string> live = simulation.live_addresses();
        if (live.empty()) return;
        simulation.Invoke(live[plan_random.Uniform(live.size())], "weight", [&](Process& process) {
          static_cast<NodeProcess&>(process).Submit(admin_id + 2,
                                                    node::ClusterSetWeightRequest{heavier, 3});
        });
      });
    }
    status = nemesis.RunSafetyPhase(options.duration_ms);
  }
  if (status.ok() && !leaver.empty()) {
    schedule_leave(simulation.now_ms(), simulation.now_ms() + options.liveness_ms_max);
  }
  if (status.ok()) status = nemesis.HealEverything();
  if (status.ok()) {
    clients.MarkHealed();
    clients.ExtendTo(simulation.now_ms() + options.liveness_ms_max);
    status = simulation.RunUntil([&] { return clients.AllRecovered(); },
                                 simulation.now_ms() + options.liveness_ms_max);
    if (!status.ok() && !simulation.failure().has_value()) {
      simulation.Fail("liveness: clients did not complete operations after the heal; " +
                      clients.Summary());
    }
  }
  if (status.ok()) {
    clients.ExtendTo(simulation.now_ms());  // no new operations
    status = simulation.RunUntil([&] { return clients.Idle(); },
                                 simulation.now_ms() + kClientTimeoutMs + 1'000);
  }
  if (status.ok() && variant.membership && !variant.unfenced) {
    // Membership changes finish: the cluster converges on the new members and every
    // partition's strong configuration reaches the ring's primaries.
    ExpectedMembers expected;
    for (const std::string& address : all_addresses) {
      expected[address] =
          address == leaver ? cluster::MemberStatus::kRemoved : cluster::MemberStatus::kUp;
    }
    const std::uint64_t heal_ms = simulation.now_ms();
    std::optional<std::uint64_t> converged_ms;
    status = simulation.RunUntil(
        [&] {
          if (!CheckClusterConverged(simulation, expected).ok()) return false;
          if (!converged_ms) converged_ms = simulation.now_ms();
          return StrongConfigurationsSettled(simulation);
        },
        heal_ms + options.liveness_ms_max);
    if (status.ok()) {
      outcome_notes.push_back(fmt::format(
          "membership converged {} ms and strong configurations settled {} ms after the "
          "liveness phase",
          *converged_ms - heal_ms, simulation.now_ms() - heal_ms));
    }
    if (!status.ok() && !simulation.failure().has_value()) {
      const Status converged = CheckClusterConverged(simulation, expected);
      simulation.Fail("after the heal the membership changes did not finish: " +
                      (converged.ok() ? std::string("strong configurations still moving")
                                      : converged.ToString()));
    }
  }
  CheckResult check;
  if (status.ok() && !simulation.failure().has_value()) {
    check = CheckLinearizable(clients.history());
    if (check.verdict != Verdict::kLinearizable) simulation.Fail(check.explanation);
  }
  ScenarioOutcome outcome = OutcomeOf(simulation);
  outcome.fault_log = nemesis.log();
  outcome.fault_log.push_back("summary: " + clients.Summary());
  for (const std::string& note : outcome_notes) outcome.fault_log.push_back(note);
  outcome.fault_log.push_back("mid-input crashes (early requests out, own sync lost): " +
                              std::to_string(simulation.mid_input_crashes()));
  outcome.metrics["history_ops"] = clients.history().size();
  outcome.metrics["answer_ms_mean"] = clients.latency_ms_mean();
  outcome.metrics["answer_ms_max"] = clients.latency_ms_max();
  std::uint64_t one_rt = 0;
  std::uint64_t operations = 0;
  std::uint64_t moves = 0;
  std::uint64_t moves_failed = 0;
  std::uint64_t restarted = 0;
  std::uint64_t refused_moved = 0;
  std::uint64_t refused_not_ready = 0;
  std::uint64_t refused_not_member = 0;
  for (const std::string& address : simulation.live_addresses()) {
    const NodeProcess* process = NodeAt(simulation, address);
    for (std::size_t s = 0; process != nullptr && s < process->shard_count(); ++s) {
      const node::NodeStats stats = process->shard(s).Stats();
      one_rt += stats.strong_one_round_trip;
      operations += stats.strong_operations;
      moves += stats.strong_moves_succeeded;
      moves_failed += stats.strong_moves_failed;
      restarted += stats.strong_operations_restarted;
      refused_moved += stats.strong_refused_moved;
      refused_not_ready += stats.strong_refused_not_ready;
      refused_not_member += stats.strong_refused_not_member;
    }
  }
  outcome.metrics["strong_moves_succeeded"] = moves;
  outcome.metrics["strong_moves_started_under_traffic"] = moves_started() - moves_before_traffic;
  outcome.metrics["strong_moves_failed"] = moves_failed;
  outcome.metrics["strong_operations_restarted"] = restarted;
  outcome.metrics["strong_refused_moved"] = refused_moved;
  outcome.metrics["strong_refused_not_ready"] = refused_not_ready;
  outcome.metrics["strong_refused_not_member"] = refused_not_member;
  outcome.metrics["strong_operations"] = operations;
  outcome.metrics["mid_input_crashes"] = simulation.mid_input_crashes();
  outcome.metrics["strong_one_round_trip"] = one_rt;
  return outcome;
}

}  // namespace

void RegisterStrongClusterScenarios(ScenarioRegistry& registry) {
  registry.Add("strong-cluster",
               "a strong bucket on real nodes: clients read, put and delete hot keys under "
               "crashes, partitions, loss and clock skew; linearizability checked",
               [](const ScenarioOptions& options) { return RunStrongClusterWith(options, {}); });
  registry.Add("strong-cluster-dueling",
               "strong-cluster with every primary coordinating the writes it receives, so "
               "coordinators contend for the keys' ballots",
               [](const ScenarioOptions& options) {
                 return RunStrongClusterWith(options, {.dueling = true});
               });
  registry.Add("strong-cluster-membership",
               "strong-cluster while a node joins, another leaves and a third changes weight "
               "under the traffic and the faults: the keys' acceptors move",
               [](const ScenarioOptions& options) {
                 return RunStrongClusterWith(options, {.membership = true});
               });
  registry.Add("strong-cluster-shards", "strong-cluster with every node split into two shards",
               [](const ScenarioOptions& options) {
                 ScenarioOptions sharded = options;
                 sharded.shard_count = 2;
                 return RunStrongClusterWith(sharded, {});
               });
  registry.Add("strong-cluster-membership-shards",
               "strong-cluster-membership with every node split into two shards",
               [](const ScenarioOptions& options) {
                 ScenarioOptions sharded = options;
                 sharded.shard_count = 2;
                 return RunStrongClusterWith(sharded, {.membership = true});
               });
  registry.Add("strong-cluster-membership-unfenced",
               "strong-cluster-membership with acceptors that keep serving an epoch a move is "
               "replacing (no fencing: a deliberately broken protocol; expected to fail)",
               [](const ScenarioOptions& options) {
                 return RunStrongClusterWith(
                     options, {.dueling = true, .membership = true, .unfenced = true});
               });
  registry.Add("strong-cluster-unsafe-skip-prepare",
               "strong-cluster-dueling with writes skipping phase 1 (a deliberately broken "
               "protocol; expected to fail)",
               [](const ScenarioOptions& options) {
                 return RunStrongClusterWith(options,
                                             {.unsafe_skip_prepare = true, .dueling = true});
               });
}

}  // namespace meridian::sim
