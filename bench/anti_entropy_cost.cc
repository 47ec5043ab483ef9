// What active anti-entropy costs (docs/benchmarks.md "Anti-entropy"): two replicas of one
// partition on RocksDB, each with `--keys` objects written through the node's
// engines (SegmentOrderedObjects under WriteObservingEngine, as in production). Measured:
//   * an exchange of replicas in sync: bytes each way, CPU;
//   * an exchange after `--differ` keys changed on one replica: bytes each way, CPU of each
//     side, and that the other replica then holds every changed value.
// Usage: anti_entropy_cost [--keys N] [--differ D] [--dir PATH] [--segment-bits S --branch-bits B]
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>

#include "core/object_codec.h"
#include "core/seeded_random.h"
#include "node/partition_actors.h"
#include "node/write_observing_engine.h"
#include "replication/anti_entropy.h"
#include "replication/background_governor.h"
#include "replication/object_merge.h"
#include "storage/key_encoding.h"
#include "storage/rocksdb_engine.h"
#include "storage/segment_ordered_objects.h"

namespace {

using namespace meridian;

constexpr std::uint32_t kPartition = 0;
constexpr std::uint32_t kPartitions = 1;

std::string Key(std::uint64_t i) {
  return storage::EncodeObjectKey(kPartition, "bench", fmt::format("key-{:010}", i));
}

std::string Encoded(const std::string& value) {
  DvvSet object;
  object.Update({}, 42, HlcTimestamp::FromParts(1, 0), false, value, ConflictPolicy::kSiblings);
  return EncodeObject(object);
}

// A later write superseding Encoded(...) (its context covers it).
std::string Overwritten(const std::string& before, const std::string& value) {
  DvvSet object = *DecodeObject(before);
  object.Update(object.clock(), 42, HlcTimestamp::FromParts(2, 0), false, value,
                ConflictPolicy::kSiblings);
  return EncodeObject(object);
}

double CpuSeconds() {
  return static_cast<double>(std::clock()) / CLOCKS_PER_SEC;
}

struct Replica : node::ObjectChangeObserver {
  Replica(const std::string& path, const replication::AntiEntropyConfig& config,
          std::string address)
      : random(7), actors(kPartitions, &random) {
    storage::RocksDbOptions options;
    options.block_cache_bytes = 64ull << 20;
    auto opened = storage::RocksDbEngine::Open(path, options);
    if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
    rocks = std::move(opened).value();
    ordered = std::make_unique<storage::SegmentOrderedObjects>(*rocks);
    engine = std::make_unique<node::WriteObservingEngine>(*ordered, actors);
    anti_entropy = std::make_unique<replication::AntiEntropy>(
        kPartition, /*replica_count=*/3, replication::AntiEntropy::KeyFilter{}, config, *engine,
        std::move(address), counters, governor);
    engine->SetObserver(this);  // as the node's TreeUpdater: every write updates the tree
  }
  void OnObjectChanged(std::uint32_t, std::string_view key, std::optional<std::uint64_t> old_hash,
                       std::optional<std::uint64_t> new_hash, std::uint32_t) override {
    anti_entropy->OnObjectChanged(key, old_hash, new_hash);
  }
  void Put(const std::string& key, const std::string& encoded) {
    storage::WriteBatch batch;
    batch.Put(storage::Column::kObjects, key, encoded);
    if (!engine->Write(batch, {}).ok()) throw std::runtime_error("write failed");
  }
  void ApplyRepairs() {
    for (auto& [key, encoded] : anti_entropy->TakeRepairs()) {
      auto merged = replication::MergeWithStored(*engine, storage::Column::kObjects, key,
                                                 *DecodeObject(encoded));
      if (merged.ok() && merged->has_value()) Put(key, **merged);
    }
  }

