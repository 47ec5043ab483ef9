#include "sim/cluster_scenarios_reaping.h"
#include "sim/namespaced_engine.h"

#include <fmt/format.h>

#include "cluster/ring.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "sim/cluster_scenarios.h"
#include "sim/namespaced_engine.h"
#include "storage/key_encoding.h"

namespace meridian::sim {
namespace {
constexpr std::uint64_t kSampleIntervalMs = 500;
}  // namespace

ReapWatch::ReapWatch(Simulation& simulation, const KvWorkloadConfig& config)
    : simulation_(simulation), config_(config) {
  ScheduleSample();
}

void ReapWatch::ScheduleSample() {
  simulation_.Schedule(simulation_.now_ms() + kSampleIntervalMs, "reap-sample", [this] {
    Sample();
    ScheduleSample();
  });
}

void ReapWatch::Sample() {
  for (const std::string& address : simulation_.live_addresses()) {
    NodeProcess* process = NodeAt(simulation_, address);
    if (process == nullptr) continue;
    const node::NodeStats stats = process->node().Stats();
    seen_[{address, process->node().incarnation()}] = stats.reaping;
  }
}

std::uint64_t ReapWatch::reaped() const {
  std::uint64_t total = 0;
  for (const auto& [node, counts] : seen_) total += counts.tombstones_reaped;
  return total;
}

std::uint64_t ReapWatch::pruned() const {
  std::uint64_t total = 0;
  for (const auto& [node, counts] : seen_) total += counts.objects_pruned;
  return total;
}

std::string ReapWatch::Summary() const {
  replication::ReapCounters sum;
  for (const auto& [node, counts] : seen_) {
    sum.rounds_committed += counts.rounds_committed;
    sum.rounds_timed_out += counts.rounds_timed_out;
    sum.candidates_accepted += counts.candidates_accepted;
    sum.deletes_skipped += counts.deletes_skipped;
    sum.objects_pruned += counts.objects_pruned;
    for (const auto& [why, count] : counts.partitions_refused) sum.partitions_refused[why] += count;
    for (const auto& [why, count] : counts.keys_rejected) sum.keys_rejected[why] += count;
  }
  std::string refused;
  for (const auto& [why, count] : sum.partitions_refused) {
    refused += fmt::format(" {}={}", why, count);
  }
  std::string rejected;
  for (const auto& [why, count] : sum.keys_rejected) rejected += fmt::format(" {}={}", why, count);
  return fmt::format(
      "reaping: {} rounds committed, {} timed out; {} candidates accepted, {} tombstones "
      "reaped, {} objects pruned, {} deletes skipped; partitions refused:{}; candidates "
      "rejected:{}",
      sum.rounds_committed, sum.rounds_timed_out, sum.candidates_accepted, reaped(),
      sum.objects_pruned, sum.deletes_skipped, refused.empty() ? " none" : refused,
      rejected.empty() ? " none" : rejected);
}

std::string ReapWatch::FindInCopies(
    const std::function<std::string(const std::string& address, const std::string& key,
                                    std::uint32_t partition, const DvvSet& object)>& visit) {
  for (const std::string& address : simulation_.live_addresses()) {
    NodeProcess* process = NodeAt(simulation_, address);
    if (process == nullptr) continue;
    const std::uint32_t partitions = process->node().cluster_state().ring().partition_count();
    for (const std::string& key : config_.keys) {
      const std::uint32_t partition = PartitionOf(ObjectHash(config_.bucket, key), partitions);
      const std::string storage_key = storage::EncodeObjectKey(partition, config_.bucket, key);
      auto stored = StoredData(simulation_.EngineOf(address), partitions, config_.ShardsOf(address))
                        .Get(storage::Column::kObjects, storage_key);
      if (!stored.ok() || !stored->has_value()) continue;
      auto object = DecodeObject(**stored);
      if (!object.ok()) continue;
      std::string found = visit(address, key, partition, *object);
      if (!found.empty()) return found;
    }
  }
  return {};
}

std::string ReapWatch::ReapersOf(std::uint32_t partition) {
  std::string why;
  for (const std::string& other : simulation_.live_addresses()) {
    why += fmt::format(" {}:{}", other, NodeAt(simulation_, other)->node().ReapStatus(partition));
  }
  return why;
}

std::string ReapWatch::FindTombstone() {
  return FindInCopies([&](const std::string& address, const std::string& key,
                          std::uint32_t partition, const DvvSet& object) -> std::string {
    if (!object.IsDeleted()) return {};
    return fmt::format("{} still holds the tombstone of {} (partition {}; reapers:{})", address,
                       key, partition, ReapersOf(partition));
  });
}

std::string ReapWatch::FindUnpruned() {
  return FindInCopies([&](const std::string& address, const std::string& key,
                          std::uint32_t partition, const DvvSet& object) -> std::string {
    const std::size_t superseded = object.SupersededSingleUseEntries();
    if (superseded == 0) return {};
    return fmt::format(
        "{}'s copy of {} (partition {}) still holds {} superseded single-use entries "
        "(reapers:{})",
        address, key, partition, superseded, ReapersOf(partition));
  });
}

Status ReapWatch::AwaitNone(const std::function<std::string()>& find, std::string_view what,
                            std::uint64_t bound_ms) {
  Status status =
      simulation_.RunUntil([&] { return find().empty(); }, simulation_.now_ms() + bound_ms);
  Sample();
  if (status.code() == StatusCode::kTimeout) {
    status = Status::Timeout(
        fmt::format("{} left {} ms after the heal: {}; {}", what, bound_ms, find(), Summary()));
    simulation_.Fail(status.message());
  }
  return status;
}

Status ReapWatch::AwaitNoTombstones(std::uint64_t bound_ms) {
  return AwaitNone([&] { return FindTombstone(); }, "reaping: tombstones", bound_ms);
}

Status ReapWatch::AwaitPruned(std::uint64_t bound_ms) {
  return AwaitNone([&] { return FindUnpruned(); }, "pruning: superseded single-use entries",
                   bound_ms);
}

Status ReapWatch::CheckReaped() {
  Sample();
  if (reaped() > 0) return Status::Ok();
  Status status = Status::Internal("reaping: no tombstone was reaped during the run; " + Summary());
  simulation_.Fail(status.message());
  return status;
}

}  // namespace meridian::sim
