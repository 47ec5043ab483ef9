#include "sim/cluster_scenarios_kv_workload.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <utility>

#include "cluster/preference_list.h"
#include "core/assert.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "sim/cluster_scenarios.h"
#include "sim/namespaced_engine.h"
#include "storage/key_encoding.h"

namespace meridian::sim {
namespace {

constexpr std::uint64_t kOpGapMsMin = 5;
constexpr std::uint64_t kOpGapMsMax = 50;
// A client gives up on a request whose node crashed (no reply can come) after this long; a
// live node always answers within its forward/request timeouts (5 s).
constexpr std::uint64_t kClientTimeoutMs = 10'000;
constexpr std::uint64_t kFinalReadMsMax = 10'000;
constexpr std::uint64_t kRepairMsMax = 10'000;
// Read repair is sent when a read's coordinator has every reply; a message arrives within the
// network's latency cap (2 s).
constexpr std::uint64_t kRepairLandMs = 2'500;

bool Retryable(StatusCode code) {
  return code == StatusCode::kUnavailable || code == StatusCode::kTimeout;
}

std::string Describe(const std::optional<DvvSet>& object) {
  if (!object) return "nothing";
  std::vector<std::string> siblings;
  for (const Sibling& sibling : object->siblings()) {
    siblings.push_back(sibling.tombstone ? std::string("<tombstone>") : sibling.value);
  }
  return fmt::format("[{}] clock {}", fmt::join(siblings, ","), object->clock().DebugString());
}

}  // namespace

KvWorkload::KvWorkload(Simulation& simulation, KvWorkloadConfig config)
    : simulation_(simulation),
      config_(std::move(config)),
      random_(simulation.DeriveRandom("workload")) {
  MERIDIAN_CHECK(!config_.keys.empty());
  MERIDIAN_CHECK(config_.blind_put_one_in >= 1);
  std::uint64_t total = 0;
  for (std::size_t rank = 0; rank < config_.keys.size(); ++rank) {
    total += 1'000'000 / (rank + 1);
    zipf_cumulative_.push_back(total);
  }
}

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
  Pending request;
  request.key = config_.keys[random_.Uniform(config_.keys.size())];
  const ObjectId id{config_.bucket, request.key};
  const auto token = tokens_.find(request.key);
  const bool has_token = token != tokens_.end();
  // Half puts, 15 % deletes (of keys with a token), the rest gets; without reads, only writes.
  const std::uint64_t draw = random_.Uniform(config_.reads ? 100 : 65);
  const bool delete_drawn = draw >= 50 && draw < 65 && has_token;
  if (draw < 50 || (!config_.reads && !delete_drawn)) {
    request.op = Op::kPut;
    request.value = fmt::format("v{}", next_value_++);
    // Mostly a causal overwrite; sometimes a blind write, which makes siblings.
    const bool blind = !has_token || random_.Uniform(config_.blind_put_one_in) == 0;
    std::string context;
    if (!blind) {
      context = token->second.context;
      request.covered = token->second.covered;
    }
    node::PutRequest put{id, request.value, std::move(context), config_.write_options};
    Submit(address, std::move(request), std::move(put));
    return;
  }
  if (delete_drawn) {
    request.op = Op::kDelete;
    request.covered = token->second.covered;
    node::DeleteRequest erase{id, token->second.context, config_.write_options};
    Submit(address, std::move(request), std::move(erase));
    return;
  }
  request.op = Op::kGet;
  Submit(address, std::move(request), node::GetRequest{id, config_.read_options});
}

void KvWorkload::DeleteEveryKey() {
  const std::vector<std::string> live = simulation_.live_addresses();
  if (live.empty()) return;
  for (const std::string& key : config_.keys) {
    const auto token = tokens_.find(key);
    if (token == tokens_.end()) continue;
    Pending request;
    request.op = Op::kDelete;
    request.key = key;
    request.covered = token->second.covered;
    node::DeleteRequest erase{ObjectId{config_.bucket, key}, token->second.context,
                              config_.write_options};
    Submit(live[random_.Uniform(live.size())], std::move(request), std::move(erase));
  }
}

void KvWorkload::ReadEveryKey() {
  const std::vector<std::string> live = simulation_.live_addresses();
  if (live.empty()) return;
  node::RequestOptions options = config_.read_options;
  options.r = QuorumValue::All();
  for (const std::string& key : config_.keys) {
    Pending request;
    request.op = Op::kGet;
    request.key = key;
    Submit(live[random_.Uniform(live.size())], std::move(request),
           node::GetRequest{ObjectId{config_.bucket, key}, options});
  }
}

