#include "node/forwarded_requests.h"

namespace meridian::node {

std::optional<std::uint64_t> ForwardedRequests::Track(Entry entry) {
  if (entries_.size() >= capacity_) return std::nullopt;
  const std::uint64_t id = ids_.Next();
  retained_bytes_ += entry.retained_bytes;
  entries_.emplace(id, std::move(entry));
  return id;
}

std::optional<ForwardedRequests::Entry> ForwardedRequests::Resolve(
    std::uint64_t forward_id, const std::string& from_address) {
  auto it = entries_.find(forward_id);
  if (it == entries_.end() || it->second.peer_address != from_address) return std::nullopt;
  Entry entry = std::move(it->second);
  entries_.erase(it);
  retained_bytes_ -= entry.retained_bytes;
  return entry;
}

std::vector<ForwardedRequests::Entry> ForwardedRequests::Expire(std::uint64_t now_ms) {
  std::vector<Entry> expired;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.deadline_ms <= now_ms) {
      retained_bytes_ -= it->second.retained_bytes;
      expired.push_back(std::move(it->second));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return expired;
}

std::vector<ForwardedRequests::Entry> ForwardedRequests::Abandon(
    const std::function<bool(const std::string& peer_address)>& silent) {
  std::vector<Entry> abandoned;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (silent(it->second.peer_address)) {
      retained_bytes_ -= it->second.retained_bytes;
      abandoned.push_back(std::move(it->second));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return abandoned;
}

}  // namespace meridian::node
