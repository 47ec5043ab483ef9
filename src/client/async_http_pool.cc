#include "client/async_http_pool.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "client/tls_client.h"
#include "client/transport_errors.h"

namespace meridian::client::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// A connection idle this long is checked (poll) for a close by the server before reuse.
constexpr auto kIdleCheckAfter = std::chrono::seconds(1);

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

// One request from Send until its callback runs.
struct PendingRequest {
  HttpRequest request;
  AsyncHttpPool::Callback done;
  Clock::time_point deadline{};  // set when a connection takes the request (with a timeout)
  bool written = false;          // handed to a socket write: it may have reached the server
  int attempts = 0;              // times it was re-sent
};

}  // namespace

class AsyncHttpPool::Impl {
 public:
  // One pooled connection: a sequence of links (sockets), one at a time.
  class Connection {
   public:
    virtual ~Connection() = default;
    // Takes `request` to send (connecting first when closed).
    virtual void Take(PendingRequest request) = 0;
    // Closes the socket and drops every request in flight without calling its callback.
    virtual void Shutdown() = 0;
    // Cancels the request timer (the pool has nothing pending).
    virtual void Disarm() = 0;
    std::size_t in_flight() const { return in_flight_.size(); }
    bool accepts_more() const { return open_or_connecting_; }

    bool in_idle_list = false;

   protected:
    std::deque<PendingRequest> in_flight_;  // taken requests, in the order of their replies
    bool open_or_connecting_ = false;
  };

  Impl(asio::io_context& loop, Endpoint endpoint, ClientOptions options, PoolOptions pool,
       std::unique_ptr<ssl::context> ssl_context)
      : loop_(loop),
        endpoint_(std::move(endpoint)),
        options_(std::move(options)),
        pool_(pool),
        ssl_context_(std::move(ssl_context)) {
    const bool ipv6 = endpoint_.host.find(':') != std::string::npos;
    host_header_ =
        (ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" + std::to_string(endpoint_.port);
    endpoint_text_ = std::string(endpoint_.tls ? "https://" : "http://") + host_header_;
  }

  ~Impl() {
    for (auto& connection : connections_) connection->Shutdown();
  }

  void Send(HttpRequest request, Callback done) {
    ++pending_;
    bool bad_header = HasLineBreak(request.target) || HasLineBreak(request.method);
    for (const auto& [name, value] : request.headers) {
      bad_header = bad_header || HasLineBreak(name) || HasLineBreak(value);
    }
    if (bad_header) {
      PendingRequest failed{std::move(request), std::move(done)};
      asio::post(loop_, [this, alive = alive_, failed = std::move(failed)]() mutable {
        if (!*alive) return;
        Complete(std::move(failed), MakeError(ErrorCode::kInvalidArgument,
                                              "a request line or header contains CR or LF", false));
      });
      return;
    }
    queue_.push_back(PendingRequest{std::move(request), std::move(done)});
    Dispatch();
  }

  // Hands queued requests to connections while any can take one.
  void Dispatch() {
    while (!queue_.empty()) {
      Connection* connection = PickConnection();
      if (connection == nullptr) return;
      PendingRequest request = std::move(queue_.front());
      queue_.pop_front();
      connection->Take(std::move(request));
    }
  }

  // A connection whose in-flight requests are all answered or failed.
  void BecameIdle(Connection* connection) {
    if (!connection->in_idle_list) {
      connection->in_idle_list = true;
      idle_.push_back(connection);
    }
  }

  // Puts requests that may be re-sent back at the head of the queue, in their order.
  void Requeue(std::vector<PendingRequest> requests) {
    for (auto it = requests.rbegin(); it != requests.rend(); ++it) {
      queue_.push_front(std::move(*it));
    }
  }

  // Runs a request's callback; the last thing a connection does for it.
  void Complete(PendingRequest request, Result<HttpResponse> result) {
    --pending_;
    if (pending_ == 0) {
      for (auto& connection : connections_) connection->Disarm();
    }
    Callback done = std::move(request.done);
    done(std::move(result));
  }

  // Resolves the endpoint once; later connections reuse the addresses.
  template <typename Handler>
  void Resolve(Handler handler) {
    if (resolved_) {
      handler(beast::error_code{}, *resolved_);
      return;
    }
    auto resolver = std::make_shared<tcp::resolver>(loop_);
    resolver->async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                            [this, alive = alive_, resolver, handler = std::move(handler)](
                                beast::error_code ec, tcp::resolver::results_type results) mutable {
                              if (!*alive) return;
                              if (!ec) resolved_ = results;
                              handler(ec, results);
                            });
  }