void KvWorkload::StartClients(std::uint32_t count, std::uint64_t end_ms, std::uint64_t think_ms_min,
                              std::uint64_t think_ms_max) {
  for (std::uint32_t index = 0; index < count; ++index) {
    const auto client = static_cast<std::uint32_t>(clients_.size());
    clients_.push_back(Client{end_ms, think_ms_min, think_ms_max, 1});
    ClientNext(client);  // staggered starts
  }
}

void KvWorkload::ClientNext(std::uint32_t client) {
  const Client& state = clients_.at(client);
  const std::uint64_t at_ms =
      simulation_.now_ms() + UniformBetween(random_, state.think_ms_min, state.think_ms_max);
  if (at_ms >= state.end_ms) return;
  simulation_.Schedule(at_ms, "kv-client", [this, client] { ClientGet(client); });
}

void KvWorkload::ClientGet(std::uint32_t client) {
  const std::vector<std::string> live = simulation_.live_addresses();
  if (live.empty()) {
    ClientNext(client);
    return;
  }
  Pending request;
  request.op = Op::kGet;
  request.key = ZipfKey();
  request.client = client;
  const ObjectId id{config_.bucket, request.key};
  const node::RequestId submitted = SubmitTo(live[random_.Uniform(live.size())], std::move(request),
                                             node::GetRequest{id, config_.read_options});
  WatchClientRequest(submitted);
}

void KvWorkload::WatchClientRequest(node::RequestId id) {
  simulation_.Schedule(simulation_.now_ms() + kClientTimeoutMs, "kv-client-timeout", [this, id] {
    const auto it = pending_.find(id);
    if (it == pending_.end()) return;  // answered
    const Pending& request = it->second;
    if (simulation_.IsUp(request.address) &&
        simulation_.IncarnationOf(request.address) == request.incarnation) {
      WatchClientRequest(id);  // its node still owes the reply
      return;
    }
    const std::uint32_t client = *request.client;
    Finish(id, request);
    pending_.erase(it);
    ClientNext(client);
  });
}

const std::string& KvWorkload::ZipfKey() {
  const std::uint64_t draw = random_.Uniform(zipf_cumulative_.back());
  const auto it = std::upper_bound(zipf_cumulative_.begin(), zipf_cumulative_.end(), draw);
  return config_.keys[static_cast<std::size_t>(it - zipf_cumulative_.begin())];
}

void KvWorkload::SubmitAdmin(node::ClientRequest request) {
  const std::vector<std::string> live = simulation_.live_addresses();
  if (live.empty()) return;
  admin_succeeded_ = false;
  Pending pending;
  pending.op = Op::kAdmin;
  Submit(live[random_.Uniform(live.size())], std::move(pending), std::move(request));
}

void KvWorkload::SubmitFinalReads() {
  const std::vector<std::string> live = simulation_.live_addresses();
  MERIDIAN_CHECK(!live.empty());
  node::RequestOptions options = config_.read_options;
  options.r = QuorumValue::All();

  for (const std::string& key : config_.keys) {
    Pending request;
    request.op = Op::kGet;
    request.key = key;
    request.final_read = true;
    Submit(live[random_.Uniform(live.size())], std::move(request),
           node::GetRequest{ObjectId{config_.bucket, key}, options});
  }
}

void KvWorkload::Submit(const std::string& address, Pending request, node::ClientRequest body) {
  SubmitTo(address, std::move(request), std::move(body));
}

node::RequestId KvWorkload::SubmitTo(const std::string& address, Pending request,
                                     node::ClientRequest body) {
  if (request.op == Op::kPut || request.op == Op::kDelete) {
    history_.OnWriteSent(request.key, request.value, request.covered);
  } else if (request.op == Op::kGet) {
    request.read_sent = history_.OnReadSent(request.key);
  }
  const node::RequestId id = next_request_id_++;
  request.address = address;
  request.incarnation = simulation_.IncarnationOf(address);
  pending_.emplace(id, std::move(request));
  const bool submitted = simulation_.Invoke(address, "kv", [&](Process& process) {
    static_cast<NodeProcess&>(process).Submit(id, std::move(body));
  });
  MERIDIAN_CHECK(submitted);  // callers pick live nodes
  return id;
}

