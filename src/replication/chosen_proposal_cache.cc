#include "replication/chosen_proposal_cache.h"

#include <utility>

namespace meridian::replication {

std::optional<ChosenProposal> ChosenProposalCache::Take(const std::string& key) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  ChosenProposal proposal = std::move(it->second);
  entries_.erase(it);
  return proposal;
}

void ChosenProposalCache::Put(const std::string& key, ChosenProposal proposal) {
  if (keys_max_ == 0) return;
  const auto [it, inserted] = entries_.insert_or_assign(key, std::move(proposal));
  (void)it;
  if (inserted) order_.push_back(key);
  while (entries_.size() > keys_max_ && !order_.empty()) {
    entries_.erase(order_.front());  // may name an entry taken since: then nothing goes
    order_.pop_front();
  }
  if (order_.size() > 2 * keys_max_ + 16) {
    // Names of entries taken since pile up: start the order afresh from what is held.
    order_.clear();
    for (const auto& [name, entry] : entries_) order_.push_back(name);
  }
}

}  // namespace meridian::replication
