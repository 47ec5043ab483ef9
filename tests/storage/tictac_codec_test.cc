// Tictac codecs (storage/tictac_codec.h, docs/format/tictac.md): pinned example bytes, round
// trips, and decoders that reject — never crash on — truncated, altered or forged input.
#include "storage/tictac_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <xxhash.h>

#include <functional>
#include <set>

#include "core/byte_codec.h"
#include "storage/tictac_test_util.h"

namespace meridian::storage {
namespace {

using test_support::BuildTree;
using test_support::TestStorageKey;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[static_cast<std::uint8_t>(c) >> 4]);
    out.push_back(kDigits[static_cast<std::uint8_t>(c) & 0xf]);
  }
  return out;
}

// `header_and_body` followed by its correct checksum: lets a test reach the decoder's
// checks behind the checksum with forged content.
std::string Seal(std::string header_and_body) {
  PutFixed64(header_and_body, XXH3_64bits(header_and_body.data(), header_and_body.size()));
  return header_and_body;
}

// Replaces the checksum of an encoded message after its content was altered.
std::string Reseal(std::string message) {
  message.resize(message.size() - 8);
  return Seal(std::move(message));
}

TictacTree ExampleTree() {
  test_support::KeyHashMap keys;
  for (int i = 0; i < 300; ++i) keys[TestStorageKey(i)] = static_cast<std::uint64_t>(i) * 7919;
  return BuildTree(TictacShape{6, 3}, keys);
}

// Each kind of message, encoded from an example, with its decoder reduced to a status.
struct Codec {
  const char* name;
  std::string encoded;
  std::function<Status(std::string_view)> decode;
};

std::vector<Codec> ExampleMessages() {
  const TictacTree tree = ExampleTree();
  const std::vector<std::uint32_t> branches = {1, 5};
  const std::vector<KeyVersionHash> keys = {{"a", 1}, {"abc", 2}, {"b", 3}};
  return {
      {"branch level", EncodeTictacBranchLevel(tree.BranchLevel()),
       [](std::string_view b) { return DecodeTictacBranchLevel(b).status(); }},
      {"segment hashes", EncodeTictacSegmentHashes(tree.SegmentsOfBranches(branches)),
       [](std::string_view b) { return DecodeTictacSegmentHashes(b).status(); }},
      {"key hashes", EncodeTictacKeyHashes(keys),
       [](std::string_view b) { return DecodeTictacKeyHashes(b).status(); }},
      {"tree", EncodeTictacTree(tree),
       [](std::string_view b) { return DecodeTictacTree(b).status(); }},
  };
}

TEST(TictacCodecTest, BranchLevelBytesArePinned) {
  // Shape 2 segments in 2 branches, root 3 = 1 ^ 2. docs/format/tictac.md shows these bytes.
  const TictacBranchLevel level{TictacShape{1, 1}, 3, {1, 2}};
  const std::string encoded = EncodeTictacBranchLevel(level);
  EXPECT_EQ(Hex(encoded.substr(0, encoded.size() - 8)),
            "0101"                // version 1, kind 1 (branch level)
            "0101"                // 1 segment bit, 1 branch bit
            "0300000000000000"    // root
            "0100000000000000"    // branch 0
            "0200000000000000");  // branch 1
  EXPECT_EQ(Hex(encoded.substr(encoded.size() - 8)), "f6dc1d41fd045d74");  // xxh3-64, LE
}

TEST(TictacCodecTest, SegmentHashesBytesArePinned) {
  const TictacSegmentHashes hashes{TictacShape{8, 2}, {{3, 0xaa}, {4, 0xbb}, {200, 0xcc}}};
  const std::string encoded = EncodeTictacSegmentHashes(hashes);
  EXPECT_EQ(Hex(encoded.substr(0, encoded.size() - 8)),
            "0102"                  // version 1, kind 2 (segment hashes)
            "0802"                  // 8 segment bits, 2 branch bits
            "03"                    // 3 entries
            "03aa00000000000000"    // segment 3 (gap 3 from 0)
            "00bb00000000000000"    // segment 4 (gap 0 after 3)
            "c301cc00000000000000"  // segment 200 (gap 195 after 4, varint c3 01)
  );
}

