#include "runtime/peer_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "api/http_server.h"
#include "cluster/link_monitor.h"
#include "cluster/reconnect_backoff.h"
#include "core/assert.h"
#include "runtime/peer_frame.h"
#include "runtime/peer_socket.h"
#include "runtime/peer_tls.h"
#include "runtime/system_env.h"

namespace meridian::runtime {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// A large frame that does not fit in the input budget waits this long before trying again.
constexpr std::chrono::milliseconds kBudgetRetry{5};
// One write gathers at most this many queued frames / bytes (fewer system calls under load).
constexpr std::size_t kWriteBatchFramesMax = 256;
constexpr std::size_t kWriteBatchBytesMax = 1 << 20;
// Reads ask the socket for at least this much, so one read usually brings several frames.
constexpr std::size_t kReadChunkBytes = 64 << 10;
// A read buffer left larger than this by a big frame is released once it is empty.
constexpr std::size_t kReadBufferKeptBytes = 1 << 20;
// Back-off after a failed accept (e.g. out of file descriptors) so the loop does not spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

// Milliseconds of the monotonic clock: the time base of LinkMonitor and ReconnectBackoff.
std::uint64_t NowMs() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now().time_since_epoch())
          .count());
}

SteadyClock::time_point TimePointOf(std::uint64_t ms) {
  return SteadyClock::time_point(std::chrono::milliseconds(ms));
}

std::string EndpointText(const tcp::endpoint& endpoint) {
  if (endpoint.address().is_v6()) {
    return "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port());
  }
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

// One TCP connection, shared by the coroutines that read it, write it and watch it.
struct Link {
  explicit Link(asio::io_context& io) : stream(io), wake(io), watchdog(io) {}
  // Closes the socket (pending reads and writes fail) and wakes the writer and the watchdog so
  // that every coroutine of the link ends.
  void Close() {
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    wake.cancel();
    watchdog.cancel();
  }
  bool open() { return stream.socket().is_open(); }
  // Starts TLS over the connected stream with `context` (kept alive as long as the link).
  void StartTls(std::shared_ptr<PeerTlsContext> context) {
    tls_context = std::move(context);
    tls = std::make_unique<asio::ssl::stream<beast::tcp_stream&>>(stream, tls_context->context());
  }

  beast::tcp_stream stream;  // the TCP connection; its timeouts also bound TLS operations
  std::shared_ptr<PeerTlsContext> tls_context;                 // with tls
  std::unique_ptr<asio::ssl::stream<beast::tcp_stream&>> tls;  // null: plaintext
  beast::flat_buffer read_buffer;       // bytes read from the stream, not yet returned as frames
  std::string description;              // "ADDRESS" or "ENDPOINT" for logs
  std::string remote_node_id;           // from the peer's handshake
  std::string remote_address;           // from the peer's handshake
  std::string remote_meridian_version;  // from the peer's handshake; empty: 0.1.0 or older
  std::uint32_t protocol_version = 0;   // negotiated in the handshake
  asio::steady_timer wake;              // the writer waits on it; Send and the watchdog cancel it
  asio::steady_timer watchdog;          // the watchdog's next look at the monitor
  std::optional<cluster::LinkMonitor> monitor;   // from the completed handshake on
  bool heartbeat_due = false;                    // set by the watchdog, cleared by the writer
  std::uint32_t peer_heartbeat_interval_ms = 0;  // from the peer's handshake (dialer side)
};

// The outbound side of one peer address.
struct Peer {
  Peer(asio::io_context& io, std::string peer_address, tcp::endpoint peer_endpoint,
       const cluster::ReconnectBackoffConfig& backoff_config)
      : endpoint(peer_endpoint), retry_timer(io), backoff(backoff_config) {
    stats.address = std::move(peer_address);
  }

  tcp::endpoint endpoint;
  std::deque<std::string> queue;  // encoded frames not yet handed to a write
  std::size_t queue_bytes = 0;
  std::size_t in_flight_frames = 0;  // handed to the write in progress
  std::size_t in_flight_bytes = 0;
  std::shared_ptr<Link> link;  // while connecting or connected
  bool running = false;        // RunPeer is active
  asio::steady_timer retry_timer;
  cluster::ReconnectBackoff backoff;
  std::uint64_t retry_not_before_ms = 0;
  std::uint64_t attempts = 0;
  PeerStats stats;  // counters; the gauges are filled in by Snapshot()

  PeerStats Snapshot() const {
    PeerStats out = stats;
    out.queued_bytes = queue_bytes + in_flight_bytes;
    out.queued_frames = queue.size() + in_flight_frames;
    return out;
  }
  void DropQueue() {
    stats.frames_dropped += queue.size();
    queue.clear();
    queue_bytes = 0;
  }
};

// How a frame read ended.
struct FrameRead {
  enum class Outcome { kFrame, kClosed, kTimedOut, kBadLength };
  Outcome outcome = Outcome::kClosed;
  std::string payload;  // kFrame
  std::string error;    // otherwise
};

// Reads until the link's buffer holds at least `needed` bytes. Every chunk that arrives is
// evidence that the peer is there (part of a large frame included).
asio::awaitable<boost::system::error_code> FillTo(Link& link, std::size_t needed) {
  beast::flat_buffer& buffer = link.read_buffer;
  while (buffer.size() < needed) {
    const std::size_t want = std::max(kReadChunkBytes, needed - buffer.size());
    boost::system::error_code ec;
    std::size_t bytes = 0;
    if (link.tls) {
      std::tie(ec, bytes) = co_await link.tls->async_read_some(buffer.prepare(want), kUseTuple);
    } else {
      std::tie(ec, bytes) = co_await link.stream.async_read_some(buffer.prepare(want), kUseTuple);
    }
    if (ec) co_return ec;
    buffer.commit(bytes);
    if (link.monitor) link.monitor->Received(NowMs());
  }
  co_return boost::system::error_code{};
}

FrameRead ReadFailure(const boost::system::error_code& ec) {
  FrameRead read;
  read.outcome =
      ec == beast::error::timeout ? FrameRead::Outcome::kTimedOut : FrameRead::Outcome::kClosed;
  read.error = ec.message();
  return read;
}

// The next frame of the link's stream. Reads are buffered: one read may bring several frames,
// which the following calls return without touching the socket. A frame larger than a read
// chunk is held under `budget` (when given) while it arrives: until its bytes fit, the link
// is not read (TCP flow control holds the sender back), checked every kBudgetRetry.
asio::awaitable<FrameRead> ReadFrame(Link& link, std::size_t payload_bytes_max,
                                     ByteBudget* budget = nullptr,
                                     std::uint64_t* budget_waits = nullptr) {
  beast::flat_buffer& buffer = link.read_buffer;
  if (auto ec = co_await FillTo(link, kFrameHeaderBytes)) co_return ReadFailure(ec);
  FrameHeader header;
  std::memcpy(header.data(), buffer.data().data(), kFrameHeaderBytes);
  const std::uint32_t length = DecodeFrameHeader(header);
  FrameRead read;
  if (Status valid = CheckFrameLength(length, payload_bytes_max); !valid.ok()) {
    read.outcome = FrameRead::Outcome::kBadLength;
    read.error = valid.message();
    co_return read;
  }
  ByteBudget::Reservation frame_bytes;
  if (budget != nullptr && length > kReadChunkBytes) {
    bool waited = false;
    for (;;) {
      if (std::optional<ByteBudget::Reservation> reserved = budget->TryReserve(length)) {
        frame_bytes = std::move(*reserved);
        break;
      }
      if (!waited && budget_waits != nullptr) ++*budget_waits;
      waited = true;
      asio::steady_timer retry(co_await asio::this_coro::executor, kBudgetRetry);
      co_await retry.async_wait(kUseTuple);
      if (!link.open()) co_return ReadFailure(asio::error::operation_aborted);
    }
  }
  if (auto ec = co_await FillTo(link, kFrameHeaderBytes + length)) {
    co_return ReadFailure(ec);
  }
  read.payload.assign(static_cast<const char*>(buffer.data().data()) + kFrameHeaderBytes, length);
  buffer.consume(kFrameHeaderBytes + length);
  if (buffer.size() == 0 && buffer.capacity() > kReadBufferKeptBytes) buffer.shrink_to_fit();
  read.outcome = FrameRead::Outcome::kFrame;
  co_return read;
}

// Writes all of `buffers` to the link (through TLS when it has it).
template <typename Buffers>
asio::awaitable<boost::system::error_code> WriteAll(Link& link, const Buffers& buffers) {
  boost::system::error_code ec;
  std::size_t written = 0;
  if (link.tls) {
    std::tie(ec, written) = co_await asio::async_write(*link.tls, buffers, kUseTuple);
  } else {
    std::tie(ec, written) = co_await asio::async_write(link.stream, buffers, kUseTuple);
  }
  co_return ec;
}

// A TLS error (certificate, protocol) rather than a network one.
bool IsTlsError(const boost::system::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec.category() == asio::ssl::error::get_stream_category();
}

void LogCoroutineEnd(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("peer transport: connection ended by an exception: {}", e.what());
  } catch (...) {
    spdlog::error("peer transport: connection ended by an unknown exception");
  }
}

}  // namespace

