// BackgroundGovernor: the one budget of a node's background work (BackgroundBudget,
// background_budget.h) — a byte budget (token bucket) and a limit on concurrent streams,
// shared by every kind of background work, with fairness between kinds. One per node; the
// node passes it to every component that does background work. Design and the reasoning
// behind the defaults: docs/design/governor.md.
//
// Pure, sans-IO and deterministic: time comes in as now_ms (monotonic; a now_ms smaller than
// an earlier one counts as no time passing). Not thread-safe.
//
// The byte budget. A request of WorkSize{bytes, objects} is charged
//   charge = bytes + objects * object_cost_bytes
// against a token bucket refilled at bytes_per_second (continuously, kept in thousandths of a
// byte) and holding at most burst_bytes. The bucket starts full. A request passes when the
// bucket holds its charge — or, for a charge larger than burst_bytes, when the bucket is full
// (it then goes into debt, so an object larger than the burst still moves). Hence over any
// window of T ms the charges granted sum to at most max(burst_bytes, largest charge) +
// bytes_per_second * T / 1000. bytes_per_second = 0 switches the byte budget off.
//
// Streams. At most streams_max slots are held at once (0 = no limit).
//
// Fairness, the same rule for bytes and for streams: a kind that is refused joins a line of
// waiting kinds (each kind at most once, in the order of their first refusal). While the line
// is not empty, only the kind at its head may be granted; every other kind is refused (and
// joins the line). The head leaves the line when it is granted, so the kinds that keep asking
// take turns, and a kind that asks for a lot is not starved by kinds that ask for little: the
// bucket fills up for the head. A kind that stops asking for longer than turn_expiry_ms
// leaves the line (so a vanished caller cannot block the others for longer than that).
// Bounded wait: a kind that asks at least every turn_expiry_ms waits for at most the kinds
// ahead of it (at most kWorkKindCount - 1), each of which needs at most
// max(burst_bytes, its charge) / bytes_per_second to be granted once it asks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "replication/background_budget.h"

namespace meridian::replication {

// The default budget for a node that may run on `cores` cores: 4 MiB/s per core, between
// 4 MiB/s (one core) and 32 MiB/s (eight or more). A node's event loop is one thread, but the
// kernel's network stack, RocksDB's flushes and compactions and any other node on the machine
// share the remaining cores with it, so a small machine has less room for background work
// (docs/design/governor.md "Defaults").
inline constexpr std::uint64_t kBackgroundBytesPerSecondPerCore = std::uint64_t{4} << 20;
inline constexpr std::uint64_t kBackgroundBytesPerSecondDefaultMax = std::uint64_t{32} << 20;
std::uint64_t BackgroundBytesPerSecondForCores(unsigned cores);
// The default budget of each of `nodes` nodes sharing a machine of `cores` cores (a local
// cluster, `meridian dev`): the machine's default divided among them, at least 1 MiB/s. Each
// node taking the whole machine's budget let five nodes on two cores raise foreground p99 by
// ~25 % while one caught up (docs/replication.md, runs 21-22).
inline constexpr std::uint64_t kBackgroundBytesPerSecondSharedMin = std::uint64_t{1} << 20;
std::uint64_t BackgroundBytesPerSecondShared(unsigned cores, unsigned nodes);
// One shard's share of a node's budget of `bytes_per_second` split over `shards` (>= 1): at
// least 1 byte per second, and 0 (unlimited) stays 0.
std::uint64_t BackgroundBytesPerSecondShare(std::uint64_t bytes_per_second, std::uint32_t shards);

struct BackgroundGovernorConfig {
  // Charge per second, every kind together; 0 = unlimited. `meridian serve` sizes its default
  // from the machine (BackgroundBytesPerSecondForCores); this is the value for 8+ cores.
  std::uint64_t bytes_per_second = kBackgroundBytesPerSecondDefaultMax;
  // What one object costs on top of its bytes (a read, merge and write on each side).
  std::uint64_t object_cost_bytes = std::uint64_t{4} << 10;
  // Capacity of the bucket: the most granted at once after an idle spell; at least 1.
  std::uint64_t burst_bytes = std::uint64_t{1} << 20;
  // Streams held at once, every kind together; 0 = unlimited.
  std::uint32_t streams_max = 4;
  // A refused kind keeps its place in line while it asks again at least this often.
  std::uint64_t turn_expiry_ms = 1'000;
};

// Counters per kind since the governor was made; streams_held is a gauge.
struct BackgroundKindStats {
  std::uint64_t bytes_granted = 0;
  std::uint64_t objects_granted = 0;
  std::uint64_t requests_granted = 0;
  std::uint64_t spend_refused = 0;    // TrySpend answered false (throttled by the byte budget)
  std::uint64_t streams_refused = 0;  // TryAcquireStream answered nullopt
  std::uint64_t streams_held = 0;
};

struct BackgroundStats {
  std::array<BackgroundKindStats, kWorkKindCount> kinds{};
  // The configured limits, for dashboards (0: unlimited).
  std::uint64_t bytes_per_second = 0;
  std::uint64_t streams_max = 0;
  bool paused = false;  // SetPaused: nothing new is granted
  const BackgroundKindStats& of(WorkKind kind) const { return kinds[WorkKindIndex(kind)]; }
  BackgroundKindStats Total() const;
};

class BackgroundGovernor final : public BackgroundBudget {
 public:
  // Limits on the configuration and on one request, far above any real use, which keep the
  // arithmetic (in thousandths of a byte, signed 64-bit) from overflowing.
  static constexpr std::uint64_t kBytesPerSecondMax = std::uint64_t{1} << 40;
  static constexpr std::uint64_t kBurstBytesMax = std::uint64_t{1} << 40;
  static constexpr std::uint64_t kObjectCostBytesMax = std::uint64_t{1} << 30;
  static constexpr std::uint64_t kChargeMax = std::uint64_t{1} << 41;

