// The real HTTP server over sockets (127.0.0.1, free ports) on a NodeService over a Node with
// a MemoryEngine: round trips, siblings, the error table over the wire, malformed and
// oversized requests, timeouts, the connection cap, TLS, metrics and graceful stop.
#include "api/http_server.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/http_test_client.h"
#include "api/json.h"
#include "node/node.h"
#include "runtime/node_service.h"
#include "runtime/system_env.h"
#include "storage/memory_engine.h"

namespace meridian::api {
namespace {

using namespace test_support;  // NOLINT: test helpers
using Clock = std::chrono::steady_clock;

struct TlsFiles {
  std::string certificate;
  std::string private_key;
};

// Self-signed certificate for 127.0.0.1, made once per test binary with the openssl CLI.
const TlsFiles& MakeSelfSignedCertificate() {
  static const TlsFiles files = [] {
    auto dir = std::filesystem::temp_directory_path() /
               ("meridian_api_test_tls_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    TlsFiles out{(dir / "cert.pem").string(), (dir / "key.pem").string()};
    std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout " +
        out.private_key + " -out " + out.certificate + " 2>/dev/null";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return out;
  }();
  return files;
}

// One server on its own event-loop thread, as runtime::Server wires it (minus RocksDB).
class ServerHarness {
 public:
  explicit ServerHarness(HttpLimits limits, bool tls = false)
      : node_(MakeNodeConfig(limits), node::Env{&clock_, &random_, &engine_}) {
    EXPECT_TRUE(node_.Open().ok());
    service_ = std::make_unique<runtime::NodeService>(io_, node_);
    http_ = std::make_unique<HttpServer>(io_, *service_, limits);
    Status status = http_->ListenHttp("127.0.0.1:0");
    EXPECT_TRUE(status.ok()) << status.ToString();
    if (tls) {
      const TlsFiles& files = MakeSelfSignedCertificate();
      status = http_->ListenHttps("127.0.0.1:0", files.certificate, files.private_key);
      EXPECT_TRUE(status.ok()) << status.ToString();
    }
    loop_ = std::thread([this] { io_.run(); });
  }
  ~ServerHarness() {
    RunOnLoop([this] {
      http_->Stop();
      service_->Stop();
    });
    io_.stop();
    loop_.join();
    http_.reset();  // before the io_context (a member declared earlier) goes
  }

  // Runs `fn` on the event-loop thread and returns its result (the server is single-threaded).
  template <typename Fn>
  auto RunOnLoop(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    EXPECT_EQ(result.wait_for(kReadDeadline), std::future_status::ready);
    return result.get();
  }

  std::uint16_t http_port() const { return http_->http_port(); }
  std::uint16_t https_port() const { return http_->https_port(); }
  HttpServer& http() { return *http_; }
  boost::asio::io_context& client_io() { return client_io_; }

 private:
  static node::NodeConfig MakeNodeConfig(const HttpLimits& limits) {
    node::NodeConfig config;
    config.partition_count = 16;
    config.key_bytes_max = limits.key_bytes_max;
    config.value_bytes_max = limits.value_bytes_max;
    return config;
  }

  boost::asio::io_context io_{1};
  boost::asio::io_context client_io_;
  storage::MemoryEngine engine_;
  runtime::SystemClock clock_;
  runtime::SystemRandom random_{42};
  node::Node node_;
  std::unique_ptr<runtime::NodeService> service_;
  std::unique_ptr<HttpServer> http_;
  std::thread loop_;
};

std::string HexText(std::size_t value) {
  char text[32];
  std::snprintf(text, sizeof text, "%zx", value);
  return text;
}

HttpLimits SmallLimits() {
  HttpLimits limits;
  limits.key_bytes_max = 64;
  limits.value_bytes_max = 1024;
  limits.header_bytes_max = 2048;
  return limits;
}

std::string ErrorOf(const Response& response) {
  auto body = nlohmann::json::parse(response.body(), nullptr, false);
  if (!body.is_object() || !body.contains("error")) return "";
  return body["error"].get<std::string>();
}

std::string Header(const Response& response, const std::string& name) {
  auto it = response.find(name);
  return it == response.end() ? std::string() : std::string(it->value());
}

TEST(HttpServerTest, RoundTripOfBinaryKeyAndValue) {
  ServerHarness server(SmallLimits());
  HttpClient client(server.client_io(), server.http_port());
  const std::string value("\x00\xff binary \r\n", 12);
  const std::string target = "/v1/kv/b/k%00%2F%FF";

  Response put = client.Send(http::verb::put, target, value);
  EXPECT_EQ(put.result_int(), 204);
  EXPECT_FALSE(Header(put, "X-Meridian-Context").empty());
  EXPECT_EQ(Header(put, "X-Meridian-Durable"), "false");
  EXPECT_TRUE(Header(put, "X-Meridian-Consistency")
                  .starts_with("n=1; w=1; replies=1; primaries=1; fallbacks=0; durable="))
      << Header(put, "X-Meridian-Consistency");

  Response get = client.Send(http::verb::get, target);
  EXPECT_EQ(get.result_int(), 200);
  EXPECT_EQ(get.body(), value);
  EXPECT_EQ(Header(get, "Content-Type"), "application/octet-stream");
  const std::string context = Header(get, "X-Meridian-Context");
  EXPECT_FALSE(context.empty());
  EXPECT_EQ(Header(get, "X-Meridian-Consistency"),
            "n=1; r=1; replies=1; primaries=1; fallbacks=0; behind=0");

  Response durable_put =
      client.Send(http::verb::put, target + "?dw=1", "second", {{"X-Meridian-Context", context}});
  EXPECT_EQ(durable_put.result_int(), 204);
  EXPECT_EQ(Header(durable_put, "X-Meridian-Durable"), "true");
  EXPECT_EQ(Header(durable_put, "X-Meridian-Consistency"),
            "n=1; w=1; replies=1; primaries=1; fallbacks=0; durable=1; hinted=0");
  EXPECT_EQ(client.Send(http::verb::get, target).body(), "second");  // superseded, no sibling

  Response remove =
      client.Send(http::verb::delete_, target, "",
                  {{"X-Meridian-Context", Header(durable_put, "X-Meridian-Context")}});
  EXPECT_EQ(remove.result_int(), 204);
  Response gone = client.Send(http::verb::get, target);
  EXPECT_EQ(gone.result_int(), 404);
  EXPECT_EQ(ErrorOf(gone), "not_found");
  EXPECT_FALSE(Header(gone, "X-Meridian-Context").empty());  // the tombstone's history
}

TEST(HttpServerTest, BlindWritesBecomeSiblingsIn300Body) {
  ServerHarness server(SmallLimits());
  HttpClient client(server.client_io(), server.http_port());
  ASSERT_EQ(client.Send(http::verb::put, "/v1/kv/b/s", "one").result_int(), 204);
  ASSERT_EQ(client.Send(http::verb::put, "/v1/kv/b/s", std::string("t\0o", 3)).result_int(), 204);

  Response get = client.Send(http::verb::get, "/v1/kv/b/s");
  ASSERT_EQ(get.result_int(), 300);
  EXPECT_EQ(Header(get, "Content-Type"), "application/json");
  auto body = nlohmann::json::parse(get.body());
  EXPECT_EQ(body["context"], Header(get, "X-Meridian-Context"));
  ASSERT_EQ(body["siblings"].size(), 2u);
  std::multiset<std::string> values;
  for (const auto& sibling : body["siblings"]) {
    values.insert(sibling["value"].get<std::string>());
    EXPECT_GT(sibling["timestamp_ms"].get<std::uint64_t>(), 1'600'000'000'000u);
  }
  EXPECT_EQ(values, (std::multiset<std::string>{"b25l", Base64Encode(std::string("t\0o", 3))}));

  // A write with the 300's context supersedes both siblings.
  ASSERT_EQ(client
                .Send(http::verb::put, "/v1/kv/b/s", "merged",
                      {{"X-Meridian-Context", body["context"].get<std::string>()}})
                .result_int(),
            204);
  Response merged = client.Send(http::verb::get, "/v1/kv/b/s");
  EXPECT_EQ(merged.result_int(), 200);
  EXPECT_EQ(merged.body(), "merged");
}

TEST(HttpServerTest, ErrorTableOverTheWire) {
  ServerHarness server(SmallLimits());
  HttpClient client(server.client_io(), server.http_port());
  Response other_key = client.Send(http::verb::put, "/v1/kv/b/other", "x");
  const std::string foreign_context = Header(other_key, "X-Meridian-Context");

  struct Case {
    http::verb method;
    std::string target;
    std::string body;
    std::map<std::string, std::string> headers;
    int status;
    std::string error;
  };
  const std::vector<Case> cases = {
      {http::verb::get, "/v1/kv/b%20/k", "", {}, 400, "invalid_bucket"},
      {http::verb::get, "/v1/kv/b/%G1", "", {}, 400, "invalid_key"},
      {http::verb::put,
       "/v1/kv/b/k",
       "v",
       {{"X-Meridian-Context", "garbage!"}},
       400,
       "invalid_context"},
      {http::verb::put,
       "/v1/kv/b/k",
       "v",
       {{"X-Meridian-Context", foreign_context}},
       400,
       "invalid_context"},
      {http::verb::put, "/v1/buckets/b", R"({"dw": 9})", {}, 400, "invalid_props"},
      {http::verb::put, "/v1/buckets/b", R"({"replicas": 3})", {}, 400, "invalid_props"},
      {http::verb::delete_, "/v1/kv/b/k?dw=2", "", {}, 400, "invalid_parameter"},
      {http::verb::put, "/v1/kv/b/k?w=2", "v", {}, 400, "invalid_parameter"},
      {http::verb::get, "/v1/kv/b/k?r=all&pr=2", "", {}, 400, "invalid_parameter"},
      {http::verb::get, "/v1/kv/b/k?r=two", "", {}, 400, "invalid_parameter"},
      {http::verb::get, "/v1/kv/b/missing", "", {}, 404, "not_found"},
      {http::verb::get, "/v2/anything", "", {}, 404, "not_found"},
      {http::verb::post, "/v1/kv/b/k", "", {}, 405, "method_not_allowed"},
      {http::verb::get, "/v1/kv/b/" + std::string(65, 'k'), "", {}, 413, "key_too_large"},
      {http::verb::put, "/v1/kv/b/k", std::string(1025, 'v'), {}, 413, "value_too_large"},
  };
  for (const Case& c : cases) {
    // Some 413s close the connection; use a fresh one per case.
    HttpClient fresh(server.client_io(), server.http_port());
    Response response = fresh.Send(c.method, c.target, c.body, c.headers);
    EXPECT_EQ(response.result_int(), c.status) << c.target;
    EXPECT_EQ(ErrorOf(response), c.error) << c.target << " " << response.body();
    EXPECT_EQ(Header(response, "Content-Type"), "application/json") << c.target;
  }
  Response not_allowed = client.Send(http::verb::patch, "/v1/buckets/b");
  EXPECT_EQ(Header(not_allowed, "Allow"), "GET, PUT");
}

TEST(HttpServerTest, MalformedHttpGets400ThenClose) {
  ServerHarness server(SmallLimits());
  tcp::socket socket = Connect(server.client_io(), server.http_port());
  WriteRaw(socket, "THIS IS NOT HTTP\r\n\r\n");
  ReadResult result = ReadUntilClosed(socket);
  EXPECT_TRUE(result.closed);
  EXPECT_NE(result.data.find("HTTP/1.1 400"), std::string::npos) << result.data;
  EXPECT_NE(result.data.find("\"bad_request\""), std::string::npos);
  EXPECT_NE(result.data.find("Connection: close"), std::string::npos);
}

TEST(HttpServerTest, HeaderBlockOverLimitGets400) {
  ServerHarness server(SmallLimits());
  tcp::socket socket = Connect(server.client_io(), server.http_port());
  WriteRaw(socket,
           "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(4096, 'a') + "\r\n\r\n");
  ReadResult result = ReadUntilClosed(socket);
  EXPECT_TRUE(result.closed);
  EXPECT_NE(result.data.find("HTTP/1.1 400"), std::string::npos) << result.data;
}

TEST(HttpServerTest, OversizedBodyIsRefusedBeforeItIsSent) {
  ServerHarness server(SmallLimits());
  tcp::socket socket = Connect(server.client_io(), server.http_port());
  // Only the headers: the server must answer from Content-Length alone.
  WriteRaw(socket, "PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n");
  ReadResult result = ReadUntilClosed(socket);
  EXPECT_TRUE(result.closed);
  EXPECT_NE(result.data.find("HTTP/1.1 413"), std::string::npos) << result.data;
  EXPECT_NE(result.data.find("\"value_too_large\""), std::string::npos);

  tcp::socket bucket_socket = Connect(server.client_io(), server.http_port());
  WriteRaw(bucket_socket, "PUT /v1/buckets/b HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                              std::to_string(kBucketBodyBytesMax + 1) + "\r\n\r\n");
  result = ReadUntilClosed(bucket_socket);
  EXPECT_NE(result.data.find("\"body_too_large\""), std::string::npos) << result.data;
}

TEST(HttpServerTest, ChunkedBodyOverLimitGets413) {
  ServerHarness server(SmallLimits());
  tcp::socket socket = Connect(server.client_io(), server.http_port());
  std::string chunk(1500, 'x');
  WriteRaw(socket, "PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                       HexText(chunk.size()) + "\r\n" + chunk + "\r\n0\r\n\r\n");
  ReadResult result = ReadUntilClosed(socket);
  EXPECT_NE(result.data.find("HTTP/1.1 413"), std::string::npos) << result.data;
}

TEST(HttpServerTest, ExpectContinueGets100BeforeTheBodyIsSent) {
  ServerHarness server(SmallLimits());
  tcp::socket socket = Connect(server.client_io(), server.http_port());
  WriteRaw(socket,
           "PUT /v1/kv/b/e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
           "Content-Length: 5\r\n\r\n");
  std::string received;
  char chunk[256];
  while (received.find("\r\n\r\n") == std::string::npos) {
    boost::system::error_code ec;
    std::size_t n = socket.read_some(asio::buffer(chunk), ec);
    ASSERT_FALSE(ec) << ec.message();
    received.append(chunk, n);
  }
  EXPECT_TRUE(received.starts_with("HTTP/1.1 100 Continue")) << received;
  WriteRaw(socket, "hello");
  http::response<http::string_body> response;
  beast::flat_buffer buffer;
  http::read(socket, buffer, response);
  EXPECT_EQ(response.result_int(), 204);
}

TEST(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  ServerHarness server(SmallLimits());
  tcp::socket socket = Connect(server.client_io(), server.http_port());
  WriteRaw(socket,
           "PUT /v1/kv/b/p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nv1"
           "GET /v1/kv/b/p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ReadResult result = ReadUntilClosed(socket);
  EXPECT_TRUE(result.closed);
  auto first = result.data.find("HTTP/1.1 204");
  auto second = result.data.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << result.data;
  ASSERT_NE(second, std::string::npos) << result.data;
  EXPECT_LT(first, second);
  EXPECT_TRUE(result.data.ends_with("v1"));
}

TEST(HttpServerTest, SlowClientIsTimedOut) {
  HttpLimits limits = SmallLimits();
  limits.request_timeout_ms = 200;
  ServerHarness server(limits);
  tcp::socket socket = Connect(server.client_io(), server.http_port());
  auto start = Clock::now();
  WriteRaw(socket, "PUT /v1/kv/b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  ReadResult result = ReadUntilClosed(socket);
  auto elapsed = Clock::now() - start;
  EXPECT_TRUE(result.closed);
  EXPECT_TRUE(result.data.empty()) << result.data;
  EXPECT_GE(elapsed, std::chrono::milliseconds(150));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpLimits limits = SmallLimits();
  limits.idle_timeout_ms = 300;
  ServerHarness server(limits);
  HttpClient client(server.client_io(), server.http_port());
  ASSERT_EQ(client.Send(http::verb::get, "/health").result_int(), 200);
  auto start = Clock::now();
  ReadResult result = ReadUntilClosed(client.socket());
  auto elapsed = Clock::now() - start;
  EXPECT_TRUE(result.closed);
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(HttpServerTest, AtTheCapTheOldestIdleConnectionMakesRoom) {
  HttpLimits limits = SmallLimits();
  limits.connections_max = 3;
  ServerHarness server(limits);
  // Two connections that never send anything (idle from the start), then a probe.
  tcp::socket first = Connect(server.client_io(), server.http_port());
  tcp::socket second = Connect(server.client_io(), server.http_port());
  HttpClient probe(server.client_io(), server.http_port());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string metrics;
  while (metrics.find("meridian_http_connections_open 3\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    metrics = probe.Send(http::verb::get, "/metrics").body();  // all three registered
  }
  ASSERT_NE(metrics.find("meridian_http_connections_open 3\n"), std::string::npos) << metrics;

  // At the cap: the oldest idle connection, `first`, is closed for the new one.
  HttpClient fourth(server.client_io(), server.http_port());
  ASSERT_EQ(fourth.Send(http::verb::get, "/health").result_int(), 200);
  ReadResult closed = ReadUntilClosed(first);
  EXPECT_TRUE(closed.closed);
  EXPECT_TRUE(closed.data.empty());
  metrics = probe.Send(http::verb::get, "/metrics").body();
  EXPECT_NE(metrics.find("meridian_connections_evicted_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("meridian_http_connections_rejected_total 0\n"), std::string::npos);
}

TEST(HttpServerTest, TlsRoundTrip) {
  ServerHarness server(SmallLimits(), /*tls=*/true);
  ASSERT_NE(server.https_port(), 0);
  HttpsClient client(server.client_io(), server.https_port(),
                     MakeSelfSignedCertificate().certificate);
  EXPECT_EQ(client.Send(http::verb::put, "/v1/kv/b/tls", "secret").result_int(), 204);
  Response get = client.Send(http::verb::get, "/v1/kv/b/tls");
  EXPECT_EQ(get.result_int(), 200);
  EXPECT_EQ(get.body(), "secret");
}

TEST(HttpServerTest, BadTlsFilesAreAClearStartupError) {
  boost::asio::io_context io;
  storage::MemoryEngine engine;
  runtime::SystemClock clock;
  runtime::SystemRandom random(1);
  node::Node node(node::NodeConfig{}, node::Env{&clock, &random, &engine});
  ASSERT_TRUE(node.Open().ok());
  runtime::NodeService service(io, node);
  HttpServer http(io, service, HttpLimits{});
  Status status = http.ListenHttps("127.0.0.1:0", "/nonexistent/cert.pem", "/nonexistent/key.pem");
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("/nonexistent/cert.pem"), std::string::npos);
  EXPECT_EQ(http.https_port(), 0);
  EXPECT_FALSE(http.ListenHttp("not-an-ip:80").ok());
}

TEST(HttpServerTest, MetricsReflectRequests) {
  ServerHarness server(SmallLimits());
  HttpClient client(server.client_io(), server.http_port());
  client.Send(http::verb::put, "/v1/kv/b/m", "v");
  client.Send(http::verb::get, "/v1/kv/b/m");
  client.Send(http::verb::get, "/v1/kv/b/none");
  Response metrics = client.Send(http::verb::get, "/metrics");
  EXPECT_EQ(metrics.result_int(), 200);
  const std::string& text = metrics.body();
  EXPECT_NE(text.find("meridian_requests_total{op=\"put\",status=\"204\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("meridian_requests_total{op=\"get\",status=\"200\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("meridian_requests_total{op=\"get\",status=\"404\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("meridian_request_duration_seconds_bucket{op=\"get\",status=\"200\",le=\"+"
                      "Inf\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("meridian_request_duration_seconds_count{op=\"get\",status=\"404\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("meridian_request_duration_seconds_count{op=\"put\",status=\"204\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("meridian_http_connections_open 1\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE meridian_request_duration_seconds histogram"), std::string::npos);
}

TEST(HttpServerTest, StopClosesIdleConnectionsAndListeners) {
  ServerHarness server(SmallLimits());
  HttpClient client(server.client_io(), server.http_port());
  ASSERT_EQ(client.Send(http::verb::get, "/health").result_int(), 200);
  const std::uint16_t port = server.http_port();
  server.RunOnLoop([&server] { server.http().Stop(); });
  EXPECT_TRUE(ReadUntilClosed(client.socket()).closed);
  tcp::socket refused(server.client_io());
  boost::system::error_code ec;
  refused.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  EXPECT_TRUE(ec) << "the listener still accepts after Stop";
}

}  // namespace
}  // namespace meridian::api

namespace meridian::api {
namespace {

// Holds every completion until the test releases it, so a request stays in flight.
class DeferredKvService final : public KvService {
 public:
  void Submit(node::ClientRequest, Completion done) override { held.push_back(std::move(done)); }
  std::vector<Completion> held;
};

TEST(HttpServerStopTest, InFlightRequestFinishesWithConnectionCloseAfterStop) {
  boost::asio::io_context io{1};
  DeferredKvService service;
  HttpServer http(io, service, SmallLimits());
  ASSERT_TRUE(http.ListenHttp("127.0.0.1:0").ok());
  std::thread loop([&io] { io.run(); });
  auto on_loop = [&io](std::function<void()> fn) {
    std::packaged_task<void()> task(std::move(fn));
    auto done = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    ASSERT_EQ(done.wait_for(kReadDeadline), std::future_status::ready);
  };

  boost::asio::io_context client_io;
  HttpClient idle(client_io, http.http_port());
  ASSERT_EQ(idle.Send(http::verb::get, "/health").result_int(), 200);
  tcp::socket busy = Connect(client_io, http.http_port());
  WriteRaw(busy, "GET /v1/kv/b/k HTTP/1.1\r\nHost: x\r\n\r\n");
  // Wait (bounded) until the request reached the service.
  const auto deadline = Clock::now() + kReadDeadline;
  bool submitted = false;
  while (!submitted && Clock::now() < deadline) {
    on_loop([&] { submitted = !service.held.empty(); });
  }
  ASSERT_TRUE(submitted);

  on_loop([&] { http.Stop(); });
  EXPECT_TRUE(ReadUntilClosed(idle.socket()).closed);  // idle: closed at once
  on_loop([&] {
    node::ClientReply reply;
    reply.body = node::GetReply{true, {{"late", HlcTimestamp{}}}, "ctx"};
    service.held.front()(std::move(reply));
  });
  ReadResult result = ReadUntilClosed(busy);  // in flight: answered, then closed
  EXPECT_TRUE(result.closed);
  EXPECT_NE(result.data.find("HTTP/1.1 200"), std::string::npos) << result.data;
  EXPECT_NE(result.data.find("Connection: close"), std::string::npos);
  EXPECT_NE(result.data.find("late"), std::string::npos);

  bool drained = false;
  while (!drained && Clock::now() < deadline) {
    on_loop([&] { drained = http.connection_count() == 0; });
  }
  EXPECT_TRUE(drained);
  io.stop();
  loop.join();
}

}  // namespace
}  // namespace meridian::api
