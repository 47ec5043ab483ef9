// The key level of anti-entropy: what a key's version hash is, and the last step of an
// exchange, which compares the keys of one differing segment as listed by both replicas.
//
// ObjectVersionHash is an ON-WIRE CONSTANT (docs/format/tictac.md): two replicas holding the
// same DvvSet must compute the same hash, whatever software version or object record format
// each runs, so it hashes a canonical form of the DvvSet defined there — not the stored
// bytes. Never change it without a format version bump.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dvv_set.h"
#include "core/status.h"
#include "storage/engine.h"
#include "storage/tictac_tree.h"

namespace meridian::storage {

// xxh3-64 of the canonical form of `object`: its clock and every sibling's dot, timestamp,
// tombstone flag and value (through xxh3-64 of the value). Equal DvvSets hash equal; a
// difference in any of these changes the hash except with probability 2^-64.
std::uint64_t ObjectVersionHash(const DvvSet& object);

// ObjectVersionHash of an object record as stored (docs/format/object.md). Corruption when
// the record does not decode.
Result<std::uint64_t> EncodedObjectVersionHash(std::string_view encoded_object);

// ObjectVersionHash of the record a put of Column::kObjects writes: the writer's
// `op.object_hash` when it gave one (debug builds check it against the record), otherwise
// taken from the record. Corruption when it must be taken and the record does not decode.
Result<std::uint64_t> PutObjectVersionHash(const WriteBatch::Op& op);

// A key present on one side only, or on both with different version hashes.
struct KeyDifference {
  std::string key;
  std::optional<std::uint64_t> local_version_hash;   // nullopt: only the remote has the key
  std::optional<std::uint64_t> remote_version_hash;  // nullopt: only the local side has it
  friend bool operator==(const KeyDifference&, const KeyDifference&) = default;
};

// The keys on which `local` and `remote` disagree, ascending by key. Both lists must be
// strictly ascending by key (bytewise, as Engine::Scan yields them, so keys are distinct);
// InvalidArgument otherwise, since a merge walk over unsorted input would miss differences.
// O(|local| + |remote|).
Result<std::vector<KeyDifference>> DiffSegmentKeys(std::span<const KeyVersionHash> local,
                                                   std::span<const KeyVersionHash> remote);

}  // namespace meridian::storage