  // Checks the configuration (MERIDIAN_CHECK): the bounds above, burst_bytes >= 1.
  explicit BackgroundGovernor(BackgroundGovernorConfig config);

  std::optional<StreamSlot> TryAcquireStream(WorkKind kind, std::uint64_t now_ms) override;
  void ReleaseStream(StreamSlot slot) override;
  // A size whose charge exceeds kChargeMax is a checked error.
  bool TrySpend(WorkKind kind, WorkSize size, std::uint64_t now_ms) override;
  void Charge(WorkKind kind, WorkSize size, std::uint64_t now_ms) override;
  std::optional<std::uint64_t> NextGrantMs(WorkKind kind, WorkSize size,
                                           std::uint64_t now_ms) const override;
  bool InDebt(std::uint64_t now_ms) const override;

  // Changes the byte budget from now_ms on (0: unlimited; at most kBytesPerSecondMax, checked):
  // what was refilled at the old rate until now_ms stays, a debt is repaid at the new rate.
  void SetBytesPerSecond(std::uint64_t bytes_per_second, std::uint64_t now_ms);
  // While paused, nothing new is granted: TrySpend is refused, TryAcquireStream answers nullopt
  // and NextGrantMs nullopt (without joining the line or counting as throttled). Streams held
  // and work charged go on; the bucket refills meanwhile. An operator's lever (docs/operations.md
  // "Background work"), not part of any protocol.
  void SetPaused(bool paused);
  bool paused() const { return stats_.paused; }

  // bytes + objects * object_cost_bytes.
  std::uint64_t ChargeOf(WorkSize size) const;
  const BackgroundStats& stats() const { return stats_; }
  std::uint64_t streams_held() const { return held_.size(); }
  const BackgroundGovernorConfig& config() const { return config_; }

 private:
  // Kinds that were refused, in the order of their first refusal, with when each last asked.
  class WaitLine {
   public:
    // Drops the kinds that have not asked within expiry_ms before now_ms.
    void Expire(std::uint64_t now_ms, std::uint64_t expiry_ms);
    // Whether `kind` may be granted: the line is empty or `kind` is its head (among the kinds
    // that have not expired at now_ms).
    bool MayGo(WorkKind kind, std::uint64_t now_ms, std::uint64_t expiry_ms) const;
    void Refused(WorkKind kind, std::uint64_t now_ms);
    void Granted(WorkKind kind);

   private:
    static bool Expired(std::uint64_t asked_ms, std::uint64_t now_ms, std::uint64_t expiry_ms);
    std::vector<WorkKind> order_;  // at most kWorkKindCount entries, each kind once
    std::array<std::uint64_t, kWorkKindCount> asked_ms_{};
  };

  void Refill(std::uint64_t now_ms);
  // The bucket's level at now_ms (projected, without refilling); in millibytes.
  std::int64_t CreditAt(std::uint64_t now_ms) const;
  bool Fits(std::int64_t credit_millibytes, std::uint64_t charge) const;

  BackgroundGovernorConfig config_;
  std::int64_t capacity_millibytes_;
  std::int64_t credit_millibytes_;  // <= capacity; negative: in debt
  std::optional<std::uint64_t> refilled_at_ms_;
  WaitLine spend_line_;
  WaitLine stream_line_;
  std::map<std::uint64_t, WorkKind> held_;  // slot id -> kind
  std::uint64_t next_slot_id_ = 1;
  BackgroundStats stats_;
};

}  // namespace meridian::replication
