// KvHistory: the cluster-kv scenario's model of what a key may hold at the end, built from the
// client's side only (requests sent, replies received), in the style of a Jepsen checker.
//
// Every put writes a unique value. A write carries a context token; the workload knows which
// values a token covers: a get's token covers the values it returned, a write reply's token
// covers the request's token plus the value written. A write applied with a token discards
// exactly the values the token covers (causal overwrite; values it does not cover stay as
// siblings). So for each key:
//   acknowledged     values whose put was acknowledged (dw = 1: durable before the reply);
//   superseded       values covered by the token of an acknowledged write;
//   maybe_superseded values covered by the token of a write that failed (Unavailable, Timeout)
//                    or got no reply (its node crashed): it may have been applied.
// Final check of the values F that a read returns once the cluster has converged:
//   * lost:       acknowledged \ (superseded ∪ maybe_superseded) ⊆ F
//   * phantom:    F ⊆ values ever written
//   * resurrected: F ∩ superseded = ∅
//   * duplicate:  no value twice in F (a write applied twice)
// Reads during the run are checked for phantoms only (a read may be stale while ownership moves
// or a restarted node still holds an old ring). Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace meridian::sim {

class KvHistory {
 public:
  using ValueSet = std::set<std::string>;

  // A put of `value` was sent (the value must be new to the key).
  void OnPutSent(const std::string& key, const std::string& value);
  // A write (put of `value`, or a delete when `value` is empty) whose token covered `covered`
  // was acknowledged, or failed / never answered.
  void OnWriteAcknowledged(const std::string& key, const std::string& value,
                           const ValueSet& covered);
  void OnWriteUnconfirmed(const std::string& key, const ValueSet& covered);
  // A read during the run: InvalidArgument naming a value that was never written.
  Status CheckRead(const std::string& key, const std::vector<std::string>& values) const;
  // The final check (see above) of one key; InvalidArgument naming the violation.
  Status CheckFinal(const std::string& key, const std::vector<std::string>& values) const;

  // Keys with any write sent, in order.
  std::vector<std::string> Keys() const;
  // The values that must be present at the end.
  ValueSet Required(const std::string& key) const;

 private:
  struct KeyHistory {
    ValueSet written;
    ValueSet acknowledged;
    ValueSet superseded;
    ValueSet maybe_superseded;
  };
  std::map<std::string, KeyHistory> keys_;
};

}  // namespace meridian::sim
