// Micro-benchmarks of the anti-entropy hash trees (storage/tictac_*.h): the cost of keeping a
// tree up to date on every write, its memory, a full exchange between two replicas of a
// 1,000,000-key partition that differ in 100 keys (time and bytes on the wire), and rebuilds.
// Figures: docs/benchmarks.md, "Anti-entropy hash trees".
// Run: build/release/bench/meridian_micro_bench --benchmark_filter=Tictac
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/object_codec.h"
#include "core/seeded_random.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/tictac_codec.h"
#include "storage/tictac_keys.h"
#include "storage/tictac_rebuild.h"
#include "storage/tictac_tree.h"

namespace meridian::storage {
namespace {

constexpr int kPartitionKeys = 1'000'000;
constexpr int kDifferingKeys = 100;
constexpr std::uint32_t kPartition = 7;

std::string KeyFor(int i) {
  return EncodeObjectKey(kPartition, "bench", "user" + std::to_string(1'000'000'000 + i));
}

TictacShape ShapeOf(const benchmark::State& state) {
  return TictacShape{static_cast<int>(state.range(0)), static_cast<int>(state.range(1))};
}

// The shapes compared in docs/design/anti_entropy.md: (segment bits, branch bits).
void Shapes(benchmark::internal::Benchmark* benchmark) {
  benchmark->Args({12, 6})->Args({14, 8})->Args({16, 8})->Args({16, 10})->Args({16, 12});
  benchmark->Args({18, 11});
}

// --- Per write -------------------------------------------------------------------------------

void BM_TictacUpdateOverwrite(benchmark::State& state) {
  TictacTree tree;
  std::vector<std::string> keys;
  for (int i = 0; i < 65536; ++i) keys.push_back(KeyFor(i));
  std::uint64_t version = 1;
  std::size_t i = 0;
  for (auto _ : state) {
    tree.Update(keys[i], version, version + 1);
    ++version;
    i = (i + 1) & 65535;
  }
  benchmark::DoNotOptimize(tree.root());
}
BENCHMARK(BM_TictacUpdateOverwrite);

void BM_TictacUpdateInsert(benchmark::State& state) {
  TictacTree tree;
  std::vector<std::string> keys;
  for (int i = 0; i < 65536; ++i) keys.push_back(KeyFor(i));
  std::uint64_t version = 1;
  std::size_t i = 0;
  for (auto _ : state) {
    tree.Update(keys[i], std::nullopt, version++);
    i = (i + 1) & 65535;
  }
  benchmark::DoNotOptimize(tree.root());
}
BENCHMARK(BM_TictacUpdateInsert);

DvvSet MakeObject(int siblings) {
  DvvSet object;
  for (int i = 0; i < siblings; ++i) {
    object.Update({}, static_cast<ActorId>(i + 1), HlcTimestamp::FromParts(1000 + i, 0), false,
                  std::string(100, 'v'), ConflictPolicy::kSiblings);
  }
  return object;
}

void BM_TictacObjectVersionHash(benchmark::State& state) {
  const DvvSet object = MakeObject(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(ObjectVersionHash(object));
}
BENCHMARK(BM_TictacObjectVersionHash)->Arg(1)->Arg(3);

void BM_TictacEncodedObjectVersionHash(benchmark::State& state) {
  const std::string encoded = EncodeObject(MakeObject(static_cast<int>(state.range(0))));
  for (auto _ : state) benchmark::DoNotOptimize(EncodedObjectVersionHash(encoded));
}
BENCHMARK(BM_TictacEncodedObjectVersionHash)->Arg(1)->Arg(3);

// --- Memory ------------------------------------------------------------------------------------

void BM_TictacTreeMemory(benchmark::State& state) {
  std::size_t bytes = 0;
  for (auto _ : state) {
    TictacTree tree(ShapeOf(state));
    bytes = tree.memory_bytes();
    benchmark::DoNotOptimize(tree.root());
  }
  state.counters["tree_bytes"] = static_cast<double>(bytes);
  state.counters["bytes_256_partitions"] = static_cast<double>(bytes) * 256;
}
BENCHMARK(BM_TictacTreeMemory)->Apply(Shapes);

// --- Two replicas of a 1,000,000-key partition that differ in 100 keys ---------------------------

// One replica: its data as the owner's segment-ordered index would list it, and its tree.
struct Replica {
  std::vector<std::pair<std::uint32_t, KeyVersionHash>> index;  // sorted by (segment, key)
  TictacTree tree;

  Replica(TictacShape shape, const std::map<std::string, std::uint64_t>& data) : tree(shape) {
    index.reserve(data.size());
    for (const auto& [key, hash] : data) {
      tree.Update(key, std::nullopt, hash);
      index.push_back({tree.SegmentOf(key), {key, hash}});
    }
    std::sort(index.begin(), index.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.key < b.second.key;
    });
  }

  std::vector<KeyVersionHash> KeysOf(const std::vector<std::uint32_t>& segments) const {
    std::vector<KeyVersionHash> keys;
    for (std::uint32_t segment : segments) {
      auto it =
          std::lower_bound(index.begin(), index.end(), segment,
                           [](const auto& entry, std::uint32_t s) { return entry.first < s; });
      for (; it != index.end() && it->first == segment; ++it) keys.push_back(it->second);
    }
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return keys;
  }
};

struct ReplicaPair {
  std::unique_ptr<Replica> a;
  std::unique_ptr<Replica> b;
};

struct DivergedData {
  std::map<std::string, std::uint64_t> a;
  std::map<std::string, std::uint64_t> b;
};

// A has 1,000,000 keys; B differs in 100: 50 with another version, 25 missing, 25 extra.
const DivergedData& Data() {
  static const DivergedData data = [] {
    DivergedData diverged;
    SplitMix64Random random(42);
    for (int i = 0; i < kPartitionKeys; ++i) diverged.a[KeyFor(i)] = random.NextU64();
    diverged.b = diverged.a;
    for (int i = 0; i < kDifferingKeys; ++i) {
      const std::string key = KeyFor(static_cast<int>(random.NextU64() % kPartitionKeys));
      if (i < 50) {
        diverged.b[key] = random.NextU64();
      } else if (i < 75) {
        diverged.b.erase(key);
      } else {
        diverged.b[KeyFor(kPartitionKeys + i)] = random.NextU64();
      }
    }
    return diverged;
  }();
  return data;
}

const ReplicaPair& DivergedReplicas(TictacShape shape) {
  static std::map<std::pair<int, int>, ReplicaPair> cache;
  ReplicaPair& pair = cache[{shape.segment_bits, shape.branch_bits}];
  if (!pair.a) {
    pair.a = std::make_unique<Replica>(shape, Data().a);
    pair.b = std::make_unique<Replica>(shape, Data().b);
  }
  return pair;
}

// The whole exchange through the codecs: A sends its branch level; B answers with the segment
// hashes of the dirty branches; A finds the differing segments; B sends their keys and version
// hashes; A diffs them against its own. Counts the bytes each message puts on the wire.
void BM_TictacExchange1M100Differing(benchmark::State& state) {
  const ReplicaPair& replicas = DivergedReplicas(ShapeOf(state));
  const Replica& a = *replicas.a;
  const Replica& b = *replicas.b;
  std::size_t level_bytes = 0, segment_bytes = 0, key_bytes = 0, differing_keys = 0;
  std::size_t dirty_branches = 0, differing_segments = 0;
  for (auto _ : state) {
    const std::string level = EncodeTictacBranchLevel(a.tree.BranchLevel());
    auto dirty = b.tree.DirtyBranches(DecodeTictacBranchLevel(level).value()).value();
    const std::string segments = EncodeTictacSegmentHashes(b.tree.SegmentsOfBranches(dirty));
    auto differing = a.tree.DifferingSegments(DecodeTictacSegmentHashes(segments).value()).value();
    const std::string keys = EncodeTictacKeyHashes(b.KeysOf(differing));
    auto differences =
        DiffSegmentKeys(a.KeysOf(differing), DecodeTictacKeyHashes(keys).value()).value();
    benchmark::DoNotOptimize(differences.data());
    level_bytes = level.size();
    segment_bytes = segments.size();
    key_bytes = keys.size();
    differing_keys = differences.size();
    dirty_branches = dirty.size();
    differing_segments = differing.size();
  }
  state.counters["level_bytes"] = static_cast<double>(level_bytes);
  state.counters["segment_bytes"] = static_cast<double>(segment_bytes);
  state.counters["key_bytes"] = static_cast<double>(key_bytes);
  state.counters["wire_bytes"] = static_cast<double>(level_bytes + segment_bytes + key_bytes);
  state.counters["dirty_branches"] = static_cast<double>(dirty_branches);
  state.counters["differing_segments"] = static_cast<double>(differing_segments);
  state.counters["differing_keys"] = static_cast<double>(differing_keys);
}
BENCHMARK(BM_TictacExchange1M100Differing)->Apply(Shapes)->Unit(benchmark::kMicrosecond);

// The in-memory comparison alone (both trees local): level by level, no encoding.
void BM_TictacCompareTrees1M100Differing(benchmark::State& state) {
  const ReplicaPair& replicas = DivergedReplicas(ShapeOf(state));
  for (auto _ : state)
    benchmark::DoNotOptimize(replicas.a->tree.DifferingSegments(replicas.b->tree));
}
BENCHMARK(BM_TictacCompareTrees1M100Differing)->Args({16, 10})->Unit(benchmark::kMicrosecond);

// An exchange between replicas in sync, sending the branch level: the idle cost per exchange
// (an exchange that compares roots first sends 8 bytes instead and costs next to nothing).
void BM_TictacIdleExchange(benchmark::State& state) {
  const TictacTree& a = DivergedReplicas(ShapeOf(state)).a->tree;
  const TictacTree b = a;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string level = EncodeTictacBranchLevel(a.BranchLevel());
    benchmark::DoNotOptimize(b.DirtyBranches(DecodeTictacBranchLevel(level).value()).value());
    bytes = level.size();
  }
  state.counters["level_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_TictacIdleExchange)->Args({16, 10})->Unit(benchmark::kMicrosecond);

// --- Rebuilds and persistence
// ----------------------------------------------------------------------

void BM_TictacRebuildFromKeyHashes1M(benchmark::State& state) {
  std::vector<KeyVersionHash> pairs;
  SplitMix64Random random(7);
  for (int i = 0; i < kPartitionKeys; ++i) pairs.push_back({KeyFor(i), random.NextU64()});
  for (auto _ : state) {
    TictacTree tree(ShapeOf(state));
    for (const KeyVersionHash& pair : pairs) tree.Update(pair.key, std::nullopt, pair.version_hash);
    benchmark::DoNotOptimize(tree.root());
  }
  state.counters["keys_per_second"] = benchmark::Counter(
      static_cast<double>(kPartitionKeys), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TictacRebuildFromKeyHashes1M)->Args({16, 10})->Unit(benchmark::kMillisecond);

// From stored objects (one sibling of 100 bytes each) in a MemoryEngine: scan, decode, hash.
// The engine is built once and kept for the life of the process.
void BM_TictacRebuildFromStoredObjects1M(benchmark::State& state) {
  static MemoryEngine* engine = [] {
    auto* memory = new MemoryEngine();
    const std::string value = EncodeObject(MakeObject(1));
    WriteBatch batch;
    for (int i = 0; i < kPartitionKeys; ++i) {
      batch.Put(Column::kObjects, KeyFor(i), value);
      if (batch.ops.size() == 10000) {
        if (!memory->Write(batch, WriteOptions{}).ok()) std::abort();
        batch = WriteBatch{};
      }
    }
    if (!memory->Write(batch, WriteOptions{}).ok()) std::abort();
    return memory;
  }();
  for (auto _ : state) {
    benchmark::DoNotOptimize(RebuildTictacTree(ShapeOf(state), *engine, kPartition).value().root());
  }
  state.counters["keys_per_second"] = benchmark::Counter(
      static_cast<double>(kPartitionKeys), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TictacRebuildFromStoredObjects1M)->Args({16, 10})->Unit(benchmark::kMillisecond);

void BM_TictacEncodeDecodeTree(benchmark::State& state) {
  const TictacTree& tree = DivergedReplicas(ShapeOf(state)).a->tree;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string encoded = EncodeTictacTree(tree);
    benchmark::DoNotOptimize(DecodeTictacTree(encoded).value().root());
    bytes = encoded.size();
  }
  state.counters["tree_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_TictacEncodeDecodeTree)->Args({16, 10})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace meridian::storage