// Shared by the transport object and every connection coroutine (which hold it by shared_ptr,
// so a coroutine resumed after the transport is destroyed never touches freed memory).
struct PeerTransport::State {
  State(asio::io_context& io_context, PeerTransportConfig transport_config,
        PeerMessageHandler message_handler)
      : io(io_context),
        config(std::move(transport_config)),
        config_status(config.Validate()),
        handler(std::move(message_handler)),
        random(config.random_seed == 0 ? SystemRandom() : SystemRandom(config.random_seed)) {
    advertised_address = config.advertised_address;
    tls = config.tls;
    proto::PeerMessage heartbeat;
    heartbeat.mutable_link_heartbeat();
    heartbeat_frame = EncodeFrame(heartbeat);
    socket_options.user_timeout_ms = std::max(config.idle_timeout_ms, config.write_timeout_ms);
    socket_options.keepalive_idle_s = std::max<std::uint32_t>(1, config.idle_timeout_ms / 1000);
  }

  ProtocolRange protocols() const { return {config.min_protocol_version, config.protocol_version}; }
  // What this node dials with; an accepting reply sets protocol_version to the negotiated one.
  proto::Handshake OwnHandshake() const {
    proto::Handshake handshake = MakeHandshake(config.cluster_name, protocols(), config.node_id,
                                               advertised_address, config.meridian_version);
    handshake.set_heartbeat_interval_ms(config.heartbeat_interval_ms);
    return handshake;
  }
  // A peer of another release (during a rolling upgrade) is worth a line per connection.
  void LogPeerRelease(const Link& link) const {
    if (link.remote_meridian_version == config.meridian_version) return;
    spdlog::info(
        "peer transport: {} runs Meridian {} (this node {}); the connection speaks peer "
        "protocol version {}",
        link.description,
        link.remote_meridian_version.empty() ? "0.1.0 or older" : link.remote_meridian_version,
        config.meridian_version, link.protocol_version);
  }
  // The peer's handshake against this node's: the negotiated protocol version or the reason.
  Result<std::uint32_t> CheckPeer(const proto::Handshake& peer) const {
    Result<std::uint32_t> version =
        CheckPeerHandshake(peer, config.cluster_name, config.node_id, protocols());
    return version;
  }
  // The stats entry for a peer address, created on first use. nullptr for a bad address.
  Peer* FindOrCreatePeer(const std::string& address);
  // After an attempt that started at attempt_started_ms ended now: when the next may start.
  void ScheduleRetry(Peer& peer, std::uint64_t attempt_started_ms);
  void Deliver(Link& link, proto::PeerMessage message);
  // Kernel liveness options for a peer socket; a refusal is logged, not fatal.
  void ConfigureSocket(tcp::socket& socket, const std::string& description) const;