TEST(TictacCodecTest, KeyHashesBytesArePinned) {
  const std::vector<KeyVersionHash> keys = {{"a", 1}, {"bc", 2}};
  const std::string encoded = EncodeTictacKeyHashes(keys);
  EXPECT_EQ(Hex(encoded.substr(0, encoded.size() - 8)),
            "0103"                    // version 1, kind 3 (key hashes)
            "02"                      // 2 keys
            "01610100000000000000"    // "a", 1
            "0262630200000000000000"  // "bc", 2
  );
}

TEST(TictacCodecTest, TreeBytesArePinned) {
  auto tree = TictacTree::FromSegments(TictacShape{1, 0}, {5, 6});
  ASSERT_TRUE(tree.ok());
  const std::string encoded = EncodeTictacTree(*tree);
  EXPECT_EQ(Hex(encoded.substr(0, encoded.size() - 8)),
            "0104"              // version 1, kind 4 (tree)
            "0100"              // 1 segment bit, 0 branch bits
            "0500000000000000"  // segment 0
            "0600000000000000"  // segment 1
  );
}

TEST(TictacCodecTest, EveryKindRoundTrips) {
  const TictacTree tree = ExampleTree();
  auto level = DecodeTictacBranchLevel(EncodeTictacBranchLevel(tree.BranchLevel()));
  ASSERT_TRUE(level.ok()) << level.status().ToString();
  EXPECT_EQ(*level, tree.BranchLevel());

  const std::vector<std::uint32_t> branches = {0, 2, 7};
  auto segments =
      DecodeTictacSegmentHashes(EncodeTictacSegmentHashes(tree.SegmentsOfBranches(branches)));
  ASSERT_TRUE(segments.ok()) << segments.status().ToString();
  EXPECT_EQ(*segments, tree.SegmentsOfBranches(branches));

  auto decoded_tree = DecodeTictacTree(EncodeTictacTree(tree));
  ASSERT_TRUE(decoded_tree.ok()) << decoded_tree.status().ToString();
  EXPECT_EQ(*decoded_tree, tree);
  EXPECT_TRUE(decoded_tree->CheckInvariants());

  auto empty_keys = DecodeTictacKeyHashes(EncodeTictacKeyHashes({}));
  ASSERT_TRUE(empty_keys.ok()) << empty_keys.status().ToString();
  EXPECT_TRUE(empty_keys->empty());
}

TEST(TictacCodecTest, EveryTruncationIsCorruption) {
  for (const Codec& codec : ExampleMessages()) {
    ASSERT_TRUE(codec.decode(codec.encoded).ok()) << codec.name;
    for (std::size_t size = 0; size < codec.encoded.size(); ++size) {
      const Status status = codec.decode(std::string_view(codec.encoded).substr(0, size));
      ASSERT_EQ(status.code(), StatusCode::kCorruption) << codec.name << " at " << size;
    }
  }
}

TEST(TictacCodecTest, EveryAlteredByteIsCorruption) {
  for (const Codec& codec : ExampleMessages()) {
    for (std::size_t i = 0; i < codec.encoded.size(); ++i) {
      std::string altered = codec.encoded;
      altered[i] = static_cast<char>(altered[i] ^ 0x10);
      ASSERT_EQ(codec.decode(altered).code(), StatusCode::kCorruption) << codec.name << " " << i;
    }
    ASSERT_EQ(codec.decode(codec.encoded + '\0').code(), StatusCode::kCorruption) << codec.name;
  }
}

