// The server's steps between Beast's parser and HttpHandler (api/http_request_parsing.h):
// the Transfer-Encoding rule, the per-target body limit and the conversion of a request.
#include "api/http_request_parsing.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <string>
#include <string_view>

#include "api/metrics.h"

namespace meridian::api {
namespace {

namespace http = boost::beast::http;

class UnusedKvService final : public KvService {
 public:
  void Submit(node::ClientRequest, Completion) override { ADD_FAILURE() << "no request expected"; }
};

// Has `parser` read `text` (a request header, maybe with part of a body).
void ParseHeader(BeastRequestParser& parser, std::string_view text) {
  parser.body_limit(boost::none);
  parser.eager(false);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(text.data(), text.size()), ec);
  EXPECT_FALSE(ec && ec != http::error::need_more) << ec.message();
  EXPECT_TRUE(parser.is_header_done());
}

class HttpRequestParsingTest : public ::testing::Test {
 protected:
  HttpLimits limits_ = [] {
    HttpLimits limits;
    limits.value_bytes_max = 16;
    return limits;
  }();
  UnusedKvService service_;
  Metrics metrics_;
  HttpHandler handler_{service_, metrics_, limits_};
};

TEST(TransferEncodingTest, OnlyALoneChunkedIsAccepted) {
  EXPECT_TRUE(CheckTransferEncoding("").ok());
  EXPECT_TRUE(CheckTransferEncoding("chunked").ok());
  EXPECT_TRUE(CheckTransferEncoding(" Chunked\t").ok());
  EXPECT_TRUE(CheckTransferEncoding("chunked,").ok());  // empty list elements are ignored

  const Status not_last = CheckTransferEncoding("chunked, gzip");
  EXPECT_EQ(not_last.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_last.message().find("must end with chunked"), std::string::npos);
  const Status other = CheckTransferEncoding("gzip, chunked");
  EXPECT_EQ(other.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.message().find("only the chunked transfer coding"), std::string::npos);
  EXPECT_FALSE(CheckTransferEncoding("identity").ok());
  EXPECT_FALSE(CheckTransferEncoding(" , ").ok());
}

TEST_F(HttpRequestParsingTest, AHeaderWithABadTransferEncodingIsRefusedAs400) {
  BeastRequestParser parser;
  ParseHeader(parser,
              "PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
  HeaderVerdict verdict = CheckRequestHeader(handler_, parser);
  ASSERT_TRUE(verdict.refusal.has_value());
  EXPECT_EQ(verdict.refusal->status, 400u);
  EXPECT_TRUE(verdict.refusal->close_connection);
  EXPECT_NE(verdict.refusal->body.find("RFC 9112"), std::string::npos);
}

TEST_F(HttpRequestParsingTest, TheBodyLimitIsTheTargetsAndAnOversizedLengthIsRefused) {
  BeastRequestParser fits;
  ParseHeader(fits, "PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n");
  HeaderVerdict fits_verdict = CheckRequestHeader(handler_, fits);
  EXPECT_FALSE(fits_verdict.refusal.has_value());
  EXPECT_EQ(fits_verdict.body_bytes_max, 16u);

  BeastRequestParser too_big;
  ParseHeader(too_big, "PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n");
  HeaderVerdict too_big_verdict = CheckRequestHeader(handler_, too_big);
  ASSERT_TRUE(too_big_verdict.refusal.has_value());
  EXPECT_EQ(too_big_verdict.refusal->status, 413u);
  EXPECT_TRUE(too_big_verdict.refusal->close_connection);

  // Bucket properties have their own (larger) limit than the 16-byte values.
  BeastRequestParser bucket;
  ParseHeader(bucket, "PUT /v1/buckets/b HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n");
  HeaderVerdict bucket_verdict = CheckRequestHeader(handler_, bucket);
  EXPECT_FALSE(bucket_verdict.refusal.has_value());
  EXPECT_GT(bucket_verdict.body_bytes_max, 16u);
}

TEST_F(HttpRequestParsingTest, BodyReadFailuresAre413ForTheLimitAnd400Otherwise) {
  BeastRequestParser parser;
  ParseHeader(parser, "PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(BodyReadFailure(handler_, parser, http::error::body_limit).status, 413u);
  const HttpResponse malformed = BodyReadFailure(handler_, parser, http::error::bad_chunk);
  EXPECT_EQ(malformed.status, 400u);
  EXPECT_NE(malformed.body.find("malformed HTTP request"), std::string::npos);
}

TEST(ToHttpRequestTest, CarriesMethodTargetContextAuthorizationBodyAndCertificateUser) {
  BeastRequest message{http::verb::put, "/v1/kv/b/k%00?w=2", 11};
  message.set("X-Meridian-Context", "ctx-1");
  message.set(http::field::authorization, "Bearer t");
  message.body() = std::string("v\0w", 3);
  const HttpRequest request = ToHttpRequest(std::move(message), std::string("alice"));
  EXPECT_EQ(request.method, "PUT");
  EXPECT_EQ(request.target, "/v1/kv/b/k%00?w=2");
  EXPECT_EQ(request.context, "ctx-1");
  EXPECT_EQ(request.authorization, "Bearer t");
  EXPECT_EQ(request.body, std::string("v\0w", 3));
  EXPECT_EQ(request.certificate_user, "alice");

  const HttpRequest bare =
      ToHttpRequest(BeastRequest{http::verb::get, "/health", 11}, std::nullopt);
  EXPECT_FALSE(bare.context.has_value());
  EXPECT_FALSE(bare.authorization.has_value());
  EXPECT_FALSE(bare.certificate_user.has_value());
}

}  // namespace
}  // namespace meridian::api