  asio::io_context& io;
  const PeerTransportConfig config;
  const Status config_status;
  PeerMessageHandler handler;
  SystemRandom random;
  std::string advertised_address;
  std::string heartbeat_frame;  // encoded once
  PeerSocketOptions socket_options;
  // The IP outbound sockets bind to: the listen IP, unless it is a wildcard.
  std::optional<asio::ip::address> bind_ip;
  std::optional<tcp::acceptor> acceptor;
  std::uint16_t bound_port = 0;
  std::map<std::string, std::shared_ptr<Peer>> peers;
  std::unordered_map<std::uint64_t, std::shared_ptr<Link>> inbound_links;
  std::shared_ptr<ByteBudget> input_budget;  // partial frames; null: bounded per link only
  std::uint64_t frames_budget_waits = 0;
  // The inbound links still in their handshakes, oldest first (by registration id).
  std::map<std::uint64_t, std::shared_ptr<Link>> pending_inbound;
  std::uint64_t next_inbound_id = 0;
  TransportStats inbound;
  // New connections use it; a reload replaces it. Null: plaintext.
  std::shared_ptr<PeerTlsContext> tls;
  // Refused TLS handshakes are logged at most once a second (strangers must not flood the log).
  std::uint64_t last_refusal_log_ms = 0;
  std::uint64_t refusals_not_logged = 0;
  bool stopping = false;
};

Peer* PeerTransport::State::FindOrCreatePeer(const std::string& address) {
  if (auto it = peers.find(address); it != peers.end()) return it->second.get();
  Result<api::ListenAddress> parsed = api::ParseListenAddress(address);
  if (!parsed.ok() || parsed->port == 0) return nullptr;
  tcp::endpoint endpoint(asio::ip::make_address(parsed->host), parsed->port);
  auto peer = std::make_shared<Peer>(io, address, endpoint, config.reconnect_backoff());
  return peers.emplace(address, std::move(peer)).first->second.get();
}

void PeerTransport::State::ScheduleRetry(Peer& peer, std::uint64_t attempt_started_ms) {
  peer.retry_not_before_ms = peer.backoff.NextAttemptMs(attempt_started_ms, NowMs(), random);
}

void PeerTransport::State::ConfigureSocket(tcp::socket& socket,
                                           const std::string& description) const {
  if (Status applied = ApplyPeerSocketOptions(socket.native_handle(), socket_options);
      !applied.ok()) {
    spdlog::warn("peer transport: connection {}: {}", description, applied.message());
  }
}

void PeerTransport::State::Deliver(Link& link, proto::PeerMessage message) {
  ++inbound.frames_received;
  if (auto it = peers.find(link.remote_address); it != peers.end()) {
    ++it->second->stats.frames_received;
  }
  try {
    handler(link.remote_node_id, link.remote_address, std::move(message));
  } catch (const std::exception& e) {
    spdlog::error("peer transport: message handler threw: {}", e.what());
  } catch (...) {
    spdlog::error("peer transport: message handler threw an unknown exception");
  }
}