bool KvWorkload::AnyAnswerable() const {
  if (client_puts_scheduled_ != 0) return true;
  for (const auto& [id, request] : pending_) {
    if (simulation_.IsUp(request.address) &&
        simulation_.IncarnationOf(request.address) == request.incarnation) {
      return true;
    }
  }
  return false;
}

void KvWorkload::Finish(node::RequestId id, const Pending& request) {
  (void)id;
  ++counters_.lost_with_node;
  if (request.op == Op::kPut || request.op == Op::kDelete) {
    history_.OnWriteUnconfirmed(request.key, request.covered);
  }
}

void KvWorkload::ResolveLostRequests() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    const Pending& request = it->second;
    if (simulation_.IsUp(request.address) &&
        simulation_.IncarnationOf(request.address) == request.incarnation) {
      ++it;
      continue;
    }
    Finish(it->first, request);
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
  const Pending request = std::move(it->second);
  pending_.erase(it);
  if (request.address != address) {
    simulation_.Fail(fmt::format("request {} was sent to {} but {} answered it", reply.id,
                                 request.address, address));
    return;
  }
  // A client's next step runs as its own event (not inside the node's reply).
  const auto next = [this, &request] {
    if (!request.client) return;
    const std::uint32_t client = *request.client;
    simulation_.Schedule(simulation_.now_ms(), "kv-client", [this, client] { ClientNext(client); });
  };
  const bool write = request.op == Op::kPut || request.op == Op::kDelete;
  if (!reply.status.ok()) {
    const StatusCode code = reply.status.code();
    // A node that has not heard of a member yet (a joiner cut off right after joining) answers
    // an admin request about it NotFound; the scenario asks again (ScheduleLeave).
    const bool admin_retryable = request.op == Op::kAdmin && code == StatusCode::kNotFound;
    if (request.final_read || (!Retryable(code) && !admin_retryable)) {
      simulation_.Fail(fmt::format("{} request on key {} at {} failed: {}",
                                   request.final_read ? "final read" : "a", request.key, address,
                                   reply.status.ToString()));
      return;
    }
    if (request.op == Op::kAdmin) return;
    ++(code == StatusCode::kUnavailable ? counters_.unavailable : counters_.timeout);
    ++(write ? counters_.write_failures : counters_.read_failures);
    if (write) history_.OnWriteUnconfirmed(request.key, request.covered);
    next();
    return;
  }
  switch (request.op) {
    case Op::kAdmin:
      admin_succeeded_ = true;
      return;
    case Op::kGet: {
      const auto& get = std::get<node::GetReply>(reply.body);
      std::vector<std::string> values;
      for (const node::SiblingValue& sibling : get.values) values.push_back(sibling.value);
      if (const Status read = history_.CheckRead(request.key, values, request.read_sent,
                                                 config_.strict, config_.lww);
          !read.ok()) {
        simulation_.Fail(fmt::format("{}{} (read at {})", request.final_read ? "final read: " : "",
                                     read.message(), address));
        return;
      }
      if (request.final_read) {
        final_values_[request.key] = values;
        return;
      }
      ++counters_.reads;
      ++counters_.versions[std::min<std::size_t>(values.size(), counters_.versions.size() - 1)];
      if (!request.client) {
        if (!get.context.empty()) {
          tokens_[request.key] = Token{get.context, {values.begin(), values.end()}};
        }
        return;
      }
      // Read-modify-write: put a new value with the get's token, through a random node, as
      // its own event (counted as in flight until then); a client stops at its end time.
      const std::uint32_t client = *request.client;
      std::string key = request.key;
      std::string context = get.context;
      KvHistory::ValueSet covered(values.begin(), values.end());
      ++client_puts_scheduled_;
      simulation_.Schedule(simulation_.now_ms(), "kv-client",
                           [this, client, key = std::move(key), context = std::move(context),
                            covered = std::move(covered)]() mutable {
                             --client_puts_scheduled_;
                             const std::vector<std::string> live = simulation_.live_addresses();
                             if (simulation_.now_ms() >= clients_.at(client).end_ms) return;
                             if (live.empty()) {
                               ClientNext(client);
                               return;
                             }
                             Pending put;
                             put.op = Op::kPut;
                             put.key = key;
                             put.value =
                                 fmt::format("c{}-{}", client, clients_.at(client).next_value++);
                             put.covered = std::move(covered);
                             put.client = client;
                             node::PutRequest body{ObjectId{config_.bucket, key}, put.value,
                                                   std::move(context), config_.write_options};
                             WatchClientRequest(SubmitTo(live[random_.Uniform(live.size())],
                                                         std::move(put), std::move(body)));
                           });
      return;
    }
    case Op::kPut:
    case Op::kDelete: {
      const auto& written = std::get<node::WriteReply>(reply.body);
      if (config_.require_durable && !written.durable) {
        simulation_.Fail(fmt::format("a dw>=1 write on key {} at {} was acknowledged not durable",
                                     request.key, address));
        return;
      }
      ++counters_.acknowledged;
      history_.OnWriteAcknowledged(request.key, request.value, request.covered);
      if (!request.client) {
        if (written.context.empty()) {
          tokens_.erase(request.key);  // the client must read before its next causal write
        } else {
          Token token{written.context, request.covered};
          if (!request.value.empty()) token.covered.insert(request.value);
          tokens_[request.key] = std::move(token);
        }
      }
      next();
      return;
    }
  }
}

