#include "core/dvv_set.h"

#include <algorithm>
#include <tuple>

#include "core/assert.h"

namespace meridian {

namespace {
bool DotLess(const Sibling& a, const Sibling& b) {
  return a.dot < b.dot;
}

// Sibling order under last-write-wins: later timestamp wins; the dot breaks ties so every
// replica picks the same winner.
bool LwwLess(const Sibling& a, const Sibling& b) {
  return std::tie(a.timestamp, a.dot) < std::tie(b.timestamp, b.dot);
}
}  // namespace

bool DvvSet::IsDeleted() const {
  return !siblings_.empty() && LiveCount() == 0;
}

std::size_t DvvSet::LiveCount() const {
  return static_cast<std::size_t>(std::count_if(siblings_.begin(), siblings_.end(),
                                                [](const Sibling& s) { return !s.tombstone; }));
}

namespace {
Status ReusedDot(const Sibling& a, const Sibling& b) {
  return Status::Internal("version conflict: dot (actor " + std::to_string(a.dot.actor) +
                          ", counter " + std::to_string(a.dot.counter) +
                          ") names two different writes (timestamps " +
                          std::to_string(a.timestamp.physical_ms()) + " and " +
                          std::to_string(b.timestamp.physical_ms()) +
                          "); a version was minted twice, so the objects are not merged");
}
}  // namespace

Status DvvSet::MergeFrom(const DvvSet& other) {
  auto merged = Merge(*this, other);
  if (!merged.ok()) return merged.status();
  *this = std::move(merged).value();
  return Status::Ok();
}

Result<DvvSet> DvvSet::Merge(const DvvSet& a, const DvvSet& b) {
  DvvSet result;
  result.clock_ = VersionVector::Merge(a.clock_, b.clock_);
  result.siblings_.reserve(a.siblings_.size() + b.siblings_.size());
  auto ia = a.siblings_.begin();
  auto ib = b.siblings_.begin();
  // Both lists are sorted by dot: walk them together.
  while (ia != a.siblings_.end() || ib != b.siblings_.end()) {
    if (ib == b.siblings_.end() || (ia != a.siblings_.end() && ia->dot < ib->dot)) {
      // Only in a: keep unless b has seen it (and so has superseded it).
      if (!b.clock_.Covers(ia->dot)) result.siblings_.push_back(*ia);
      ++ia;
    } else if (ia == a.siblings_.end() || ib->dot < ia->dot) {
      if (!a.clock_.Covers(ib->dot)) result.siblings_.push_back(*ib);
      ++ib;
    } else {
      // The same dot names the same write on every replica.
      if (!(*ia == *ib)) return ReusedDot(*ia, *ib);
      result.siblings_.push_back(*ia);
      ++ia;
      ++ib;
    }
  }
  MERIDIAN_DCHECK(result.CheckInvariants());
  return result;
}

Dot DvvSet::Update(const VersionVector& context, ActorId actor, HlcTimestamp timestamp,
                   bool tombstone, std::string value, ConflictPolicy policy) {
  MERIDIAN_CHECK(actor != 0);
  const Dot dot{actor, std::max(clock_.Get(actor), context.Get(actor)) + 1};
  AddWrite(context, dot, timestamp, tombstone, std::move(value), policy);
  return dot;
}

void DvvSet::AddWrite(const VersionVector& context, Dot dot, HlcTimestamp timestamp, bool tombstone,
                      std::string value, ConflictPolicy policy) {
  std::erase_if(siblings_, [&](const Sibling& s) { return context.Covers(s.dot); });
  clock_.MergeFrom(context);
  clock_.Advance(dot.actor, dot.counter);
  Sibling sibling{dot, timestamp, tombstone, tombstone ? std::string() : std::move(value)};
  auto position = std::upper_bound(siblings_.begin(), siblings_.end(), sibling, DotLess);
  siblings_.insert(position, std::move(sibling));
  if (policy == ConflictPolicy::kLastWriteWins) ResolveLastWriteWins();
  MERIDIAN_DCHECK(CheckInvariants());
}

bool DvvSet::Apply(const VersionVector& context, Dot dot, HlcTimestamp timestamp, bool tombstone,
                   std::string value, ConflictPolicy policy) {
  MERIDIAN_CHECK(dot.actor != 0 && IsSingleUse(dot));
  if (clock_.Covers(dot) || context.Covers(dot)) return false;
  AddWrite(context, dot, timestamp, tombstone, std::move(value), policy);
  return true;
}

namespace {
bool IsSiblingDot(const std::vector<Sibling>& siblings, const Dot& dot) {
  auto it = std::lower_bound(siblings.begin(), siblings.end(), dot,
                             [](const Sibling& s, const Dot& d) { return s.dot < d; });
  return it != siblings.end() && it->dot == dot;
}
}  // namespace

template <typename Visit>
void DvvSet::ForEachSupersededSingleUse(Visit&& visit) const {
  for (const auto& [actor, counter] : clock_.entries()) {
    const Dot dot{actor, counter};
    if (IsSingleUse(dot) && !IsSiblingDot(siblings_, dot)) visit(actor);
  }
}

std::size_t DvvSet::SupersededSingleUseEntries() const {
  std::size_t count = 0;
  ForEachSupersededSingleUse([&](ActorId) { ++count; });
  return count;
}

std::size_t DvvSet::PruneSingleUse() {
  std::vector<ActorId> superseded;
  ForEachSupersededSingleUse([&](ActorId actor) { superseded.push_back(actor); });
  for (ActorId actor : superseded) clock_.Forget(actor);
  MERIDIAN_DCHECK(CheckInvariants());
  return superseded.size();
}

std::vector<ActorId> DvvSet::SupersededSingleUseActors() const {
  std::vector<ActorId> actors;
  ForEachSupersededSingleUse([&](ActorId actor) { actors.push_back(actor); });
  return actors;  // the clock's entries are sorted by actor
}

std::size_t DvvSet::ForgetSupersededSingleUse(std::span<const ActorId> actors) {
  MERIDIAN_DCHECK(std::is_sorted(actors.begin(), actors.end()));
  std::vector<ActorId> forgotten;
  ForEachSupersededSingleUse([&](ActorId actor) {
    if (std::binary_search(actors.begin(), actors.end(), actor)) forgotten.push_back(actor);
  });
  for (ActorId actor : forgotten) clock_.Forget(actor);
  MERIDIAN_DCHECK(CheckInvariants());
  return forgotten.size();
}

bool DvvSet::HoldsSingleUseWriteOf(std::span<const ActorId> actors) const {
  MERIDIAN_DCHECK(std::is_sorted(actors.begin(), actors.end()));
  return std::any_of(siblings_.begin(), siblings_.end(), [&](const Sibling& sibling) {
    return IsSingleUse(sibling.dot) &&
           std::binary_search(actors.begin(), actors.end(), sibling.dot.actor);
  });
}

void DvvSet::ResolveLastWriteWins() {
  if (siblings_.size() <= 1) return;
  auto winner = std::max_element(siblings_.begin(), siblings_.end(), LwwLess);
  Sibling kept = std::move(*winner);
  siblings_.clear();
  siblings_.push_back(std::move(kept));
}

bool DvvSet::CheckInvariants() const {
  for (std::size_t i = 0; i < siblings_.size(); ++i) {
    if (!clock_.Covers(siblings_[i].dot)) return false;
    if (i > 0 && !(siblings_[i - 1].dot < siblings_[i].dot)) return false;
    if (siblings_[i].tombstone && !siblings_[i].value.empty()) return false;
  }
  for (const auto& [actor, counter] : clock_.entries()) {
    if (counter == 0) return false;
  }
  return true;
}

std::optional<DvvSet> DvvSet::FromParts(VersionVector clock, std::vector<Sibling> siblings) {
  DvvSet result;
  result.clock_ = std::move(clock);
  result.siblings_ = std::move(siblings);
  std::sort(result.siblings_.begin(), result.siblings_.end(), DotLess);
  if (!result.CheckInvariants()) return std::nullopt;
  return result;
}

}  // namespace meridian
