// The real RESP server over sockets (127.0.0.1, free ports) on a NodeService over a Node with
// a MemoryEngine: round trips, siblings, pipelining, large values, malformed and oversized
// input, the idle timeout, the connection cap, graceful stop and metrics.
#include "api/resp_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/resp_test_support.h"
#include "node/node.h"
#include "runtime/node_service.h"
#include "runtime/system_env.h"
#include "storage/memory_engine.h"

namespace meridian::api {
namespace {

using test_support::Command;
using test_support::DecodeOne;
using test_support::RespValue;
using Clock = std::chrono::steady_clock;

// Every blocking read gives up after this long, so a bug fails, never hangs.
constexpr std::chrono::seconds kReadDeadline{10};

// A blocking RESP client on a plain socket.
class RespClient {
 public:
  explicit RespClient(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    timeval tv{};
    tv.tv_sec = kReadDeadline.count();
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const int yes = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  }
  ~RespClient() { ::close(fd_); }
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;

  // False when the server has closed (EPIPE / reset).
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `count` replies are decoded (fewer if the connection ends or times out).
  std::vector<RespValue> Read(std::size_t count) {
    std::vector<RespValue> replies;
    while (replies.size() < count) {
      std::string_view view(buffer_);
      if (std::optional<RespValue> value = DecodeOne(view)) {
        buffer_.erase(0, buffer_.size() - view.size());
        replies.push_back(std::move(*value));
        continue;
      }
      if (!Fill()) break;
    }
    return replies;
  }

  RespValue Call(const std::vector<std::string>& args) {
    EXPECT_TRUE(Send(Command(args)));
    std::vector<RespValue> replies = Read(1);
    EXPECT_EQ(replies.size(), 1u);
    return replies.empty() ? RespValue{} : replies[0];
  }

