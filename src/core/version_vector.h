// Dots and version vectors: the causal history of an object.
//
// A Dot (actor, counter) names one write event minted by replica `actor`. A VersionVector
// maps actors to the highest counter seen; it covers every dot (a, c) with c <= vv[a]
// (histories are contiguous per actor because only the actor itself mints its dots).
// Entries are kept sorted by actor with no zero counters, so equal histories compare equal.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace meridian {

// A replica's identity for minting dots. A replica that loses its data takes a new actor id
// so it never re-issues a dot it minted before.
using ActorId = std::uint64_t;

struct Dot {
  ActorId actor = 0;
  std::uint64_t counter = 0;
  friend auto operator<=>(const Dot&, const Dot&) = default;
};

// The counter of a single-use dot: the one dot of an actor drawn for a single write (a write
// forwarded to a primary, whose dot the forwarding node fixes so that every node that applies
// it applies the same version; docs/design/replication.md "Hedged forwarding"). No actor
// minting its own counters reaches it, so a clock entry with this counter is one.
inline constexpr std::uint64_t kSingleUseCounter = std::uint64_t{1} << 62;
inline bool IsSingleUse(const Dot& dot) {
  return dot.counter == kSingleUseCounter;
}

class VersionVector {
 public:
  VersionVector() = default;

  // The highest counter seen from `actor` (0 if none).
  std::uint64_t Get(ActorId actor) const;
  // Raises the entry for `actor` to at least `counter`.
  void Advance(ActorId actor, std::uint64_t counter);
  // True when the dot belongs to this history.
  bool Covers(const Dot& dot) const;
  // True when every event of `other` belongs to this history (this >= other).
  bool Descends(const VersionVector& other) const;
  // Pointwise maximum.
  void MergeFrom(const VersionVector& other);
  static VersionVector Merge(const VersionVector& a, const VersionVector& b);

  bool empty() const { return entries_.empty(); }
  const std::vector<std::pair<ActorId, std::uint64_t>>& entries() const { return entries_; }
  // Entries of single-use actors (counter kSingleUseCounter).
  std::size_t SingleUseEntries() const;
  // Removes the entry of `actor` (the history forgets its events). Only for pruning a
  // single-use entry once no copy of its write can exist (DvvSet::PruneSingleUse).
  void Forget(ActorId actor);
  std::string DebugString() const;

  friend bool operator==(const VersionVector&, const VersionVector&) = default;

 private:
  std::vector<std::pair<ActorId, std::uint64_t>> entries_;  // sorted by actor, counters > 0
};

}  // namespace meridian
