// DvvSet: the versioned state of one object — a causal history (VersionVector) plus the
// set of concurrent values (siblings), each tagged with the dot of the write that made it.
// This is the "dotted causal container" form of dotted version vector sets (Almeida et al.,
// "Scalable and Accurate Causality Tracking for Eventually Consistent Stores", 2014).
//
// Invariants (checked by CheckInvariants, property-tested):
//   * every sibling's dot is covered by clock();
//   * no two siblings share a dot;
//   * siblings are sorted by dot.
// A dot names one write everywhere: two states holding the same dot with different contents
// mean a dot was minted twice (a bug that would silently drop a write). Merge refuses them,
// in every build. Deletes are tombstone siblings, so a delete is versioned like a write and a stale
// replica cannot resurrect the value it superseded. Value type; not thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/hlc.h"
#include "core/status.h"
#include "core/version_vector.h"

namespace meridian {

enum class ConflictPolicy {
  kSiblings,       // keep every concurrent write (default)
  kLastWriteWins,  // keep the one with the greatest (timestamp, actor, counter)
};

struct Sibling {
  Dot dot;
  HlcTimestamp timestamp;  // when the coordinator accepted the write
  bool tombstone = false;  // a delete marker; `value` is empty
  std::string value;
  friend bool operator==(const Sibling&, const Sibling&) = default;
};

class DvvSet {
 public:
  DvvSet() = default;

  const VersionVector& clock() const { return clock_; }
  const std::vector<Sibling>& siblings() const { return siblings_; }
  bool empty() const { return siblings_.empty(); }
  // True when there are siblings and every one is a tombstone (the object reads as deleted).
  bool IsDeleted() const;
  // Number of siblings that are not tombstones.
  std::size_t LiveCount() const;

  // Replica join: the union of both states minus every sibling that one side has seen
  // (covered by its clock) but no longer holds. Commutative, associative, idempotent.
  // Internal ("reused version") when both hold a sibling with the same dot but different
  // contents; nothing is merged then.
  static Result<DvvSet> Merge(const DvvSet& a, const DvvSet& b);
  // Merge into this state; unchanged on error.
  [[nodiscard]] Status MergeFrom(const DvvSet& other);

  // A write coordinated by `actor` whose client had read `context`: discards the siblings
  // the context covers, mints the next dot of `actor` (greater than any dot of `actor` in
  // this state or in `context`), adds the new sibling and folds `context` into the clock.
  // Returns the new sibling's dot. Under kLastWriteWins the result keeps one sibling.
  Dot Update(const VersionVector& context, ActorId actor, HlcTimestamp timestamp, bool tombstone,
             std::string value, ConflictPolicy policy);

  // A write whose dot and timestamp were fixed by the node that took it from its client
  // (`dot` single-use, IsSingleUse): like Update, but every node that applies it makes the same
  // sibling, so two applications merge as one write. Returns false and changes nothing when
  // this state (or the context) already covers `dot`: applied here before, or superseded.
  bool Apply(const VersionVector& context, Dot dot, HlcTimestamp timestamp, bool tombstone,
             std::string value, ConflictPolicy policy);

  // Single-use entries of the clock whose write is no longer a sibling (superseded).
  std::size_t SupersededSingleUseEntries() const;
  // Forgets every superseded single-use entry; returns how many went. Safe only once no copy
  // of any of those writes can still be applied anywhere (a hedged copy, a hint, a message in
  // flight): Apply would take it as new. Tombstone reaping's rounds establish that
  // (docs/design/tombstones.md "Pruning single-use entries"); a state that still holds the
  // entries merges back to them, so a replica that missed the prune is harmless.
  std::size_t PruneSingleUse();
  // The actors of the superseded single-use entries, ascending.
  std::vector<ActorId> SupersededSingleUseActors() const;
  // Forgets the superseded single-use entries of the actors in `actors` (ascending); returns how
  // many went. An actor whose write is a sibling here, or that has no single-use entry, is
  // left alone. The same safety condition as PruneSingleUse, for those writes only.
  std::size_t ForgetSupersededSingleUse(std::span<const ActorId> actors);
  // Whether a sibling is the single-use write of an actor in `actors` (ascending): a copy of
  // that write, which would come back as new where its entry was forgotten.
  bool HoldsSingleUseWriteOf(std::span<const ActorId> actors) const;

  // Keeps only the sibling with the greatest (timestamp, dot); no-op when empty.
  void ResolveLastWriteWins();

  // Returns true when the invariants above hold.
  bool CheckInvariants() const;

  // Builds a state from decoded parts (sorting the siblings); nullopt when the result would
  // violate the invariants. For codecs.
  static std::optional<DvvSet> FromParts(VersionVector clock, std::vector<Sibling> siblings);

  friend bool operator==(const DvvSet&, const DvvSet&) = default;

 private:
  // The write `dot` after `context`: drops the siblings the context covers, folds it and the
  // dot into the clock, adds the sibling (one, under kLastWriteWins).
  void AddWrite(const VersionVector& context, Dot dot, HlcTimestamp timestamp, bool tombstone,
                std::string value, ConflictPolicy policy);
  // Calls `visit(actor)` for each single-use clock entry whose dot is not a sibling's.
  template <typename Visit>
  void ForEachSupersededSingleUse(Visit&& visit) const;

  VersionVector clock_;
  std::vector<Sibling> siblings_;  // sorted by dot
};

}  // namespace meridian
