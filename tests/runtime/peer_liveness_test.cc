// PeerTransport liveness over real loopback sockets: heartbeats on idle connections both ways,
// silent or stuck connections closed and replaced at once, peers that predate heartbeats left
// alone, connect attempts bounded while SYNs go unanswered, outbound sockets bound to the
// node's own IP, and bad liveness settings refused.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/peer_frame.h"
#include "runtime/peer_test_util.h"
#include "runtime/peer_transport.h"

namespace meridian::runtime {
namespace {

using namespace meridian::runtime::test;  // NOLINT(google-build-using-namespace): test helpers

// Short liveness settings so the tests take a second or two.
PeerTransportConfig FastConfig(const std::string& node_id) {
  PeerTransportConfig config = Config(node_id);
  config.heartbeat_interval_ms = 100;
  config.idle_timeout_ms = 400;
  config.write_timeout_ms = 400;
  return config;
}

// A listening socket that plays a node for one connection at a time: it answers the handshake
// (announcing `heartbeat_interval_ms`), then neither reads nor writes.
class SilentAcceptor {
 public:
  SilentAcceptor(asio::io_context& io, std::uint32_t heartbeat_interval_ms)
      : io_(io),
        acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        heartbeat_interval_ms_(heartbeat_interval_ms) {}

  std::string address() const { return Loopback(acceptor_.local_endpoint().port()); }

  // Accepts the next connection and answers its handshake; false if none came in time.
  bool AcceptAndAnswer() {
    auto socket = std::make_unique<tcp::socket>(io_);
    bool accepted = false;
    acceptor_.async_accept(*socket, [&](boost::system::error_code ec) { accepted = !ec; });
    if (!RunUntil(io_, [&] { return accepted; })) return false;
    // Blocking reads only of bytes already available, so the loop never waits on itself.
    if (!RunUntil(io_, [&] { return socket->available() >= kFrameHeaderBytes; })) return false;
    FrameHeader header;
    asio::read(*socket, asio::buffer(header));
    std::string hello(DecodeFrameHeader(header), '\0');
    if (!RunUntil(io_, [&] { return socket->available() >= hello.size(); })) return false;
    asio::read(*socket, asio::buffer(hello));
    proto::HandshakeReply reply;
    *reply.mutable_accepted() = MakeHandshake("test", ProtocolRange{1, 1}, "silent", address());
    reply.mutable_accepted()->set_heartbeat_interval_ms(heartbeat_interval_ms_);
    asio::write(*socket, asio::buffer(EncodeFrame(reply)));
    sockets_.push_back(std::move(socket));
    return true;
  }

