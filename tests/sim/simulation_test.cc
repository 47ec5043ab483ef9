// The Simulation's contract, observed through RecordingProcess: ticks, serialized delivery,
// partitions, loss, crash/restart durability, clock skew, invariants and determinism.
#include "sim/simulation.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "core/assert.h"
#include "sim/test_process.h"

namespace meridian::sim {
namespace {

using test_support::Lifetimes;
using test_support::RecordingFactory;
using test_support::RecordingProcess;

class SimulationTest : public ::testing::Test {
 protected:
  explicit SimulationTest(std::uint64_t seed = 11) : simulation_(Config(seed), Factory()) {}

  static SimulationConfig Config(std::uint64_t seed) {
    SimulationConfig config;
    config.seed = seed;
    config.tick_interval_ms = 100;
    return config;
  }
  ProcessFactory Factory() { return RecordingFactory(lifetimes_); }

  void AddAll(const std::vector<std::string>& addresses) {
    for (const std::string& address : addresses) ASSERT_TRUE(simulation_.AddProcess(address).ok());
  }
  RecordingProcess& At(const std::string& address) {
    auto* process = simulation_.FindProcessAs<RecordingProcess>(address);
    MERIDIAN_CHECK(process != nullptr);
    return *process;
  }
  // Writes in one input to the process (Invoke), which the simulator then commits.
  void Write(const std::string& address,
             const std::vector<std::tuple<std::string, std::string, bool>>& writes) {
    ASSERT_TRUE(simulation_.Invoke(address, "write", [&](Process& process) {
      for (const auto& [key, value, sync] : writes) {
        ASSERT_TRUE(static_cast<RecordingProcess&>(process).WriteKey(key, value, sync).ok());
      }
    }));
  }
  void Send(const std::string& from, const std::string& to, std::uint64_t request_id) {
    ASSERT_TRUE(simulation_.Invoke(from, "send", [&](Process& process) {
      static_cast<RecordingProcess&>(process).Send(to, request_id);
    }));
  }

