// ChosenProposalCache: per key, the last proposal this node got chosen (StrongProposer's fast
// path), bounded. An entry is taken out when a write starts from it — two writes must never
// propose at the same successor ballot — and put back when a proposal is chosen. Losing an
// entry (eviction, restart) only costs the next write its fast path.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "replication/strong_proposer.h"

namespace meridian::replication {

class ChosenProposalCache {
 public:
  explicit ChosenProposalCache(std::size_t keys_max) : keys_max_(keys_max) {}

  // Removes and returns the entry of `key`, if any.
  std::optional<ChosenProposal> Take(const std::string& key);
  // Records `proposal` for `key`, replacing an older one; evicts the oldest entry beyond
  // keys_max.
  void Put(const std::string& key, ChosenProposal proposal);
  std::size_t size() const { return entries_.size(); }

 private:
  std::size_t keys_max_;
  std::map<std::string, ChosenProposal> entries_;
  std::deque<std::string> order_;  // insertion order; may name keys already taken
};

}  // namespace meridian::replication