  SplitMix64Random random;
  node::PartitionActors actors;
  std::unique_ptr<storage::RocksDbEngine> rocks;
  std::unique_ptr<storage::SegmentOrderedObjects> ordered;
  std::unique_ptr<node::WriteObservingEngine> engine;
  replication::AntiEntropyCounters counters;
  // Unlimited: the bench measures the work, not the pacing.
  replication::BackgroundGovernor governor{
      replication::BackgroundGovernorConfig{.bytes_per_second = 0, .streams_max = 0}};
  std::unique_ptr<replication::AntiEntropy> anti_entropy;
};

struct ExchangeCost {
  std::size_t bytes_a_to_b = 0;
  std::size_t bytes_b_to_a = 0;
  double cpu_a_s = 0;
  double cpu_b_s = 0;
  int messages = 0;
};

ExchangeCost RunExchange(Replica& a, Replica& b, std::uint64_t& now_ms, std::uint64_t interval_ms) {
  ExchangeCost cost;
  for (int tick = 0; tick < 3 && !a.anti_entropy->exchanging(); ++tick) {
    now_ms += interval_ms;
    const double start = CpuSeconds();
    a.anti_entropy->Tick(now_ms, {"b"});
    cost.cpu_a_s += CpuSeconds() - start;
  }
  for (bool any = true; any;) {
    any = false;
    double start = CpuSeconds();
    auto from_a = a.anti_entropy->TakeOutbound();
    cost.cpu_a_s += CpuSeconds() - start;
    for (auto& out : from_a) {
      cost.bytes_a_to_b += out.message.ByteSizeLong();
      ++cost.messages;
      start = CpuSeconds();
      b.anti_entropy->Receive("a", out.message, now_ms, true);
      b.ApplyRepairs();
      cost.cpu_b_s += CpuSeconds() - start;
      any = true;
    }
    start = CpuSeconds();
    auto from_b = b.anti_entropy->TakeOutbound();
    cost.cpu_b_s += CpuSeconds() - start;
    for (auto& out : from_b) {
      cost.bytes_b_to_a += out.message.ByteSizeLong();
      ++cost.messages;
      start = CpuSeconds();
      a.anti_entropy->Receive("b", out.message, now_ms, true);
      a.ApplyRepairs();
      cost.cpu_a_s += CpuSeconds() - start;
      any = true;
    }
  }
  return cost;
}

void Print(const char* what, const ExchangeCost& cost) {
  fmt::print("{}: {} messages, a->b {} bytes, b->a {} bytes, cpu a {:.1f} ms, cpu b {:.1f} ms\n",
             what, cost.messages, cost.bytes_a_to_b, cost.bytes_b_to_a, cost.cpu_a_s * 1e3,
             cost.cpu_b_s * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t keys = 1'000'000;
  std::uint64_t differ = 100;
  replication::AntiEntropyConfig config;
  std::string dir = (std::filesystem::temp_directory_path() / "meridian-aae-cost").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--keys") keys = std::stoull(argv[i + 1]);
    if (flag == "--differ") differ = std::stoull(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--segment-bits") config.shape.segment_bits = std::stoi(argv[i + 1]);
    if (flag == "--branch-bits") config.shape.branch_bits = std::stoi(argv[i + 1]);
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  Replica a(dir + "/a", config, "a");
  Replica b(dir + "/b", config, "b");

  const auto load_start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < keys; ++i) {
    const std::string encoded = Encoded(fmt::format("value-{:090}", i));
    a.Put(Key(i), encoded);
    b.Put(Key(i), encoded);
  }
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  fmt::print(
      "loaded {} keys of ~100 bytes on each replica in {:.1f} s (shape: {} segments in {} "
      "branches)\n",
      keys, load_s, config.shape.segment_count(), config.shape.branch_count());

  double start = CpuSeconds();
  (void)a.anti_entropy->Tree();
  (void)b.anti_entropy->Tree();
  fmt::print("tree builds from the index: {:.1f} ms cpu for both\n", (CpuSeconds() - start) * 1e3);

  std::uint64_t now_ms = 0;
  Print("in sync", RunExchange(a, b, now_ms, config.exchange_interval_ms));

  std::mt19937_64 rng(1);
  std::vector<std::uint64_t> changed;
  for (std::uint64_t i = 0; i < differ; ++i) {
    const std::uint64_t key = rng() % keys;
    changed.push_back(key);
    const std::string before = *a.engine->Get(storage::Column::kObjects, Key(key)).value();
    a.Put(Key(key), Overwritten(before, "changed-" + std::to_string(i)));
  }
  const ExchangeCost repair = RunExchange(a, b, now_ms, config.exchange_interval_ms);
  Print(fmt::format("{} differing", differ).c_str(), repair);
  std::uint64_t repaired = 0;
  for (std::uint64_t key : changed) {
    auto object = b.engine->Get(storage::Column::kObjects, Key(key));
    if (object.ok() && object->has_value() &&
        DecodeObject(**object)->siblings().front().value.starts_with("changed-")) {
      ++repaired;
    }
  }
  fmt::print("repaired on b: {} of {} changed keys; keys sent a->b {}, b->a {}\n", repaired,
             changed.size(), a.counters.keys_sent, b.counters.keys_sent);
  Print("in sync again", RunExchange(a, b, now_ms, config.exchange_interval_ms));
  std::filesystem::remove_all(dir);
  return repaired == changed.size() ? 0 : 1;
}
