// Micro-benchmarks of the storage engines: point put (unsynced and synced) and get of
// 100-byte values under partition-prefixed keys.
// Run: build/release/bench/meridian_micro_bench --benchmark_filter=Engine
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>

#include <unistd.h>

#include "core/hash.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/rocksdb_engine.h"

namespace meridian::storage {
namespace {

constexpr int kKeySpace = 100000;

std::string KeyFor(int i) {
  const std::string key = "key" + std::to_string(i);
  return EncodeObjectKey(PartitionOf(ObjectHash("bench", key), 256), "bench", key);
}

// A fresh RocksDB in a temporary directory, removed afterwards.
struct TempRocksDb {
  std::filesystem::path path;
  std::unique_ptr<RocksDbEngine> engine;
  TempRocksDb() {
    path =
        std::filesystem::temp_directory_path() / ("meridian-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    engine = std::move(RocksDbEngine::Open(path.string(), RocksDbOptions{}).value());
  }
  ~TempRocksDb() {
    engine.reset();
    std::filesystem::remove_all(path);
  }
};

void RunPuts(benchmark::State& state, Engine& engine, bool sync) {
  const std::string value(100, 'v');
  int i = 0;
  for (auto _ : state) {
    WriteBatch batch;
    batch.Put(Column::kObjects, KeyFor(i++ % kKeySpace), value);
    if (!engine.Write(batch, WriteOptions{sync}).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void RunGets(benchmark::State& state, Engine& engine) {
  const std::string value(100, 'v');
  for (int i = 0; i < kKeySpace; ++i) {
    WriteBatch batch;
    batch.Put(Column::kObjects, KeyFor(i), value);
    if (!engine.Write(batch, WriteOptions{}).ok()) state.SkipWithError("load failed");
  }
  int i = 0;
  for (auto _ : state) {
    auto result = engine.Get(Column::kObjects, KeyFor(i++ % kKeySpace));
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_EngineMemoryPut(benchmark::State& state) {
  MemoryEngine engine;
  RunPuts(state, engine, false);
}
BENCHMARK(BM_EngineMemoryPut);

void BM_EngineMemoryGet(benchmark::State& state) {
  MemoryEngine engine;
  RunGets(state, engine);
}
BENCHMARK(BM_EngineMemoryGet);

void BM_EngineRocksDbPut(benchmark::State& state) {
  TempRocksDb db;
  RunPuts(state, *db.engine, false);
}
BENCHMARK(BM_EngineRocksDbPut);

void BM_EngineRocksDbPutSynced(benchmark::State& state) {
  TempRocksDb db;
  RunPuts(state, *db.engine, true);
}
BENCHMARK(BM_EngineRocksDbPutSynced)->Iterations(2000);

void BM_EngineRocksDbGet(benchmark::State& state) {
  TempRocksDb db;
  RunGets(state, *db.engine);
}
BENCHMARK(BM_EngineRocksDbGet);

}  // namespace
}  // namespace meridian::storage