namespace {

using State = PeerTransport::State;

// Hands every PeerMessage frame on an established link to the handler until the link closes
// or breaks the protocol. Heartbeats stop here. Bounded by the connection's lifetime.
asio::awaitable<void> ReceiveMessages(std::shared_ptr<State> state, std::shared_ptr<Link> link) {
  for (;;) {
    FrameRead read = co_await ReadFrame(*link, state->config.frame_bytes_max,
                                        state->input_budget.get(), &state->frames_budget_waits);
    if (state->stopping) co_return;
    if (read.outcome == FrameRead::Outcome::kClosed ||
        read.outcome == FrameRead::Outcome::kTimedOut) {
      spdlog::debug("peer transport: connection {} closed: {}", link->description, read.error);
      co_return;
    }
    if (read.outcome == FrameRead::Outcome::kBadLength) {
      ++state->inbound.frames_rejected;
      spdlog::warn("peer transport: closing connection {}: {}", link->description, read.error);
      co_return;
    }
    proto::PeerMessage message;
    if (!message.ParseFromString(read.payload)) {
      ++state->inbound.frames_rejected;
      spdlog::warn(
          "peer transport: closing connection {}: unparseable PeerMessage frame of {} bytes",
          link->description, read.payload.size());
      co_return;
    }
    if (message.has_link_heartbeat()) {
      ++state->inbound.heartbeats_received;  // the monitor saw its bytes arrive
      continue;
    }
    if (message.body_case() == proto::PeerMessage::BODY_NOT_SET) {
      // A kind a newer release added (a non-empty frame whose body this build does not know):
      // the upper layers ignore it, and the connection carries on.
      ++state->inbound.messages_unknown;
    }
    state->Deliver(*link, std::move(message));
    if (state->stopping) co_return;
  }
}

// Writes `buffers` as one write, with the link's monitor told when it starts and ends (so a
// write stuck in a full socket buffer is noticed by the watchdog).
template <typename Buffers>
asio::awaitable<boost::system::error_code> MonitoredWrite(Link& link, const Buffers& buffers) {
  link.monitor->WriteStarted(NowMs());
  const boost::system::error_code ec = co_await WriteAll(link, buffers);
  link.monitor->WriteFinished(NowMs());
  co_return ec;
}

// Writes a heartbeat on the link if the watchdog asked for one. False when the write failed.
asio::awaitable<bool> WriteHeartbeatIfDue(State& state, Link& link) {
  if (!link.heartbeat_due) co_return true;
  link.heartbeat_due = false;
  // (No co_await inside conditions here and below: GCC 12 miscompiles some of them.)
  const boost::system::error_code ec =
      co_await MonitoredWrite(link, asio::buffer(state.heartbeat_frame));
  if (ec) {
    spdlog::debug("peer transport: heartbeat to {} failed: {}", link.description, ec.message());
    co_return false;
  }
  ++state.inbound.heartbeats_sent;
  co_return true;
}

// The writer of an inbound link: it carries only heartbeats (a node's own messages leave on its
// outbound connections). Ends when the link closes.
asio::awaitable<void> WriteInboundHeartbeats(std::shared_ptr<State> state,
                                             std::shared_ptr<Link> link) {
  while (!state->stopping && link->open()) {
    if (!link->heartbeat_due) {
      link->wake.expires_at(SteadyClock::time_point::max());
      co_await link->wake.async_wait(kUseTuple);
      continue;
    }
    const bool written = co_await WriteHeartbeatIfDue(*state, *link);
    if (!written) break;
  }
  link->Close();
}

// Watches an established link with its LinkMonitor: asks the writer for heartbeats and closes
// the link when the monitor declares it dead. Ends when the link closes.
asio::awaitable<void> WatchLink(std::shared_ptr<State> state, std::shared_ptr<Link> link,
                                Peer* peer) {
  // Bounded by the link's lifetime; every pass waits until the monitor's next wake-up.
  while (!state->stopping && link->open()) {
    const std::uint64_t now_ms = NowMs();
    cluster::LinkMonitor& monitor = *link->monitor;
    const cluster::LinkVerdict verdict = monitor.Check(now_ms);
    if (verdict != cluster::LinkVerdict::kAlive) {
      if (verdict == cluster::LinkVerdict::kIdleTimeout) {
        ++state->inbound.idle_timeouts;
      } else {
        ++state->inbound.write_timeouts;
      }
      if (peer != nullptr) ++peer->stats.connections_timed_out;
      spdlog::warn("peer transport: closing connection {}: {} (last frame received {} ms ago)",
                   link->description, cluster::LinkVerdictName(verdict),
                   now_ms - monitor.last_received_ms());
      link->Close();
      co_return;
    }
    std::uint64_t wake_ms = monitor.NextWakeMs();
    if (monitor.HeartbeatDue(now_ms)) {
      link->heartbeat_due = true;
      link->wake.cancel();
      // The writer takes it soon; look again at the next deadline or an interval from now.
      wake_ms = std::min(monitor.DeadlineMs().value_or(UINT64_MAX),
                         now_ms + state->config.heartbeat_interval_ms);
    }
    link->watchdog.expires_at(TimePointOf(std::max(wake_ms, now_ms + 1)));
    co_await link->watchdog.async_wait(kUseTuple);
  }
}

// Starts monitoring a link whose handshake just completed; the peer announced
// `peer_heartbeat_interval_ms` (0: none).
void StartMonitoring(const std::shared_ptr<State>& state, const std::shared_ptr<Link>& link,
                     std::uint32_t peer_heartbeat_interval_ms, Peer* peer) {
  link->monitor.emplace(state->config.link_monitor(), peer_heartbeat_interval_ms, NowMs());
  asio::co_spawn(state->io, WatchLink(state, link, peer), LogCoroutineEnd);
}

// Removes an inbound link from State::inbound_links for the coroutine's lifetime.
class InboundRegistration {
 public:
  InboundRegistration(State& state, std::shared_ptr<Link> link)
      : state_(state), id_(state.next_inbound_id++) {
    state_.pending_inbound.emplace(id_, link);
    state_.inbound_links.emplace(id_, std::move(link));
  }
  ~InboundRegistration() {
    state_.inbound_links.erase(id_);
    state_.pending_inbound.erase(id_);
  }
  // The handshakes completed: no longer one of the pending (evictable) connections.
  void Authenticated() { state_.pending_inbound.erase(id_); }
  InboundRegistration(const InboundRegistration&) = delete;
  InboundRegistration& operator=(const InboundRegistration&) = delete;