 private:
  asio::io_context& io_;
  tcp::acceptor acceptor_;
  std::uint32_t heartbeat_interval_ms_;
  std::vector<std::unique_ptr<tcp::socket>> sockets_;  // kept open, never read
};

TEST(PeerLivenessTest, IdleConnectionsCarryHeartbeatsBothWaysAndStayUp) {
  asio::io_context io;
  TestNode a(io, FastConfig("node-a"));
  TestNode b(io, FastConfig("node-b"));
  ASSERT_TRUE(a.transport().Send(b.address(), Request(1)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1; }));
  // Several idle timeouts without any message: heartbeats keep the connection.
  ASSERT_TRUE(RunUntil(io, [&] {
    return a.transport().stats().heartbeats_sent >= 10 &&
           b.transport().stats().heartbeats_sent >= 10;
  }));
  RunFor(io, milliseconds(1000));
  EXPECT_EQ(b.received.size(), 1u) << "heartbeats never reach the handler";
  EXPECT_GE(a.transport().stats().heartbeats_received, 10u);  // B's, on A's own connection
  EXPECT_GE(b.transport().stats().heartbeats_received, 10u);
  EXPECT_EQ(a.transport().stats().idle_timeouts + b.transport().stats().idle_timeouts, 0u);
  const PeerStats a_to_b = a.stats_for(b.address());
  EXPECT_TRUE(a_to_b.connected);
  EXPECT_EQ(a_to_b.connects, 1u);
  EXPECT_EQ(a_to_b.frames_sent, 1u) << "heartbeats are not counted as frames";
}

TEST(PeerLivenessTest, ASilentPeerIsDeclaredDeadAndReplacedAtOnce) {
  asio::io_context io;
  SilentAcceptor silent(io, /*heartbeat_interval_ms=*/100);
  const PeerTransportConfig config = FastConfig("node-a");
  TestNode a(io, config);
  ASSERT_TRUE(a.transport().Send(silent.address(), Request(1)).ok());
  ASSERT_TRUE(silent.AcceptAndAnswer());
  ASSERT_TRUE(RunUntil(io, [&] { return a.stats_for(silent.address()).connected; }));
  const auto connected_at = SteadyClock::now();
  // Nothing comes back: after the idle timeout the connection is closed.
  ASSERT_TRUE(RunUntil(io, [&] { return !a.stats_for(silent.address()).connected; }));
  const auto closed_after = SteadyClock::now() - connected_at;
  EXPECT_GE(closed_after, milliseconds(config.idle_timeout_ms - 50));
  EXPECT_LT(closed_after, milliseconds(config.idle_timeout_ms + 1000)) << "not waited on";
  EXPECT_EQ(a.stats_for(silent.address()).connections_timed_out, 1u);
  EXPECT_EQ(a.transport().stats().idle_timeouts, 1u);
  // The next message opens a new connection at once: no backoff accumulated by the dead one.
  const auto sent_at = SteadyClock::now();
  ASSERT_TRUE(a.transport().Send(silent.address(), Request(2)).ok());
  ASSERT_TRUE(silent.AcceptAndAnswer());
  EXPECT_LT(SteadyClock::now() - sent_at, milliseconds(config.reconnect_backoff_initial_ms + 500));
}

TEST(PeerLivenessTest, APeerThatPredatesHeartbeatsIsNeitherSentThemNorTimedOut) {
  asio::io_context io;
  SilentAcceptor old_node(io, /*heartbeat_interval_ms=*/0);
  const PeerTransportConfig config = FastConfig("node-a");
  TestNode a(io, config);
  ASSERT_TRUE(a.transport().Send(old_node.address(), Request(1)).ok());
  ASSERT_TRUE(old_node.AcceptAndAnswer());
  ASSERT_TRUE(RunUntil(io, [&] { return a.stats_for(old_node.address()).connected; }));
  RunFor(io, milliseconds(4 * config.idle_timeout_ms));
  EXPECT_TRUE(a.stats_for(old_node.address()).connected);
  EXPECT_EQ(a.transport().stats().idle_timeouts, 0u);
  EXPECT_EQ(a.transport().stats().heartbeats_sent, 0u);
}

TEST(PeerLivenessTest, AWriteStuckOnAPeerThatStopsReadingKillsTheConnection) {
  asio::io_context io;
  SilentAcceptor stalled(io, /*heartbeat_interval_ms=*/0);  // no idle deadline: only the write
  PeerTransportConfig config = FastConfig("node-a");
  config.send_queue_bytes_max = 64 << 20;
  TestNode a(io, config);
  ASSERT_TRUE(a.transport().Send(stalled.address(), Request(0)).ok());
  ASSERT_TRUE(stalled.AcceptAndAnswer());
  ASSERT_TRUE(RunUntil(io, [&] { return a.stats_for(stalled.address()).connected; }));
  // More than the kernel buffers take: a write blocks and stays blocked.
  for (int i = 1; i <= 48; ++i) {
    ASSERT_TRUE(a.transport().Send(stalled.address(), Request(i, 1 << 20)).ok());
  }
  ASSERT_TRUE(RunUntil(io, [&] { return a.transport().stats().write_timeouts == 1; }));
  EXPECT_EQ(a.stats_for(stalled.address()).connections_timed_out, 1u);
  // The stuck batch is lost (counted once its write fails on the closed socket).
  EXPECT_TRUE(RunUntil(io, [&] { return a.stats_for(stalled.address()).frames_dropped > 0; }));
}

TEST(PeerLivenessTest, InboundConnectionsGetHeartbeatsAndASilentDialerIsClosed) {
  asio::io_context io;
  const PeerTransportConfig config = FastConfig("node-b");
  TestNode b(io, config);
  RawPeer raw(io, b.transport().bound_port());
  std::optional<proto::HandshakeReply> reply =
      raw.Handshake(io, "test", 1, /*heartbeat_interval_ms=*/100);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->has_accepted());
  EXPECT_EQ(reply->accepted().heartbeat_interval_ms(), config.heartbeat_interval_ms);
  const std::size_t reply_bytes = raw.bytes().size();
  // The raw dialer sends nothing after its handshake: B closes the connection after the idle
  // timeout, having sent heartbeats meanwhile.
  ASSERT_TRUE(raw.WaitClosed(io, milliseconds(config.idle_timeout_ms + 2000)));
  EXPECT_GT(raw.bytes().size(), reply_bytes);
  EXPECT_GE(b.transport().stats().heartbeats_sent, 1u);
  EXPECT_EQ(b.transport().stats().idle_timeouts, 1u);
  EXPECT_TRUE(b.received.empty());
}