  std::size_t pending() const { return pending_; }

  asio::io_context& loop_;
  Endpoint endpoint_;
  ClientOptions options_;
  PoolOptions pool_;
  std::unique_ptr<ssl::context> ssl_context_;
  std::string host_header_;
  std::string endpoint_text_;
  std::size_t connections_opened_ = 0;
  // Handlers that outlive the pool see false here.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

 private:
  Connection* PickConnection();

  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<Connection*> idle_;     // connections with nothing in flight
  std::deque<PendingRequest> queue_;  // requests waiting for a connection
  std::size_t pending_ = 0;
  std::size_t cursor_ = 0;  // where the search for a pipelining connection starts
  std::optional<tcp::resolver::results_type> resolved_;
};

namespace {

// A pooled connection over a plain (kTls false) or TLS socket.
template <bool kTls>
class StreamConnection final : public AsyncHttpPool::Impl::Connection,
                               public std::enable_shared_from_this<StreamConnection<kTls>> {
 public:
  using Stream = std::conditional_t<kTls, ssl::stream<tcp::socket>, tcp::socket>;
  using Pool = AsyncHttpPool::Impl;

  explicit StreamConnection(Pool& pool) : pool_(&pool), timer_(pool.loop_) {}

  void Take(PendingRequest request) override {
    if (pool_->options_.timeout_ms != 0) {
      request.deadline = Clock::now() + std::chrono::milliseconds(pool_->options_.timeout_ms);
    }
    const bool was_idle = in_flight_.empty();
    in_flight_.push_back(std::move(request));
    ++unwritten_;
    if (state_ == State::kOpen && was_idle && Clock::now() - idle_since_ >= kIdleCheckAfter &&
        !IdleLinkUsable()) {
      CloseLink();
    }
    if (state_ == State::kClosed) {
      StartConnect();
    } else if (state_ == State::kOpen) {
      StartWrite();
      StartRead();
    }
    ArmTimer();
  }

  void Shutdown() override {
    shut_down_ = true;
    CloseLink();
    timer_.cancel();
    in_flight_.clear();
  }

  void Disarm() override {
    if (!timer_armed_) return;
    timer_armed_ = false;
    ++timer_generation_;
    timer_.cancel();
  }

 private:
  enum class State { kClosed, kConnecting, kOpen };

  // One socket's lifetime; handlers keep it alive until they have run.
  struct Link {
    template <typename... Args>
    explicit Link(Args&&... args) : stream(std::forward<Args>(args)...) {}
    Stream stream;
    beast::flat_buffer read_buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    std::string write_buffer;
  };

  tcp::socket& Socket(Link& link) {
    if constexpr (kTls) {
      return link.stream.next_layer();
    } else {
      return link.stream;
    }
  }

  // True when nothing (EOF, stray bytes) arrived on the open, idle link.
  bool IdleLinkUsable() {
    pollfd descriptor{};
    descriptor.fd = Socket(*link_).native_handle();
    descriptor.events = POLLIN;
    return ::poll(&descriptor, 1, 0) == 0;
  }

  void SetState(State state) {
    state_ = state;
    open_or_connecting_ = state != State::kClosed;
  }

  void StartConnect() {
    SetState(State::kConnecting);
    reused_ = false;
    if constexpr (kTls) {
      link_ = std::make_shared<Link>(pool_->loop_, *pool_->ssl_context_);
    } else {
      link_ = std::make_shared<Link>(pool_->loop_);
    }
    pool_->Resolve([self = this->shared_from_this(), link = link_](
                       beast::error_code ec, const tcp::resolver::results_type& addresses) {
      if (self->shut_down_ || link != self->link_) return;
      if (ec) {
        self->Fail(
            MakeError(ErrorCode::kConnectionFailed,
                      "cannot resolve " + self->pool_->endpoint_.host + ": " + ec.message(), true),
            Stage::kNotConnected);
        return;
      }
      asio::async_connect(self->Socket(*link), addresses,
                          [self, link](beast::error_code ec, const tcp::endpoint&) {
                            self->OnConnected(link, ec);
                          });
    });
  }

  void OnConnected(const std::shared_ptr<Link>& link, beast::error_code ec) {
    if (shut_down_ || link != link_) return;
    if (ec) {
      Fail(TransportError("connect to", ec, pool_->endpoint_text_), Stage::kNotConnected);
      return;
    }
    ++pool_->connections_opened_;
    beast::error_code ignored;
    Socket(*link).set_option(tcp::no_delay(true), ignored);
    if constexpr (kTls) {
      if (auto prepared = PrepareHandshake(*link); !prepared.ok()) {
        Fail(prepared.error(), Stage::kNotConnected);
        return;
      }
      link->stream.async_handshake(
          ssl::stream_base::client, [self = this->shared_from_this(), link](beast::error_code ec) {
            if (self->shut_down_ || link != self->link_) return;
            if (ec) {
              self->Fail(TransportError("TLS handshake with", ec, self->pool_->endpoint_text_),
                         Stage::kNotConnected);
              return;
            }
            self->Opened();
          });
    } else {
      Opened();
    }
  }

  Result<void> PrepareHandshake(Link& link) {
    return PrepareTlsClientStream(link.stream, pool_->endpoint_.host, pool_->options_.verify_peer);
  }

  void Opened() {
    SetState(State::kOpen);
    StartWrite();
    StartRead();
  }

  // Appends one request in HTTP/1.1 wire form to `out`.
  void Serialize(const HttpRequest& request, std::string& out) const {
    out += request.method;
    out += ' ';
    out += request.target;
    out += " HTTP/1.1\r\nHost: ";
    out += pool_->host_header_;
    out += "\r\nUser-Agent: ";
    out += kUserAgent;
    out += "\r\n";
    if (!pool_->options_.token.empty()) {
      out += "Authorization: Bearer ";
      out += pool_->options_.token;
      out += "\r\n";
    }
    for (const auto& [name, value] : request.headers) {
      out += name;
      out += ": ";
      out += value;
      out += "\r\n";
    }
    if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
      out += "Content-Length: ";
      out += std::to_string(request.body.size());
      out += "\r\n";
    }
    out += "\r\n";
    out += request.body;
  }