TEST(TictacCodecTest, WrongKindAndUnknownVersionAreCorruption) {
  const std::string level = EncodeTictacBranchLevel(ExampleTree().BranchLevel());
  auto as_tree = DecodeTictacTree(level);
  ASSERT_FALSE(as_tree.ok());
  EXPECT_NE(as_tree.status().message().find("kind"), std::string::npos);
  std::string future = level;
  future[0] = 2;
  auto unknown = DecodeTictacBranchLevel(Reseal(future));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("version"), std::string::npos);
}

TEST(TictacCodecTest, ForgedContentBehindAValidChecksumIsCorruption) {
  const auto expect_corruption = [](const Status& status, const char* what) {
    EXPECT_EQ(status.code(), StatusCode::kCorruption) << what;
  };
  // Branch level: shape too large; root that is not the XOR of the branches; trailing byte.
  expect_corruption(DecodeTictacBranchLevel(Seal(std::string("\x01\x01\x15\x01", 4))).status(),
                    "21 segment bits");
  expect_corruption(DecodeTictacBranchLevel(Seal(std::string("\x01\x01\x02\x03", 4))).status(),
                    "branch bits above segment bits");
  std::string bad_root("\x01\x01\x01\x01", 4);
  PutFixed64(bad_root, 4);
  PutFixed64(bad_root, 1);
  PutFixed64(bad_root, 2);
  expect_corruption(DecodeTictacBranchLevel(Seal(bad_root)).status(), "root");
  std::string good_root("\x01\x01\x01\x01", 4);
  PutFixed64(good_root, 3);
  PutFixed64(good_root, 1);
  PutFixed64(good_root, 2);
  EXPECT_TRUE(DecodeTictacBranchLevel(Seal(good_root)).ok());
  expect_corruption(DecodeTictacBranchLevel(Seal(good_root + 'x')).status(), "trailing");

  // Segment hashes: index past the end; a gap so large it would wrap; a count beyond the body.
  std::string past_end("\x01\x02\x02\x00\x01", 5);  // 4 segments, one entry...
  PutVarint64(past_end, 4);                         // ... at segment 4
  PutFixed64(past_end, 0);
  expect_corruption(DecodeTictacSegmentHashes(Seal(past_end)).status(), "segment 4 of 4");
  std::string wrap("\x01\x02\x02\x00\x02", 5);
  PutVarint64(wrap, 1);
  PutFixed64(wrap, 0);
  PutVarint64(wrap, ~std::uint64_t{0});
  PutFixed64(wrap, 0);
  expect_corruption(DecodeTictacSegmentHashes(Seal(wrap)).status(), "wrapping gap");
  std::string huge_count("\x01\x02\x14\x00", 4);
  PutVarint64(huge_count, std::uint64_t{1} << 40);
  expect_corruption(DecodeTictacSegmentHashes(Seal(huge_count)).status(), "huge count");

  // Key hashes: empty key; keys out of order; repeated key.
  std::string empty_key("\x01\x03\x01\x00", 4);
  PutFixed64(empty_key, 0);
  expect_corruption(DecodeTictacKeyHashes(Seal(empty_key)).status(), "empty key");
  std::string descending("\x01\x03\x02", 3);
  PutLengthPrefixed(descending, "b");
  PutFixed64(descending, 0);
  PutLengthPrefixed(descending, "a");
  PutFixed64(descending, 0);
  expect_corruption(DecodeTictacKeyHashes(Seal(descending)).status(), "descending keys");
  std::string repeated("\x01\x03\x02", 3);
  PutLengthPrefixed(repeated, "a");
  PutFixed64(repeated, 0);
  PutLengthPrefixed(repeated, "a");
  PutFixed64(repeated, 0);
  expect_corruption(DecodeTictacKeyHashes(Seal(repeated)).status(), "repeated key");

  // Tree: a shape promising 2^20 segments with 8 bytes of body.
  std::string short_tree("\x01\x04\x14\x00", 4);
  PutFixed64(short_tree, 0);
  expect_corruption(DecodeTictacTree(Seal(short_tree)).status(), "short tree");
}

