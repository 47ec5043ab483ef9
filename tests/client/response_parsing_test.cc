// Decoding of server replies: base64, the 300 siblings body, error bodies, bucket props.
#include "client/response_parsing.h"

#include "client/request_options.h"

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

TEST(BucketListTest, ParsesEntriesInOrderAndRejectsMissingFields) {
  auto list = ParseBucketListBody(
      R"({"buckets":[{"bucket":"a","configured":true,"props":{"conflict_policy":"lww","dw":1},)"
      R"("sealed":false},{"bucket":"b","configured":false,"props":{"conflict_policy":)"
      R"("siblings","dw":0},"sealed":true}],"defaults":{"conflict_policy":"siblings","dw":0}})");
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].bucket, "a");
  EXPECT_EQ((*list)[0].props.conflict_policy, "lww");
  EXPECT_EQ((*list)[0].props.dw, "1");
  EXPECT_TRUE((*list)[0].configured);
  EXPECT_FALSE((*list)[0].sealed);
  EXPECT_EQ((*list)[1].bucket, "b");
  EXPECT_FALSE((*list)[1].configured);
  EXPECT_TRUE((*list)[1].sealed);
  auto empty = ParseBucketListBody(R"({"buckets":[],"defaults":{}})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  for (const char* bad :
       {"[]", R"({"buckets":{}})", R"({"buckets":[1]})",
        R"({"buckets":[{"bucket":"a","sealed":false,"props":{"conflict_policy":"lww","dw":1}}]})",
        R"({"buckets":[{"bucket":1,"configured":true,"sealed":false,"props":{}}]})",
        R"({"buckets":[{"bucket":"a","configured":true,"sealed":false,"props":{"dw":1}}]})"}) {
    auto rejected = ParseBucketListBody(bad);
    ASSERT_FALSE(rejected.ok()) << bad;
    EXPECT_EQ(rejected.error().code, ErrorCode::kProtocolError) << bad;
  }
}

TEST(BucketPropsTest, ParsesAndRejects) {
  auto props = ParseBucketPropsBody(
      R"({"bucket":"b","props":{"conflict_policy":"lww","dw":1,"n":5,"pr":0,"pw":"all",)"
      R"("r":"one","sloppy_quorum":false,"w":4}})");
  ASSERT_TRUE(props.ok()) << props.error().message;
  EXPECT_EQ(props->conflict_policy, "lww");
  EXPECT_EQ(props->n, 5u);
  EXPECT_EQ(props->r, "one");
  EXPECT_EQ(props->w, "4");
  EXPECT_EQ(props->pr, "0");
  EXPECT_EQ(props->pw, "all");
  EXPECT_EQ(props->dw, "1");
  EXPECT_FALSE(props->sloppy_quorum);
  EXPECT_NE(props->json.find("\"lww\""), std::string::npos);
  EXPECT_FALSE(ParseBucketPropsBody(R"({"bucket":"b"})").ok());
  EXPECT_FALSE(ParseBucketPropsBody(R"({"props":{"conflict_policy":1,"dw":0}})").ok());
  for (const char* bad :
       {R"({"props":{"conflict_policy":"lww","dw":"1"}})", R"({"props":{"conflict_policy":"lww"}})",
        R"({"props":{"conflict_policy":"lww","dw":-1}})",
        R"({"props":{"conflict_policy":"lww","dw":0,"n":"3"}})",
        R"({"props":{"conflict_policy":"lww","dw":0,"n":-3}})",
        R"({"props":{"conflict_policy":"lww","dw":0,"r":"majority"}})",
        R"({"props":{"conflict_policy":"lww","dw":0,"w":1.5}})",
        R"({"props":{"conflict_policy":"lww","dw":0,"sloppy_quorum":1}})"}) {
    auto rejected = ParseBucketPropsBody(bad);
    ASSERT_FALSE(rejected.ok()) << bad;
    EXPECT_EQ(rejected.error().code, ErrorCode::kProtocolError) << bad;
  }
}

TEST(BucketPropsTest, FieldsAnOlderServerOmitsKeepTheDefaults) {
  auto props = ParseBucketPropsBody(R"({"bucket":"b","props":{"conflict_policy":"siblings",)"
                                    R"("dw":0,"future":{"x":1}}})");
  ASSERT_TRUE(props.ok()) << props.error().message;
  EXPECT_EQ(props->n, 3u);
  EXPECT_EQ(props->r, "quorum");
  EXPECT_EQ(props->w, "quorum");
  EXPECT_EQ(props->pr, "0");
  EXPECT_EQ(props->pw, "0");
  EXPECT_EQ(props->dw, "0");
  EXPECT_TRUE(props->sloppy_quorum);
}

