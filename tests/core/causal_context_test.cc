#include "core/causal_context.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "core/byte_codec.h"

namespace meridian {
namespace {

VersionVector Vv(std::initializer_list<std::pair<ActorId, std::uint64_t>> entries) {
  VersionVector vv;
  for (const auto& [actor, counter] : entries) vv.Advance(actor, counter);
  return vv;
}

TEST(CausalContextTest, RoundTripsAndIsUrlSafe) {
  const VersionVector vv = Vv({{1, 3}, {0xffffffffffffffffull, 1}, {42, 1000000}});
  const std::string token = EncodeContext(vv, "bucket", "key");
  EXPECT_EQ(
      token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  auto decoded = DecodeContext(token, "bucket", "key");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, vv);
}

TEST(CausalContextTest, EmptyTokenIsBlindWrite) {
  auto decoded = DecodeContext("", "b", "k");
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->empty());
}

TEST(CausalContextTest, ForeignContextIsRejected) {
  const std::string token = EncodeContext(Vv({{1, 1}}), "bucket", "key-a");
  auto decoded = DecodeContext(token, "bucket", "key-b");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(decoded.status().message().find("another object"), std::string::npos);
  EXPECT_FALSE(DecodeContext(token, "other", "key-a").ok());
}

TEST(CausalContextTest, MalformedTokensAreRejectedWithReasons) {
  EXPECT_NE(DecodeContext("not base64!", "b", "k").status().message().find("base64url"),
            std::string::npos);
  EXPECT_NE(DecodeContext("AAAA", "b", "k").status().message().find("truncated"),
            std::string::npos);
  EXPECT_NE(DecodeContext(std::string(kContextBytesMax + 1, 'A'), "b", "k")
                .status()
                .message()
                .find("limit"),
            std::string::npos);
}

RC_GTEST_PROP(CausalContextProperty, AnySingleByteCorruptionIsDetected, ()) {
  VersionVector vv;
  const auto entries =
      *rc::gen::container<std::vector<std::pair<std::uint64_t, std::uint32_t>>>(rc::gen::pair(
          rc::gen::arbitrary<std::uint64_t>(), rc::gen::inRange<std::uint32_t>(1, 1u << 30)));
  for (const auto& [actor, counter] : entries) vv.Advance(actor, counter);
  const std::string token = EncodeContext(vv, "b", "k");
  auto raw = *Base64UrlDecode(token);
  const auto position = *rc::gen::inRange<std::size_t>(0, raw.size());
  const auto flip = *rc::gen::inRange<int>(1, 256);
  raw[position] = static_cast<char>(raw[position] ^ flip);
  RC_ASSERT_FALSE(DecodeContext(Base64UrlEncode(raw), "b", "k").ok());
}

RC_GTEST_PROP(CausalContextProperty, RoundTrip, ()) {
  VersionVector vv;
  const auto entries = *rc::gen::container<std::vector<std::pair<std::uint64_t, std::uint64_t>>>(
      rc::gen::pair(rc::gen::arbitrary<std::uint64_t>(), rc::gen::arbitrary<std::uint64_t>()));
  for (const auto& [actor, counter] : entries) vv.Advance(actor, counter);
  const std::string key = *rc::gen::arbitrary<std::string>();
  auto decoded = DecodeContext(EncodeContext(vv, "bkt", key), "bkt", key);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == vv);
}

}  // namespace
}  // namespace meridian
