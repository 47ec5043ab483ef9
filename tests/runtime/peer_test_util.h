// Helpers of the PeerTransport tests (peer_transport_test.cc, peer_liveness_test.cc): running an
// io_context in bounded slices, test messages and configs, a transport that records what it
// receives, and a raw TCP peer.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/peer_frame.h"
#include "runtime/peer_transport.h"

namespace meridian::runtime::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

inline constexpr milliseconds kWaitMax{10000};  // generous: the machine is shared

// Runs `io` in small slices until `done()` holds or `limit` passes; returns done().
inline bool RunUntil(asio::io_context& io, const std::function<bool()>& done,
                     milliseconds limit = kWaitMax) {
  const auto deadline = SteadyClock::now() + limit;
  while (!done() && SteadyClock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_for(milliseconds(5));
  }
  return done();
}

// Runs `io` for `duration` (to show that something does NOT happen).
inline void RunFor(asio::io_context& io, milliseconds duration) {
  RunUntil(
      io, [] { return false; }, duration);
}

inline std::string Loopback(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

inline proto::PeerMessage Request(std::uint64_t request_id, std::size_t value_bytes = 0) {
  proto::PeerMessage message;
  proto::KvRequest* request = message.mutable_kv_request();
  request->set_request_id(request_id);
  request->set_bucket("default");
  request->set_key("key");
  request->set_op(proto::KvRequest::OP_PUT);
  request->set_value(std::string(value_bytes, 'v'));
  return message;
}

inline PeerTransportConfig Config(const std::string& node_id, const std::string& cluster = "test") {
  PeerTransportConfig config;
  config.cluster_name = cluster;
  config.node_id = node_id;
  config.listen_address = "127.0.0.1:0";
  config.random_seed = 42;
  config.reconnect_backoff_initial_ms = 20;
  config.reconnect_backoff_max_ms = 100;
  return config;
}

struct Received {
  std::string from_node_id;
  std::string from_address;
  proto::PeerMessage message;
};

// A transport that records what it receives.
class TestNode {
 public:
  TestNode(asio::io_context& io, PeerTransportConfig config)
      : transport_(io, std::move(config),
                   [this](const std::string& node_id, const std::string& address,
                          proto::PeerMessage message) {
                     received.push_back({node_id, address, std::move(message)});
                   }) {
    Status listening = transport_.Listen();
    EXPECT_TRUE(listening.ok()) << listening.ToString();
  }
  PeerTransport& transport() { return transport_; }
  std::string address() const { return transport_.advertised_address(); }
  PeerStats stats_for(const std::string& address) const {
    return transport_.peer_stats(address).value_or(PeerStats{});
  }

  std::vector<Received> received;  // declared before the transport that fills it

 private:
  PeerTransport transport_;
};

// A raw TCP client that reads everything the other side sends, until it closes.
class RawPeer {
 public:
  RawPeer(asio::io_context& io, std::uint16_t port, const std::string& host = "127.0.0.1")
      : state_(std::make_shared<State>(io)) {
    state_->socket.connect(tcp::endpoint(asio::ip::make_address(host), port));
    ReadMore(state_);
  }
  ~RawPeer() {
    boost::system::error_code ignored;
    state_->socket.close(ignored);
  }
  void Write(const std::string& bytes) { asio::write(state_->socket, asio::buffer(bytes)); }
  void Write(const FrameHeader& header) { asio::write(state_->socket, asio::buffer(header)); }
  bool WaitClosed(asio::io_context& io, milliseconds limit = kWaitMax) {
    return RunUntil(
        io, [this] { return state_->closed; }, limit);
  }
  bool closed() const { return state_->closed; }
  // Everything received so far (the handshake reply first).
  const std::string& bytes() const { return state_->bytes; }
  // Sends a handshake and returns the parsed reply frame (nullopt when none arrives).
  // heartbeat_interval_ms: what the raw peer announces (0: like a node that predates them).
  // Without `range`, the handshake is that of release 0.1.0: only protocol_version, no range
  // and no release; with it, that of a newer release speaking `range`.
  std::optional<proto::HandshakeReply> Handshake(asio::io_context& io, const std::string& cluster,
                                                 std::uint32_t protocol_version = 1,
                                                 std::uint32_t heartbeat_interval_ms = 0,
                                                 std::optional<ProtocolRange> range = {}) {
    proto::Handshake hello = MakeHandshake(cluster, range.value_or(ProtocolRange{}), "raw",
                                           "127.0.0.1:9", range ? "9.9.9" : "");
    if (!range) {
      hello.clear_min_protocol_version();
      hello.clear_max_protocol_version();
    }
    hello.set_protocol_version(protocol_version);
    hello.set_heartbeat_interval_ms(heartbeat_interval_ms);
    Write(EncodeFrame(hello));
    auto complete = [this] {
      const std::string& bytes = state_->bytes;
      if (bytes.size() < kFrameHeaderBytes) return false;
      FrameHeader header;
      std::copy_n(bytes.begin(), kFrameHeaderBytes, header.begin());
      return bytes.size() >= kFrameHeaderBytes + DecodeFrameHeader(header);
    };
    if (!RunUntil(io, complete)) return std::nullopt;
    proto::HandshakeReply reply;
    if (!reply.ParseFromString(state_->bytes.substr(kFrameHeaderBytes))) return std::nullopt;
    return reply;
  }

 private:
  struct State {
    explicit State(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::array<char, 4096> buffer;
    std::string bytes;
    bool closed = false;
  };
  // The handler holds the state, so it may run after this RawPeer is gone.
  static void ReadMore(std::shared_ptr<State> state) {
    state->socket.async_read_some(asio::buffer(state->buffer),
                                  [state](boost::system::error_code ec, std::size_t bytes) {
                                    if (ec) {
                                      state->closed = true;
                                      return;
                                    }
                                    state->bytes.append(state->buffer.data(), bytes);
                                    ReadMore(state);
                                  });
  }
  std::shared_ptr<State> state_;
};

}  // namespace meridian::runtime::test