 private:
  State& state_;
  std::uint64_t id_;
};

// A connection refused in its TLS handshake: logged at most once a second, with a count of
// those not logged since.
void LogRefusal(State& state, const std::string& description, const std::string& reason) {
  const std::uint64_t now = NowMs();
  if (state.last_refusal_log_ms != 0 && now - state.last_refusal_log_ms < 1000) {
    ++state.refusals_not_logged;
    return;
  }
  std::string more;
  if (state.refusals_not_logged > 0) {
    more = " (and " + std::to_string(state.refusals_not_logged) +
           " more refused since the last such line)";
  }
  spdlog::warn("peer transport: refused connection {}: {}{}", description, reason, more);
  state.last_refusal_log_ms = now;
  state.refusals_not_logged = 0;
}

// One accepted connection: the peer's handshake, our reply, then its messages.
asio::awaitable<void> ServeInbound(std::shared_ptr<State> state, std::shared_ptr<Link> link) {
  InboundRegistration registration(*state, link);
  // One deadline for the TLS handshake and the peer's handshake frame together.
  link->stream.expires_after(std::chrono::milliseconds(state->config.handshake_timeout_ms));
  std::string certified_node_id;  // with TLS: whom the peer's certificate names
  if (state->tls) {
    link->StartTls(state->tls);
    auto [tls_error] =
        co_await link->tls->async_handshake(asio::ssl::stream_base::server, kUseTuple);
    if (state->stopping) co_return;
    if (tls_error) {
      ++state->inbound.tls_handshakes_failed;
      LogRefusal(*state, link->description, "TLS handshake failed: " + tls_error.message());
      co_return;
    }
    Result<std::string> certified = VerifiedPeerNodeId(link->tls->native_handle());
    if (!certified.ok()) {
      ++state->inbound.tls_handshakes_failed;
      LogRefusal(*state, link->description, certified.status().message());
      co_return;
    }
    certified_node_id = std::move(*certified);
  }
  FrameRead read = co_await ReadFrame(*link, kHandshakeFrameBytesMax);
  if (state->stopping) co_return;
  proto::Handshake hello;
  switch (read.outcome) {
    case FrameRead::Outcome::kClosed:
      co_return;
    case FrameRead::Outcome::kTimedOut:
      ++state->inbound.handshake_timeouts;
      spdlog::warn("peer transport: closing connection {}: no handshake within {} ms",
                   link->description, state->config.handshake_timeout_ms);
      co_return;
    case FrameRead::Outcome::kBadLength:
      ++state->inbound.frames_rejected;
      spdlog::warn("peer transport: closing connection {}: handshake {}", link->description,
                   read.error);
      co_return;
    case FrameRead::Outcome::kFrame:
      if (!hello.ParseFromString(read.payload)) {
        ++state->inbound.frames_rejected;
        spdlog::warn("peer transport: closing connection {}: unparseable handshake",
                     link->description);
        co_return;
      }
      break;
  }
  proto::HandshakeReply reply;
  Result<std::uint32_t> negotiated = state->CheckPeer(hello);
  Status acceptable = negotiated.status();
  if (acceptable.ok() && link->tls && hello.node_id() != certified_node_id) {
    acceptable = Status::InvalidArgument("its certificate is for node '" + certified_node_id +
                                         "', not for node '" + hello.node_id() + "'");
  }
  if (acceptable.ok()) {
    *reply.mutable_accepted() = state->OwnHandshake();
    // The version this connection speaks (a node of release 0.1.0 checks it is its own).
    reply.mutable_accepted()->set_protocol_version(*negotiated);
  } else {
    ++state->inbound.handshakes_rejected;
    spdlog::warn("peer transport: refused connection {} (node '{}'): {}", link->description,
                 hello.node_id(), acceptable.message());
    reply.mutable_rejected()->set_reason(acceptable.message());
  }
  const std::string frame = EncodeFrame(reply);
  const boost::system::error_code write_error = co_await WriteAll(*link, asio::buffer(frame));
  if (write_error || !acceptable.ok() || state->stopping) co_return;
  ++state->inbound.handshakes_completed;
  registration.Authenticated();
  link->stream.expires_never();
  link->remote_node_id = hello.node_id();
  link->remote_address = hello.listen_address();
  link->remote_meridian_version = hello.meridian_version();
  link->protocol_version = *negotiated;
  link->description = link->remote_address + " (node " + link->remote_node_id + ", inbound)";
  // Its stats count the frames received.
  Peer* peer = state->FindOrCreatePeer(link->remote_address);
  // The peer is back (it just reached us): if our own connection to it waits out a reconnect
  // backoff, dial now. After a restart its address had refused us for a while, and requests
  // routed to it as soon as it was seen alive sat in the queue for up to a backoff (1 s).
  // Bounded by the peer's own connect rate: one early attempt per handshake it completes.
  if (peer->running && peer->link == nullptr && peer->retry_not_before_ms > NowMs()) {
    peer->backoff.Reset();
    peer->retry_not_before_ms = NowMs();
    peer->retry_timer.cancel();
    ++peer->stats.early_redials;
  }
  spdlog::debug("peer transport: accepted connection from {}", link->description);
  state->LogPeerRelease(*link);
  StartMonitoring(state, link, hello.heartbeat_interval_ms(), nullptr);
  asio::co_spawn(state->io, WriteInboundHeartbeats(state, std::shared_ptr<Link>(link)),
                 LogCoroutineEnd);
  co_await ReceiveMessages(state, link);
  link->Close();
}

asio::awaitable<void> AcceptLoop(std::shared_ptr<State> state) {
  // Bounded by the acceptor's lifetime: Stop() closes it and the pending accept fails.
  for (;;) {
    auto [ec, socket] = co_await state->acceptor->async_accept(kUseTuple);
    if (state->stopping || !state->acceptor->is_open()) co_return;
    if (ec) {
      spdlog::warn("peer transport: accept failed: {}", ec.message());
      asio::steady_timer delay(state->io, kAcceptRetryDelay);
      co_await delay.async_wait(kUseTuple);
      continue;
    }
    if (state->inbound_links.size() >= state->config.inbound_connections_max) {
      ++state->inbound.connections_refused;
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++state->inbound.connections_accepted;
    if (state->pending_inbound.size() >= state->config.pending_handshakes_max) {
      // Strangers can hold unauthenticated connections; the oldest makes room, so a flood
      // cannot keep a member out for longer than its own handshake takes.
      auto oldest = state->pending_inbound.begin();
      oldest->second->Close();
      state->pending_inbound.erase(oldest);
      ++state->inbound.pending_evicted;
    }
    auto link = std::make_shared<Link>(state->io);
    boost::system::error_code endpoint_error;
    tcp::endpoint remote = socket.remote_endpoint(endpoint_error);
    link->description = endpoint_error ? "(unknown)" : EndpointText(remote);
    link->stream.socket() = std::move(socket);
    state->ConfigureSocket(link->stream.socket(), link->description);
    asio::co_spawn(state->io, ServeInbound(state, std::move(link)), LogCoroutineEnd);
  }
}

// Connects `link` to the peer and exchanges handshakes. InvalidArgument when the handshake
// was refused (by either side), Unavailable for connection failures and timeouts.
asio::awaitable<Status> Dial(State& state, Peer& peer, Link& link) {
  const std::string& address = peer.stats.address;
  tcp::socket& socket = link.stream.socket();
  boost::system::error_code open_error;
  socket.open(peer.endpoint.protocol(), open_error);
  if (open_error) {
    co_return Status::Unavailable("cannot open a socket to " + address + ": " +
                                  open_error.message());
  }
  // Peer traffic leaves from this node's own address (when it listens on one IP, of the
  // peer's family), so that it is what peers and firewalls see.
  if (state.bind_ip && state.bind_ip->is_v4() == peer.endpoint.address().is_v4()) {
    boost::system::error_code bind_error;
    socket.bind(tcp::endpoint(*state.bind_ip, 0), bind_error);
    if (bind_error) {
      co_return Status::Unavailable("cannot bind a socket to " + state.bind_ip->to_string() +
                                    " for " + address + ": " + bind_error.message());
    }
  }
  state.ConfigureSocket(socket, link.description);
  // The stream's timeout covers the whole connect, SYN retransmissions included.
  link.stream.expires_after(std::chrono::milliseconds(state.config.connect_timeout_ms));
  auto [connect_error] = co_await link.stream.async_connect(peer.endpoint, kUseTuple);
  if (connect_error) {
    co_return Status::Unavailable("connect to " + address + " failed: " + connect_error.message());
  }
  link.stream.expires_after(std::chrono::milliseconds(state.config.handshake_timeout_ms));
  std::string certified_node_id;  // with TLS: whom the peer's certificate names
  if (state.tls) {
    link.StartTls(state.tls);
    auto [tls_error] =
        co_await link.tls->async_handshake(asio::ssl::stream_base::client, kUseTuple);
    if (tls_error) {
      const std::string reason =
          "TLS handshake with " + address + " failed: " + tls_error.message();
      // A certificate the other side refused will be refused again: not worth queueing for.
      if (IsTlsError(tls_error)) co_return Status::InvalidArgument(reason);
      co_return Status::Unavailable(reason);
    }
    Result<std::string> certified = VerifiedPeerNodeId(link.tls->native_handle());
    if (!certified.ok()) {
      co_return Status::InvalidArgument("refusing " + address + ": " +
                                        certified.status().message());
    }
    certified_node_id = std::move(*certified);
  }
  const std::string hello = EncodeFrame(state.OwnHandshake());
  const boost::system::error_code write_error = co_await WriteAll(link, asio::buffer(hello));
  if (write_error) {
    co_return Status::Unavailable("handshake to " + address + " failed: " + write_error.message());
  }
  FrameRead read = co_await ReadFrame(link, kHandshakeFrameBytesMax);
  if (read.outcome != FrameRead::Outcome::kFrame) {
    co_return Status::Unavailable("no handshake reply from " + address + ": " + read.error);
  }
  proto::HandshakeReply reply;
  if (!reply.ParseFromString(read.payload)) {
    co_return Status::InvalidArgument("unparseable handshake reply from " + address);
  }
  if (reply.has_rejected()) {
    co_return Status::InvalidArgument("refused by " + address + ": " + reply.rejected().reason());
  }
  if (!reply.has_accepted()) {
    co_return Status::InvalidArgument("handshake reply from " + address + " carries no result");
  }
  const proto::Handshake& theirs = reply.accepted();
  Result<std::uint32_t> common = state.CheckPeer(theirs);
  if (!common.ok()) {
    co_return Status::InvalidArgument("refusing " + address + ": " + common.status().message());
  }
  // The acceptor chose the version (its protocol_version); it must be one both speak.
  const std::uint32_t chosen = theirs.protocol_version();
  if (!state.protocols().Contains(chosen) || !HandshakeProtocolRange(theirs).Contains(chosen)) {
    co_return Status::InvalidArgument(
        "refusing " + address + ": it chose peer protocol version " + std::to_string(chosen) +
        ", outside of what both speak (this node " + state.protocols().ToString() + ", it " +
        HandshakeProtocolRange(theirs).ToString() + ")");
  }
  if (link.tls && theirs.node_id() != certified_node_id) {
    co_return Status::InvalidArgument("refusing " + address + ": its certificate is for node '" +
                                      certified_node_id + "', not for node '" + theirs.node_id() +
                                      "'");
  }
  link.stream.expires_never();
  link.remote_node_id = theirs.node_id();
  link.remote_address = theirs.listen_address();
  link.remote_meridian_version = theirs.meridian_version();
  link.protocol_version = chosen;
  link.description = address + " (node " + link.remote_node_id + ", outbound)";
  link.peer_heartbeat_interval_ms = theirs.heartbeat_interval_ms();
  co_return Status::Ok();
}

// Writes queued frames to `link` in order, gathering several per write, until the link
// closes or the transport stops; a heartbeat when the watchdog asks for one and nothing else is
// queued. Frames whose write fails are dropped (at most once).
asio::awaitable<void> WriteFrames(State& state, Peer& peer, Link& link) {
  // Bounded by the link's lifetime; each pass waits for a write or for a wake-up (Send, the
  // watchdog, the link closing).
  while (!state.stopping && link.open()) {
    if (peer.queue.empty()) {
      if (link.heartbeat_due) {
        const bool written = co_await WriteHeartbeatIfDue(state, link);
        if (!written) co_return;
        continue;
      }
      link.wake.expires_at(SteadyClock::time_point::max());
      co_await link.wake.async_wait(kUseTuple);
      continue;
    }
    link.heartbeat_due = false;  // these frames show the peer we are here
    std::vector<std::string> batch;
    std::size_t batch_bytes = 0;
    while (!peer.queue.empty() && batch.size() < kWriteBatchFramesMax &&
           batch_bytes < kWriteBatchBytesMax) {
      batch_bytes += peer.queue.front().size();
      batch.push_back(std::move(peer.queue.front()));
      peer.queue.pop_front();
    }
    peer.queue_bytes -= batch_bytes;
    peer.in_flight_frames = batch.size();
    peer.in_flight_bytes = batch_bytes;
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(batch.size());
    for (const std::string& frame : batch) buffers.push_back(asio::buffer(frame));
    const boost::system::error_code ec = co_await MonitoredWrite(link, buffers);
    peer.in_flight_frames = 0;
    peer.in_flight_bytes = 0;
    if (ec) {
      peer.stats.frames_dropped += batch.size();
      spdlog::debug("peer transport: write to {} failed, {} frame(s) lost: {}", link.description,
                    batch.size(), ec.message());
      co_return;
    }
    peer.stats.frames_sent += batch.size();
  }
}

// The outbound connection of one peer: connects, writes queued frames, and reconnects with
// backoff while frames are queued. Ends when the queue is empty and the connection is down
// (Send starts it again) or when the transport stops.
asio::awaitable<void> RunPeer(std::shared_ptr<State> state, std::shared_ptr<Peer> peer) {
  const std::string& address = peer->stats.address;
  std::uint64_t failed_attempts = 0;  // since the last connection
  // Bounded in time: every pass either waits out a backoff or holds a connection.
  while (!state->stopping && !peer->queue.empty()) {
    if (NowMs() < peer->retry_not_before_ms) {
      peer->retry_timer.expires_at(TimePointOf(peer->retry_not_before_ms));
      co_await peer->retry_timer.async_wait(kUseTuple);
      continue;
    }
    if (peer->attempts++ > 0) ++peer->stats.reconnects;
    const std::uint64_t attempt_started_ms = NowMs();
    auto link = std::make_shared<Link>(state->io);
    link->description = address + " (outbound)";
    peer->link = link;
    Status dialed = co_await Dial(*state, *peer, *link);
    if (state->stopping) break;
    if (!dialed.ok()) {
      ++peer->stats.connect_failures;
      ++failed_attempts;
      link->Close();
      peer->link.reset();
      state->ScheduleRetry(*peer, attempt_started_ms);
      if (dialed.code() == StatusCode::kInvalidArgument) {
        // The peer will not take this node's messages until its configuration changes.
        ++peer->stats.handshakes_rejected;
        spdlog::warn("peer transport: handshake with {} failed, dropping {} queued frame(s): {}",
                     address, peer->queue.size(), dialed.message());
        peer->DropQueue();
      } else {
        spdlog::debug("peer transport: {}", dialed.message());
      }
      continue;
    }
    ++peer->stats.connects;
    peer->stats.connected = true;
    peer->backoff.Reset();
    if (failed_attempts > 0) {
      spdlog::info(
          "peer transport: connected to {} after {} failed attempt(s); {} frame(s), {} bytes "
          "were waiting",
          link->description, failed_attempts, peer->queue.size(), peer->queue_bytes);
    } else {
      spdlog::debug("peer transport: connected to {}", link->description);
    }
    state->LogPeerRelease(*link);
    failed_attempts = 0;
    StartMonitoring(state, link, link->peer_heartbeat_interval_ms, peer.get());
    // The reader notices the peer closing (and consumes its heartbeats; it would deliver
    // anything else the peer sends on this connection). Closing wakes the writer.
    asio::co_spawn(
        state->io,
        [state, link]() -> asio::awaitable<void> {
          co_await ReceiveMessages(state, link);
          link->Close();
        },
        LogCoroutineEnd);
    co_await WriteFrames(*state, *peer, *link);
    link->Close();
    peer->link.reset();
    peer->stats.connected = false;
    if (state->stopping) break;
    // A connection that lived (and died: the peer closed, or a deadline fired) is replaced at
    // once; one that died right after its handshake waits out the fresh backoff.
    state->ScheduleRetry(*peer, attempt_started_ms);
  }
  peer->running = false;
}

}  // namespace

PeerTransport::PeerTransport(asio::io_context& io, PeerTransportConfig config,
                             PeerMessageHandler handler)
    : state_(std::make_shared<State>(io, std::move(config), std::move(handler))) {}

PeerTransport::~PeerTransport() {
  Stop();
}

Status PeerTransport::Listen() {
  State& state = *state_;
  MERIDIAN_RETURN_IF_ERROR(state.config_status);
  if (state.acceptor) return Status::Internal("PeerTransport::Listen called twice");
  if (state.stopping) return Status::Unavailable("peer transport is stopped");
  Result<api::ListenAddress> address = api::ParseListenAddress(state.config.listen_address);
  if (!address.ok()) return address.status();
  tcp::endpoint endpoint(asio::ip::make_address(address->host), address->port);
  tcp::acceptor acceptor(state.io);
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IoError("cannot listen for peers on " + state.config.listen_address + ": " +
                           ec.message());
  }
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return Status::IoError("cannot read the bound peer address: " + ec.message());
  state.bound_port = bound.port();
  if (!endpoint.address().is_unspecified()) state.bind_ip = endpoint.address();
  if (state.advertised_address.empty()) state.advertised_address = EndpointText(bound);
  state.acceptor.emplace(std::move(acceptor));
  spdlog::info("peer transport: node {} of cluster '{}' listening on {}", state.config.node_id,
               state.config.cluster_name, EndpointText(bound));
  asio::co_spawn(state.io, AcceptLoop(state_), LogCoroutineEnd);
  return Status::Ok();
}

