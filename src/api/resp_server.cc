#include "api/resp_server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <exception>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/http_server.h"  // ParseListenAddress

namespace meridian::api {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Bytes asked of each read (more when a large command is pending: the buffer grows).
constexpr std::size_t kReadBytes = 16u << 10;
// After the last reply of a closing connection (QUIT, protocol error), how long to keep
// reading and discarding what the client still sends, so it sees the reply, not a reset.
constexpr std::chrono::milliseconds kLingerMax{2000};
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};
constexpr std::string_view kTooManyClients = "-ERR max number of clients reached\r\n";

std::string EndpointText(const tcp::endpoint& endpoint) {
  if (endpoint.address().is_v6()) {
    return "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port());
  }
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

class Session;

}  // namespace

struct RespServer::State {
  State(asio::io_context& io_context, KvService& service, Metrics* metrics, RespSettings settings,
        const RespServerLimits& server_limits)
      : io(io_context),
        metrics(metrics),
        limits(server_limits),
        commands(std::make_shared<RespCommands>(service, metrics, std::move(settings))),
        acceptor(io_context),
        retry_timer(io_context) {}

  asio::io_context& io;
  Metrics* metrics;  // may be null
  RespServerLimits limits;
  std::shared_ptr<RespCommands> commands;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::optional<tcp::endpoint> endpoint;
  std::map<std::uint64_t, Session*> sessions;  // by id: oldest first
  std::uint64_t next_client_id = 1;
  bool stopping = false;
  std::shared_ptr<ByteBudget> input_budget;  // null: each connection bounded on its own only
};

namespace {

using State = RespServer::State;

// One client connection: moves bytes between the socket and its RespConnection. Callback
// style; every pending operation holds the session (shared_from_this).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<State> state, tcp::socket socket)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        timer_(state_->io),
        id_(state_->next_client_id++),
        connection_(
            std::make_shared<RespConnection>(state_->commands, state_->limits.connection, id_)) {}

  ~Session() { Unregister(); }

  void Start() {
    state_->sessions.emplace(id_, this);
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    connection_->SetWakeup([weak = weak_from_this()] {
      if (std::shared_ptr<Session> self = weak.lock()) self->SchedulePump();
    });
    last_activity_ = SteadyClock::now();
    Safely([this] { Pump(); });
  }

  // Runs `fn`; an exception (e.g. out of memory) ends this connection, never the server.
  template <typename Fn>
  void Safely(Fn&& fn) {
    try {
      fn();
    } catch (const std::exception& e) {
      spdlog::error("RESP session ended by an exception: {}", e.what());
      Close();
    } catch (...) {
      spdlog::error("RESP session ended by an unknown exception");
      Close();
    }
  }

  // The server is stopping: run no more commands; close once in-flight replies are written.
  void BeginStop() {
    connection_->Close();
    SchedulePump();
  }

 private:
  // Runs what the connection can, writes ready replies, reads when input is wanted, closes
  // when finished. Safe to call at any time on the loop.
  void Pump() {
    if (closed_ || lingering_) return;
    connection_->Process();
    TrackPartialCommand();
    AccountInput();
    if (!writing_ && connection_->has_output()) StartWrite();
    if (connection_->finished() && !writing_) return Linger();
    if (!reading_ && connection_->WantsInput()) StartRead();
    ArmTimer();
  }

  // Holds the input buffer's bytes under the node's input budget. When it cannot grow, the
  // command still arriving is answered -BUSY and the connection closes (its buffer is freed):
  // false then.
  bool AccountInput() {
    if (!state_->input_budget) return true;
    if (!input_bytes_) input_bytes_ = state_->input_budget->Empty();
    const std::size_t capacity = connection_->input_capacity();
    if (input_bytes_->Resize(capacity)) return true;
    spdlog::debug("RESP client {}: a {}-byte input buffer does not fit in the input budget", id_,
                  capacity);
    connection_->Refuse(
        "BUSY the node is busy: this command does not fit in the memory for commands still "
        "arriving (input_bytes_max = " +
        std::to_string(state_->input_budget->capacity()) +
        " bytes, shared by every connection); retry shortly");
    input_bytes_->Resize(connection_->input_capacity());  // freed: shrinking always succeeds
    return false;
  }

  // From a completion (possibly deep inside another connection's work): pump later, once for
  // every reply that becomes ready meanwhile, so they leave in one write.
  void SchedulePump() {
    if (pump_scheduled_ || closed_) return;
    pump_scheduled_ = true;
    asio::post(state_->io, [self = shared_from_this()] {
      self->pump_scheduled_ = false;
      self->Safely([&] { self->Pump(); });
    });
  }

