// PeerTransport over real loopback sockets, with the io_context run on the test thread in
// bounded slices: exchange both ways, ordering, volume, handshake refusals, misbehaving raw
// connections, backpressure, reconnect with queued messages, and Stop() safety.
#include "runtime/peer_transport.h"

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

namespace meridian::runtime {
namespace {

using namespace meridian::runtime::test;  // NOLINT(google-build-using-namespace): test helpers

bool IsOrdered(const std::vector<Received>& received, std::uint64_t first_id) {
  for (std::size_t i = 0; i < received.size(); ++i) {
    if (received[i].message.kv_request().request_id() != first_id + i) return false;
  }
  return true;
}

TEST(PeerTransportTest, ExchangesMessagesBothWaysInOrder) {
  asio::io_context io;
  TestNode a(io, Config("node-a"));
  TestNode b(io, Config("node-b"));
  ASSERT_NE(a.transport().bound_port(), 0);
  ASSERT_EQ(a.address(), Loopback(a.transport().bound_port()));
  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(a.transport().Send(b.address(), Request(i)).ok());
    ASSERT_TRUE(b.transport().Send(a.address(), Request(1000 + i)).ok());
  }
  ASSERT_TRUE(RunUntil(
      io, [&] { return a.received.size() == kMessages && b.received.size() == kMessages; }));
  EXPECT_TRUE(IsOrdered(b.received, 0));
  EXPECT_TRUE(IsOrdered(a.received, 1000));
  EXPECT_EQ(b.received[0].from_node_id, "node-a");
  EXPECT_EQ(b.received[0].from_address, a.address());
  EXPECT_EQ(a.received[0].from_node_id, "node-b");
  EXPECT_EQ(a.received[0].from_address, b.address());

  PeerStats a_to_b = a.stats_for(b.address());
  EXPECT_TRUE(a_to_b.connected);
  EXPECT_EQ(a_to_b.frames_sent, kMessages);
  EXPECT_EQ(a_to_b.frames_received, kMessages);  // B's messages, on B's own connection
  EXPECT_EQ(a_to_b.queued_frames, 0u);
  EXPECT_EQ(a_to_b.queued_bytes, 0u);
  EXPECT_EQ(a_to_b.connects, 1u);
  EXPECT_EQ(a_to_b.reconnects, 0u);
  EXPECT_EQ(b.transport().stats().handshakes_completed, 1u);
  EXPECT_EQ(b.transport().stats().frames_received, kMessages);
  EXPECT_EQ(b.transport().stats().connections_open, 1u);
}

TEST(PeerTransportTest, ManyMessagesIncludingLargeOnesArriveInOrder) {
  asio::io_context io;
  TestNode a(io, Config("node-a"));
  TestNode b(io, Config("node-b"));
  constexpr int kMessages = 20000;
  for (int i = 0; i < kMessages; ++i) {
    const std::size_t value_bytes = i % 2000 == 0 ? (2 << 20) : 100;  // some 2 MiB frames
    Status sent = a.transport().Send(b.address(), Request(i, value_bytes));
    ASSERT_TRUE(sent.ok()) << sent.ToString();
  }
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == kMessages; }));
  EXPECT_TRUE(IsOrdered(b.received, 0));
  EXPECT_EQ(b.received[2000].message.kv_request().value().size(), 2u << 20);
  EXPECT_EQ(a.stats_for(b.address()).frames_sent, kMessages);
}

// A refused handshake: nobody's handler sees a message; both sides count it.
void ExpectRefused(asio::io_context& io, TestNode& dialer, TestNode& acceptor) {
  ASSERT_TRUE(dialer.transport().Send(acceptor.address(), Request(1)).ok());
  ASSERT_TRUE(RunUntil(io, [&] {
    return acceptor.transport().stats().handshakes_rejected == 1 &&
           dialer.stats_for(acceptor.address()).handshakes_rejected == 1;
  }));
  RunFor(io, milliseconds(100));
  EXPECT_TRUE(dialer.received.empty());
  EXPECT_TRUE(acceptor.received.empty());
  PeerStats stats = dialer.stats_for(acceptor.address());
  EXPECT_FALSE(stats.connected);
  EXPECT_EQ(stats.frames_sent, 0u);
  EXPECT_EQ(stats.frames_dropped, 1u);  // queued frames are dropped on refusal
  EXPECT_EQ(stats.queued_frames, 0u);
  EXPECT_EQ(acceptor.transport().stats().handshakes_completed, 0u);
}

