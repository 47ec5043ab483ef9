// Object key layout (storage/key_encoding.h): round trip, malformed input, and the ordering
// properties partition streaming relies on.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <limits>

#include "storage/key_encoding.h"

namespace meridian::storage {
namespace {

// Generators for valid names: buckets 1..64 bytes of any value (the encoding does not care
// about the bucket charset), keys 1..64 arbitrary bytes including 0x00 and 0xff.
rc::Gen<std::string> ByteString(std::size_t min_bytes, std::size_t max_bytes) {
  return rc::gen::mapcat(rc::gen::inRange(min_bytes, max_bytes + 1), [](std::size_t size) {
    return rc::gen::container<std::string>(
        size, rc::gen::oneOf(rc::gen::element('\0', '\xff', 'a'), rc::gen::arbitrary<char>()));
  });
}
rc::Gen<std::string> Bucket() {
  return ByteString(1, kBucketNameBytesMax);
}
rc::Gen<std::string> Key() {
  return ByteString(1, 64);
}
rc::Gen<std::uint32_t> Partition() {
  return rc::gen::oneOf(
      rc::gen::element(0u, 1u, 255u, 256u, std::numeric_limits<std::uint32_t>::max()),
      rc::gen::arbitrary<std::uint32_t>());
}

bool InRange(const std::string& key, const KeyRange& range) {
  return key >= range.begin && (range.end.empty() || key < range.end);
}

TEST(KeyEncodingTest, LayoutIsPartitionBigEndianThenBucketLengthBucketKey) {
  const std::string encoded = EncodeObjectKey(0x01020304, "bk", std::string("k\0y", 3));
  EXPECT_EQ(encoded, std::string("\x01\x02\x03\x04\x02"
                                 "bk"
                                 "k\0y",
                                 10));
}

// Every key with the prefix sorts below the end, and the end is the first key that does not.
TEST(KeyEncodingTest, PrefixScanEndIsTheShortestKeyAboveThePrefix) {
  EXPECT_EQ(PrefixScanEnd("buckets/"), "buckets0");
  EXPECT_EQ(PrefixScanEnd(std::string("a\xff\xff", 3)), "b");
  EXPECT_EQ(PrefixScanEnd(std::string("\xff\xff", 2)), "");  // no end: the rest
  EXPECT_EQ(PrefixScanEnd(""), "");
  const std::string prefix("k\x01\xfe\xff", 4);
  const std::string end = PrefixScanEnd(prefix);
  EXPECT_LT(prefix + std::string(8, '\xff'), end);
  EXPECT_EQ(end, std::string("k\x01\xff", 3));
}

TEST(KeyEncodingTest, DecodeRoundTripsAnExample) {
  auto decoded = DecodeObjectKey(EncodeObjectKey(7, "users", "alice"));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->partition, 7u);
  EXPECT_EQ(decoded->id, (ObjectId{"users", "alice"}));
}

TEST(KeyEncodingTest, MalformedKeysAreCorruption) {
  const std::string cases[] = {
      std::string(),                                          // empty
      std::string("\0\0\0", 3),                               // shorter than the header
      std::string("\0\0\0\0", 4),                             // no bucket length
      std::string("\0\0\0\0\0k", 6),                          // bucket length 0
      std::string("\0\0\0\0\x41", 5) + std::string(80, 'b'),  // bucket length 65 > 64
      std::string("\0\0\0\0\x03"
                  "ab",
                  7),  // bucket truncated
      std::string("\0\0\0\0\x02"
                  "ab",
                  7),  // bucket but no key
  };
  for (const std::string& bytes : cases) {
    auto decoded = DecodeObjectKey(bytes);
    ASSERT_FALSE(decoded.ok()) << "accepted " << bytes.size() << " bytes";
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
    EXPECT_FALSE(decoded.status().message().empty());
  }
}

TEST(KeyEncodingTest, PartitionRangeOfLastPartitionHasEmptyEnd) {
  const KeyRange last = PartitionRange(std::numeric_limits<std::uint32_t>::max());
  EXPECT_EQ(last.begin, std::string("\xff\xff\xff\xff"));
  EXPECT_TRUE(last.end.empty());
  const KeyRange first = PartitionRange(0);
  EXPECT_EQ(first.begin, std::string("\0\0\0\0", 4));
  EXPECT_EQ(first.end, std::string("\0\0\0\1", 4));
}

TEST(KeyEncodingTest, PartitionRangeCarriesAcrossBytes) {
  const KeyRange range = PartitionRange(0x00ffffff);
  EXPECT_EQ(range.begin, std::string("\x00\xff\xff\xff", 4));
  EXPECT_EQ(range.end, std::string("\x01\x00\x00\x00", 4));
}

RC_GTEST_PROP(KeyEncodingProperty, DecodeOfEncodeIsIdentity, ()) {
  const std::uint32_t partition = *Partition();
  const std::string bucket = *Bucket();
  const std::string key = *Key();
  auto decoded = DecodeObjectKey(EncodeObjectKey(partition, bucket, key));
  RC_ASSERT(decoded.ok());
  RC_ASSERT(decoded->partition == partition);
  RC_ASSERT(decoded->id.bucket == bucket);
  RC_ASSERT(decoded->id.key == key);
}

RC_GTEST_PROP(KeyEncodingProperty, EncodedKeySortsInsideItsPartitionRange, ()) {
  const std::uint32_t partition = *Partition();
  const std::string encoded = EncodeObjectKey(partition, *Bucket(), *Key());
  RC_ASSERT(InRange(encoded, PartitionRange(partition)));
  if (partition > 0) RC_ASSERT(!InRange(encoded, PartitionRange(partition - 1)));
  if (partition < std::numeric_limits<std::uint32_t>::max()) {
    RC_ASSERT(!InRange(encoded, PartitionRange(partition + 1)));
  }
}

RC_GTEST_PROP(KeyEncodingProperty, PartitionRangesAreOrderedAndAdjacent, ()) {
  const std::uint32_t a = *Partition();
  const std::uint32_t b = *Partition();
  RC_PRE(a != b);
  const std::uint32_t low = std::min(a, b);
  const std::uint32_t high = std::max(a, b);
  const KeyRange low_range = PartitionRange(low);
  const KeyRange high_range = PartitionRange(high);
  RC_ASSERT(low_range.begin < low_range.end);
  RC_ASSERT(!low_range.end.empty());
  RC_ASSERT(low_range.end <= high_range.begin);
  if (high == low + 1) RC_ASSERT(low_range.end == high_range.begin);
}

RC_GTEST_PROP(KeyEncodingProperty, ByteOrderGroupsByPartition, ()) {
  // Sorting encoded keys bytewise (as the engines do) sorts them by partition first.
  const auto ids =
      *rc::gen::container<std::vector<std::tuple<std::uint32_t, std::string, std::string>>>(
          rc::gen::tuple(Partition(), Bucket(), Key()));
  std::vector<std::pair<std::string, std::uint32_t>> encoded;
  for (const auto& [partition, bucket, key] : ids) {
    encoded.emplace_back(EncodeObjectKey(partition, bucket, key), partition);
  }
  std::sort(encoded.begin(), encoded.end());
  for (std::size_t i = 1; i < encoded.size(); ++i) {
    RC_ASSERT(encoded[i - 1].second <= encoded[i].second);
  }
}

}  // namespace
}  // namespace meridian::storage
