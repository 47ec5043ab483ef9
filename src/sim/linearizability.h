// A linearizability checker for histories of per-key registers (Wing & Gong 1993; Lowe,
// "Testing for linearizability", 2017; Porcupine's checkSingle).
//
// The model: every key is an independent register, initially absent, with four operations —
// Read (observes the value or absence), Write(v), Delete, and Cas(expected, new), which
// replaces the value with `new` (nullopt: deletes) iff it currently equals `expected`
// (nullopt: "only if absent") and reports whether it did.
//
// A history is a set of operations, each with a call and a return time. Times are logical
// event positions of one recorder: A precedes B in real time iff A.return_time < B.call_time
// (equal times count as concurrent). An operation's outcome is
//   kOk       it took effect, and its result (observed / succeeded) is known;
//   kFailed   it is known not to have taken effect: the checker ignores it;
//   kUnknown  it may or may not have taken effect (a timeout): it may be linearized at any point
//             after its call, or never, and its result is unconstrained.
// The history is linearizable iff, for every key (P-compositionality), the kOk operations and
// some subset of the kUnknown ones can be totally ordered so that the order respects real time
// and every kOk result is the one the register would have given.
//
// Deterministic and single-threaded: no clock, no randomness.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::sim {

enum class OpKind : std::uint8_t { kRead, kWrite, kDelete, kCas };
enum class OpOutcome : std::uint8_t { kOk, kFailed, kUnknown };

std::string_view OpKindName(OpKind kind);        // "read", "write", "delete", "cas"
std::string_view OpOutcomeName(OpOutcome kind);  // "ok", "failed", "unknown"

// One operation of a history, on one key. Fields that do not apply to `kind` are unset.
struct Operation {
  std::uint64_t id = 0;      // unique within the history
  std::uint64_t client = 0;  // who issued it (for explanations only)
  std::string key;
  OpKind kind = OpKind::kRead;
  // Write: the value written (required). Cas: the new value (nullopt = delete the key).
  std::optional<std::string> value;
  // Cas: the value the key must hold for the swap to happen (nullopt = must be absent).
  std::optional<std::string> expected;
  std::uint64_t call_time = 0;
  // Required (and >= call_time) for kOk; optional for kFailed; ignored for kUnknown.
  std::optional<std::uint64_t> return_time;
  OpOutcome outcome = OpOutcome::kOk;
  // Read with kOk: the value seen (nullopt = the key was absent).
  std::optional<std::string> observed;
  // Cas with kOk: true when the swap happened, false when the precondition did not hold.
  bool succeeded = false;

  bool operator==(const Operation&) const = default;
};

// OK iff `history` is well formed: unique ids; a return time >= the call time wherever one is
// given, and one given for every kOk operation; a value for every Write, none for a Delete or a
// Read; an observed value only on Reads; an expected value only on Cas. The message names the
// first offending operation.
Status ValidateHistory(const std::vector<Operation>& history);

struct CheckOptions {
  // Search steps allowed per key before giving up on that key: candidate operations tried,
  // plus comparisons with explored nodes that differ only in operations with an unknown
  // outcome. Bounds the time and memory a key takes (about 0.1 s per million steps).
  std::uint64_t step_budget = 10'000'000;
};

enum class Verdict : std::uint8_t { kLinearizable, kViolation, kUndecided };
std::string_view VerdictName(Verdict verdict);  // "linearizable", "violation", "undecided"

struct CheckResult {
  Verdict verdict = Verdict::kLinearizable;
  // kViolation: the first key (in key order) whose sub-history is not linearizable.
  // kUndecided: the first key whose search ran out of budget (when no key is a violation).
  std::string key;
  // kViolation / kUndecided: the ids of the longest linearizable prefix found for `key`, in
  // linearization order (Porcupine's partial linearization). kViolation: the ids of the
  // operations that cannot be linearized next after it, first the one that returned first.
  std::vector<std::uint64_t> longest_prefix;
  std::vector<std::uint64_t> unlinearizable;
  // One human-readable paragraph: the verdict and, for a violation, why.
  std::string explanation;
  // Statistics: search steps over all keys checked, and the number of keys checked.
  std::uint64_t steps = 0;
  std::size_t keys_checked = 0;
};

// Checks `history`, which must satisfy ValidateHistory (checked). Stops at the first key that
// is a violation; a key that runs out of budget makes the verdict kUndecided unless another
// key is a violation.
CheckResult CheckLinearizable(const std::vector<Operation>& history,
                              const CheckOptions& options = {});

// "op 41 (read by client 3, called at 120, returned at 133, saw \"v9\")", for messages.
std::string DescribeOperation(const Operation& op);

}  // namespace meridian::sim