Status PeerTransport::Send(const std::string& to_address, const proto::PeerMessage& message) {
  State& state = *state_;
  MERIDIAN_RETURN_IF_ERROR(state.config_status);
  if (state.stopping) return Status::Unavailable("peer transport is stopped");
  if (state.advertised_address.empty()) {
    return Status::Internal("PeerTransport::Send before Listen() without an advertised_address");
  }
  const std::size_t payload_bytes = message.ByteSizeLong();
  if (payload_bytes == 0) return Status::InvalidArgument("peer message is empty (no body set)");
  if (payload_bytes > state.config.frame_bytes_max) {
    return Status::InvalidArgument("peer message of " + std::to_string(payload_bytes) +
                                   " bytes exceeds frame_bytes_max (" +
                                   std::to_string(state.config.frame_bytes_max) + ")");
  }
  Peer* peer = state.FindOrCreatePeer(to_address);
  if (peer == nullptr) {
    return Status::InvalidArgument("peer address must be IP:PORT with a port above 0: " +
                                   to_address);
  }
  const std::size_t frame_bytes = kFrameHeaderBytes + payload_bytes;
  const std::size_t queued_bytes = peer->queue_bytes + peer->in_flight_bytes;
  const std::size_t queued_frames = peer->queue.size() + peer->in_flight_frames;
  if (queued_frames >= state.config.send_queue_frames_max ||
      queued_bytes + frame_bytes > state.config.send_queue_bytes_max) {
    ++peer->stats.sends_rejected;
    return Status::Unavailable("send queue to " + to_address +
                               " is full: " + std::to_string(queued_frames) + " frames, " +
                               std::to_string(queued_bytes) + " bytes queued (limits " +
                               std::to_string(state.config.send_queue_frames_max) + " frames, " +
                               std::to_string(state.config.send_queue_bytes_max) + " bytes)");
  }
  peer->queue.push_back(EncodeFrame(message));
  peer->queue_bytes += frame_bytes;
  if (!peer->running) {
    peer->running = true;
    asio::co_spawn(state.io, RunPeer(state_, state.peers.at(to_address)), LogCoroutineEnd);
  } else if (peer->link) {
    peer->link->wake.cancel();
  }
  return Status::Ok();
}

