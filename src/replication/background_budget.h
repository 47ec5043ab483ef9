// BackgroundBudget: what background work asks before it moves data — the seam between the
// components that do background work (ownership handoff, replica copies, hint replay, and
// later anti-entropy repair and tombstone reaping) and the one per-node BackgroundGovernor
// (background_governor.h) that shares a byte budget and a number of concurrent streams among
// them. Design: docs/design/governor.md.
//
// Contract for callers:
//   * A long-running transfer (a partition stream) holds a StreamSlot from TryAcquireStream
//     for its whole life and hands it back with ReleaseStream exactly once (when it finishes,
//     fails or is destroyed). Without a slot it sends nothing and asks again on a later tick.
//   * Before each batch it sends, a caller asks TrySpend with the batch's size; on false it
//     sends nothing now and asks again (with the same or a rebuilt batch) on a later tick. A
//     caller that stops asking simply loses its turn after a while (no cancellation call).
//   * Time comes in as now_ms from the caller's monotonic clock; all callers of one budget
//     must use the same clock.
// Not thread-safe; sans-IO (no clock, threads or randomness).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace meridian::replication {

// The kinds of background work. Fairness and statistics are per kind.
enum class WorkKind : std::uint8_t {
  kOwnershipHandoff = 0,  // a partition streamed to its new owner before the ring flips
  kReplicaCopy = 1,       // a partition copied to a replica: fills and orphan hand-offs
  kHintReplay = 2,        // hinted objects delivered to their primaries
  kAntiEntropyRepair = 3,
  kTombstoneReaping = 4,
};
inline constexpr std::size_t kWorkKindCount = 5;

// "ownership_handoff", "replica_copy", "hint_replay", "anti_entropy_repair",
// "tombstone_reaping" (the `kind` label of the metrics).
std::string_view WorkKindName(WorkKind kind);
inline std::size_t WorkKindIndex(WorkKind kind) {
  return static_cast<std::size_t>(kind);
}

// The size of one request: the bytes it moves (keys plus encoded values) and how many objects
// (records, keys) they are. The budget charges both, because per-object work (a read, a merge,
// a write) dominates the cost of small objects (docs/design/governor.md "Cost").
struct WorkSize {
  std::uint64_t bytes = 0;
  std::uint64_t objects = 0;
};

// A held stream: a move-only handle (an id) with no destructor side effect — the holder must
// give it back with ReleaseStream. A moved-from slot has id 0, which no budget ever issues.
class StreamSlot {
 public:
  // Budgets mint slots; an id of 0 is invalid.
  StreamSlot(std::uint64_t id, WorkKind kind) : id_(id), kind_(kind) {}
  StreamSlot(StreamSlot&& other) noexcept : id_(std::exchange(other.id_, 0)), kind_(other.kind_) {}
  StreamSlot& operator=(StreamSlot&& other) noexcept {
    id_ = std::exchange(other.id_, 0);
    kind_ = other.kind_;
    return *this;
  }
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;
  ~StreamSlot() = default;

  std::uint64_t id() const { return id_; }
  WorkKind kind() const { return kind_; }

 private:
  std::uint64_t id_;
  WorkKind kind_;
};

class BackgroundBudget {
 public:
  virtual ~BackgroundBudget() = default;

  // A stream slot for `kind`, or nullopt when the streams are all held (or other kinds that
  // were refused earlier are first in line); ask again later.
  [[nodiscard]] virtual std::optional<StreamSlot> TryAcquireStream(WorkKind kind,
                                                                   std::uint64_t now_ms) = 0;
  // Gives a slot back. A slot that this budget did not issue or already took back (id 0
  // included) is a checked error.
  virtual void ReleaseStream(StreamSlot slot) = 0;

  // Asks to send `size` now: true (and the size is debited) when the budget allows, false
  // otherwise (nothing is debited; ask again later).
  [[nodiscard]] virtual bool TrySpend(WorkKind kind, WorkSize size, std::uint64_t now_ms) = 0;
  // Debits `size` unconditionally, for work that has happened or cannot wait (an anti-entropy
  // responder's copies: it keeps no state to hold them back). The budget may go into debt;
  // later requests of every kind wait until it is repaid, which paces whoever asks next.
  virtual void Charge(WorkKind kind, WorkSize size, std::uint64_t now_ms) = 0;
  // When a TrySpend of `size` by `kind` would pass if nothing else asked meanwhile: now_ms or
  // later; nullopt when `kind` waits behind other kinds, so the time depends on them.
  [[nodiscard]] virtual std::optional<std::uint64_t> NextGrantMs(WorkKind kind, WorkSize size,
                                                                 std::uint64_t now_ms) const = 0;
  // Whether Charge has taken the budget below zero at now_ms (nothing is granted until the debt
  // is repaid). Receivers hold their acks while it is (ack_pacer.h).
  [[nodiscard]] virtual bool InDebt(std::uint64_t now_ms) const = 0;
};

}  // namespace meridian::replication