  // Writes every request not yet written, in one write.
  void StartWrite() {
    if (writing_ || unwritten_ == 0 || state_ != State::kOpen) return;
    Link& link = *link_;
    link.write_buffer.clear();
    for (std::size_t index = in_flight_.size() - unwritten_; index < in_flight_.size(); ++index) {
      Serialize(in_flight_[index].request, link.write_buffer);
      in_flight_[index].written = true;
    }
    unwritten_ = 0;
    writing_ = true;
    asio::async_write(
        link.stream, asio::buffer(link.write_buffer),
        [self = this->shared_from_this(), link = link_](beast::error_code ec, std::size_t) {
          if (self->shut_down_ || link != self->link_) return;
          self->writing_ = false;
          if (ec) {
            self->Fail(TransportError("send to", ec, self->pool_->endpoint_text_), Stage::kNoReply);
            return;
          }
          self->StartWrite();
        });
  }

  // Reads the reply to the oldest request in flight.
  void StartRead() {
    if (reading_ || in_flight_.empty() || state_ != State::kOpen) return;
    reading_ = true;
    Link& link = *link_;
    link.parser.emplace();
    link.parser->body_limit(pool_->options_.response_body_bytes_max);
    http::async_read(link.stream, link.read_buffer, *link.parser,
                     [self = this->shared_from_this(), link = link_](
                         beast::error_code ec, std::size_t) { self->OnRead(link, ec); });
  }

