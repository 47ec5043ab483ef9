// Target parsing (percent-decoding, query strings), base64 and bucket-property JSON.
#include "api/http_target.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "api/json.h"

namespace meridian::api {
namespace {

TEST(PercentDecodeTest, DecodesEscapesOfEitherCaseAndKeepsOtherBytes) {
  EXPECT_EQ(PercentDecode("a%2Fb%2fc"), std::optional<std::string>("a/b/c"));
  EXPECT_EQ(PercentDecode("%00%FF+x"), std::optional<std::string>(std::string("\0\xff+x", 4)));
  EXPECT_EQ(PercentDecode(""), std::optional<std::string>(""));
}

TEST(PercentDecodeTest, RejectsMalformedEscapes) {
  for (std::string_view bad : {"%", "%4", "a%", "%G0", "%0G", "%%41"}) {
    EXPECT_FALSE(PercentDecode(bad).has_value()) << bad;
  }
}

RC_GTEST_PROP(PercentDecodeTest, EncodingEveryByteRoundTrips, (const std::string& bytes)) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (unsigned char c : bytes) {
    encoded += '%';
    encoded += kHex[c >> 4];
    encoded += kHex[c & 15];
  }
  RC_ASSERT(PercentDecode(encoded) == std::optional<std::string>(bytes));
}

TEST(SplitTargetTest, SplitsAtTheFirstQuestionMark) {
  auto [path, query] = SplitTarget("/v1/kv/b/k?dw=1?x");
  EXPECT_EQ(path, "/v1/kv/b/k");
  EXPECT_EQ(query, "dw=1?x");
  EXPECT_EQ(SplitTarget("/health").query, "");
}

TEST(ParseQueryTest, ParsesDecodesAndSkipsEmptySegments) {
  auto parameters = ParseQuery("dw=1&&a%20b=c%2Bd&flag&");
  ASSERT_TRUE(parameters.has_value());
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(*parameters, (Pairs{{"dw", "1"}, {"a b", "c+d"}, {"flag", ""}}));
  EXPECT_FALSE(ParseQuery("dw=%Z1").has_value());
}

TEST(Base64Test, Rfc4648TestVectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Test, LargeInputsSpanningChunksHaveTheExpectedLength) {
  std::string big((3u << 20) + 2, 'x');  // one full internal chunk plus a padded tail
  std::string encoded = Base64Encode(big);
  EXPECT_EQ(encoded.size(), 4 * ((big.size() + 2) / 3));
  EXPECT_EQ(encoded.substr(encoded.size() - 4), "eHg=");
  EXPECT_EQ(encoded.find('\0'), std::string::npos);
}

TEST(BucketPropsJsonTest, ParsesAPartialPatch) {
  auto patch = ParseBucketPropsPatch(R"({"dw": 1})");
  ASSERT_TRUE(patch.ok());
  EXPECT_EQ(patch->dw, QuorumValue::Number(1));
  EXPECT_FALSE(patch->conflict_policy.has_value());
  EXPECT_FALSE(patch->n.has_value());
  EXPECT_FALSE(patch->r.has_value());
  EXPECT_FALSE(patch->sloppy_quorum.has_value());
  EXPECT_TRUE(ParseBucketPropsPatch("{}").ok());
}

TEST(BucketPropsJsonTest, QuorumValuesAreNumbersOrSymbols) {
  auto patch =
      ParseBucketPropsPatch(R"({"n": 7, "r": "one", "w": "all", "pr": 0, "pw": "quorum", "dw": 9, )"
                            R"("sloppy_quorum": false})");
  ASSERT_TRUE(patch.ok()) << patch.status().ToString();
  EXPECT_EQ(patch->n, std::optional<std::uint32_t>(7));
  EXPECT_EQ(patch->r, QuorumValue::One());
  EXPECT_EQ(patch->w, QuorumValue::All());
  EXPECT_EQ(patch->pr, QuorumValue::Number(0));
  EXPECT_EQ(patch->pw, QuorumValue::Quorum());
  EXPECT_EQ(patch->dw, QuorumValue::Number(9));
  EXPECT_EQ(patch->sloppy_quorum, std::optional<bool>(false));
  // n's range (1..9) is the node's check; the edge only requires a 32-bit integer.
  EXPECT_EQ(ParseBucketPropsPatch(R"({"n": 0})")->n, std::optional<std::uint32_t>(0));
}

TEST(BucketPropsJsonTest, RendersNumbersAsNumbersAndSymbolsAsStrings) {
  BucketProps props;
  props.r = QuorumValue::Number(2);
  props.pw = QuorumValue::One();
  EXPECT_EQ(
      BucketPropsJson("b", props),
      R"({"bucket":"b","props":{"conflict_policy":"siblings","consistency":"eventual","dw":0,"n":3,"pr":0,)"
      R"("pw":"one","r":2,"sloppy_quorum":true,"w":"quorum"},"sealed":false})");
  BucketProps sealed = props;
  sealed.sealed = true;
  EXPECT_NE(BucketPropsJson("b", sealed).find(R"("sealed":true)"), std::string::npos);
  // What is rendered parses back to the same values.
  auto patch =
      ParseBucketPropsPatch(R"({"conflict_policy":"siblings","dw":0,"n":3,"pr":0,"pw":"one","r":2,)"
                            R"("sloppy_quorum":true,"w":"quorum"})");
  ASSERT_TRUE(patch.ok());
  auto applied = ApplyBucketPropsPatch(BucketProps{}, *patch);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(*applied, props);
}

TEST(BucketPropsJsonTest, RejectsWrongTypesAndUnknownNames) {
  for (std::string_view bad :
       {R"({"dw": true})", R"({"dw": 1.5})", R"({"dw": 99999999999})", R"({"dw": "1"})",
        R"({"dw": 10})", R"({"r": "QUORUM"})", R"({"w": null})", R"({"pr": -1})",
        R"({"n": 99999999999})", R"({"n": "3"})", R"({"n": -3})", R"({"sloppy_quorum": "true"})",
        R"({"sloppy_quorum": 0})", R"({"conflict_policy": 1})", R"({"ttl": 5})", "null", ""}) {
    auto patch = ParseBucketPropsPatch(bad);
    EXPECT_FALSE(patch.ok()) << bad;
    if (!patch.ok()) {
      EXPECT_EQ(patch.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(ErrorJsonTest, IsOneLineAndSurvivesInvalidUtf8) {
  std::string body = ErrorJson("bad_request", "line one\nline two \xff");
  EXPECT_EQ(body.find('\n'), std::string::npos);
  EXPECT_NE(body.find(R"("error":"bad_request")"), std::string::npos);
}

}  // namespace
}  // namespace meridian::api
