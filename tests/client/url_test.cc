// Endpoint parsing, percent-encoding and bucket-name validation of the client library.
#include "client/url.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::client::internal {
namespace {

TEST(ParseEndpointTest, PlainHttpWithPort) {
  auto endpoint = ParseEndpoint("http://127.0.0.1:8080");
  ASSERT_TRUE(endpoint.ok()) << endpoint.error().message;
  EXPECT_FALSE(endpoint->tls);
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 8080);
}

TEST(ParseEndpointTest, DefaultPortsAndTrailingSlash) {
  auto http = ParseEndpoint("http://example.com/");
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http->port, 80);
  EXPECT_EQ(http->host, "example.com");
  auto https = ParseEndpoint("https://localhost");
  ASSERT_TRUE(https.ok());
  EXPECT_TRUE(https->tls);
  EXPECT_EQ(https->port, 443);
}

TEST(ParseEndpointTest, BracketedIpv6) {
  auto endpoint = ParseEndpoint("https://[::1]:9443");
  ASSERT_TRUE(endpoint.ok()) << endpoint.error().message;
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->port, 9443);
  auto no_port = ParseEndpoint("http://[::1]");
  ASSERT_TRUE(no_port.ok());
  EXPECT_EQ(no_port->port, 80);
}

TEST(ParseEndpointTest, RejectsMalformedUrls) {
  for (const char* url :
       {"", "127.0.0.1:8080", "ftp://host", "http://", "http://:80",
        "http://host:", "http://host:0", "http://host:65536", "http://host:8x", "http://host/path",
        "http://host?query", "http://user@host", "http://[::1", "http://[::1]x"}) {
    auto endpoint = ParseEndpoint(url);
    ASSERT_FALSE(endpoint.ok()) << url;
    EXPECT_EQ(endpoint.error().code, ErrorCode::kInvalidArgument) << url;
    EXPECT_EQ(endpoint.error().http_status, 0);
  }
}

TEST(PercentEncodeTest, KeepsUnreservedAndEncodesEverythingElse) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a/b"), "a%2Fb");
  EXPECT_EQ(PercentEncode(std::string("\0", 1)), "%00");
  EXPECT_EQ(PercentEncode("%"), "%25");
  EXPECT_EQ(PercentEncode(" ?#+"), "%20%3F%23%2B");
  EXPECT_EQ(PercentEncode("\xff\x80"), "%FF%80");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(PercentEncodeTest, EveryByteValueRoundTripsThroughHexDigits) {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string input(1, static_cast<char>(byte));
    const std::string encoded = PercentEncode(input);
    if (encoded.size() == 1) {
      EXPECT_EQ(encoded, input);
      continue;
    }
    ASSERT_EQ(encoded.size(), 3u) << byte;
    ASSERT_EQ(encoded[0], '%');
    EXPECT_EQ(std::stoi(encoded.substr(1), nullptr, 16), byte);
  }
}

TEST(ObjectTargetTest, EncodesBothSegments) {
  EXPECT_EQ(ObjectTarget("default", "a/b c"), "/v1/kv/default/a%2Fb%20c");
}

TEST(BucketNameTest, AcceptsDocumentedAlphabetAndLength) {
  EXPECT_TRUE(IsValidBucketName("default"));
  EXPECT_TRUE(IsValidBucketName("A-z_0.9"));
  EXPECT_TRUE(IsValidBucketName(std::string(64, 'b')));
  EXPECT_FALSE(IsValidBucketName(""));
  EXPECT_FALSE(IsValidBucketName(std::string(65, 'b')));
  EXPECT_FALSE(IsValidBucketName("a/b"));
  EXPECT_FALSE(IsValidBucketName("a b"));
  EXPECT_FALSE(IsValidBucketName("caf\xc3\xa9"));
}

}  // namespace
}  // namespace meridian::client::internal