  // Asio first tries the read at once (usually empty right after a reply went out, but a
  // pipelining client's next commands are often there already), then waits for readability.
  void StartRead() {
    std::span<char> space = connection_->InputSpace(kReadBytes);
    if (!AccountInput()) return SchedulePump();  // writes the -BUSY reply, then closes
    reading_ = true;
    socket_.async_read_some(
        asio::buffer(space.data(), space.size()),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t bytes) {
          self->Safely([&] { self->OnRead(ec, bytes); });
        });
  }

  void OnRead(boost::system::error_code ec, std::size_t bytes) {
    reading_ = false;
    if (closed_) return;
    if (lingering_) return ec ? Close() : Discard();
    if (ec == asio::error::eof) {
      // The client sent everything it will: answer what is complete, then close.
      connection_->Close();
      return Pump();
    }
    if (ec) return Close();  // reset, or closed by a timeout or a stop
    last_activity_ = SteadyClock::now();
    if (connection_->closing()) return Pump();  // stopping: the bytes are not wanted
    connection_->CommitInput(bytes);
    Pump();
  }

  void StartWrite() {
    connection_->TakeOutput(out_);
    written_ = 0;
    writing_ = true;
    WriteSome();
  }

  void WriteSome() {
    socket_.async_write_some(
        asio::buffer(out_.data() + written_, out_.size() - written_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t bytes) {
          self->Safely([&] { self->OnWrite(ec, bytes); });
        });
  }

  void OnWrite(boost::system::error_code ec, std::size_t bytes) {
    if (closed_) return;
    if (ec) return Close();
    last_activity_ = SteadyClock::now();
    written_ += bytes;
    if (written_ < out_.size()) return WriteSome();
    writing_ = false;
    Pump();
  }

  // Input left after Process() is the start of a command still arriving (or commands held
  // back by flow control, when commands are in flight). Its clock starts with the first byte
  // of that command: more bytes of it do not restart it, a command completed does.
  void TrackPartialCommand() {
    const std::size_t buffered = connection_->buffered_input();
    if (buffered == 0) {
      partial_ = false;
    } else if (!partial_ || buffered < last_buffered_) {
      partial_ = true;
      partial_since_ = SteadyClock::now();
    }
    last_buffered_ = buffered;
  }

  // Nothing moves for idle_timeout_ms while no command is in flight (or a write is stuck),
  // or a command has not arrived whole command_timeout_ms after its first byte: close. The
  // timer is re-armed lazily: activity only moves the deadline later.
  std::optional<SteadyClock::time_point> Deadline() const {
    if (lingering_) return linger_deadline_;
    if (connection_->in_flight() > 0 && !writing_) return std::nullopt;
    const auto idle = last_activity_ + std::chrono::milliseconds(state_->limits.idle_timeout_ms);
    if (partial_ && connection_->in_flight() == 0) {
      return std::min(
          idle, partial_since_ + std::chrono::milliseconds(state_->limits.command_timeout_ms));
    }
    return idle;
  }

 public:
  // Idle: nothing buffered, in flight or being written (a candidate for eviction at the cap).
  bool idle() const { return !closed_ && !lingering_ && !writing_ && connection_->idle(); }
  // Closes the connection to make room for a new one (the server is at its cap).
  void Evict() {
    spdlog::debug("RESP client {} closed to make room (connection cap)", id_);
    Close();
  }

 private:
  void ArmTimer() {
    if (closed_) return;
    std::optional<SteadyClock::time_point> deadline = Deadline();
    if (!deadline) return;
    // Armed for a later time: a command's deadline can be earlier than the idle one.
    if (timer_armed_ && *deadline >= armed_for_) return;
    timer_armed_ = true;
    armed_for_ = *deadline;
    const std::uint64_t generation = ++timer_generation_;
    timer_.expires_at(*deadline);  // cancels an earlier wait, whose handler then does nothing
    timer_.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
      if (generation != self->timer_generation_) return;  // superseded
      self->timer_armed_ = false;
      if (ec || self->closed_) return;
      std::optional<SteadyClock::time_point> deadline = self->Deadline();
      if (!deadline) return;
      if (SteadyClock::now() >= *deadline) {
        if (!self->lingering_) spdlog::debug("RESP client {} timed out", self->id_);
        return self->Close();
      }
      self->ArmTimer();
    });
  }

  // The last reply is written: stop sending, and read and discard until the client closes
  // (or kLingerMax), so a client still sending sees the reply instead of a reset.
  void Linger() {
    lingering_ = true;
    linger_deadline_ = SteadyClock::now() + kLingerMax;
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    Unregister();
    timer_armed_ = false;
    ArmTimer();
    if (!reading_) Discard();  // else the pending read continues as a discarding one
  }

  void Discard() {
    reading_ = true;
    socket_.async_read_some(
        asio::buffer(discard_),
        [self = shared_from_this()](boost::system::error_code ec, std::size_t bytes) {
          self->Safely([&] { self->OnRead(ec, bytes); });
        });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
    Unregister();
  }

  void Unregister() {
    if (registered_) state_->sessions.erase(id_);
    registered_ = false;
  }

  std::shared_ptr<State> state_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::uint64_t id_;
  std::shared_ptr<RespConnection> connection_;
  std::string out_;  // the bytes being written
  std::size_t written_ = 0;
  SteadyClock::time_point last_activity_;
  SteadyClock::time_point linger_deadline_;
  std::array<char, 4096> discard_;
  bool reading_ = false;
  bool writing_ = false;
  bool timer_armed_ = false;
  std::uint64_t timer_generation_ = 0;
  bool pump_scheduled_ = false;
  bool lingering_ = false;
  bool closed_ = false;
  bool registered_ = true;
  SteadyClock::time_point armed_for_;  // what the armed timer waits for
  bool partial_ = false;               // a command is arriving (see TrackPartialCommand)
  SteadyClock::time_point partial_since_;
  std::size_t last_buffered_ = 0;
  std::optional<ByteBudget::Reservation> input_bytes_;  // with an input budget only
};

