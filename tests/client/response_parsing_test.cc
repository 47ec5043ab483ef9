// Decoding of server replies: base64, the 300 siblings body, error bodies, bucket props.
#include "client/response_parsing.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::client::internal {
namespace {

HttpResponse Reply(int status, std::string body,
                   std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

TEST(Base64DecodeTest, DecodesRfc4648Vectors) {
  EXPECT_EQ(Base64Decode(""), "");
  EXPECT_EQ(Base64Decode("Zg=="), "f");
  EXPECT_EQ(Base64Decode("Zm8="), "fo");
  EXPECT_EQ(Base64Decode("Zm9v"), "foo");
  EXPECT_EQ(Base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(Base64Decode("AP8="), std::string("\0\xff", 2));
  EXPECT_EQ(Base64Decode("+/+/"), "\xfb\xff\xbf");
}

TEST(Base64DecodeTest, RejectsMalformedInput) {
  for (const char* text :
       {"Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "Zh==", "Zm9=", "=Zm9", "Zm 9v", "Zm9v\n"}) {
    EXPECT_FALSE(Base64Decode(text).has_value()) << text;
  }
}

TEST(ParseGetResponseTest, SingleValueCarriesBodyAndContext) {
  auto result =
      ParseGetResponse(Reply(200, std::string("a\0b", 3), {{"x-meridian-context", "C1"}}));
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->found);
  ASSERT_EQ(result->siblings.size(), 1u);
  EXPECT_EQ(result->siblings[0].value, std::string("a\0b", 3));
  EXPECT_EQ(result->context, "C1");
}

TEST(ParseGetResponseTest, SiblingsAreDecodedInOrder) {
  auto result =
      ParseGetResponse(Reply(300,
                             R"({"context":"CTX","siblings":[{"value":"Zm9v","timestamp_ms":5},)"
                             R"({"value":"","timestamp_ms":7}]})",
                             {{"X-Meridian-Context", "CTX"}}));
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_TRUE(result->found);
  EXPECT_EQ(result->context, "CTX");
  ASSERT_EQ(result->siblings.size(), 2u);
  EXPECT_EQ(result->siblings[0].value, "foo");
  EXPECT_EQ(result->siblings[0].timestamp_ms, 5);
  EXPECT_EQ(result->siblings[1].value, "");
  EXPECT_EQ(result->siblings[1].timestamp_ms, 7);
}

TEST(ParseGetResponseTest, MalformedSiblingsBodyIsAProtocolError) {
  for (const char* body : {"not json", "[]", R"({"context":"c"})", R"({"context":1,"siblings":[]})",
                           R"({"context":"c","siblings":[{"value":"%%%%","timestamp_ms":1}]})",
                           R"({"context":"c","siblings":[{"value":"Zm9v"}]})",
                           R"({"context":"c","siblings":[{"value":1,"timestamp_ms":1}]})",
                           R"({"context":"c","siblings":["Zm9v"]})"}) {
    auto result = ParseGetResponse(Reply(300, body));
    ASSERT_FALSE(result.ok()) << body;
    EXPECT_EQ(result.error().code, ErrorCode::kProtocolError) << body;
  }
}

TEST(ErrorFromResponseTest, UsesTheErrorBody) {
  const Error error =
      ErrorFromResponse(Reply(413, R"({"error":"key_too_large","message":"key is 2000 bytes"})"));
  EXPECT_EQ(error.code, ErrorCode::kTooLarge);
  EXPECT_EQ(error.http_status, 413);
  EXPECT_EQ(error.server_code, "key_too_large");
  EXPECT_EQ(error.message, "key is 2000 bytes");
  EXPECT_FALSE(error.retryable);
  EXPECT_EQ(error.ToString(), "too_large (HTTP 413 key_too_large): key is 2000 bytes");
}

TEST(ErrorFromResponseTest, MapsStatusesToCodes) {
  EXPECT_EQ(ErrorFromResponse(Reply(400, "")).code, ErrorCode::kBadRequest);
  EXPECT_EQ(ErrorFromResponse(Reply(405, "")).code, ErrorCode::kBadRequest);
  EXPECT_EQ(ErrorFromResponse(Reply(404, "")).code, ErrorCode::kNotFound);
  EXPECT_EQ(ErrorFromResponse(Reply(500, "")).code, ErrorCode::kServerError);
  const Error unavailable =
      ErrorFromResponse(Reply(503, R"({"error":"storage_error","message":"disk"})"));
  EXPECT_EQ(unavailable.code, ErrorCode::kUnavailable);
  EXPECT_TRUE(unavailable.retryable);
}

TEST(ErrorFromResponseTest, NonJsonBodyStillGivesAMessage) {
  const Error error = ErrorFromResponse(Reply(502, "<html>bad gateway</html>"));
  EXPECT_EQ(error.code, ErrorCode::kServerError);
  EXPECT_TRUE(error.server_code.empty());
  EXPECT_NE(error.message.find("502"), std::string::npos);
}

TEST(BucketPropsTest, ParsesAndRejects) {
  auto props = ParseBucketPropsBody(R"({"bucket":"b","props":{"conflict_policy":"lww","dw":1}})");
  ASSERT_TRUE(props.ok()) << props.error().message;
  EXPECT_EQ(props->conflict_policy, "lww");
  EXPECT_EQ(props->dw, 1);
  EXPECT_NE(props->json.find("\"lww\""), std::string::npos);
  EXPECT_FALSE(ParseBucketPropsBody(R"({"bucket":"b"})").ok());
  EXPECT_FALSE(ParseBucketPropsBody(R"({"props":{"conflict_policy":1,"dw":0}})").ok());
  EXPECT_FALSE(ParseBucketPropsBody(R"({"props":{"conflict_policy":"lww","dw":"1"}})").ok());
}

TEST(BucketPropsTest, UpdateBodyHoldsOnlySetFields) {
  EXPECT_EQ(BucketPropsUpdateBody({}), "{}");
  BucketPropsUpdate update;
  update.dw = 1;
  EXPECT_EQ(BucketPropsUpdateBody(update), R"({"dw":1})");
  update.conflict_policy = "lww";
  EXPECT_EQ(BucketPropsUpdateBody(update), R"({"conflict_policy":"lww","dw":1})");
}

}  // namespace
}  // namespace meridian::client::internal