  void OnRead(const std::shared_ptr<Link>& link, beast::error_code ec) {
    if (shut_down_ || link != link_) return;
    reading_ = false;
    if (ec) {
      if (ec == http::error::body_limit) {
        Fail(MakeError(ErrorCode::kProtocolError,
                       "reply body exceeds " +
                           std::to_string(pool_->options_.response_body_bytes_max) + " bytes",
                       false),
             Stage::kReplyBegan);
        return;
      }
      Fail(TransportError("receive from", ec, pool_->endpoint_text_),
           link->parser->got_some() ? Stage::kReplyBegan : Stage::kNoReply);
      return;
    }
    auto& message = link->parser->get();
    HttpResponse response;
    response.status = static_cast<int>(message.result_int());
    response.headers.reserve(8);
    for (const auto& field : message) {
      response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(message.body());
    const bool keep_alive = message.keep_alive();
    link->parser.reset();
    PendingRequest request = std::move(in_flight_.front());
    in_flight_.pop_front();
    reused_ = true;
    if (!keep_alive) {
      // The server answers nothing more on this connection: the rest go elsewhere.
      Fail(
          MakeError(ErrorCode::kConnectionFailed,
                    "connection failed: " + pool_->endpoint_text_ + " closed the connection", true),
          Stage::kNoReply);
    } else if (in_flight_.empty()) {
      idle_since_ = Clock::now();
      pool_->BecameIdle(this);
    } else {
      StartRead();
    }
    pool_->Complete(std::move(request), std::move(response));
    pool_->Dispatch();  // this connection (or, pipelining, its free slot) may take more
  }

  void ArmTimer() {
    if (timer_armed_ || in_flight_.empty() || pool_->options_.timeout_ms == 0) return;
    timer_armed_ = true;
    timer_.expires_at(in_flight_.front().deadline);
    timer_.async_wait([self = this->shared_from_this(), generation = ++timer_generation_](
                          beast::error_code) { self->OnTimer(generation); });
  }

  void OnTimer(std::uint64_t generation) {
    if (shut_down_ || generation != timer_generation_) return;
    timer_armed_ = false;
    if (in_flight_.empty()) return;
    if (Clock::now() >= in_flight_.front().deadline) {
      Fail(MakeError(ErrorCode::kTimeout,
                     "timed out: no reply from " + pool_->endpoint_text_ + " within " +
                         std::to_string(pool_->options_.timeout_ms) + " ms",
                     true),
           Stage::kReplyBegan);
      return;
    }
    ArmTimer();
  }

  void CloseLink() {
    if (link_) {
      beast::error_code ignored;
      Socket(*link_).close(ignored);
      link_.reset();
    }
    SetState(State::kClosed);
    writing_ = false;
    reading_ = false;
  }

  // How far a failed link got, for deciding what may be re-sent.
  enum class Stage {
    kNotConnected,  // resolving, connecting or the TLS handshake failed: nothing is re-sent
    kNoReply,       // connected; no byte of the oldest request's reply arrived
    kReplyBegan,    // connected; the oldest request's reply had begun (or it timed out)
  };

  // Closes the link and ends every request in flight. A request never handed to the socket
  // is re-sent once; so is an idempotent one whose reply never began on a reused link (after
  // a connection failure). The others fail with `error`.
  void Fail(const Error& error, Stage stage) {
    CloseLink();
    std::deque<PendingRequest> failed = std::move(in_flight_);
    in_flight_.clear();
    unwritten_ = 0;
    std::vector<PendingRequest> resend;
    std::vector<PendingRequest> report;
    for (std::size_t index = 0; index < failed.size(); ++index) {
      PendingRequest& request = failed[index];
      const bool reply_began = index == 0 && stage == Stage::kReplyBegan;
      const bool safe =
          stage != Stage::kNotConnected &&
          (!request.written || (!reply_began && reused_ && request.request.idempotent &&
                                error.code == ErrorCode::kConnectionFailed));
      if (safe && request.attempts == 0) {
        request.written = false;
        ++request.attempts;
        resend.push_back(std::move(request));
      } else {
        report.push_back(std::move(request));
      }
    }
    pool_->BecameIdle(this);
    pool_->Requeue(std::move(resend));
    auto self = this->shared_from_this();  // callbacks below may not drop the last owner
    for (PendingRequest& request : report) pool_->Complete(std::move(request), error);
    if (!shut_down_) pool_->Dispatch();
  }

  Pool* pool_;
  asio::steady_timer timer_;
  std::shared_ptr<Link> link_;
  State state_ = State::kClosed;
  std::size_t unwritten_ = 0;  // requests at the back of in_flight_ not yet written
  bool writing_ = false;
  bool reading_ = false;
  bool reused_ = false;  // a reply arrived on the current link
  bool shut_down_ = false;
  bool timer_armed_ = false;
  std::uint64_t timer_generation_ = 0;
  Clock::time_point idle_since_ = Clock::now();
};

}  // namespace