TEST(PeerTransportTest, RefusesPeerOfAnotherCluster) {
  asio::io_context io;
  TestNode a(io, Config("node-a", "alpha"));
  TestNode b(io, Config("node-b", "beta"));
  ExpectRefused(io, a, b);
}

TEST(PeerTransportTest, RefusesPeerWithNoProtocolVersionInCommon) {
  asio::io_context io;
  PeerTransportConfig newer = Config("node-a");
  newer.min_protocol_version = 2;
  newer.protocol_version = 3;
  TestNode a(io, newer);
  TestNode b(io, Config("node-b"));
  ExpectRefused(io, a, b);
}

// A node speaking a wider range connects to one speaking less, both ways, at the highest
// version both speak: how releases of neighbouring ranges work together during an upgrade.
TEST(PeerTransportTest, OverlappingProtocolRangesConnectBothWays) {
  asio::io_context io;
  PeerTransportConfig wider = Config("node-a");
  wider.protocol_version = 2;  // speaks 1..2
  wider.meridian_version = "9.9.9";
  TestNode a(io, wider);
  TestNode b(io, Config("node-b"));  // speaks 1
  ASSERT_TRUE(a.transport().Send(b.address(), Request(1)).ok());
  ASSERT_TRUE(b.transport().Send(a.address(), Request(2)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return a.received.size() == 1 && b.received.size() == 1; }));
  EXPECT_EQ(a.transport().stats().handshakes_rejected, 0u);
  EXPECT_EQ(b.transport().stats().handshakes_rejected, 0u);
}

// Release 0.1.0 sends only protocol_version (1) and accepts a reply only with exactly its own
// version: a node of this release answers it with the negotiated version, 1.
TEST(PeerTransportTest, HandshakeOfRelease010IsAnsweredWithItsVersion) {
  asio::io_context io;
  PeerTransportConfig wider = Config("node-b");
  wider.protocol_version = 2;  // speaks 1..2
  TestNode b(io, wider);
  RawPeer raw(io, b.transport().bound_port());
  std::optional<proto::HandshakeReply> reply = raw.Handshake(io, "test", /*protocol_version=*/1);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->has_accepted()) << reply->rejected().reason();
  EXPECT_EQ(reply->accepted().protocol_version(), 1u);
  EXPECT_EQ(reply->accepted().min_protocol_version(), 1u);
  EXPECT_EQ(reply->accepted().max_protocol_version(), 2u);
  EXPECT_EQ(reply->accepted().meridian_version(), MERIDIAN_VERSION);
  EXPECT_FALSE(raw.closed());
}

TEST(PeerTransportTest, RawHandshakeWithNoCommonVersionGetsTheReason) {
  asio::io_context io;
  TestNode b(io, Config("node-b"));
  RawPeer raw(io, b.transport().bound_port());
  std::optional<proto::HandshakeReply> reply = raw.Handshake(io, "test", 3, 0, ProtocolRange{3, 4});
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->has_rejected());
  const std::string& reason = reply->rejected().reason();
  EXPECT_NE(reason.find("no common peer protocol version"), std::string::npos) << reason;
  EXPECT_NE(reason.find("node 'raw' (Meridian 9.9.9) speaks 3..4"), std::string::npos) << reason;
  EXPECT_NE(reason.find("upgrade node 'node-b'"), std::string::npos) << reason;
  EXPECT_TRUE(raw.WaitClosed(io));
  EXPECT_EQ(b.transport().stats().handshakes_rejected, 1u);
}

TEST(PeerTransportTest, RawHandshakeOfAnotherClusterGetsTheReason) {
  asio::io_context io;
  TestNode b(io, Config("node-b"));
  RawPeer raw(io, b.transport().bound_port());
  std::optional<proto::HandshakeReply> reply = raw.Handshake(io, "other");
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->has_rejected());
  EXPECT_NE(reply->rejected().reason().find("cluster name mismatch"), std::string::npos);
  EXPECT_TRUE(raw.WaitClosed(io));
}

