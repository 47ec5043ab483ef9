// The tictac (anti-entropy Merkle tree) codec, storage/tictac_codec.h: branch levels, segment
// hashes and key hashes arrive from peers in AaeExchangeStart, AaeSegmentHashes and
// AaeKeyHashes; whole trees are read back from disk.
//
// Contract: no bytes make a decoder crash, trip ASan/UBSan or allocate more than its input
// describes; a decoded value satisfies its type's rules, survives encode -> decode unchanged
// (not byte for byte: varints may come overlong; re-encoding gives the canonical bytes) and
// can be compared against a local tree of the anti-entropy shape (the comparisons refuse,
// never crash on, remote levels of another shape).
//
// Input: byte 0: bits 0-1 the message kind (branch level, segment hashes, key hashes, tree);
// bit 2: the rest is a body to which the version/kind header and a valid checksum are added
// (so mutations reach the body parser instead of stopping at the checksum), else the whole
// message as received.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_codec.h"
#include "fuzz_support.h"
#include "replication/anti_entropy.h"
#include "storage/tictac_codec.h"
#include "storage/tictac_tree.h"

namespace meridian::fuzz {
namespace {

// A local tree of the shape nodes use, with a few keys so that comparisons find differences.
const storage::TictacTree& LocalTree() {
  static const storage::TictacTree tree = [] {
    storage::TictacTree local(replication::AntiEntropyConfig{}.shape);
    for (int i = 0; i < 64; ++i) local.Update("key-" + std::to_string(i), std::nullopt, i * 7919);
    return local;
  }();
  return tree;
}

template <typename Value, typename Encode, typename Decode>
const Value* RoundTrip(std::string_view bytes, Result<Value>& decoded, Encode encode,
                       Decode decode) {
  decoded = decode(bytes);
  if (!decoded.ok()) {
    MERIDIAN_FUZZ_CHECK(decoded.status().code() == StatusCode::kCorruption);
    return nullptr;
  }
  // Not necessarily the input's bytes (varints may be overlong), but a fixed point.
  const std::string encoded = encode(*decoded);
  Result<Value> again = decode(encoded);
  MERIDIAN_FUZZ_CHECK(again.ok() && *again == *decoded);
  MERIDIAN_FUZZ_CHECK(encode(*again) == encoded);
  return &*decoded;
}

}  // namespace
}  // namespace meridian::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace meridian;
  using namespace meridian::fuzz;
  using namespace meridian::storage;
  if (size == 0) return 0;
  const int kind = data[0] & 3;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 4) != 0) {
    std::string sealed;
    sealed.push_back(1);  // format version
    sealed.push_back(static_cast<char>(kind + 1));
    sealed += bytes;
    PutFixed64(sealed, XXH3_64bits(sealed.data(), sealed.size()));
    bytes = std::move(sealed);
  }
  const TictacTree& local = LocalTree();
  switch (kind) {
    case 0: {
      Result<TictacBranchLevel> decoded = Status::Internal("unset");
      if (const auto* level =
              RoundTrip(bytes, decoded, EncodeTictacBranchLevel, DecodeTictacBranchLevel)) {
        MERIDIAN_FUZZ_CHECK(level->shape.valid());
        MERIDIAN_FUZZ_CHECK(level->branches.size() == level->shape.branch_count());
        auto dirty = local.DirtyBranches(*level);
        if (dirty.ok()) {
          MERIDIAN_FUZZ_CHECK(level->shape == local.shape());
          for (std::uint32_t branch : *dirty) MERIDIAN_FUZZ_CHECK(branch < level->branches.size());
        }
      }
      break;
    }
    case 1: {
      Result<TictacSegmentHashes> decoded = Status::Internal("unset");
      if (const auto* hashes =
              RoundTrip(bytes, decoded, EncodeTictacSegmentHashes, DecodeTictacSegmentHashes)) {
        for (std::size_t i = 0; i < hashes->segments.size(); ++i) {
          MERIDIAN_FUZZ_CHECK(hashes->segments[i].segment < hashes->shape.segment_count());
          MERIDIAN_FUZZ_CHECK(i == 0 ||
                              hashes->segments[i - 1].segment < hashes->segments[i].segment);
        }
        auto differing = local.DifferingSegments(*hashes);
        if (differing.ok()) MERIDIAN_FUZZ_CHECK(differing->size() <= hashes->segments.size());
      }
      break;
    }
    case 2: {
      Result<std::vector<KeyVersionHash>> decoded = Status::Internal("unset");
      const auto encode = [](const std::vector<KeyVersionHash>& keys) {
        return EncodeTictacKeyHashes(keys);
      };
      if (const auto* keys = RoundTrip(bytes, decoded, encode, DecodeTictacKeyHashes)) {
        for (std::size_t i = 0; i < keys->size(); ++i) {
          MERIDIAN_FUZZ_CHECK(!(*keys)[i].key.empty());
          MERIDIAN_FUZZ_CHECK(i == 0 || (*keys)[i - 1].key < (*keys)[i].key);
        }
        // A segment rebuilt from these keys: refused unless they all belong to it.
        if (!keys->empty()) {
          TictacTree tree = local;
          const std::uint32_t segment = tree.SegmentOf(keys->front().key);
          if (tree.ReplaceSegment(segment, *keys).ok()) MERIDIAN_FUZZ_CHECK(tree.CheckInvariants());
        }
      }
      break;
    }
    default: {
      Result<TictacTree> decoded = Status::Internal("unset");
      if (const auto* tree = RoundTrip(bytes, decoded, EncodeTictacTree, DecodeTictacTree)) {
        MERIDIAN_FUZZ_CHECK(tree->CheckInvariants());
        if (tree->shape() == local.shape()) {
          const std::vector<std::uint32_t> differing = tree->DifferingSegments(local);
          MERIDIAN_FUZZ_CHECK(differing.size() <= tree->shape().segment_count());
        }
      }
      break;
    }
  }
  return 0;
}