AsyncHttpPool::Impl::Connection* AsyncHttpPool::Impl::PickConnection() {
  while (!idle_.empty()) {
    Connection* connection = idle_.back();
    idle_.pop_back();
    connection->in_idle_list = false;
    if (connection->in_flight() == 0) return connection;
  }
  if (connections_.size() < pool_.connections) {
    if (endpoint_.tls) {
      connections_.push_back(std::make_shared<StreamConnection<true>>(*this));
    } else {
      connections_.push_back(std::make_shared<StreamConnection<false>>(*this));
    }
    return connections_.back().get();
  }
  if (pool_.pipeline_depth <= 1) return nullptr;
  for (std::size_t step = 0; step < connections_.size(); ++step) {
    cursor_ = (cursor_ + 1) % connections_.size();
    Connection* connection = connections_[cursor_].get();
    if (connection->accepts_more() && connection->in_flight() < pool_.pipeline_depth) {
      return connection;
    }
  }
  return nullptr;
}

Result<std::unique_ptr<AsyncHttpPool>> AsyncHttpPool::Create(asio::io_context& loop,
                                                             Endpoint endpoint,
                                                             const ClientOptions& options,
                                                             const PoolOptions& pool) {
  if (pool.connections == 0 || pool.pipeline_depth == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the pool needs at least one connection and a pipeline depth of at least 1",
                     false);
  }
  std::unique_ptr<ssl::context> ssl_context;
  if (endpoint.tls) {
    auto context = MakeTlsClientContext(options);
    if (!context) return context.error();
    ssl_context = std::move(*context);
  }
  return std::unique_ptr<AsyncHttpPool>(new AsyncHttpPool(
      std::make_shared<Impl>(loop, std::move(endpoint), options, pool, std::move(ssl_context))));
}

AsyncHttpPool::AsyncHttpPool(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsyncHttpPool::~AsyncHttpPool() {
  *impl_->alive_ = false;
}

void AsyncHttpPool::Send(HttpRequest request, Callback done) {
  impl_->Send(std::move(request), std::move(done));
}

std::size_t AsyncHttpPool::Pending() const {
  return impl_->pending();
}

std::size_t AsyncHttpPool::ConnectionsOpened() const {
  return impl_->connections_opened_;
}

}  // namespace meridian::client::internal
