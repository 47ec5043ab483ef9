// Micro-benchmarks of the version machinery: DVV update, merge and the object codec.
// Run: build/release/bench/meridian_micro_bench --benchmark_filter=Dvv
#include <benchmark/benchmark.h>

#include "core/causal_context.h"
#include "core/dvv_set.h"
#include "core/object_codec.h"

namespace meridian {
namespace {

// An object with `siblings` concurrent values of 100 bytes written by distinct actors.
DvvSet MakeObject(int siblings, ActorId first_actor) {
  DvvSet object;
  for (int i = 0; i < siblings; ++i) {
    object.Update({}, first_actor + static_cast<ActorId>(i), HlcTimestamp::FromParts(1000 + i, 0),
                  false, std::string(100, 'v'), ConflictPolicy::kSiblings);
  }
  return object;
}

void BM_DvvMerge(benchmark::State& state) {
  const int siblings = static_cast<int>(state.range(0));
  const DvvSet a = MakeObject(siblings, 1);
  const DvvSet b = MakeObject(siblings, 1000);
  for (auto _ : state) {
    DvvSet merged = DvvSet::Merge(a, b).value();
    benchmark::DoNotOptimize(merged);
  }
}
BENCHMARK(BM_DvvMerge)->Arg(1)->Arg(3)->Arg(10);

void BM_DvvUpdateWithContext(benchmark::State& state) {
  const DvvSet base = MakeObject(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) {
    DvvSet object = base;
    object.Update(base.clock(), 1, HlcTimestamp::FromParts(5000, 0), false, std::string(100, 'n'),
                  ConflictPolicy::kSiblings);
    benchmark::DoNotOptimize(object);
  }
}
BENCHMARK(BM_DvvUpdateWithContext)->Arg(1)->Arg(3);

void BM_ObjectEncodeDecode(benchmark::State& state) {
  const DvvSet object = MakeObject(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) {
    auto decoded = DecodeObject(EncodeObject(object));
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK(BM_ObjectEncodeDecode)->Arg(1)->Arg(3);

void BM_ContextEncodeDecode(benchmark::State& state) {
  const DvvSet object = MakeObject(3, 1);
  for (auto _ : state) {
    auto decoded = DecodeContext(EncodeContext(object.clock(), "bucket", "key"), "bucket", "key");
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK(BM_ContextEncodeDecode);

}  // namespace
}  // namespace meridian
