#include "core/version_vector.h"

#include <algorithm>

#include "core/assert.h"

namespace meridian {

namespace {
auto FindActor(const std::vector<std::pair<ActorId, std::uint64_t>>& entries, ActorId actor) {
  return std::lower_bound(entries.begin(), entries.end(), actor,
                          [](const auto& entry, ActorId a) { return entry.first < a; });
}
}  // namespace

std::uint64_t VersionVector::Get(ActorId actor) const {
  auto it = FindActor(entries_, actor);
  return (it != entries_.end() && it->first == actor) ? it->second : 0;
}

void VersionVector::Advance(ActorId actor, std::uint64_t counter) {
  if (counter == 0) return;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), actor,
                             [](const auto& entry, ActorId a) { return entry.first < a; });
  if (it != entries_.end() && it->first == actor) {
    it->second = std::max(it->second, counter);
  } else {
    entries_.insert(it, {actor, counter});
  }
}

bool VersionVector::Covers(const Dot& dot) const {
  return dot.counter != 0 && Get(dot.actor) >= dot.counter;
}

bool VersionVector::Descends(const VersionVector& other) const {
  for (const auto& [actor, counter] : other.entries_) {
    if (Get(actor) < counter) return false;
  }
  return true;
}

void VersionVector::MergeFrom(const VersionVector& other) {
  std::vector<std::pair<ActorId, std::uint64_t>> merged;
  merged.reserve(entries_.size() + other.entries_.size());
  auto a = entries_.begin();
  auto b = other.entries_.begin();
  while (a != entries_.end() || b != other.entries_.end()) {
    if (b == other.entries_.end() || (a != entries_.end() && a->first < b->first)) {
      merged.push_back(*a++);
    } else if (a == entries_.end() || b->first < a->first) {
      merged.push_back(*b++);
    } else {
      merged.emplace_back(a->first, std::max(a->second, b->second));
      ++a;
      ++b;
    }
  }
  entries_ = std::move(merged);
}

VersionVector VersionVector::Merge(const VersionVector& a, const VersionVector& b) {
  VersionVector result = a;
  result.MergeFrom(b);
  return result;
}

std::size_t VersionVector::SingleUseEntries() const {
  std::size_t count = 0;
  for (const auto& [actor, counter] : entries_) count += counter == kSingleUseCounter ? 1 : 0;
  return count;
}

void VersionVector::Forget(ActorId actor) {
  auto it = FindActor(entries_, actor);
  if (it != entries_.end() && it->first == actor) entries_.erase(it);
}

std::string VersionVector::DebugString() const {
  std::string out = "{";
  for (const auto& [actor, counter] : entries_) {
    if (out.size() > 1) out += ", ";
    out += std::to_string(actor) + ":" + std::to_string(counter);
  }
  return out + "}";
}

}  // namespace meridian
