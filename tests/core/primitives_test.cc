// Tests of the small core primitives: byte codec, base64url, hashing, HLC, names.
// Bucket properties: bucket_props_test.cc.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/bucket_props.h"
#include "core/byte_codec.h"
#include "core/hash.h"
#include "core/hlc.h"
#include "core/object_codec.h"
#include "core/object_id.h"

namespace meridian {
namespace {

RC_GTEST_PROP(ByteCodecProperty, VarintRoundTrips, (std::uint64_t value)) {
  std::string out;
  PutVarint64(out, value);
  ByteReader reader(out);
  std::uint64_t decoded = 0;
  RC_ASSERT(reader.ReadVarint64(decoded));
  RC_ASSERT(decoded == value);
  RC_ASSERT(reader.empty());
}

TEST(ByteCodecTest, TruncatedAndOverlongVarintsFail) {
  ByteReader truncated(std::string_view("\x80\x80", 2));
  std::uint64_t value = 0;
  EXPECT_FALSE(truncated.ReadVarint64(value));
  EXPECT_TRUE(truncated.failed());
  const std::string overlong_bytes = std::string(10, '\xff') + '\x01';
  ByteReader overlong(overlong_bytes);
  EXPECT_FALSE(overlong.ReadVarint64(value));
}

RC_GTEST_PROP(Base64UrlProperty, RoundTrips, (std::string bytes)) {
  const auto decoded = Base64UrlDecode(Base64UrlEncode(bytes));
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == bytes);
}

TEST(Base64UrlTest, RejectsForeignAlphabetAndBadLength) {
  EXPECT_FALSE(Base64UrlDecode("ab+/").has_value());
  EXPECT_FALSE(Base64UrlDecode("abc=").has_value());
  EXPECT_FALSE(Base64UrlDecode("abcde").has_value());
  EXPECT_FALSE(Base64UrlDecode("AB").has_value() && Base64UrlDecode("AB")->size() != 1);
  EXPECT_FALSE(Base64UrlDecode("AF").has_value());  // non-zero leftover bits
}

TEST(HashTest, PartitionCountsAndRanges) {
  EXPECT_TRUE(IsValidPartitionCount(1));
  EXPECT_TRUE(IsValidPartitionCount(256));
  EXPECT_TRUE(IsValidPartitionCount(1u << 20));
  EXPECT_FALSE(IsValidPartitionCount(0));
  EXPECT_FALSE(IsValidPartitionCount(3));
  EXPECT_FALSE(IsValidPartitionCount(1u << 21));
  EXPECT_EQ(PartitionOf(~0ull, 256), 255u);
  EXPECT_EQ(PartitionOf(0, 256), 0u);
  EXPECT_EQ(PartitionOf(~0ull, 1), 0u);
  // The bucket length prefix keeps ("ab","c") and ("a","bc") apart.
  EXPECT_NE(ObjectHash("ab", "c"), ObjectHash("a", "bc"));
}

TEST(HashTest, KeysSpreadEvenlyOverPartitions) {
  constexpr std::uint32_t kPartitions = 64;
  constexpr int kKeys = 64000;
  std::vector<int> counts(kPartitions);
  for (int i = 0; i < kKeys; ++i)
    counts[PartitionOf(ObjectHash("b", std::to_string(i)), kPartitions)]++;
  for (int count : counts) {
    EXPECT_GT(count, 1000 * 8 / 10);
    EXPECT_LT(count, 1000 * 12 / 10);
  }
}

RC_GTEST_PROP(HlcProperty, StrictlyIncreasingUnderArbitraryClockJumps, ()) {
  const auto readings = *rc::gen::container<std::vector<std::uint64_t>>(
      rc::gen::inRange<std::uint64_t>(0, std::uint64_t{1} << 50));
  HybridLogicalClock clock;
  HlcTimestamp last;
  for (std::uint64_t physical : readings) {
    const HlcTimestamp now = clock.Now(physical);
    RC_ASSERT(now > last);
    last = now;
  }
}

TEST(HlcTest, FollowsPhysicalTimeAndObservedRemotes) {
  HybridLogicalClock clock;
  EXPECT_EQ(clock.Now(1000).physical_ms(), 1000u);
  const HlcTimestamp same_ms = clock.Now(1000);
  EXPECT_EQ(same_ms.physical_ms(), 1000u);
  EXPECT_EQ(same_ms.logical(), 1u);
  const HlcTimestamp remote = HlcTimestamp::FromParts(5000, 7);
  clock.Observe(remote, 1001);  // remote clock is ahead (skew)
  EXPECT_GT(clock.Now(1002), remote);
}

TEST(ObjectIdTest, BucketAndKeyRules) {
  EXPECT_TRUE(ValidateBucketName("users_v2.eu-1").ok());
  EXPECT_EQ(ValidateBucketName("").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBucketName("has space").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBucketName(std::string(65, 'a')).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidateKey(std::string("\0\xff/", 3), 3).ok());
  EXPECT_EQ(ValidateKey("", 10).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateKey("abcd", 3).code(), StatusCode::kTooLarge);
}

TEST(ObjectCodecTest, RejectsCorruptRecords) {
  DvvSet object;
  object.Update({}, 9, HlcTimestamp::FromParts(1, 0), false, "value", ConflictPolicy::kSiblings);
  const std::string bytes = EncodeObject(object);
  EXPECT_FALSE(DecodeObject("").ok());
  EXPECT_FALSE(DecodeObject(bytes.substr(0, bytes.size() - 1)).ok());
  EXPECT_FALSE(DecodeObject(bytes + "x").ok());
  std::string bad_version = bytes;
  bad_version[0] = 9;
  EXPECT_EQ(DecodeObject(bad_version).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace meridian
