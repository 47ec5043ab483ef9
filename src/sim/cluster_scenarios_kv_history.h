// KvHistory: the KV scenarios' model of what reads may return, built from the client's side
// only (requests sent, replies received), in the style of a Jepsen checker.
//
// Every put writes a unique value. A write carries a context token; the workload knows which
// values a token covers: a get's token covers the values it returned, a write reply's token
// covers the request's token plus the value written. A write applied with a token discards
// exactly the values the token covers (causal overwrite; values it does not cover stay as
// siblings). So for each key:
//   acknowledged     values whose put was acknowledged;
//   superseded       values covered by the token of an acknowledged write;
//   maybe_superseded values covered by the token of a write that failed (Unavailable, Timeout)
//                    or got no reply (its node crashed): it may have been applied.
// The history has a logical clock: every call below is one step, so "acknowledged before the
// read was sent" is exact even within one virtual millisecond.
//
// Checks of the values V of one successful read (CheckRead):
//   * phantom:   V ⊆ values ever written;
//   * duplicate: no value twice in V (a write applied twice);
//   * siblings only for concurrent writes: no x, y in V where y's put carried a token covering
//     x. Such a y's object dominates x's dot, so no correct merge keeps both — whether or not
//     y was acknowledged before the read (this includes "y acknowledged before the read was
//     sent with a token covering x");
//   * with `strict` (a strict quorum: every read overlaps every acknowledged write):
//       - sees acknowledged writes: every value acknowledged before the read was sent is in V,
//         unless the token of some write sent before the read completed (now) covered it;
//       - no stale value: no value in V is covered by the token of a write acknowledged
//         before the read was sent.
// Final check of the values F a read returns once the cluster has converged (CheckFinal):
// CheckRead, and
//   * lost:        acknowledged \ (superseded ∪ maybe_superseded) ⊆ F
//   * resurrected: F ∩ superseded = ∅
// With `lww` (the bucket's conflict policy is last-write-wins) concurrent writes do not
// survive as siblings: the one with the greatest timestamp wins, which the client cannot see.
// So a read returns at most one value, and "lost" becomes: a key whose acknowledged writes are
// not all superseded reads as absent only if a delete of it was sent (a delete may win). The
// causal rules stay: a value an acknowledged write's token covered never comes back. (Not
// combined with `strict`: under lww a concurrent write may hide an acknowledged one.)
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace meridian::sim {

class KvHistory {
 public:
  using ValueSet = std::set<std::string>;
  using Step = std::uint64_t;  // the history's logical clock

  // A put of `value` (a delete when `value` is empty) whose token covers `covered` was sent.
  // A put's value must be new to the key.
  void OnWriteSent(const std::string& key, const std::string& value, const ValueSet& covered);
  // A read of `key` was sent; pass the returned step to CheckRead.
  Step OnReadSent(const std::string& key);
  // A write (put of `value`, or a delete when `value` is empty) whose token covered `covered`
  // was acknowledged, or failed / never answered.
  void OnWriteAcknowledged(const std::string& key, const std::string& value,
                           const ValueSet& covered);
  void OnWriteUnconfirmed(const std::string& key, const ValueSet& covered);

  // A successful read sent at step `sent` returned `values` (see above); InvalidArgument
  // naming the violation.
  Status CheckRead(const std::string& key, const std::vector<std::string>& values, Step sent,
                   bool strict, bool lww = false) const;
  // The final check (see above) of one key; InvalidArgument naming the violation.
  Status CheckFinal(const std::string& key, const std::vector<std::string>& values,
                    bool lww = false) const;

  // Keys with any write sent, in order.
  std::vector<std::string> Keys() const;
  // The values that must be present at the end.
  ValueSet Required(const std::string& key) const;

 private:
  struct Value {
    ValueSet covered;              // what its put's token covered
    std::optional<Step> acked_at;  // when its put was acknowledged
  };
  struct KeyHistory {
    std::map<std::string, Value> written;
    ValueSet superseded;
    ValueSet maybe_superseded;
    // value -> the earliest step at which an acknowledged write covering it was acknowledged.
    std::map<std::string, Step> superseded_at;
    ValueSet covered_by_sent;  // covered by the token of any write sent so far
    std::uint64_t deletes_sent = 0;
  };
  Step Advance() { return ++step_; }

  Step step_ = 0;
  std::map<std::string, KeyHistory> keys_;
};

}  // namespace meridian::sim