// Over the connection cap: tell the client (as Redis does), then close.
void Refuse(tcp::socket socket) {
  auto held = std::make_shared<tcp::socket>(std::move(socket));
  asio::async_write(*held, asio::buffer(kTooManyClients.data(), kTooManyClients.size()),
                    [held](boost::system::error_code, std::size_t) {
                      boost::system::error_code ignored;
                      held->shutdown(tcp::socket::shutdown_both, ignored);
                      held->close(ignored);
                    });
}

void Accept(std::shared_ptr<State> state) {
  state->acceptor.async_accept([state](boost::system::error_code ec, tcp::socket socket) {
    if (state->stopping || !state->acceptor.is_open() || ec == asio::error::operation_aborted) {
      return;
    }
    if (ec) {
      spdlog::warn("RESP accept failed: {}", ec.message());
      state->retry_timer.expires_after(kAcceptRetryDelay);
      state->retry_timer.async_wait([state](boost::system::error_code wait_error) {
        if (!wait_error) Accept(state);
      });
      return;
    }
    if (state->sessions.size() >= state->limits.connections_max) {
      // At the cap, the oldest idle connection makes room; only when none is idle is the new
      // one refused (so idle connections cannot lock clients out).
      for (auto& [id, session] : state->sessions) {
        if (session->idle()) {
          session->Evict();  // unregisters it
          if (state->metrics != nullptr) state->metrics->ConnectionEvicted();
          break;
        }
      }
    }
    if (state->sessions.size() >= state->limits.connections_max) {
      Refuse(std::move(socket));
    } else {
      std::make_shared<Session>(state, std::move(socket))->Start();
    }
    Accept(state);
  });
}

}  // namespace

RespServer::RespServer(asio::io_context& io, KvService& service, Metrics* metrics,
                       RespSettings settings, const RespServerLimits& limits)
    : state_(std::make_shared<State>(io, service, metrics, std::move(settings), limits)) {}

RespServer::~RespServer() {
  Stop();
}

Status RespServer::Listen(std::string_view text) {
  Result<ListenAddress> address = ParseListenAddress(text);
  if (!address.ok()) return address.status();
  tcp::endpoint endpoint(asio::ip::make_address(address->host), address->port);
  tcp::acceptor& acceptor = state_->acceptor;
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    return Status::IoError("cannot listen on " + std::string(text) + ": " + ec.message());
  }
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return Status::IoError("cannot read the bound address: " + ec.message());
  state_->endpoint = bound;
  state_->commands->settings().tcp_port = bound.port();
  Accept(state_);
  return Status::Ok();
}

std::string RespServer::endpoint() const {
  return state_->endpoint ? EndpointText(*state_->endpoint) : std::string();
}

std::uint16_t RespServer::port() const {
  return state_->endpoint ? state_->endpoint->port() : 0;
}

void RespServer::Stop() {
  if (state_->stopping) return;
  state_->stopping = true;
  boost::system::error_code ignored;
  state_->acceptor.close(ignored);
  state_->retry_timer.cancel();
  // Copy first: a session may unregister while being stopped.
  std::vector<Session*> sessions;
  for (auto& [id, session] : state_->sessions) sessions.push_back(session);
  for (Session* session : sessions) session->BeginStop();
}

std::size_t RespServer::connection_count() const {
  return state_->sessions.size();
}

void RespServer::SetInputBudget(std::shared_ptr<ByteBudget> budget) {
  state_->input_budget = std::move(budget);
}

void RespServer::SetAccessControl(std::shared_ptr<const AccessControl> access) {
  state_->commands->SetAccessControl(std::move(access));
}

}  // namespace meridian::api