RC_GTEST_PROP(TictacCodecProperty, ArbitraryTreesAndLevelsRoundTrip, ()) {
  const TictacShape shape = *test_support::SmallShape();
  const TictacTree tree = BuildTree(shape, *test_support::KeyHashMaps());
  auto decoded = DecodeTictacTree(EncodeTictacTree(tree));
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == tree);
  auto level = DecodeTictacBranchLevel(EncodeTictacBranchLevel(tree.BranchLevel()));
  RC_ASSERT(level.ok());
  RC_ASSERT(*level == tree.BranchLevel());
  const auto selected = *rc::gen::container<std::set<std::uint32_t>>(
      rc::gen::inRange<std::uint32_t>(0, shape.segment_count()));
  const TictacSegmentHashes hashes =
      tree.SelectSegments(std::vector<std::uint32_t>(selected.begin(), selected.end()));
  auto decoded_hashes = DecodeTictacSegmentHashes(EncodeTictacSegmentHashes(hashes));
  RC_ASSERT(decoded_hashes.ok());
  RC_ASSERT(*decoded_hashes == hashes);
}

RC_GTEST_PROP(TictacCodecProperty, KeyHashesRoundTrip, ()) {
  const test_support::KeyHashMap keys = *test_support::KeyHashMaps();
  std::vector<KeyVersionHash> list;
  for (const auto& [key, hash] : keys) list.push_back({key, hash});
  auto decoded = DecodeTictacKeyHashes(EncodeTictacKeyHashes(list));
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == list);
}

// Garbage behind a valid header and checksum reaches every check of the body parsers: they
// must return a value or Corruption, never crash, and what they accept must re-encode into
// something that decodes to the same value.
RC_GTEST_PROP(TictacCodecProperty, SealedGarbageNeverCrashesADecoder, ()) {
  const auto kind = *rc::gen::inRange<int>(0, 6);
  const auto body = *rc::gen::container<std::string>(rc::gen::oneOf(
      rc::gen::element('\0', '\x01', '\x02', '\x80', '\xff'), rc::gen::arbitrary<char>()));
  const std::string bytes = Seal(std::string{'\x01', static_cast<char>(kind)} + body);
  if (auto level = DecodeTictacBranchLevel(bytes); level.ok()) {
    RC_ASSERT(*DecodeTictacBranchLevel(EncodeTictacBranchLevel(*level)) == *level);
  } else {
    RC_ASSERT(level.status().code() == StatusCode::kCorruption);
  }
  if (auto hashes = DecodeTictacSegmentHashes(bytes); hashes.ok()) {
    RC_ASSERT(*DecodeTictacSegmentHashes(EncodeTictacSegmentHashes(*hashes)) == *hashes);
  } else {
    RC_ASSERT(hashes.status().code() == StatusCode::kCorruption);
  }
  if (auto keys = DecodeTictacKeyHashes(bytes); keys.ok()) {
    RC_ASSERT(*DecodeTictacKeyHashes(EncodeTictacKeyHashes(*keys)) == *keys);
  } else {
    RC_ASSERT(keys.status().code() == StatusCode::kCorruption);
  }
  if (auto tree = DecodeTictacTree(bytes); tree.ok()) {
    RC_ASSERT(tree->CheckInvariants());
  } else {
    RC_ASSERT(tree.status().code() == StatusCode::kCorruption);
  }
}

RC_GTEST_PROP(TictacCodecProperty, UnsealedGarbageIsCorruption, ()) {
  const auto bytes = *rc::gen::container<std::string>(rc::gen::arbitrary<char>());
  RC_ASSERT(DecodeTictacBranchLevel(bytes).status().code() == StatusCode::kCorruption);
  RC_ASSERT(DecodeTictacSegmentHashes(bytes).status().code() == StatusCode::kCorruption);
  RC_ASSERT(DecodeTictacKeyHashes(bytes).status().code() == StatusCode::kCorruption);
  RC_ASSERT(DecodeTictacTree(bytes).status().code() == StatusCode::kCorruption);
}

}  // namespace
}  // namespace meridian::storage
