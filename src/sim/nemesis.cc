#include "sim/nemesis.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <utility>

#include "core/assert.h"

namespace meridian::sim {
namespace {

enum class Fault {
  kCrash,
  kRestart,
  kPartition,
  kOneWayPartition,
  kIsolate,
  kHeal,
  kLossBurst,
  kLossEnd,
  kClockSkew,
  kClockReset,
};

// A random draw in [-max, +max].
std::int64_t SignedUniform(Random& random, std::int64_t max) {
  MERIDIAN_CHECK(max >= 0);
  return static_cast<std::int64_t>(random.Uniform(2 * static_cast<std::uint64_t>(max) + 1)) - max;
}

// A random split of `addresses` into two non-empty sides (needs at least two addresses).
std::pair<std::vector<std::string>, std::vector<std::string>> RandomSplit(
    Random& random, std::vector<std::string> addresses) {
  MERIDIAN_CHECK(addresses.size() >= 2);
  // Fisher-Yates over an ordered input: deterministic for a given stream.
  for (std::size_t i = addresses.size() - 1; i > 0; --i) {
    std::swap(addresses[i], addresses[random.Uniform(i + 1)]);
  }
  const std::size_t first_side_size = 1 + random.Uniform(addresses.size() - 1);
  std::vector<std::string> side_a(addresses.begin(), addresses.begin() + first_side_size);
  std::vector<std::string> side_b(addresses.begin() + first_side_size, addresses.end());
  std::sort(side_a.begin(), side_a.end());
  std::sort(side_b.begin(), side_b.end());
  return {std::move(side_a), std::move(side_b)};
}

std::vector<std::string> DownAddresses(const Simulation& simulation) {
  std::vector<std::string> down;
  for (const std::string& address : simulation.addresses()) {
    if (!simulation.IsUp(address)) down.push_back(address);
  }
  return down;
}

}  // namespace

Nemesis::Nemesis(Simulation& simulation, NemesisConfig config)
    : simulation_(simulation),
      config_(config),
      random_(simulation.DeriveRandom("nemesis")),
      baseline_loss_ppm_(simulation.network().config().loss_ppm) {
  MERIDIAN_CHECK(config_.fault_interval_ms_min <= config_.fault_interval_ms_max);
}

Status Nemesis::RunSafetyPhase(std::uint64_t duration_ms) {
  const std::uint64_t end_ms = simulation_.now_ms() + duration_ms;
  while (simulation_.now_ms() < end_ms) {
    const std::uint64_t wait_ms =
        UniformBetween(random_, config_.fault_interval_ms_min, config_.fault_interval_ms_max);
    const Status ran = simulation_.RunFor(std::min(wait_ms, end_ms - simulation_.now_ms()));
    if (!ran.ok()) return ran;
    if (simulation_.now_ms() < end_ms) InjectOneFault();
  }
  return Status::Ok();
}

Status Nemesis::HealEverything() {
  Note("heal everything");
  simulation_.Heal();
  simulation_.SetLossPpm(baseline_loss_ppm_);
  for (const std::string& address : DownAddresses(simulation_)) {
    const Status restarted = simulation_.Restart(address);
    if (!restarted.ok()) {
      return Status::Internal(
          fmt::format("restart of {} failed: {}", address, restarted.ToString()));
    }
  }
  return Status::Ok();
}

void Nemesis::InjectOneFault() {
  const std::array<std::pair<Fault, std::uint32_t>, 10> weights = {{
      {Fault::kCrash, config_.crash_weight},
      {Fault::kRestart, config_.restart_weight},
      {Fault::kPartition, config_.partition_weight},
      {Fault::kOneWayPartition, config_.one_way_partition_weight},
      {Fault::kIsolate, config_.isolate_weight},
      {Fault::kHeal, config_.heal_weight},
      {Fault::kLossBurst, config_.loss_burst_weight},
      {Fault::kLossEnd, config_.loss_end_weight},
      {Fault::kClockSkew, config_.clock_skew_weight},
      {Fault::kClockReset, config_.clock_reset_weight},
  }};
  std::uint64_t total_weight = 0;
  for (const auto& [fault, weight] : weights) total_weight += weight;
  if (total_weight == 0) return;
  std::uint64_t draw = random_.Uniform(total_weight);
  Fault chosen = Fault::kHeal;
  for (const auto& [fault, weight] : weights) {
    if (draw < weight) {
      chosen = fault;
      break;
    }
    draw -= weight;
  }

  const std::vector<std::string> all = simulation_.addresses();
  const std::vector<std::string> live = simulation_.live_addresses();
  const std::vector<std::string> down = DownAddresses(simulation_);
  switch (chosen) {
    case Fault::kCrash: {
      if (live.empty() || down.size() >= config_.crashed_max) return;
      const std::string& victim = live[random_.Uniform(live.size())];
      Note(fmt::format("crash {}", victim));
      simulation_.Crash(victim);
      return;
    }
    case Fault::kRestart: {
      if (down.empty()) return;
      const std::string& address = down[random_.Uniform(down.size())];
      Note(fmt::format("restart {}", address));
      // A failed Start leaves it down; the simulation's trace records why.
      simulation_.Restart(address).IgnoreError();
      return;
    }
    case Fault::kPartition: {
      if (all.size() < 2) return;
      auto [side_a, side_b] = RandomSplit(random_, all);
      Note(fmt::format("partition {} | {}", fmt::join(side_a, ","), fmt::join(side_b, ",")));
      simulation_.Partition(side_a, side_b);
      return;
    }
    case Fault::kOneWayPartition: {
      if (all.size() < 2) return;
      auto [from_side, to_side] = RandomSplit(random_, all);
      Note(fmt::format("one-way partition {} -/-> {}", fmt::join(from_side, ","),
                       fmt::join(to_side, ",")));
      simulation_.PartitionOneWay(from_side, to_side);
      return;
    }
    case Fault::kIsolate: {
      if (all.size() < 2) return;
      const std::string& address = all[random_.Uniform(all.size())];
      Note(fmt::format("isolate {}", address));
      simulation_.Isolate(address);
      return;
    }
    case Fault::kHeal:
      Note("heal network");
      simulation_.Heal();
      return;
    case Fault::kLossBurst: {
      const auto ppm = static_cast<std::uint32_t>(random_.Uniform(config_.loss_burst_ppm_max + 1));
      Note(fmt::format("loss {} ppm", ppm));
      simulation_.SetLossPpm(ppm);
      return;
    }
    case Fault::kLossEnd:
      Note("loss back to baseline");
      simulation_.SetLossPpm(baseline_loss_ppm_);
      return;
    case Fault::kClockSkew: {
      if (all.empty()) return;
      const std::string& address = all[random_.Uniform(all.size())];
      ClockSkew skew;
      skew.offset_ms = SignedUniform(random_, config_.clock_offset_ms_max);
      skew.drift_ppm =
          static_cast<std::int32_t>(SignedUniform(random_, config_.clock_drift_ppm_max));
      Note(fmt::format("skew {} offset {}ms drift {}ppm", address, skew.offset_ms, skew.drift_ppm));
      simulation_.SetClockSkew(address, skew);
      return;
    }
    case Fault::kClockReset: {
      if (all.empty()) return;
      const std::string& address = all[random_.Uniform(all.size())];
      Note(fmt::format("unskew {}", address));
      simulation_.SetClockSkew(address, ClockSkew{});
      return;
    }
  }
}

void Nemesis::Note(std::string line) {
  log_.push_back(fmt::format("t={}ms {}", simulation_.now_ms(), std::move(line)));
}

}  // namespace meridian::sim
