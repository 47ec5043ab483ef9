// PartitionActors: the actor ids under which this node mints dots, one per (partition, role).
//
// Why (issue 10): a dot (actor, counter) must name one write forever. DvvSet::Update mints
// the next counter of an actor from the copy it updates, and the new clock claims every
// earlier counter of that actor. Both are right only while the copy holds every dot the
// actor minted for the key. A copy that lost one — a fallback whose hint was delivered and
// deleted, a partition handed away and later owned again, a reaped tombstone — would mint a
// dot again, or claim to have seen a write it never held, and a merge would drop that write.
//
// The rule that makes it hold: an actor mints only while nothing it minted into can have
// been deleted. Every deletion of an object record (role kReplica: the objects column) or a
// hint record (role kFallback: the hints column) of a partition retires that partition's
// actor for the role (WriteObservingEngine reports them); the next write draws a fresh actor,
// which has minted nothing anywhere, so any copy holds all of its dots. Writes themselves
// only ever merge into a record (its clock never shrinks). A crash may lose unsynced
// records, so after an unclean stop every actor is fresh (LocalStore::Open); after a clean
// stop the actors are kept (persisted by LocalStore::Close), so a clock gains entries only
// when data was really dropped.
//
// Actor ids are drawn from the Env's random source (64 bits, never 0): two draws collide
// with probability ~ draws^2 / 2^65, and only a collision between actors that write the
// same key matters. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "core/version_vector.h"

namespace meridian::node {

// Which copy a write is minted into: this node's objects (it is a replica of the key) or a
// hint it keeps for the key's primaries (it coordinates as a fallback).
enum class MintRole : std::uint8_t { kReplica = 0, kFallback = 1 };

class PartitionActors {
 public:
  // `random` must outlive this object.
  PartitionActors(std::uint32_t partition_count, Random* random);

  // The actor that mints `partition`'s writes in `role`; draws a fresh one when the previous
  // one was retired (or none was drawn yet).
  ActorId Current(std::uint32_t partition, MintRole role);
  // A record of `partition` in `role`'s column was deleted: its actor mints no more.
  void Retire(std::uint32_t partition, MintRole role);
  // Every actor of `role` mints no more (a deleted key whose partition is unknown).
  void RetireAll(MintRole role);
  // Forgets every actor (after an unclean stop).
  void Clear();

  // The current actors, for LocalStore::Close. ON-DISK FORMAT (docs/format/storage.md,
  // "node/partition_actors"): varint count, then per actor partition (4 bytes LE), role
  // (1 byte) and actor (8 bytes LE, never 0).
  std::string Encode() const;
  // Restores what Encode wrote. Corruption when malformed or naming a partition outside the
  // ring; nothing changes then.
  Status Decode(std::string_view bytes);

  std::uint32_t partition_count() const { return partition_count_; }
  // Actors drawn since construction (fresh ones after retirements), for tests and metrics.
  std::uint64_t drawn() const { return drawn_; }

 private:
  std::size_t Slot(std::uint32_t partition, MintRole role) const;

  std::uint32_t partition_count_;
  Random* random_;
  std::vector<ActorId> actors_;  // by Slot; 0: none current
  std::uint64_t drawn_ = 0;
};

}  // namespace meridian::node