  std::shared_ptr<Lifetimes> lifetimes_ = std::make_shared<Lifetimes>();
  Simulation simulation_;
};

TEST_F(SimulationTest, TicksEveryIntervalAndMessagesArriveParsed) {
  AddAll({"a", "b"});
  EXPECT_EQ(simulation_.AddProcess("a").code(), StatusCode::kInvalidArgument);
  Send("a", "b", 77);
  Send("a", "nowhere", 78);
  ASSERT_TRUE(simulation_.RunFor(1'000).ok());
  EXPECT_EQ(simulation_.now_ms(), 1'000u);
  const auto& ticks = At("a").tick_times_ms();
  ASSERT_GE(ticks.size(), 9u);
  for (std::size_t i = 1; i < ticks.size(); ++i) EXPECT_EQ(ticks[i] - ticks[i - 1], 100u);
  ASSERT_EQ(At("b").received().size(), 1u);
  EXPECT_EQ(At("b").received()[0].from_address, "a");
  EXPECT_EQ(At("b").received()[0].message.kv_request().request_id(), 77u);
  EXPECT_EQ(At("b").received()[0].message.kv_request().key(), "key-77");
  EXPECT_EQ(simulation_.CountOf(TraceKind::kDropUnknown), 1u);
}

TEST_F(SimulationTest, NoMessageCrossesAPartitionAndHealRestoresDelivery) {
  AddAll({"a", "b", "c"});
  simulation_.SetTraceObserver([](const TraceRecord& record) {
    if (record.kind == TraceKind::kDeliver) {
      EXPECT_FALSE(record.from == "a" && record.to != "a") << FormatTraceRecord(record);
      EXPECT_FALSE(record.to == "a" && record.from != "a") << FormatTraceRecord(record);
    }
  });
  Send("b", "a", 1);  // in flight when the partition begins: must not arrive either
  simulation_.Isolate("a");
  Send("a", "b", 2);
  Send("c", "a", 3);
  Send("b", "c", 4);
  ASSERT_TRUE(simulation_.RunFor(3'000).ok());
  EXPECT_TRUE(At("a").received().empty());
  EXPECT_TRUE(At("b").received().empty());
  EXPECT_EQ(At("c").received().size(), 1u);
  EXPECT_EQ(simulation_.CountOf(TraceKind::kDropPartition), 3u);

  simulation_.SetTraceObserver(nullptr);
  simulation_.Heal();
  Send("a", "b", 5);
  ASSERT_TRUE(simulation_.RunFor(3'000).ok());
  EXPECT_EQ(At("b").received().size(), 1u);
}

TEST_F(SimulationTest, OneWayPartitionDropsOnlyOneDirection) {
  AddAll({"a", "b"});
  simulation_.PartitionOneWay({"a"}, {"b"});
  for (std::uint64_t i = 0; i < 20; ++i) {
    Send("a", "b", i);
    Send("b", "a", i);
  }
  ASSERT_TRUE(simulation_.RunFor(5'000).ok());
  EXPECT_TRUE(At("b").received().empty());
  EXPECT_EQ(At("a").received().size(), 20u);
}

TEST_F(SimulationTest, LossDropsAndDuplicationCopies) {
  AddAll({"a", "b"});
  simulation_.SetLossPpm(kPartsPerMillion);
  for (std::uint64_t i = 0; i < 10; ++i) Send("a", "b", i);
  ASSERT_TRUE(simulation_.RunFor(5'000).ok());
  EXPECT_TRUE(At("b").received().empty());
  EXPECT_EQ(simulation_.CountOf(TraceKind::kDropLoss), 10u);
  simulation_.SetLossPpm(0);
  simulation_.SetDuplicatePpm(kPartsPerMillion);
  for (std::uint64_t i = 0; i < 10; ++i) Send("a", "b", i);
  ASSERT_TRUE(simulation_.RunFor(5'000).ok());
  EXPECT_EQ(At("b").received().size(), 20u);
}

TEST_F(SimulationTest, CrashLosesExactlyTheUnsyncedWritesAndRestartGetsANewProcess) {
  AddAll({"a", "b"});
  const std::uint64_t first_draw = At("a").context().env.random->NextU64();
  Write("a", {{"synced", "1", true}});
  Write("a", {{"unsynced", "2", false}});
  Send("b", "a", 9);  // arrives while "a" is down: dropped
  simulation_.Crash("a");
  EXPECT_FALSE(simulation_.IsUp("a"));
  EXPECT_EQ(simulation_.FindProcess("a"), nullptr);
  EXPECT_EQ(lifetimes_->destroyed, 1);
  ASSERT_TRUE(simulation_.RunFor(3'000).ok());
  EXPECT_EQ(simulation_.CountOf(TraceKind::kDropDown), 1u);

  ASSERT_TRUE(simulation_.Restart("a").ok());
  RecordingProcess& restarted = At("a");
  EXPECT_EQ(lifetimes_->constructed, 3);
  EXPECT_EQ(restarted.context().incarnation, 1u);
  EXPECT_EQ(simulation_.IncarnationOf("a"), 1u);
  EXPECT_EQ(restarted.ReadKey("synced"), "1");
  EXPECT_EQ(restarted.ReadKey("unsynced"), std::nullopt);
  // A new incarnation draws a fresh stream, not a replay of its predecessor's.
  EXPECT_NE(restarted.context().env.random->NextU64(), first_draw);
  // The crashed incarnation's ticks died with it: one tick per interval.
  ASSERT_TRUE(simulation_.RunFor(1'000).ok());
  EXPECT_EQ(restarted.tick_times_ms().size(), 10u);
}

TEST_F(SimulationTest, CleanStopKeepsUnsyncedWrites) {
  AddAll({"a"});
  Write("a", {{"unsynced", "2", false}});
  ASSERT_TRUE(simulation_.Stop("a").ok());
  EXPECT_FALSE(simulation_.IsUp("a"));
  ASSERT_TRUE(simulation_.Restart("a").ok());
  EXPECT_EQ(At("a").ReadKey("unsynced"), "2");
  // Durable, as after RocksDB's clean close and reopen: a later crash keeps it.
  simulation_.Crash("a");
  ASSERT_TRUE(simulation_.Restart("a").ok());
  EXPECT_EQ(At("a").ReadKey("unsynced"), "2");
}

// The server's rule (RocksDbEngine with group commit, NodeService committing each batch):
// a process's writes are durable at the end of the input that made them only if one of them
// asked for sync, and then all of them, and every write before, are.
TEST_F(SimulationTest, CrashKeepsWhatGroupCommitMadeDurable) {
  AddAll({"a"});
  Write("a", {{"lazy", "1", false}});
  Write("a", {{"durable", "2", true}, {"rider", "3", false}});
  Write("a", {{"late", "4", false}});
  simulation_.Crash("a");
  ASSERT_TRUE(simulation_.Restart("a").ok());
  EXPECT_EQ(At("a").ReadKey("lazy"), "1");
  EXPECT_EQ(At("a").ReadKey("durable"), "2");
  EXPECT_EQ(At("a").ReadKey("rider"), "3");  // one fsync covered the whole batch
  EXPECT_EQ(At("a").ReadKey("late"), std::nullopt);
}

TEST_F(SimulationTest, AWriteOutsideAnyInputIsNotCommitted) {
  // Written straight into the engine, not inside Invoke/Tick/Receive: nothing committed it,
  // so not even sync=true makes it durable (the server would not have replied yet either).
  AddAll({"a"});
  ASSERT_TRUE(At("a").WriteKey("uncommitted", "1", true).ok());
  simulation_.Crash("a");
  ASSERT_TRUE(simulation_.Restart("a").ok());
  EXPECT_EQ(At("a").ReadKey("uncommitted"), std::nullopt);
}

// A process that handed work between its own threads asks to run again when it is due
// (WakeAfterMs): it is woken then, as an input whose writes are committed; the earliest of
// several requests wins, and a wake of a crashed incarnation dies with it.
TEST_F(SimulationTest, AProcessIsWokenWhenItAsksAndItsWakeWritesAreCommitted) {
  AddAll({"a"});
  const std::uint64_t start_ms = simulation_.now_ms();
  ASSERT_TRUE(simulation_.Invoke("a", "ask", [](Process& process) {
    static_cast<RecordingProcess&>(process).WakeAfter(37, /*write=*/true);
  }));
  ASSERT_TRUE(simulation_.RunFor(36).ok());
  EXPECT_TRUE(At("a").wake_times_ms().empty());
  ASSERT_TRUE(simulation_.RunFor(10).ok());
  ASSERT_EQ(At("a").wake_times_ms().size(), 1u);
  EXPECT_EQ(At("a").wake_times_ms()[0], start_ms + 37);
  EXPECT_EQ(simulation_.CountOf(TraceKind::kWake), 1u);
  simulation_.Crash("a");  // the wake's synced write was committed at the end of its input
  ASSERT_TRUE(simulation_.Restart("a").ok());
  EXPECT_EQ(At("a").ReadKey("woken"), "1");

  // Asked again for 500 ms, then crashed: the new incarnation is never woken for it.
  ASSERT_TRUE(simulation_.Invoke("a", "ask", [](Process& process) {
    static_cast<RecordingProcess&>(process).WakeAfter(500);
  }));
  simulation_.Crash("a");
  ASSERT_TRUE(simulation_.Restart("a").ok());
  ASSERT_TRUE(simulation_.RunFor(1'000).ok());
  EXPECT_TRUE(At("a").wake_times_ms().empty());
  EXPECT_EQ(simulation_.CountOf(TraceKind::kWake), 1u);

  // A later request does not postpone an earlier one: woken at the first due time.
  const std::uint64_t asked_ms = simulation_.now_ms();
  ASSERT_TRUE(simulation_.Invoke(
      "a", "ask", [](Process& process) { static_cast<RecordingProcess&>(process).WakeAfter(50); }));
  ASSERT_TRUE(simulation_.RunFor(20).ok());
  ASSERT_TRUE(simulation_.Invoke("a", "ask later", [](Process& process) {
    static_cast<RecordingProcess&>(process).WakeAfter(200);
  }));
  ASSERT_TRUE(simulation_.RunFor(40).ok());
  ASSERT_EQ(At("a").wake_times_ms().size(), 1u);
  EXPECT_EQ(At("a").wake_times_ms()[0], asked_ms + 50);
}

TEST_F(SimulationTest, ClockSkewIsVisibleOnlyThroughWallMillis) {
  AddAll({"a", "b"});
  ASSERT_TRUE(simulation_.RunFor(10'000).ok());
  simulation_.SetClockSkew("a", ClockSkew{3'000, 100});
  Clock& skewed = *At("a").context().env.clock;
  Clock& plain = *At("b").context().env.clock;
  EXPECT_EQ(skewed.MonotonicMillis(), 10'000u);
  EXPECT_EQ(plain.MonotonicMillis(), 10'000u);
  EXPECT_EQ(plain.WallMillis(), kWallClockOriginMs + 10'000);
  EXPECT_EQ(skewed.WallMillis(), kWallClockOriginMs + 10'000 + 3'000 + 1);
  // The skew is the machine's: it survives a restart.
  simulation_.Crash("a");
  ASSERT_TRUE(simulation_.Restart("a").ok());
  EXPECT_EQ(At("a").context().env.clock->WallMillis(), kWallClockOriginMs + 10'000 + 3'000 + 1);
}

TEST_F(SimulationTest, RunUntilStopsWhenThePredicateHoldsOrTimesOut) {
  AddAll({"a"});
  ASSERT_TRUE(
      simulation_.RunUntil([&] { return At("a").tick_times_ms().size() >= 3; }, 10'000).ok());
  EXPECT_LT(simulation_.now_ms(), 400u);
  const Status timed_out = simulation_.RunUntil([] { return false; }, 2'000);
  EXPECT_EQ(timed_out.code(), StatusCode::kTimeout);
  EXPECT_EQ(simulation_.now_ms(), 2'000u);
}

TEST_F(SimulationTest, ScheduledCallbacksRunInTimeOrder) {
  std::string order;
  simulation_.Schedule(200, "second", [&] { order += "2"; });
  simulation_.Schedule(100, "first", [&] { order += "1"; });
  simulation_.Schedule(200, "third", [&] { order += "3"; });
  ASSERT_TRUE(simulation_.RunFor(300).ok());
  EXPECT_EQ(order, "123");
}

TEST_F(SimulationTest, FailingInvariantStopsTheRunWithSeedTimeAndMessage) {
  AddAll({"a"});
  simulation_.AddInvariant("few-ticks", [&] {
    return At("a").tick_times_ms().size() < 5 ? Status::Ok()
                                              : Status::Internal("a ticked five times");
  });
  const Status status = simulation_.RunFor(10'000);
  EXPECT_EQ(status.code(), StatusCode::kInternal);
  ASSERT_TRUE(simulation_.failure().has_value());
  const SimulationFailure& failure = *simulation_.failure();
  EXPECT_EQ(failure.seed, 11u);
  EXPECT_EQ(failure.time_ms, At("a").tick_times_ms().back());
  EXPECT_EQ(simulation_.now_ms(), failure.time_ms);  // stopped right there
  EXPECT_EQ(failure.message, "invariant few-ticks failed: a ticked five times");
  EXPECT_EQ(failure.ToString(), "seed=11 at t=" + std::to_string(failure.time_ms) +
                                    "ms: invariant few-ticks failed: a ticked five times");
  // A failed simulation stays failed.
  EXPECT_EQ(simulation_.RunFor(100).code(), StatusCode::kInternal);
}

// A short run with random traffic; returns its trace hash.
std::uint64_t TrafficTraceHash(std::uint64_t seed) {
  SimulationConfig config;
  config.seed = seed;
  config.network.loss_ppm = 100'000;
  config.network.duplicate_ppm = 100'000;
  Simulation simulation(config, RecordingFactory(std::make_shared<Lifetimes>()));
  const std::vector<std::string> addresses = {"a", "b", "c"};
  for (const std::string& address : addresses) EXPECT_TRUE(simulation.AddProcess(address).ok());
  SeededRandom workload = simulation.DeriveRandom("workload");
  for (std::uint64_t i = 0; i < 200; ++i) {
    const std::string from = addresses[workload.Uniform(3)];
    const std::string to = addresses[workload.Uniform(3)];
    simulation.Invoke(from, "send", [&](Process& process) {
      static_cast<RecordingProcess&>(process).Send(to, i);
    });
    EXPECT_TRUE(simulation.RunFor(workload.Uniform(20)).ok());
  }
  return simulation.trace_hash();
}

TEST(SimulationDeterminismTest, SameSeedSameTraceHashDifferentSeedsDiffer) {
  EXPECT_EQ(TrafficTraceHash(5), TrafficTraceHash(5));
  EXPECT_NE(TrafficTraceHash(5), TrafficTraceHash(6));
}

}  // namespace
}  // namespace meridian::sim
