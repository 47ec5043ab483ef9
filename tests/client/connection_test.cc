// Connection handling of the client against a scripted fake server: keep-alive reuse,
// replacing a connection the server closed while idle, re-sending idempotent requests
// (never a PUT) once after a dropped reused connection, timeouts, refused connections.
#include <gtest/gtest.h>

#include <chrono>

#include "client/fake_http_server.h"
#include "meridian/client.h"

namespace meridian::client {
namespace {

using testing::FakeHttpServer;
using Behavior = FakeHttpServer::Behavior;

std::unique_ptr<Client> MakeClient(const std::string& url, std::uint32_t timeout_ms = 10000) {
  ClientOptions options;
  options.endpoint = url;
  options.timeout_ms = timeout_ms;
  auto client = Client::Create(options);
  EXPECT_TRUE(client.ok());
  return client.ok() ? std::move(client).value() : nullptr;
}

// Polls `condition` until it holds or 10 s pass.
template <typename Condition>
bool WaitFor(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(ConnectionTest, ReusesOneKeepAliveConnection) {
  FakeHttpServer server({Behavior::kAnswer});
  auto client = MakeClient(server.Url());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->Health().ok());
  EXPECT_EQ(server.requests_received(), 5);
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(ConnectionTest, ConnectionClosedWhileIdleIsReplacedEvenForPut) {
  FakeHttpServer server({Behavior::kAnswerThenClose, Behavior::kAnswer});
  auto client = MakeClient(server.Url());
  ASSERT_TRUE(client->Health().ok());
  ASSERT_TRUE(WaitFor([&] { return server.connections_closed() == 1; }));
  auto put = client->Put("k", "v");
  ASSERT_TRUE(put.ok()) << put.error().ToString();
  EXPECT_EQ(server.connections_accepted(), 2);
  EXPECT_EQ(server.requests_received(), 2);
}

TEST(ConnectionTest, IdempotentRequestIsResentOnceAfterADroppedReusedConnection) {
  FakeHttpServer server({Behavior::kAnswer, Behavior::kCloseWithoutAnswer, Behavior::kAnswer});
  auto client = MakeClient(server.Url());
  ASSERT_TRUE(client->Health().ok());
  auto health = client->Health();
  ASSERT_TRUE(health.ok()) << health.error().ToString();
  EXPECT_EQ(server.requests_received(), 3);
  EXPECT_EQ(server.connections_accepted(), 2);
}

TEST(ConnectionTest, PutIsNeverResent) {
  FakeHttpServer server({Behavior::kAnswer, Behavior::kCloseWithoutAnswer, Behavior::kAnswer});
  auto client = MakeClient(server.Url());
  ASSERT_TRUE(client->Health().ok());
  auto put = client->Put("k", "v");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, ErrorCode::kConnectionFailed);
  EXPECT_TRUE(put.error().retryable);
  EXPECT_EQ(put.error().http_status, 0);
  EXPECT_EQ(server.requests_received(), 2);
  // The client recovers on the next call.
  EXPECT_TRUE(client->Health().ok());
}

TEST(ConnectionTest, FreshConnectionFailureIsNotRetried) {
  FakeHttpServer server({Behavior::kCloseWithoutAnswer, Behavior::kAnswer});
  auto client = MakeClient(server.Url());
  auto health = client->Health();
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.error().code, ErrorCode::kConnectionFailed);
  EXPECT_EQ(server.requests_received(), 1);
}

TEST(ConnectionTest, UnansweredRequestTimesOut) {
  FakeHttpServer server({Behavior::kNeverAnswer});
  auto client = MakeClient(server.Url(), 300);
  const auto start = std::chrono::steady_clock::now();
  auto get = client->Get("k");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().code, ErrorCode::kTimeout);
  EXPECT_TRUE(get.error().retryable);
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(ConnectionTest, RefusedConnectionIsAConnectionFailure) {
  int port = 0;
  {
    FakeHttpServer closed_soon({Behavior::kAnswer});
    port = closed_soon.port();
  }
  auto client = MakeClient("http://127.0.0.1:" + std::to_string(port));
  auto health = client->Health();
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.error().code, ErrorCode::kConnectionFailed);
  EXPECT_TRUE(health.error().retryable);
}

TEST(ConnectionTest, ClientSideValidationSendsNothing) {
  FakeHttpServer server({Behavior::kAnswer});
  auto client = MakeClient(server.Url());
  auto empty_key = client->Get("");
  ASSERT_FALSE(empty_key.ok());
  EXPECT_EQ(empty_key.error().code, ErrorCode::kInvalidArgument);
  auto bad_bucket = client->Put("a/b", "k", "v");
  ASSERT_FALSE(bad_bucket.ok());
  EXPECT_EQ(bad_bucket.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(client->GetBucketProps("").ok());
  EXPECT_EQ(server.requests_received(), 0);
}

TEST(ClientCreateTest, RejectsBadEndpointAndMissingCaFile) {
  ClientOptions bad_url;
  bad_url.endpoint = "127.0.0.1:8080";
  auto client = Client::Create(bad_url);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().code, ErrorCode::kInvalidArgument);

  ClientOptions missing_ca;
  missing_ca.endpoint = "https://127.0.0.1:1";
  missing_ca.ca_file = "/nonexistent/ca.pem";
  auto tls_client = Client::Create(missing_ca);
  ASSERT_FALSE(tls_client.ok());
  EXPECT_EQ(tls_client.error().code, ErrorCode::kTlsError);
}

}  // namespace
}  // namespace meridian::client