TEST(BucketPropsTest, UpdateBodyHoldsOnlySetFields) {
  EXPECT_EQ(BucketPropsUpdateBody({}), "{}");
  BucketPropsUpdate update;
  update.dw = "1";
  EXPECT_EQ(BucketPropsUpdateBody(update), R"({"dw":1})");
  update.conflict_policy = "lww";
  EXPECT_EQ(BucketPropsUpdateBody(update), R"({"conflict_policy":"lww","dw":1})");
  update.n = 5;
  update.r = "one";
  update.w = "4";
  update.pr = "quorum";
  update.pw = "all";
  update.sloppy_quorum = false;
  EXPECT_EQ(BucketPropsUpdateBody(update),
            R"({"conflict_policy":"lww","dw":1,"n":5,"pr":"quorum","pw":"all","r":"one",)"
            R"("sloppy_quorum":false,"w":4})");
}

TEST(ConsistencyHeaderTest, ParsesReadAndWriteReceipts) {
  auto read = ParseConsistencyHeader("n=3; r=2; replies=2; primaries=1; fallbacks=1; behind=1");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, (Consistency{3, 2, 2, 1, 1, 0, 0, 1}));
  auto write =
      ParseConsistencyHeader("n=5; w=3; replies=4; primaries=2; fallbacks=2; durable=1; hinted=2");
  ASSERT_TRUE(write.has_value());
  EXPECT_EQ(*write, (Consistency{5, 3, 4, 2, 2, 1, 2, 0}));
  // Spacing is free; unknown fields (a newer server) are ignored; missing ones stay 0.
  auto sparse = ParseConsistencyHeader("n=1;w=1 ;  future=7;replies=1");
  ASSERT_TRUE(sparse.has_value());
  EXPECT_EQ(*sparse, (Consistency{1, 1, 1, 0, 0, 0, 0, 0}));
}

TEST(ConsistencyHeaderTest, UnreadableHeadersAreAbsent) {
  for (const char* bad : {"", "n=3", "r=2; replies=2", "n=3; r=two", "n=3; r=-1", "n=3; r",
                          "n=3; r=2; =4", "n=3; r=2; replies=99999999999", "garbage", "n=3,r=2"}) {
    EXPECT_FALSE(ParseConsistencyHeader(bad).has_value()) << bad;
  }
}

TEST(ConsistencyHeaderTest, GetRepliesCarryIt) {
  auto result = ParseGetResponse(Reply(
      200, "v",
      {{"x-meridian-consistency", "n=1; r=1; replies=1; primaries=1; fallbacks=0; behind=0"}}));
  ASSERT_TRUE(result.ok());
  ASSERT_TRUE(result->consistency.has_value());
  EXPECT_EQ(result->consistency->n, 1u);
  EXPECT_EQ(result->consistency->required, 1u);
  EXPECT_EQ(result->consistency->primaries, 1u);

  auto without = ParseGetResponse(Reply(200, "v"));
  ASSERT_TRUE(without.ok());
  EXPECT_FALSE(without->consistency.has_value());
}

TEST(RequestOptionsTest, QuorumText) {
  for (const char* good : {"one", "quorum", "all", "0", "2", "9", "10", "4294967295"}) {
    EXPECT_TRUE(IsQuorumText(good)) << good;
  }
  for (const char* bad : {"", "ONE", "majority", "-1", "+1", " 1", "1.0", "4294967296", "2x"}) {
    EXPECT_FALSE(IsQuorumText(bad)) << bad;
  }
}

TEST(RequestOptionsTest, GetQuery) {
  EXPECT_EQ(*GetQuery({}), "");
  GetOptions options;
  options.r = "all";
  EXPECT_EQ(*GetQuery(options), "?r=all");
  options.pr = "1";
  options.sloppy_quorum = false;
  EXPECT_EQ(*GetQuery(options), "?r=all&pr=1&sloppy_quorum=false");
  options.pr = "a&b";
  auto bad = GetQuery(options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("pr must be one, quorum, all or a number"), std::string::npos);
}

TEST(RequestOptionsTest, WriteQuery) {
  EXPECT_EQ(*WriteQuery({}), "");
  WriteOptions options;
  options.context = "not in the query";
  options.w = "quorum";
  options.pw = "2";
  options.dw = "one";
  options.sloppy_quorum = true;
  EXPECT_EQ(*WriteQuery(options), "?w=quorum&pw=2&dw=one&sloppy_quorum=true");

  WriteOptions legacy;
  legacy.durable_write = true;
  EXPECT_EQ(*WriteQuery(legacy), "?dw=1");
  legacy.durable_write = false;
  EXPECT_EQ(*WriteQuery(legacy), "?dw=0");
  legacy.dw = "1";
  auto both = WriteQuery(legacy);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().code, ErrorCode::kInvalidArgument);

  WriteOptions bad;
  bad.w = "";
  EXPECT_FALSE(WriteQuery(bad).ok());
}

}  // namespace
}  // namespace meridian::client::internal