  // Reads (and keeps) bytes until the server closes: true on EOF or reset, false on timeout.
  bool ReadUntilClosed() {
    for (;;) {
      char chunk[4096];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  const std::string& buffer() const { return buffer_; }

 private:
  bool Fill() {
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  std::string buffer_;
};

RespServerLimits DefaultLimits() {
  RespServerLimits limits;
  limits.connection.parser.bulk_bytes_max = 4u << 20;
  return limits;
}

// One node and a RESP server on their own event-loop thread, as runtime::Server wires them.
class ServerHarness {
 public:
  explicit ServerHarness(RespServerLimits limits = DefaultLimits())
      : node_(MakeNodeConfig(), node::Env{&clock_, &random_, &engine_}) {
    EXPECT_TRUE(node_.Open().ok());
    service_ = std::make_unique<runtime::NodeService>(io_, node_);
    resp_ = std::make_unique<RespServer>(io_, *service_, &metrics_, RespSettings{}, limits);
    Status status = resp_->Listen("127.0.0.1:0");
    EXPECT_TRUE(status.ok()) << status.ToString();
    loop_ = std::thread([this] { io_.run(); });
  }
  ~ServerHarness() {
    RunOnLoop([this] {
      resp_->Stop();
      service_->Stop();
    });
    io_.stop();
    loop_.join();
    resp_.reset();
  }

  template <typename Fn>
  auto RunOnLoop(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    EXPECT_EQ(result.wait_for(kReadDeadline), std::future_status::ready);
    return result.get();
  }

  std::uint16_t port() const { return resp_->port(); }
  std::size_t connection_count() {
    return RunOnLoop([this] { return resp_->connection_count(); });
  }
  std::uint64_t requests(std::string_view op, unsigned status) {
    return RunOnLoop([&] { return metrics_.requests(op, status); });
  }
  RespServer& resp() { return *resp_; }

 private:
  static node::NodeConfig MakeNodeConfig() {
    node::NodeConfig config;
    config.partition_count = 16;
    config.value_bytes_max = 4u << 20;
    return config;
  }

  boost::asio::io_context io_{1};
  storage::MemoryEngine engine_;
  runtime::SystemClock clock_;
  runtime::SystemRandom random_{42};
  node::Node node_;
  Metrics metrics_;
  std::unique_ptr<runtime::NodeService> service_;
  std::unique_ptr<RespServer> resp_;
  std::thread loop_;
};

TEST(RespServerTest, RoundTripsKeysAndValues) {
  ServerHarness server;
  RespClient client(server.port());
  const std::string value("\x00\xff binary \r\n", 12);
  EXPECT_EQ(client.Call({"SET", "k", value}).text, "OK");
  EXPECT_TRUE(client.Call({"GET", "k"}).IsBulk(value));
  EXPECT_EQ(client.Call({"EXISTS", "k", "nope"}).integer, 1);
  EXPECT_EQ(client.Call({"MSET", "a", "1", "b", "2"}).text, "OK");
  RespValue mget = client.Call({"MGET", "a", "b", "c"});
  ASSERT_EQ(mget.elements.size(), 3u);
  EXPECT_TRUE(mget.elements[0].IsBulk("1"));
  EXPECT_TRUE(mget.elements[1].IsBulk("2"));
  EXPECT_TRUE(mget.elements[2].IsNil());
  EXPECT_EQ(client.Call({"DEL", "k", "a", "c"}).integer, 2);
  EXPECT_TRUE(client.Call({"GET", "k"}).IsNil());
  EXPECT_EQ(client.Call({"INFO"}).text.find("# Server\r\n"), 0u);
}

TEST(RespServerTest, SiblingsOnARealNode) {
  ServerHarness server;
  RespClient client(server.port());
  EXPECT_EQ(client.Call({"MERIDIAN.PUT", "s", "one"}).type, '$');
  EXPECT_EQ(client.Call({"MERIDIAN.PUT", "s", "two"}).type, '$');
  RespValue both = client.Call({"MERIDIAN.GET", "s"});
  ASSERT_EQ(both.elements.size(), 3u);  // context, then the two siblings
  EXPECT_FALSE(both.elements[0].text.empty());
  EXPECT_TRUE(client.Call({"GET", "s"}).IsBulk("two"));  // the newer one
  // A causal write with that context resolves them.
  RespValue context = client.Call({"MERIDIAN.PUT", "s", "merged", both.elements[0].text});
  EXPECT_EQ(context.type, '$');
  EXPECT_EQ(client.Call({"MERIDIAN.GET", "s"}).elements.size(), 2u);
  // SET after concurrent writes collapses them.
  client.Call({"MERIDIAN.PUT", "s", "x"});
  EXPECT_EQ(client.Call({"MERIDIAN.GET", "s"}).elements.size(), 3u);
  EXPECT_EQ(client.Call({"SET", "s", "final"}).text, "OK");
  RespValue collapsed = client.Call({"MERIDIAN.GET", "s"});
  ASSERT_EQ(collapsed.elements.size(), 2u);
  EXPECT_TRUE(collapsed.elements[1].IsBulk("final"));
  // A foreign context is the node's error.
  EXPECT_TRUE(client.Call({"MERIDIAN.PUT", "s", "v", "garbage"}).IsError());
  RespValue deleted = client.Call({"MERIDIAN.DEL", "s"});
  EXPECT_EQ(deleted.type, '$');
  EXPECT_TRUE(client.Call({"GET", "s"}).IsNil());
}

TEST(RespServerTest, PipelinedCommandsAreAnsweredInOrder) {
  ServerHarness server;
  RespClient client(server.port());
  constexpr int kCount = 1000;
  std::string batch;
  for (int i = 0; i < kCount; ++i)
    batch += Command({"SET", "k" + std::to_string(i), std::to_string(i)});
  for (int i = 0; i < kCount; ++i) batch += Command({"GET", "k" + std::to_string(i)});
  batch += "PING\r\n";
  ASSERT_TRUE(client.Send(batch));
  std::vector<RespValue> replies = client.Read(2 * kCount + 1);
  ASSERT_EQ(replies.size(), 2u * kCount + 1);
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(replies[i].text, "OK") << i;
    EXPECT_TRUE(replies[kCount + i].IsBulk(std::to_string(i))) << i;
  }
  EXPECT_EQ(replies.back().text, "PONG");
}

TEST(RespServerTest, LargeValuesRoundTrip) {
  ServerHarness server;
  RespClient client(server.port());
  std::string value(3u << 20, 'x');
  for (std::size_t i = 0; i < value.size(); i += 4099) value[i] = static_cast<char>(i);
  EXPECT_EQ(client.Call({"SET", "big", value}).text, "OK");
  EXPECT_TRUE(client.Call({"GET", "big"}).IsBulk(value));
  EXPECT_EQ(client.Call({"PING"}).text, "PONG");
}

TEST(RespServerTest, InlineCommandsWork) {
  ServerHarness server;
  RespClient client(server.port());
  ASSERT_TRUE(client.Send("PING\r\nSET k \"a b\"\r\nGET k\r\n"));
  std::vector<RespValue> replies = client.Read(3);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].text, "PONG");
  EXPECT_EQ(replies[1].text, "OK");
  EXPECT_TRUE(replies[2].IsBulk("a b"));
}

TEST(RespServerTest, MalformedInputGetsAnErrorThenTheConnectionCloses) {
  ServerHarness server;
  RespClient client(server.port());
  ASSERT_TRUE(client.Send(Command({"PING"}) + "*1\r\n+PING\r\n" + Command({"PING"})));
  ASSERT_TRUE(client.ReadUntilClosed());
  EXPECT_EQ(client.buffer(), "+PONG\r\n-ERR Protocol error: expected '$', got '+'\r\n");
  // The server goes on serving others.
  RespClient next(server.port());
  EXPECT_EQ(next.Call({"PING"}).text, "PONG");
  EXPECT_EQ(server.requests("resp_other", 400), 1u);
}

TEST(RespServerTest, OversizedBulkLengthIsRefusedBeforeItsData) {
  ServerHarness server;
  RespClient client(server.port());
  ASSERT_TRUE(client.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$999999999999\r\n"));
  ASSERT_TRUE(client.ReadUntilClosed());
  EXPECT_EQ(client.buffer(),
            "-ERR Protocol error: invalid bulk length (999999999999 bytes; at most 4194304)\r\n");
  RespClient next(server.port());
  EXPECT_EQ(next.Call({"PING"}).text, "PONG");
}

TEST(RespServerTest, AClientStillSendingSeesTheErrorNotAReset) {
  ServerHarness server;
  RespClient client(server.port());
  // An error early in a large write: the server replies and closes while data still arrives.
  std::string junk = "*1\r\n$x\r\n" + std::string(1u << 20, 'j');
  client.Send(junk);  // may fail part-way once the server has closed
  ASSERT_TRUE(client.ReadUntilClosed());
  EXPECT_EQ(client.buffer(), "-ERR Protocol error: invalid bulk length\r\n");
}

TEST(RespServerTest, QuitRepliesAndCloses) {
  ServerHarness server;
  RespClient client(server.port());
  ASSERT_TRUE(client.Send(Command({"QUIT"})));
  ASSERT_TRUE(client.ReadUntilClosed());
  EXPECT_EQ(client.buffer(), "+OK\r\n");
}

TEST(RespServerTest, IdleConnectionsAreClosed) {
  RespServerLimits limits = DefaultLimits();
  limits.idle_timeout_ms = 200;
  ServerHarness server(limits);
  RespClient client(server.port());
  EXPECT_EQ(client.Call({"PING"}).text, "PONG");
  const auto start = Clock::now();
  ASSERT_TRUE(client.ReadUntilClosed());
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  EXPECT_LT(waited, std::chrono::seconds(5));
  // A partial command does not keep a connection alive either.
  RespClient slow(server.port());
  ASSERT_TRUE(slow.Send("*2\r\n$3\r\nGET"));
  ASSERT_TRUE(slow.ReadUntilClosed());
  EXPECT_EQ(slow.buffer(), "");
}

TEST(RespServerTest, AtTheCapIdleConnectionsMakeRoomAndBusyOnesDoNot) {
  RespServerLimits limits = DefaultLimits();
  limits.connections_max = 2;
  ServerHarness server(limits);
  RespClient first(server.port());
  RespClient second(server.port());
  EXPECT_EQ(first.Call({"PING"}).text, "PONG");
  EXPECT_EQ(second.Call({"PING"}).text, "PONG");
  // Both idle: the oldest makes room.
  RespClient third(server.port());
  EXPECT_EQ(third.Call({"PING"}).text, "PONG");
  ASSERT_TRUE(first.ReadUntilClosed());
  // In the middle of a command (the PONG shows the server read the segment): not idle, so a
  // new connection is refused.
  for (RespClient* client : {&second, &third}) {
    ASSERT_TRUE(client->Send("PING\r\n*1\r\n$4\r\nPI"));
    EXPECT_EQ(client->Read(1).at(0).text, "PONG");
  }
  RespClient fourth(server.port());
  ASSERT_TRUE(fourth.ReadUntilClosed());
  EXPECT_EQ(fourth.buffer(), "-ERR max number of clients reached\r\n");
  EXPECT_EQ(server.connection_count(), 2u);
}

TEST(RespServerTest, StopClosesConnections) {
  ServerHarness server;
  RespClient client(server.port());
  EXPECT_EQ(client.Call({"PING"}).text, "PONG");
  EXPECT_EQ(server.connection_count(), 1u);
  server.RunOnLoop([&server] { server.resp().Stop(); });
  ASSERT_TRUE(client.ReadUntilClosed());
  const auto deadline = Clock::now() + kReadDeadline;
  while (server.connection_count() != 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(server.connection_count(), 0u);
}

TEST(RespServerTest, ManyConnectionsInterleave) {
  ServerHarness server;
  std::vector<std::unique_ptr<RespClient>> clients;
  for (int i = 0; i < 20; ++i) clients.push_back(std::make_unique<RespClient>(server.port()));
  for (int round = 0; round < 5; ++round) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
      ASSERT_TRUE(
          clients[i]->Send(Command({"SET", "c" + std::to_string(i), std::to_string(round)}) +
                           Command({"GET", "c" + std::to_string(i)})));
    }
    for (auto& client : clients) {
      std::vector<RespValue> replies = client->Read(2);
      ASSERT_EQ(replies.size(), 2u);
      EXPECT_TRUE(replies[1].IsBulk(std::to_string(round)));
    }
  }
  EXPECT_EQ(server.requests("resp_set", 200), 100u);
  EXPECT_EQ(server.requests("resp_get", 200), 100u);
}

}  // namespace
}  // namespace meridian::api
