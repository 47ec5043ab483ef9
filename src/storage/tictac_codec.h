// Byte encodings of the tictac tree's levels for the wire, and of a whole tree for an owner
// that persists it. Format: docs/format/tictac.md.
// ON-WIRE/ON-DISK FORMAT: never change without a version bump.
//
// Every message is: version byte, kind byte, body, xxh3-64 checksum of everything before it.
// Decoders never read past their input, never allocate more than the input can describe
// (a whole tree at most 2^kTictacSegmentBitsMax hashes), and return Corruption for
// truncated, trailing, mis-checksummed, unknown-version, wrong-kind or out-of-rule bytes.
// A decoded value satisfies the rules written on its type (tictac_tree.h).
//
// Pure functions; thread-safe.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/tictac_tree.h"

namespace meridian::storage {

// The root and every branch hash (first step of an exchange). The decoder also checks that
// the root is the XOR of the branches.
std::string EncodeTictacBranchLevel(const TictacBranchLevel& level);
Result<TictacBranchLevel> DecodeTictacBranchLevel(std::string_view bytes);

// Selected segment hashes (second step). Requires strictly ascending, in-range segments.
std::string EncodeTictacSegmentHashes(const TictacSegmentHashes& hashes);
Result<TictacSegmentHashes> DecodeTictacSegmentHashes(std::string_view bytes);

// The keys and version hashes of one or more segments (last step). Requires keys strictly
// ascending bytewise and non-empty; the decoder checks the same.
std::string EncodeTictacKeyHashes(std::span<const KeyVersionHash> keys);
Result<std::vector<KeyVersionHash>> DecodeTictacKeyHashes(std::string_view bytes);

// A whole tree (its segment hashes; branches and root are recomputed on decoding).
std::string EncodeTictacTree(const TictacTree& tree);
Result<TictacTree> DecodeTictacTree(std::string_view bytes);

}  // namespace meridian::storage