TEST(PeerLivenessTest, AnInboundDialerThatPredatesHeartbeatsIsLeftAlone) {
  asio::io_context io;
  const PeerTransportConfig config = FastConfig("node-b");
  TestNode b(io, config);
  RawPeer raw(io, b.transport().bound_port());
  ASSERT_TRUE(raw.Handshake(io, "test", 1, /*heartbeat_interval_ms=*/0).has_value());
  const std::size_t reply_bytes = raw.bytes().size();
  RunFor(io, milliseconds(4 * config.idle_timeout_ms));
  EXPECT_FALSE(raw.closed());
  EXPECT_EQ(raw.bytes().size(), reply_bytes) << "no heartbeat to a node that predates them";
  EXPECT_EQ(b.transport().stats().idle_timeouts, 0u);
}

TEST(PeerLivenessTest, ConnectTimeoutBoundsAttemptsWhoseSynsGoUnanswered) {
  asio::io_context io;
  // A listener whose accept queue is full drops further SYNs: a connect then hangs in SYN
  // retransmission (about two minutes) unless the transport's timeout ends it.
  tcp::acceptor full(io);
  full.open(tcp::v4());
  full.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  full.listen(0);
  const std::string full_address = Loopback(full.local_endpoint().port());
  std::vector<std::unique_ptr<tcp::socket>> fillers;
  for (int i = 0; i < 3; ++i) {
    fillers.push_back(std::make_unique<tcp::socket>(io));
    fillers.back()->async_connect(full.local_endpoint(), [](boost::system::error_code) {});
  }
  RunFor(io, milliseconds(200));
  PeerTransportConfig config = FastConfig("node-a");
  config.connect_timeout_ms = 200;
  // TCP_USER_TIMEOUT (the larger of these) also ends a connect; keep it out of the way.
  config.idle_timeout_ms = 10'000;
  config.write_timeout_ms = 10'000;
  TestNode a(io, config);
  ASSERT_TRUE(a.transport().Send(full_address, Request(1)).ok());
  const auto started = SteadyClock::now();
  ASSERT_TRUE(RunUntil(io, [&] { return a.stats_for(full_address).reconnects >= 3; }));
  // Three attempts ended by the 200 ms timeout (spaced by a backoff of at most 100 ms).
  EXPECT_LT(SteadyClock::now() - started, milliseconds(2000));
  EXPECT_FALSE(a.stats_for(full_address).connected);
  EXPECT_EQ(a.stats_for(full_address).queued_frames, 1u);
}

TEST(PeerLivenessTest, OutboundSocketsBindToTheListenIp) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string target = Loopback(acceptor.local_endpoint().port());
  auto source_of_next_connection = [&](TestNode& node) -> std::string {
    tcp::socket socket(io);
    bool accepted = false;
    acceptor.async_accept(socket, [&](boost::system::error_code ec) { accepted = !ec; });
    EXPECT_TRUE(node.transport().Send(target, Request(1)).ok());
    if (!RunUntil(io, [&] { return accepted; })) return "none";
    return socket.remote_endpoint().address().to_string();
  };
  PeerTransportConfig own_ip = FastConfig("node-a");
  own_ip.listen_address = "127.0.0.2:0";
  TestNode a(io, own_ip);
  EXPECT_EQ(source_of_next_connection(a), "127.0.0.2");
  PeerTransportConfig wildcard = FastConfig("node-c");
  wildcard.listen_address = "0.0.0.0:0";
  wildcard.advertised_address = "127.0.0.1:9";
  TestNode c(io, wildcard);
  EXPECT_EQ(source_of_next_connection(c), "127.0.0.1") << "a wildcard listener binds nothing";
}

// docs/format/transport.md pins these bytes.
TEST(PeerLivenessTest, TheHeartbeatFrameIsSevenBytes) {
  proto::PeerMessage heartbeat;
  heartbeat.mutable_link_heartbeat();
  EXPECT_EQ(EncodeFrame(heartbeat), std::string("\x00\x00\x00\x03\x92\x03\x00", 7));
}

TEST(PeerLivenessTest, BadLivenessSettingsAreRefused) {
  asio::io_context io;
  PeerTransportConfig config = FastConfig("node-a");
  config.idle_timeout_ms = 150;  // below two heartbeat intervals
  PeerTransport transport(io, config, nullptr);
  const Status listening = transport.Listen();
  EXPECT_EQ(listening.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(listening.message().find("idle_timeout_ms"), std::string::npos) << listening.message();
  config = FastConfig("node-a");
  config.reconnect_backoff_max_ms = 10;  // below the initial 20
  EXPECT_EQ(config.Validate().code(), StatusCode::kInvalidArgument);
  config = FastConfig("node-a");
  config.write_timeout_ms = 0;
  EXPECT_EQ(config.Validate().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::runtime
