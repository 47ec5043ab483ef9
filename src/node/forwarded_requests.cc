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
  return TakeIf([now_ms](const Entry& entry) { return entry.deadline_ms <= now_ms; });
}

std::vector<ForwardedRequests::Entry> ForwardedRequests::TakeUnanswered(std::uint64_t now_ms,
                                                                        std::uint64_t after_ms) {
  return TakeIf([now_ms, after_ms](const Entry& entry) {
    return entry.retained.has_value() && entry.started_ms + after_ms <= now_ms;
  });
}

std::vector<ForwardedRequests::Entry> ForwardedRequests::Abandon(
    const std::function<bool(const std::string& peer_address)>& silent) {
  return TakeIf([&silent](const Entry& entry) { return silent(entry.peer_address); });
}

std::vector<ForwardedRequests::Entry> ForwardedRequests::TakeIf(
    const std::function<bool(const Entry&)>& take) {
  std::vector<Entry> taken;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (take(it->second)) {
      retained_bytes_ -= it->second.retained_bytes;
      taken.push_back(std::move(it->second));
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

}  // namespace meridian::node
