// Properties of BackgroundGovernor over random configurations and schedules, each checked
// against a dumb reference:
//   * the byte budget: the charges granted in any window [t1, t2] sum to at most
//     max(burst_bytes, largest charge granted) + bytes_per_second * (t2 - t1) / 1000 — checked
//     by brute force over every pair of grants (with every charge within the burst, that is
//     burst + rate * T);
//   * streams: the slots held never exceed streams_max, and the statistics count exactly the
//     slots a reference set holds;
//   * bounded wait: every kind that keeps asking is granted within a bound that follows from
//     the policy (docs/design/governor.md "Fairness"), for bytes and for streams.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "core/seeded_random.h"
#include "replication/background_governor.h"

namespace meridian::replication {
namespace {

constexpr std::uint64_t kMillibytesPerByte = 1000;

WorkKind KindAt(std::size_t index) {
  return static_cast<WorkKind>(index % kWorkKindCount);
}

struct Operation {
  int advance_ms;  // before the operation
  int action;      // 0, 1: spend; 2: acquire a stream; 3: release one
  int kind;
  std::uint64_t bytes;
  std::uint64_t objects;
  int pick;  // which held slot a release returns
};

rc::Gen<Operation> GenOperation(std::uint64_t bytes_max) {
  return rc::gen::build<Operation>(
      rc::gen::set(&Operation::advance_ms, rc::gen::inRange(0, 40)),
      rc::gen::set(&Operation::action, rc::gen::inRange(0, 4)),
      rc::gen::set(&Operation::kind, rc::gen::inRange(0, static_cast<int>(kWorkKindCount))),
      rc::gen::set(&Operation::bytes, rc::gen::inRange<std::uint64_t>(0, bytes_max + 1)),
      rc::gen::set(&Operation::objects, rc::gen::inRange<std::uint64_t>(0, 5)),
      rc::gen::set(&Operation::pick, rc::gen::inRange(0, 1000)));
}

BackgroundGovernorConfig GenLimitedConfig() {
  BackgroundGovernorConfig config;
  config.bytes_per_second = *rc::gen::inRange<std::uint64_t>(1, 200'000);
  config.burst_bytes = *rc::gen::inRange<std::uint64_t>(1, 3'000);
  config.object_cost_bytes = *rc::gen::inRange<std::uint64_t>(0, 400);
  config.streams_max = *rc::gen::inRange<std::uint32_t>(0, 6);
  config.turn_expiry_ms = *rc::gen::inRange<std::uint64_t>(1, 300);
  return config;
}

struct Grant {
  std::uint64_t at_ms;
  std::uint64_t charge;
};

// Brute force over every window that starts and ends at a grant.
void CheckWindows(const std::vector<Grant>& grants, const BackgroundGovernorConfig& config) {
  std::uint64_t charge_max = config.burst_bytes;
  for (const Grant& grant : grants) charge_max = std::max(charge_max, grant.charge);
  for (std::size_t first = 0; first < grants.size(); ++first) {
    std::uint64_t sum = 0;
    for (std::size_t last = first; last < grants.size(); ++last) {
      sum += grants[last].charge;
      const std::uint64_t window_ms = grants[last].at_ms - grants[first].at_ms;
      RC_ASSERT(sum * kMillibytesPerByte <=
                charge_max * kMillibytesPerByte + config.bytes_per_second * window_ms);
    }
  }
}

RC_GTEST_PROP(BackgroundGovernorProperty, GrantsStayWithinBurstPlusRateAndStreamsWithinMax, ()) {
  const BackgroundGovernorConfig config = GenLimitedConfig();
  // Mostly within the burst, sometimes far beyond it.
  const auto operations = *rc::gen::container<std::vector<Operation>>(
      GenOperation(config.burst_bytes * (*rc::gen::inRange<std::uint64_t>(1, 4))));
  BackgroundGovernor governor(config);

  std::uint64_t now_ms = 0;
  std::vector<Grant> grants;
  std::vector<StreamSlot> held;  // the reference for the streams
  std::array<std::uint64_t, kWorkKindCount> held_per_kind{};
  std::array<std::uint64_t, kWorkKindCount> bytes_per_kind{};
  for (const Operation& operation : operations) {
    now_ms += static_cast<std::uint64_t>(operation.advance_ms);
    const WorkKind kind = KindAt(static_cast<std::size_t>(operation.kind));
    if (operation.action <= 1) {
      const WorkSize size{.bytes = operation.bytes, .objects = operation.objects};
      const std::optional<std::uint64_t> next = governor.NextGrantMs(kind, size, now_ms);
      const bool granted = governor.TrySpend(kind, size, now_ms);
      // NextGrantMs agrees with TrySpend about now.
      RC_ASSERT(granted == (next.has_value() && *next == now_ms));
      if (granted) {
        grants.push_back(Grant{now_ms, governor.ChargeOf(size)});
        bytes_per_kind[WorkKindIndex(kind)] += size.bytes;
      }
    } else if (operation.action == 2) {
      std::optional<StreamSlot> slot = governor.TryAcquireStream(kind, now_ms);
      if (slot.has_value()) {
        RC_ASSERT(slot->kind() == kind);
        ++held_per_kind[WorkKindIndex(kind)];
        held.push_back(std::move(*slot));
      }
    } else if (!held.empty()) {
      const std::size_t index = static_cast<std::size_t>(operation.pick) % held.size();
      --held_per_kind[WorkKindIndex(held[index].kind())];
      governor.ReleaseStream(std::move(held[index]));
      held.erase(held.begin() + static_cast<std::ptrdiff_t>(index));
    }
    if (config.streams_max > 0) RC_ASSERT(governor.streams_held() <= config.streams_max);
    RC_ASSERT(governor.streams_held() == held.size());
    for (std::size_t index = 0; index < kWorkKindCount; ++index) {
      RC_ASSERT(governor.stats().kinds[index].streams_held == held_per_kind[index]);
      RC_ASSERT(governor.stats().kinds[index].bytes_granted == bytes_per_kind[index]);
    }
  }
  RC_ASSERT(governor.stats().Total().requests_granted == grants.size());
  CheckWindows(grants, config);
}

// Every kind asks every tick_ms (in a random order each tick) for a random size; each is
// granted within kWorkKindCount turns of at most max(burst, largest charge) / rate + tick_ms.
RC_GTEST_PROP(BackgroundGovernorProperty, EveryKindThatKeepsAskingIsGrantedInBoundedTime, ()) {
  BackgroundGovernorConfig config = GenLimitedConfig();
  config.bytes_per_second = *rc::gen::inRange<std::uint64_t>(1'000, 200'000);
  const std::uint64_t tick_ms = *rc::gen::inRange<std::uint64_t>(1, 50);
  config.turn_expiry_ms = tick_ms + *rc::gen::inRange<std::uint64_t>(0, 100);
  const std::uint64_t bytes_max = config.burst_bytes * (*rc::gen::inRange<std::uint64_t>(1, 4));
  const std::uint64_t objects_max = *rc::gen::inRange<std::uint64_t>(0, 4);
  SplitMix64Random random(*rc::gen::arbitrary<std::uint64_t>());
  BackgroundGovernor governor(config);

  const std::uint64_t charge_max =
      std::max(config.burst_bytes, governor.ChargeOf({.bytes = bytes_max, .objects = objects_max}));
  const std::uint64_t turn_ms =
      (charge_max * kMillibytesPerByte + config.bytes_per_second - 1) / config.bytes_per_second +
      tick_ms;
  const std::uint64_t wait_ms_max = kWorkKindCount * turn_ms;

  std::array<std::optional<std::uint64_t>, kWorkKindCount> refused_since_ms{};
  std::array<std::uint64_t, kWorkKindCount> grants{};
  std::array<std::size_t, kWorkKindCount> order = {0, 1, 2, 3, 4};
  const std::uint64_t end_ms = 20 * wait_ms_max;
  for (std::uint64_t now_ms = 0; now_ms < end_ms; now_ms += tick_ms) {
    for (std::size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1], order[random.NextU64() % i]);
    }
    for (std::size_t index : order) {
      const WorkSize size{.bytes = random.NextU64() % (bytes_max + 1),
                          .objects = random.NextU64() % (objects_max + 1)};
      if (governor.TrySpend(KindAt(index), size, now_ms)) {
        if (refused_since_ms[index].has_value()) {
          RC_ASSERT(now_ms - *refused_since_ms[index] <= wait_ms_max);
        }
        refused_since_ms[index].reset();
        ++grants[index];
      } else if (!refused_since_ms[index].has_value()) {
        refused_since_ms[index] = now_ms;
      }
    }
  }
  for (std::size_t index = 0; index < kWorkKindCount; ++index) {
    if (refused_since_ms[index].has_value()) {
      RC_ASSERT(end_ms - *refused_since_ms[index] <= wait_ms_max + tick_ms);
    }
    RC_ASSERT(grants[index] >= 10u);
  }
}

// Every kind wants one stream at a time: it asks every tick_ms while it has none and holds one
// for a random number of ticks (at most hold_ticks_max). Each gets a stream within
// kWorkKindCount turns of at most hold_ticks_max + 1 ticks.
RC_GTEST_PROP(BackgroundGovernorProperty, EveryKindThatKeepsAskingGetsAStreamInBoundedTime, ()) {
  BackgroundGovernorConfig config;
  config.bytes_per_second = 0;
  config.streams_max = *rc::gen::inRange<std::uint32_t>(1, 5);
  const std::uint64_t tick_ms = *rc::gen::inRange<std::uint64_t>(1, 50);
  config.turn_expiry_ms = tick_ms + *rc::gen::inRange<std::uint64_t>(0, 100);
  const std::uint64_t hold_ticks_max = *rc::gen::inRange<std::uint64_t>(1, 20);
  SplitMix64Random random(*rc::gen::arbitrary<std::uint64_t>());
  BackgroundGovernor governor(config);

  const std::uint64_t wait_ms_max = kWorkKindCount * (hold_ticks_max + 1) * tick_ms;
  std::array<std::optional<StreamSlot>, kWorkKindCount> slots;
  std::array<std::uint64_t, kWorkKindCount> release_at_ms{};
  std::array<std::optional<std::uint64_t>, kWorkKindCount> refused_since_ms{};
  std::array<std::uint64_t, kWorkKindCount> acquired{};
  std::array<std::size_t, kWorkKindCount> order = {0, 1, 2, 3, 4};
  const std::uint64_t end_ms = 20 * wait_ms_max;
  for (std::uint64_t now_ms = 0; now_ms < end_ms; now_ms += tick_ms) {
    for (std::size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1], order[random.NextU64() % i]);
    }
    for (std::size_t index : order) {
      if (slots[index].has_value()) {
        if (now_ms < release_at_ms[index]) continue;
        governor.ReleaseStream(std::move(*slots[index]));
        slots[index].reset();
      }
      slots[index] = governor.TryAcquireStream(KindAt(index), now_ms);
      if (slots[index].has_value()) {
        if (refused_since_ms[index].has_value()) {
          RC_ASSERT(now_ms - *refused_since_ms[index] <= wait_ms_max);
        }
        refused_since_ms[index].reset();
        release_at_ms[index] = now_ms + (1 + random.NextU64() % hold_ticks_max) * tick_ms;
        ++acquired[index];
      } else if (!refused_since_ms[index].has_value()) {
        refused_since_ms[index] = now_ms;
      }
      RC_ASSERT(governor.streams_held() <= config.streams_max);
    }
  }
  for (std::size_t index = 0; index < kWorkKindCount; ++index) {
    RC_ASSERT(acquired[index] >= 10u);
    if (slots[index].has_value()) governor.ReleaseStream(std::move(*slots[index]));
  }
  RC_ASSERT(governor.streams_held() == 0u);
}

}  // namespace
}  // namespace meridian::replication