Status CheckReplicationIdle(Simulation& simulation) {
  for (const std::string& address : simulation.live_addresses()) {
    const NodeProcess* process = NodeAt(simulation, address);
    if (process == nullptr) continue;
    if (!process->ViewsCurrent()) {
      return Status::Unavailable(address + "'s followers have not yet applied its shell's view");
    }
    for (std::size_t s = 0; s < process->shard_count(); ++s) {
      const node::NodeStats stats = process->shard(s).Stats();
      if (stats.hints_pending != 0 || stats.transfers != 0 || stats.copies_queued != 0) {
        return Status::Unavailable(fmt::format(
            "{} (shard {}) is still replicating: hints_pending={} transfers={} copies_queued={}",
            address, s, stats.hints_pending, stats.transfers, stats.copies_queued));
      }
    }
  }
  return Status::Ok();
}

namespace {

Status CoordinatorsIdle(Simulation& simulation) {
  for (const std::string& address : simulation.live_addresses()) {
    const NodeProcess* process = NodeAt(simulation, address);
    if (process == nullptr) continue;
    std::uint64_t coordinators = 0;
    for (std::size_t s = 0; s < process->shard_count(); ++s) {
      coordinators += process->shard(s).Stats().coordinators;
    }
    if (coordinators != 0) {
      return Status::Unavailable(
          fmt::format("{} still coordinates {} request(s)", address, coordinators));
    }
  }
  return CheckReplicationIdle(simulation);
}

}  // namespace

Status FinishKvRun(Simulation& simulation, KvWorkload& workload,
                   const std::function<Status()>& converged, std::uint64_t liveness_ms_max) {
  const auto fail = [&simulation](std::string message) {
    if (!simulation.failure().has_value()) simulation.Fail(message);
    return Status::Internal(simulation.failure()->ToString());
  };
  const auto settled = [&]() -> Status {
    // A message sent on a connection the partition stalled is lost (the simulated TCP drops
    // it); the final reads start once every connection carries messages again.
    if (!simulation.network().Whole(simulation.now_ms())) {
      return Status::Unavailable("a connection stalled by the partition has not recovered yet");
    }
    MERIDIAN_RETURN_IF_ERROR(converged());
    if (workload.AnyAnswerable()) return Status::Unavailable("requests are still unanswered");
    return CheckReplicationIdle(simulation);
  };
  const std::uint64_t heal_ms = simulation.now_ms();
  Status status = simulation.RunUntil([&] { return settled().ok(); }, heal_ms + liveness_ms_max);
  if (simulation.failure().has_value()) return status;
  if (!status.ok()) {
    return fail(fmt::format("liveness: not settled within {} ms of the heal: {}", liveness_ms_max,
                            settled().message()));
  }

  workload.ResolveLostRequests();
  workload.SubmitFinalReads();
  status = simulation.RunUntil([&] { return workload.FinalReadsDone(); },
                               simulation.now_ms() + kFinalReadMsMax);
  if (simulation.failure().has_value()) return status;
  if (!status.ok()) return fail("final reads did not complete: " + status.ToString());
  status = simulation.RunUntil([&] { return CoordinatorsIdle(simulation).ok(); },
                               simulation.now_ms() + kRepairMsMax);
  if (simulation.failure().has_value()) return status;
  if (!status.ok()) {
    return fail("liveness: read repair after the final reads did not finish: " +
                CoordinatorsIdle(simulation).message());
  }
  status = simulation.RunFor(kRepairLandMs);
  if (simulation.failure().has_value()) return status;

  for (const auto& [key, values] : workload.final_values()) {
    if (const Status checked = workload.history().CheckFinal(key, values, workload.config().lww);
        !checked.ok()) {
      return fail(checked.message());
    }
  }
  if (const Status replicas = CheckReplicasConverged(simulation, workload.config());
      !replicas.ok()) {
    return fail(replicas.message());
  }
  return Status::Ok();
}

