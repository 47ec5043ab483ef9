// A BackgroundBudget the test steers: it grants streams and spends only when told to, and
// records what it was asked.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "replication/background_budget.h"

namespace meridian::replication::test_support {

class FakeBudget final : public BackgroundBudget {
 public:
  bool streams_allowed = true;
  // Spends granted from now on; each grant uses one.
  std::uint64_t spends_left = std::numeric_limits<std::uint64_t>::max();
  std::vector<WorkKind> stream_requests;
  std::vector<WorkKind> spend_kinds;
  std::vector<WorkSize> spend_requests;
  std::uint64_t streams_held = 0;
  std::vector<WorkKind> charge_kinds;
  std::vector<WorkSize> charges;  // Charge calls (always debited)
  bool in_debt = false;           // what InDebt answers

  std::optional<StreamSlot> TryAcquireStream(WorkKind kind, std::uint64_t) override {
    stream_requests.push_back(kind);
    if (!streams_allowed) return std::nullopt;
    ++streams_held;
    return StreamSlot(next_id_++, kind);
  }
  void ReleaseStream(StreamSlot slot) override {
    ASSERT_NE(slot.id(), 0u);
    ASSERT_GT(streams_held, 0u);
    --streams_held;
  }
  bool TrySpend(WorkKind kind, WorkSize size, std::uint64_t) override {
    spend_kinds.push_back(kind);
    spend_requests.push_back(size);
    if (spends_left == 0) return false;
    --spends_left;
    return true;
  }
  void Charge(WorkKind kind, WorkSize size, std::uint64_t) override {
    charge_kinds.push_back(kind);
    charges.push_back(size);
  }
  std::optional<std::uint64_t> NextGrantMs(WorkKind, WorkSize,
                                           std::uint64_t now_ms) const override {
    if (spends_left == 0) return std::nullopt;
    return now_ms;
  }
  bool InDebt(std::uint64_t) const override { return in_debt; }

 private:
  std::uint64_t next_id_ = 1;
};

}  // namespace meridian::replication::test_support