void PeerTransport::Stop() {
  State& state = *state_;
  if (state.stopping) return;
  state.stopping = true;
  boost::system::error_code ignored;
  if (state.acceptor) state.acceptor->close(ignored);
  for (auto& [address, peer] : state.peers) {
    peer->DropQueue();
    peer->retry_timer.cancel();
    if (peer->link) peer->link->Close();
    peer->stats.connected = false;
  }
  for (auto& [id, link] : state.inbound_links) link->Close();
}

std::uint16_t PeerTransport::bound_port() const {
  return state_->bound_port;
}

const std::string& PeerTransport::advertised_address() const {
  return state_->advertised_address;
}

std::vector<PeerStats> PeerTransport::peer_stats() const {
  std::vector<PeerStats> out;
  out.reserve(state_->peers.size());
  for (const auto& [address, peer] : state_->peers) out.push_back(peer->Snapshot());
  return out;
}

std::optional<PeerStats> PeerTransport::peer_stats(const std::string& address) const {
  auto it = state_->peers.find(address);
  if (it == state_->peers.end()) return std::nullopt;
  return it->second->Snapshot();
}

Status PeerTransport::ReloadTls(std::shared_ptr<PeerTlsContext> tls) {
  if (state_->tls == nullptr) {
    return Status::InvalidArgument("the peer transport runs plaintext; restart it to use TLS");
  }
  if (tls == nullptr) return Status::InvalidArgument("no TLS context");
  if (tls->node_id() != state_->config.node_id) {
    return Status::InvalidArgument("the new certificate is for node '" + tls->node_id() +
                                   "', not '" + state_->config.node_id + "'");
  }
  state_->tls = std::move(tls);
  return Status::Ok();
}

bool PeerTransport::uses_tls() const {
  return state_->tls != nullptr;
}

TransportStats PeerTransport::stats() const {
  TransportStats out = state_->inbound;
  out.connections_open = state_->inbound_links.size();
  out.pending_handshakes = state_->pending_inbound.size();
  out.frames_budget_waits = state_->frames_budget_waits;
  return out;
}

void PeerTransport::SetInputBudget(std::shared_ptr<ByteBudget> budget) {
  state_->input_budget = std::move(budget);
}

}  // namespace meridian::runtime