Result<std::uint64_t> AwaitConvergenceWithoutReads(Simulation& simulation, KvWorkload& workload,
                                                   std::uint64_t bound_ms) {
  const auto converged = [&]() -> Status {
    if (workload.AnyAnswerable()) return Status::Unavailable("requests are still unanswered");
    MERIDIAN_RETURN_IF_ERROR(CheckReplicationIdle(simulation));
    return CheckReplicasConverged(simulation, workload.config());
  };
  const std::uint64_t heal_ms = simulation.now_ms();
  const Status status = simulation.RunUntil([&] { return converged().ok(); }, heal_ms + bound_ms);
  if (simulation.failure().has_value()) return status;
  if (!status.ok()) {
    const std::string message =
        fmt::format("anti-entropy: replicas not converged {} ms after the heal without reads: {}",
                    bound_ms, converged().message());
    simulation.Fail(message);
    return Status::Internal(message);
  }
  return simulation.now_ms() - heal_ms;
}

Status CheckReplicasConverged(Simulation& simulation, const KvWorkloadConfig& config) {
  const std::vector<std::string> live = simulation.live_addresses();
  if (live.empty()) return Status::Internal("no node is up");
  const cluster::ClusterState& state = NodeAt(simulation, live.front())->node().cluster_state();
  const cluster::Ring& ring = state.ring();
  const cluster::ZoneOf zone_of = [&state](const cluster::NodeId& node) {
    const cluster::Member* member = state.FindMember(node);
    return member == nullptr ? std::string() : member->zone;
  };
  const cluster::BucketPropsRecord* record = state.FindBucketProps(config.bucket);
  const std::uint32_t n = record != nullptr ? record->props.n : BucketProps{}.n;

  for (const std::string& key : config.keys) {
    const std::uint32_t partition =
        PartitionOf(ObjectHash(config.bucket, key), ring.partition_count());
    const std::string storage_key = storage::EncodeObjectKey(partition, config.bucket, key);
    const std::vector<cluster::NodeId> primaries =
        cluster::ComputePrimaries(ring, zone_of, partition, n);
    std::optional<DvvSet> first;
    for (std::size_t index = 0; index < primaries.size(); ++index) {
      auto stored = StoredData(simulation.EngineOf(primaries[index]), ring.partition_count(),
                               config.ShardsOf(primaries[index]))
                        .Get(storage::Column::kObjects, storage_key);
      if (!stored.ok()) return stored.status();
      std::optional<DvvSet> object;
      if (stored->has_value()) {
        auto decoded = DecodeObject(**stored);
        if (!decoded.ok()) {
          return Status::Internal(fmt::format("key {}: {}'s copy does not decode: {}", key,
                                              primaries[index], decoded.status().ToString()));
        }
        object = std::move(decoded).value();
        // With reaping on, a primary that applied a committed round holds nothing where one
        // that has not yet (its commit is queued behind the budget, or was lost and a later
        // round repeats it) still holds the tombstone: the same state for every read.
        if (config.tombstone_equals_absent && object->IsDeleted()) object.reset();
        // Likewise a primary that applied a committed prune lacks the superseded single-use
        // entries one that has not yet still holds (the same siblings: the same reads; that no
        // late copy of their writes comes back is the history checker's part).
        if (config.tombstone_equals_absent && object.has_value()) object->PruneSingleUse();
      }
      if (index == 0) {
        first = std::move(object);
      } else if (object != first) {
        return Status::Internal(fmt::format(
            "key {} (partition {}): replicas differ after the final read repair: {} holds {}, "
            "{} holds {}",
            key, partition, primaries.front(), Describe(first), primaries[index],
            Describe(object)));
      }
    }
  }

  // Per (partition, n): a key lives on its own primaries only, also when other buckets have
  // more replicas.
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<cluster::NodeId>> primaries_of;
  for (const std::string& address : simulation.addresses()) {
    Status found = Status::Ok();
    StoredData stored(simulation.EngineOf(address), ring.partition_count(),
                      config.ShardsOf(address));
    MERIDIAN_RETURN_IF_ERROR(
        stored.Scan(storage::Column::kObjects, [&](std::string_view key, std::string_view) {
          auto decoded = storage::DecodeObjectKey(key);
          if (!decoded.ok()) {
            found = Status::Internal(fmt::format("{} holds a malformed object key", address));
            return false;
          }
          const cluster::BucketPropsRecord* bucket = state.FindBucketProps(decoded->id.bucket);
          const std::uint32_t key_n = bucket != nullptr ? bucket->props.n : BucketProps{}.n;
          auto [it, inserted] = primaries_of.try_emplace({decoded->partition, key_n});
          if (inserted) {
            it->second = cluster::ComputePrimaries(ring, zone_of, decoded->partition, key_n);
          }
          if (std::find(it->second.begin(), it->second.end(), address) == it->second.end()) {
            found = Status::Internal(fmt::format(
                "{} holds {}/{} (partition {}) but is not one of its n = {} primaries [{}] "
                "(replication idle)",
                address, decoded->id.bucket, decoded->id.key, decoded->partition, key_n,
                fmt::join(it->second, ",")));
            return false;
          }
          return true;
        }));
    MERIDIAN_RETURN_IF_ERROR(found);
    MERIDIAN_RETURN_IF_ERROR(
        stored.Scan(storage::Column::kHints, [&](std::string_view key, std::string_view) {
          auto decoded = storage::DecodeObjectKey(key);
          found = Status::Internal(fmt::format(
              "{} still holds a hint record{} (replication idle)", address,
              decoded.ok() ? " for " + decoded->id.bucket + "/" + decoded->id.key : std::string()));
          return false;
        }));
    MERIDIAN_RETURN_IF_ERROR(found);
  }
  return Status::Ok();
}

