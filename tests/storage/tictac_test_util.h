// Helpers shared by the tictac tests: storage keys, small shapes, and the dumb reference — a
// map from key to version hash from which a tree's every level is recomputed from scratch.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "storage/key_encoding.h"
#include "storage/tictac_tree.h"

namespace meridian::storage::test_support {

// The reference state of a partition: storage key -> version hash.
using KeyHashMap = std::map<std::string, std::uint64_t>;

inline std::string TestStorageKey(int index) {
  return EncodeObjectKey(5, "bucket", "key-" + std::to_string(index));
}

// Shapes small enough that keys share segments and branches: up to 256 segments.
inline rc::Gen<TictacShape> SmallShape() {
  return rc::gen::mapcat(rc::gen::inRange(0, 9), [](int segment_bits) {
    return rc::gen::map(rc::gen::inRange(0, segment_bits + 1), [segment_bits](int branch_bits) {
      return TictacShape{segment_bits, branch_bits};
    });
  });
}

// A key from a small universe (so that random operations overwrite and remove keys), or now
// and then an arbitrary one.
inline rc::Gen<std::string> KeyFromSmallUniverse() {
  return rc::gen::oneOf(rc::gen::map(rc::gen::inRange(0, 24), TestStorageKey),
                        rc::gen::nonEmpty(rc::gen::string<std::string>()));
}

inline rc::Gen<KeyHashMap> KeyHashMaps() {
  return rc::gen::container<KeyHashMap>(KeyFromSmallUniverse(),
                                        rc::gen::arbitrary<std::uint64_t>());
}

// Every level recomputed from the map, sharing nothing with TictacTree but the two hash
// functions that define what a key contributes where.
struct ReferenceTree {
  std::vector<std::uint64_t> segments;
  std::vector<std::uint64_t> branches;
  std::uint64_t root = 0;
};

inline ReferenceTree Recompute(const TictacShape& shape, const KeyHashMap& keys) {
  ReferenceTree reference;
  reference.segments.assign(shape.segment_count(), 0);
  reference.branches.assign(shape.branch_count(), 0);
  for (const auto& [key, version_hash] : keys) {
    const std::uint32_t segment = TictacSegmentOf(key, shape.segment_bits);
    const std::uint64_t contribution = TictacKeyContribution(key, version_hash);
    reference.segments[segment] ^= contribution;
    reference.branches[segment / shape.segments_per_branch()] ^= contribution;
    reference.root ^= contribution;
  }
  return reference;
}

inline bool MatchesReference(const TictacTree& tree, const ReferenceTree& reference) {
  if (tree.root() != reference.root) return false;
  for (std::uint32_t b = 0; b < reference.branches.size(); ++b) {
    if (tree.branch(b) != reference.branches[b]) return false;
  }
  return tree.segments() == reference.segments;
}

inline TictacTree BuildTree(const TictacShape& shape, const KeyHashMap& keys) {
  TictacTree tree(shape);
  for (const auto& [key, version_hash] : keys) tree.Update(key, std::nullopt, version_hash);
  return tree;
}

}  // namespace meridian::storage::test_support
