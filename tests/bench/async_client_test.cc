// AsyncClient (the client library's pooled, asynchronous API used by `meridian bench`):
// connection reuse, pipelining, re-sending rules, timeouts and errors against a scripted fake
// server, and object round trips through a pool against the real `meridian serve`.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/fake_http_server.h"
#include "client/server_process.h"
#include "meridian/client.h"

namespace meridian::client {
namespace {

using testing::FakeHttpServer;
using testing::ServerProcess;
using Behavior = FakeHttpServer::Behavior;

std::unique_ptr<AsyncClient> MakeClient(const std::string& url, PoolOptions pool = {},
                                        std::uint32_t timeout_ms = 10000) {
  ClientOptions options;
  options.endpoint = url;
  options.timeout_ms = timeout_ms;
  auto client = AsyncClient::Create(options, pool);
  EXPECT_TRUE(client.ok()) << client.error().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

// Issues a Get and records its result.
struct GetSlot {
  std::optional<Result<GetResult>> result;
  void Issue(AsyncClient& client, const std::string& key) {
    client.Get("b", key, {}, [this](Result<GetResult> got) { result.emplace(std::move(got)); });
  }
};

TEST(AsyncClientTest, ReusesOneKeepAliveConnection) {
  FakeHttpServer server({Behavior::kAnswer});
  auto client = MakeClient(server.Url(), PoolOptions{1, 1});
  std::vector<GetSlot> slots(5);
  for (auto& slot : slots) slot.Issue(*client, "k");
  EXPECT_EQ(client->Pending(), 5u);
  client->Run();
  EXPECT_EQ(client->Pending(), 0u);
  for (auto& slot : slots) {
    ASSERT_TRUE(slot.result.has_value());
    EXPECT_TRUE(slot.result->ok()) << slot.result->error().ToString();
  }
  EXPECT_EQ(server.requests_received(), 5);
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(AsyncClientTest, PipelinesOnOneConnection) {
  FakeHttpServer server({Behavior::kAnswer});
  auto client = MakeClient(server.Url(), PoolOptions{1, 4});
  std::vector<GetSlot> slots(12);
  for (auto& slot : slots) slot.Issue(*client, "k");
  client->Run();
  for (auto& slot : slots) EXPECT_TRUE(slot.result->ok()) << slot.result->error().ToString();
  EXPECT_EQ(server.requests_received(), 12);
  EXPECT_EQ(server.connections_accepted(), 1);
}

TEST(AsyncClientTest, IdempotentRequestIsResentOnceAfterADroppedReusedConnection) {
  FakeHttpServer server({Behavior::kAnswer, Behavior::kCloseWithoutAnswer, Behavior::kAnswer});
  auto client = MakeClient(server.Url(), PoolOptions{1, 1});
  GetSlot first;
  first.Issue(*client, "k");
  client->Run();
  ASSERT_TRUE(first.result->ok());
  GetSlot second;
  second.Issue(*client, "k");
  client->Run();
  EXPECT_TRUE(second.result->ok()) << second.result->error().ToString();
  EXPECT_EQ(server.requests_received(), 3);
  EXPECT_EQ(server.connections_accepted(), 2);
}

TEST(AsyncClientTest, PutIsNeverResent) {
  FakeHttpServer server({Behavior::kAnswer, Behavior::kCloseWithoutAnswer, Behavior::kAnswer});
  auto client = MakeClient(server.Url(), PoolOptions{1, 1});
  GetSlot first;
  first.Issue(*client, "k");
  client->Run();
  ASSERT_TRUE(first.result->ok());
  std::optional<Result<WriteResult>> put;
  client->Put("b", "k", "v", {}, [&](Result<WriteResult> result) { put.emplace(result); });
  client->Run();
  ASSERT_FALSE(put->ok());
  EXPECT_EQ(put->error().code, ErrorCode::kConnectionFailed);
  EXPECT_TRUE(put->error().retryable);
  EXPECT_EQ(server.requests_received(), 2);
}

TEST(AsyncClientTest, ConnectionClosedWhileIdleIsReplacedEvenForPut) {
  FakeHttpServer server({Behavior::kAnswerThenClose, Behavior::kAnswer});
  auto client = MakeClient(server.Url(), PoolOptions{1, 1});
  GetSlot first;
  first.Issue(*client, "k");
  client->Run();
  ASSERT_TRUE(first.result->ok());
  // Idle for more than a second: checked before reuse.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  std::optional<Result<WriteResult>> put;
  client->Put("b", "k", "v", {}, [&](Result<WriteResult> result) { put.emplace(result); });
  client->Run();
  ASSERT_TRUE(put->ok()) << put->error().ToString();
  EXPECT_EQ(server.connections_accepted(), 2);
}

TEST(AsyncClientTest, TimesOut) {
  FakeHttpServer server({Behavior::kNeverAnswer});
  auto client = MakeClient(server.Url(), PoolOptions{2, 1}, 200);
  GetSlot slot;
  const auto start = std::chrono::steady_clock::now();
  slot.Issue(*client, "k");
  client->Run();
  ASSERT_FALSE(slot.result->ok());
  EXPECT_EQ(slot.result->error().code, ErrorCode::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(AsyncClientTest, RefusedConnectionFails) {
  int port = 0;
  {
    FakeHttpServer closed({Behavior::kAnswer});
    port = closed.port();
  }
  auto client = MakeClient("http://127.0.0.1:" + std::to_string(port));
  GetSlot slot;
  slot.Issue(*client, "k");
  client->Run();
  ASSERT_FALSE(slot.result->ok());
  EXPECT_EQ(slot.result->error().code, ErrorCode::kConnectionFailed);
}

TEST(AsyncClientTest, InvalidArgumentsAreReportedFromTheLoop) {
  auto client = MakeClient("http://127.0.0.1:1");
  GetSlot empty_key;
  empty_key.Issue(*client, "");
  EXPECT_FALSE(empty_key.result.has_value());  // never inside the call
  std::optional<Result<WriteResult>> bad_bucket;
  client->Put("no/slash", "k", "v", {}, [&](Result<WriteResult> r) { bad_bucket.emplace(r); });
  PutOptions bad_w;
  bad_w.w = "most";
  std::optional<Result<WriteResult>> bad_option;
  client->Delete("b", "k", bad_w, [&](Result<WriteResult> r) { bad_option.emplace(r); });
  client->Run();
  EXPECT_EQ(empty_key.result->error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad_bucket->error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad_option->error().code, ErrorCode::kInvalidArgument);
}

TEST(AsyncClientTest, RejectsAnEmptyPool) {
  ClientOptions options;
  EXPECT_FALSE(AsyncClient::Create(options, PoolOptions{0, 1}).ok());
  EXPECT_FALSE(AsyncClient::Create(options, PoolOptions{1, 0}).ok());
  options.endpoint = "ftp://x";
  EXPECT_FALSE(AsyncClient::Create(options).ok());
}

TEST(AsyncClientTest, DestroyingWithPendingRequestsDropsTheirCallbacks) {
  FakeHttpServer server({Behavior::kNeverAnswer});
  bool called = false;
  {
    auto client = MakeClient(server.Url());
    client->Get("b", "k", {}, [&](Result<GetResult>) { called = true; });
  }
  EXPECT_FALSE(called);
}

class AsyncClientServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = ServerProcess::Start({}, error);
    ASSERT_NE(server_, nullptr) << error;
  }
  void TearDown() override {
    if (server_ && HasFailure()) std::cerr << "server log:\n" << server_->Log();
  }
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(AsyncClientServerTest, ObjectRoundTrip) {
  auto client = MakeClient(server_->HttpUrl());
  std::optional<Result<WriteResult>> put;
  client->Put("async", "k", "v1", {}, [&](Result<WriteResult> r) { put.emplace(std::move(r)); });
  client->Run();
  ASSERT_TRUE(put->ok()) << put->error().ToString();
  ASSERT_TRUE((*put)->consistency.has_value());

  std::optional<Result<GetResult>> get;
  client->Get("async", "k", {}, [&](Result<GetResult> r) { get.emplace(std::move(r)); });
  client->Run();
  ASSERT_TRUE(get->ok()) << get->error().ToString();
  ASSERT_TRUE((*get)->found);
  ASSERT_EQ((*get)->siblings.size(), 1u);
  EXPECT_EQ((*get)->siblings[0].value, "v1");

  DeleteOptions remove;
  remove.context = (*get)->context;
  std::optional<Result<WriteResult>> deleted;
  client->Delete("async", "k", remove,
                 [&](Result<WriteResult> r) { deleted.emplace(std::move(r)); });
  client->Run();
  ASSERT_TRUE(deleted->ok()) << deleted->error().ToString();

  get.reset();
  client->Get("async", "k", {}, [&](Result<GetResult> r) { get.emplace(std::move(r)); });
  client->Run();
  ASSERT_TRUE(get->ok()) << get->error().ToString();
  EXPECT_FALSE((*get)->found);
}

TEST_F(AsyncClientServerTest, ManyRequestsThroughAPipelinedPoolOnACallersLoop) {
  boost::asio::io_context loop;
  ClientOptions options;
  options.endpoint = server_->HttpUrl();
  auto created = AsyncClient::Create(loop, options, PoolOptions{4, 8});
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  AsyncClient& client = **created;
  constexpr int kKeys = 300;
  int written = 0;
  for (int i = 0; i < kKeys; ++i) {
    client.Put("many", "key" + std::to_string(i), "value" + std::to_string(i), {},
               [&](Result<WriteResult> r) {
                 EXPECT_TRUE(r.ok()) << r.error().ToString();
                 ++written;
               });
  }
  loop.run();
  ASSERT_EQ(written, kKeys);
  int matched = 0;
  for (int i = 0; i < kKeys; ++i) {
    client.Get("many", "key" + std::to_string(i), {}, [&, i](Result<GetResult> r) {
      ASSERT_TRUE(r.ok()) << r.error().ToString();
      ASSERT_TRUE(r->found);
      if (r->siblings.at(0).value == "value" + std::to_string(i)) ++matched;
    });
  }
  loop.restart();
  loop.run();
  EXPECT_EQ(matched, kKeys);
  EXPECT_EQ(client.Pending(), 0u);
}

TEST_F(AsyncClientServerTest, ServerErrorsMapAsForClient) {
  auto client = MakeClient(server_->HttpUrl());
  WriteOptions too_many;
  too_many.w = "5";  // one node: the key has one replica
  std::optional<Result<WriteResult>> put;
  client->Put("async", "k", "v", too_many,
              [&](Result<WriteResult> r) { put.emplace(std::move(r)); });
  client->Run();
  ASSERT_FALSE(put->ok());
  EXPECT_EQ(put->error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(put->error().http_status, 400);
}

TEST(AsyncClientTlsTest, HttpsVerifiedAgainstSelfSignedCertificate) {
  testing::TemporaryDirectory certificates;
  ASSERT_TRUE(testing::MakeSelfSignedCertificate(certificates.path()));
  const std::string cert = certificates.path() + "/cert.pem";
  std::string error;
  auto server = ServerProcess::Start(
      {"--https", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", certificates.path() + "/key.pem"},
      error);
  ASSERT_NE(server, nullptr) << error;
  ClientOptions options;
  options.endpoint = "https://localhost:" + std::to_string(server->https_port());
  options.ca_file = cert;
  auto client = AsyncClient::Create(options, PoolOptions{2, 2});
  ASSERT_TRUE(client.ok()) << client.error().ToString();
  int done = 0;
  for (int i = 0; i < 10; ++i) {
    (*client)->Put("tls", "k" + std::to_string(i), "v", {}, [&](Result<WriteResult> r) {
      EXPECT_TRUE(r.ok()) << r.error().ToString();
      ++done;
    });
  }
  (*client)->Run();
  EXPECT_EQ(done, 10);

  ClientOptions untrusted;
  untrusted.endpoint = server->HttpsUrl();
  auto refused_client = AsyncClient::Create(untrusted);
  ASSERT_TRUE(refused_client.ok());
  std::optional<Result<GetResult>> refused;
  (*refused_client)->Get("tls", "k0", {}, [&](Result<GetResult> r) { refused.emplace(r); });
  (*refused_client)->Run();
  ASSERT_FALSE(refused->ok());
  EXPECT_EQ(refused->error().code, ErrorCode::kTlsError);
}

}  // namespace
}  // namespace meridian::client