Status SetWorkloadBucketProps(Simulation& simulation, KvWorkload& workload,
                              const BucketPropsPatch& patch, std::uint64_t within_ms) {
  const Result<BucketProps> props = ApplyBucketPropsPatch(BucketProps{}, patch);
  MERIDIAN_CHECK(props.ok());
  const std::string bucket = workload.config().bucket;
  const auto known_everywhere = [&] {
    for (const std::string& address : simulation.live_addresses()) {
      const cluster::BucketPropsRecord* record =
          NodeAt(simulation, address)->node().cluster_state().FindBucketProps(bucket);
      if (record == nullptr || record->props != *props) return false;
    }
    return true;
  };
  workload.SubmitAdmin(node::SetBucketRequest{bucket, patch});
  const Status status =
      simulation.RunUntil([&] { return workload.admin_succeeded() && known_everywhere(); },
                          simulation.now_ms() + within_ms);
  if (!status.ok() && !simulation.failure().has_value()) {
    simulation.Fail(fmt::format("bucket {}'s properties did not reach every node", bucket));
  }
  return status;
}

Status SetWorkloadBucketFromOptions(Simulation& simulation, KvWorkload& workload,
                                    const ScenarioOptions& options) {
  BucketPropsPatch patch;
  if (options.bucket_n != 0) patch.n = options.bucket_n;
  if (options.lww) patch.conflict_policy = ConflictPolicy::kLastWriteWins;
  if (!patch.n && !patch.conflict_policy) return Status::Ok();
  MERIDIAN_CHECK(workload.config().lww == options.lww);
  return SetWorkloadBucketProps(simulation, workload, patch, options.liveness_ms_max);
}

std::string KvCountersText(const KvCounters& counters) {
  return fmt::format(
      "{} writes acknowledged, {} failed; {} reads ok, {} failed ({} unavailable, {} timeout "
      "in all); {} lost with a crashed node",
      counters.acknowledged, counters.write_failures, counters.reads, counters.read_failures,
      counters.unavailable, counters.timeout, counters.lost_with_node);
}

std::string VersionHistogramText(const KvCounters& counters) {
  const auto& v = counters.versions;
  std::uint64_t found = 0;
  for (std::size_t index = 1; index < v.size(); ++index) found += v[index];
  // Integer arithmetic: hundredths of a percent of the reads that found the key.
  const std::uint64_t one = found == 0 ? 0 : v[1] * 10'000 / found;
  return fmt::format(
      "versions seen by {} reads: 0:{} 1:{} 2:{} 3:{} 4+:{} (exactly 1 of the {} that found the "
      "key: {}.{:02}%)",
      counters.reads, v[0], v[1], v[2], v[3], v[4], found, one / 100, one % 100);
}

}  // namespace meridian::sim