TEST(PeerTransportTest, SendRejectsMessagesThatCanNeverBeSent) {
  asio::io_context io;
  PeerTransportConfig config = Config("node-a");
  config.frame_bytes_max = 4096;
  TestNode a(io, config);
  const std::string somewhere = "127.0.0.1:9";
  EXPECT_EQ(a.transport().Send(somewhere, Request(1, 5000)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.transport().Send(somewhere, proto::PeerMessage()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(a.transport().Send("localhost:9", Request(1)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(a.transport().Send("127.0.0.1:0", Request(1)).code(), StatusCode::kInvalidArgument);

  PeerTransport unlistened(io, Config("node-c"), nullptr);
  EXPECT_EQ(unlistened.Send(somewhere, Request(1)).code(), StatusCode::kInternal);
  PeerTransport invalid(io, Config("bad id!"), nullptr);
  EXPECT_EQ(invalid.Listen().code(), StatusCode::kInvalidArgument);
}

// B serves a well-behaved peer A while raw connections misbehave; each is closed alone.
class MisbehavingConnectionTest : public ::testing::Test {
 protected:
  MisbehavingConnectionTest() {
    PeerTransportConfig config = Config("node-b");
    config.handshake_timeout_ms = 300;
    config.frame_bytes_max = 64 * 1024;
    b_ = std::make_unique<TestNode>(io_, config);
    a_ = std::make_unique<TestNode>(io_, Config("node-a"));
    ExpectServing();
  }

  // A's next message still reaches B over A's existing connection.
  void ExpectServing() {
    const std::size_t before = b_->received.size();
    ASSERT_TRUE(a_->transport().Send(b_->address(), Request(before)).ok());
    ASSERT_TRUE(RunUntil(io_, [&] { return b_->received.size() == before + 1; }));
    EXPECT_TRUE(a_->stats_for(b_->address()).connected);
    EXPECT_EQ(a_->stats_for(b_->address()).connects, 1u);
  }

  // A raw connection sends `bytes` (after a valid handshake when asked) and is closed.
  void ExpectClosed(const std::string& bytes, bool handshake_first) {
    RawPeer raw(io_, b_->transport().bound_port());
    if (handshake_first) {
      std::optional<proto::HandshakeReply> reply = raw.Handshake(io_, "test");
      ASSERT_TRUE(reply.has_value());
      ASSERT_TRUE(reply->has_accepted());
      EXPECT_EQ(reply->accepted().node_id(), "node-b");
    }
    if (!bytes.empty()) raw.Write(bytes);
    EXPECT_TRUE(raw.WaitClosed(io_));
    ExpectServing();
  }

  static std::string Header(std::uint32_t length) {
    FrameHeader header = EncodeFrameHeader(length);
    return std::string(header.begin(), header.end());
  }
  static std::string Unparseable() {
    const std::string bytes(5, '\xff');  // a varint tag that never ends
    proto::PeerMessage message;
    proto::Handshake handshake;
    EXPECT_FALSE(message.ParseFromString(bytes));
    EXPECT_FALSE(handshake.ParseFromString(bytes));
    return Header(static_cast<std::uint32_t>(bytes.size())) + bytes;
  }

  asio::io_context io_;
  std::unique_ptr<TestNode> b_;
  std::unique_ptr<TestNode> a_;
};

TEST_F(MisbehavingConnectionTest, GarbageInsteadOfAHandshake) {
  ExpectClosed("GET / HTTP/1.1\r\nHost: x\r\n\r\n", /*handshake_first=*/false);
  EXPECT_EQ(b_->transport().stats().frames_rejected, 1u);
}

TEST_F(MisbehavingConnectionTest, UnparseableHandshake) {
  ExpectClosed(Unparseable(), /*handshake_first=*/false);
  EXPECT_EQ(b_->transport().stats().frames_rejected, 1u);
}

TEST_F(MisbehavingConnectionTest, NoHandshakeTimesOut) {
  ExpectClosed("", /*handshake_first=*/false);
  EXPECT_EQ(b_->transport().stats().handshake_timeouts, 1u);
}

TEST_F(MisbehavingConnectionTest, PartialHandshakeTimesOut) {
  ExpectClosed(Header(100) + "abc", /*handshake_first=*/false);
  EXPECT_EQ(b_->transport().stats().handshake_timeouts, 1u);
}

TEST_F(MisbehavingConnectionTest, ZeroLengthFrame) {
  ExpectClosed(Header(0), /*handshake_first=*/true);
  EXPECT_EQ(b_->transport().stats().frames_rejected, 1u);
}

TEST_F(MisbehavingConnectionTest, OversizedLength) {
  ExpectClosed(Header(64 * 1024 + 1), /*handshake_first=*/true);
  EXPECT_EQ(b_->transport().stats().frames_rejected, 1u);
}

TEST_F(MisbehavingConnectionTest, UnparseablePeerMessage) {
  ExpectClosed(Unparseable(), /*handshake_first=*/true);
  EXPECT_EQ(b_->transport().stats().frames_rejected, 1u);
}

// A newer release's message of a kind this one does not know is handed on (with no body) and
// counted; the connection stays open and carries the next message.
TEST_F(MisbehavingConnectionTest, MessageOfAnUnknownKindKeepsTheConnection) {
  RawPeer raw(io_, b_->transport().bound_port());
  std::optional<proto::HandshakeReply> reply = raw.Handshake(io_, "test");
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->has_accepted());
  // Field 1000, length-delimited, empty: tag varint 0xC2 0x3E (1000 << 3 | 2), length 0.
  const std::string unknown("\xC2\x3E\x00", 3);
  const std::size_t before = b_->received.size();
  raw.Write(Header(static_cast<std::uint32_t>(unknown.size())) + unknown);
  raw.Write(EncodeFrame(Request(77)));
  ASSERT_TRUE(RunUntil(io_, [&] { return b_->received.size() == before + 2; }));
  EXPECT_EQ(b_->received[before].message.body_case(), proto::PeerMessage::BODY_NOT_SET);
  EXPECT_EQ(b_->received[before + 1].message.kv_request().request_id(), 77u);
  EXPECT_EQ(b_->transport().stats().messages_unknown, 1u);
  EXPECT_EQ(b_->transport().stats().frames_rejected, 0u);
  EXPECT_FALSE(raw.closed());
  ExpectServing();
}

TEST_F(MisbehavingConnectionTest, NewPeersAreStillAcceptedAfterwards) {
  ExpectClosed(Unparseable(), /*handshake_first=*/true);
  ExpectClosed("", /*handshake_first=*/false);
  TestNode c(io_, Config("node-c"));
  ASSERT_TRUE(c.transport().Send(b_->address(), Request(7)).ok());
  ASSERT_TRUE(RunUntil(
      io_, [&] { return !b_->received.empty() && b_->received.back().from_node_id == "node-c"; }));
  EXPECT_EQ(b_->transport().stats().connections_open, 2u);  // A and C
}

TEST(PeerTransportTest, FullSendQueueReturnsUnavailable) {
  asio::io_context io;
  // A peer whose kernel completes the TCP handshake but that never accepts or reads.
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string silent_address = Loopback(silent.local_endpoint().port());
  PeerTransportConfig config = Config("node-a");
  config.send_queue_bytes_max = 1000;
  config.handshake_timeout_ms = 200;
  TestNode a(io, config);

  const std::size_t frame_bytes = kFrameHeaderBytes + Request(1, 250).ByteSizeLong();
  const std::size_t fitting = config.send_queue_bytes_max / frame_bytes;
  ASSERT_GE(fitting, 2u);
  for (std::size_t i = 0; i < fitting; ++i) {
    ASSERT_TRUE(a.transport().Send(silent_address, Request(i + 1, 250)).ok());  // same size
  }
  Status full = a.transport().Send(silent_address, Request(99, 250));
  EXPECT_EQ(full.code(), StatusCode::kUnavailable);
  EXPECT_NE(full.message().find("queue"), std::string::npos) << full.message();
  EXPECT_TRUE(full.retryable());
  // Handshake attempts time out and retry; the queue keeps its frames and its bound.
  RunFor(io, milliseconds(500));
  EXPECT_EQ(a.transport().Send(silent_address, Request(100, 250)).code(), StatusCode::kUnavailable);
  PeerStats stats = a.stats_for(silent_address);
  EXPECT_FALSE(stats.connected);
  EXPECT_EQ(stats.queued_frames, fitting);
  EXPECT_EQ(stats.queued_bytes, fitting * frame_bytes);
  EXPECT_EQ(stats.sends_rejected, 2u);
  EXPECT_GE(stats.reconnects, 1u);
  // Another peer is unaffected by this one's full queue.
  TestNode b(io, Config("node-b"));
  ASSERT_TRUE(a.transport().Send(b.address(), Request(1, 250)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1; }));
}

TEST(PeerTransportTest, FrameCountBoundReturnsUnavailable) {
  asio::io_context io;
  tcp::acceptor silent(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string silent_address = Loopback(silent.local_endpoint().port());
  PeerTransportConfig config = Config("node-a");
  config.send_queue_frames_max = 2;
  TestNode a(io, config);
  EXPECT_TRUE(a.transport().Send(silent_address, Request(1)).ok());
  EXPECT_TRUE(a.transport().Send(silent_address, Request(2)).ok());
  EXPECT_EQ(a.transport().Send(silent_address, Request(3)).code(), StatusCode::kUnavailable);
}

TEST(PeerTransportTest, PeerThatStopsReadingFillsTheQueue) {
  asio::io_context io;
  // Accepts, answers the handshake like a node, then never reads again.
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string stalled_address = Loopback(acceptor.local_endpoint().port());
  PeerTransportConfig config = Config("node-a");
  config.send_queue_bytes_max = 1 << 20;
  TestNode a(io, config);
  ASSERT_TRUE(a.transport().Send(stalled_address, Request(0)).ok());
  tcp::socket stalled(io);
  bool accepted = false;
  acceptor.async_accept(stalled, [&](boost::system::error_code ec) { accepted = !ec; });
  ASSERT_TRUE(RunUntil(io, [&] { return accepted; }));
  // Blocking reads only of bytes already available, so the loop never waits on itself.
  ASSERT_TRUE(RunUntil(io, [&] { return stalled.available() >= kFrameHeaderBytes; }));
  FrameHeader header;
  asio::read(stalled, asio::buffer(header));
  std::string hello(DecodeFrameHeader(header), '\0');
  ASSERT_TRUE(RunUntil(io, [&] { return stalled.available() >= hello.size(); }));
  asio::read(stalled, asio::buffer(hello));
  proto::HandshakeReply reply;
  *reply.mutable_accepted() =
      MakeHandshake("test", ProtocolRange{1, 1}, "stalled", stalled_address);
  asio::write(stalled, asio::buffer(EncodeFrame(reply)));
  ASSERT_TRUE(RunUntil(io, [&] { return a.stats_for(stalled_address).connected; }));

  // Kernel buffers absorb some megabytes; then the queue fills. Bounded by the attempt count.
  Status sent;
  int attempts = 0;
  for (; attempts < 4000 && sent.ok(); ++attempts) {
    sent = a.transport().Send(stalled_address, Request(attempts, 64 * 1024));
    io.run_for(milliseconds(1));
  }
  EXPECT_EQ(sent.code(), StatusCode::kUnavailable) << "after " << attempts << " sends";
  PeerStats stats = a.stats_for(stalled_address);
  EXPECT_TRUE(stats.connected);
  EXPECT_LE(stats.queued_bytes, config.send_queue_bytes_max);
  EXPECT_GT(stats.queued_bytes, config.send_queue_bytes_max / 2);
}

TEST(PeerTransportTest, ReconnectsAndDeliversMessagesQueuedWhileThePeerWasDown) {
  asio::io_context io;
  TestNode a(io, Config("node-a"));
  auto b = std::make_unique<TestNode>(io, Config("node-b"));
  const std::string b_address = b->address();
  ASSERT_TRUE(a.transport().Send(b_address, Request(0)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return b->received.size() == 1; }));

  b.reset();  // Stop() and destroy B; A notices its connection closing
  ASSERT_TRUE(RunUntil(io, [&] { return !a.stats_for(b_address).connected; }));
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(a.transport().Send(b_address, Request(i)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return a.stats_for(b_address).reconnects >= 2; }));
  EXPECT_EQ(a.stats_for(b_address).queued_frames, 3u);  // connection refused; still queued

  PeerTransportConfig again = Config("node-b");
  again.listen_address = b_address;
  TestNode b2(io, again);
  ASSERT_EQ(b2.address(), b_address);
  ASSERT_TRUE(RunUntil(io, [&] { return b2.received.size() == 3; }));
  EXPECT_TRUE(IsOrdered(b2.received, 1));
  PeerStats stats = a.stats_for(b_address);
  EXPECT_TRUE(stats.connected);
  EXPECT_EQ(stats.connects, 2u);
  EXPECT_EQ(stats.frames_sent, 4u);
  EXPECT_EQ(stats.queued_frames, 0u);
}

TEST(PeerTransportTest, APeerThatConnectsBackEndsTheReconnectBackoffToIt) {
  asio::io_context io;
  PeerTransportConfig slow = Config("node-a");
  slow.reconnect_backoff_initial_ms = 120'000;  // far beyond kWaitMax: only the early redial
  slow.reconnect_backoff_max_ms = 120'000;      // can deliver within the test
  TestNode a(io, slow);
  auto b = std::make_unique<TestNode>(io, Config("node-b"));
  const std::string b_address = b->address();
  b.reset();  // B's address now refuses connections
  ASSERT_TRUE(a.transport().Send(b_address, Request(0)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return a.stats_for(b_address).connect_failures == 1; }));
  EXPECT_EQ(a.stats_for(b_address).queued_frames, 1u);  // waiting out a 60-120 s backoff

  PeerTransportConfig again = Config("node-b");
  again.listen_address = b_address;
  TestNode b2(io, again);
  ASSERT_TRUE(b2.transport().Send(a.address(), Request(1)).ok());  // B2 connects to A
  ASSERT_TRUE(RunUntil(io, [&] { return b2.received.size() == 1 && a.received.size() == 1; }));
  EXPECT_EQ(b2.received[0].message.kv_request().request_id(), 0u);
  EXPECT_EQ(a.stats_for(b_address).early_redials, 1u);
  EXPECT_TRUE(a.stats_for(b_address).connected);
}

TEST(PeerTransportTest, StopClosesEverythingAndPendingHandlersAreSafe) {
  asio::io_context io;
  auto a = std::make_unique<TestNode>(io, Config("node-a"));
  auto b = std::make_unique<TestNode>(io, Config("node-b"));
  const std::string b_address = b->address();
  ASSERT_TRUE(a->transport().Send(b_address, Request(0)).ok());
  ASSERT_TRUE(b->transport().Send(a->address(), Request(0)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return a->received.size() == 1 && b->received.size() == 1; }));
  for (int i = 1; i <= 1000; ++i)
    ASSERT_TRUE(a->transport().Send(b_address, Request(i, 1000)).ok());
  io.poll_one();  // some writes in flight

  a->transport().Stop();
  a->transport().Stop();  // idempotent
  EXPECT_EQ(a->transport().Send(b_address, Request(2000)).code(), StatusCode::kUnavailable);
  PeerStats stats = a->stats_for(b_address);
  EXPECT_FALSE(stats.connected);
  EXPECT_EQ(stats.queued_frames + stats.frames_sent + stats.frames_dropped, 1001u);
  const std::size_t a_received = a->received.size();
  RunFor(io, milliseconds(100));
  EXPECT_EQ(a->received.size(), a_received);  // no handler call after Stop()
  ASSERT_TRUE(RunUntil(io, [&] { return b->transport().stats().connections_open == 0; }));

  // Destroy both while their connections' handlers may still be pending, then drain the loop.
  b->transport().Stop();
  b.reset();
  a.reset();
  RunFor(io, milliseconds(100));
  io.restart();
  io.run_for(milliseconds(500));
  EXPECT_TRUE(io.stopped());  // nothing left: every connection coroutine finished
}

}  // namespace
}  // namespace meridian::runtime
