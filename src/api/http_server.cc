#include "api/http_server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <chrono>
#include <exception>
#include <list>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/http_handler.h"
#include "api/http_request_parsing.h"
#include "core/assert.h"

namespace meridian::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Status CheckLimits(const HttpLimits& limits) {
  if (limits.header_bytes_max > kHeaderBytesMaxLimit) {
    return Status::InvalidArgument("header_bytes_max " + std::to_string(limits.header_bytes_max) +
                                   " is over " + std::to_string(kHeaderBytesMaxLimit) +
                                   ", the most the HTTP parser can hold in one field");
  }
  return Status::Ok();
}

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
// After a response that closes the connection while the client may still be sending (413,
// 400), keep reading and discarding for at most this long so the client sees the response
// instead of a reset.
constexpr std::chrono::milliseconds kLingerMax{2000};
// Back-off after a failed accept (e.g. out of file descriptors) so the loop does not spin.
constexpr std::chrono::milliseconds kAcceptRetryDelay{50};

std::string EndpointText(const tcp::endpoint& endpoint) {
  if (endpoint.address().is_v6()) {
    return "[" + endpoint.address().to_string() + "]:" + std::to_string(endpoint.port());
  }
  return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

Result<ListenAddress> ParseListenAddress(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument("listen address must be HOST:PORT or [IPV6]:PORT: " +
                                     std::string(text));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("listen address must be HOST:PORT: " + std::string(text));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  boost::system::error_code ec;
  asio::ip::make_address(std::string(host), ec);
  if (ec) {
    return Status::InvalidArgument("listen host must be an IP address: " + std::string(text));
  }
  unsigned port_number = 0;
  auto [end, parse_error] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || parse_error != std::errc() || end != port.data() + port.size() ||
      port_number > 65535) {
    return Status::InvalidArgument("listen port must be 0..65535: " + std::string(text));
  }
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(port_number)};
}

// Shared by the server object and every session coroutine (which hold it by shared_ptr, so
// a session frame destroyed after the server never touches freed memory).
struct HttpServer::State {
  State(asio::io_context& io_context, KvService& service, const HttpLimits& http_limits)
      : io(io_context), limits(http_limits), handler(service, metrics, http_limits) {}

  // One open connection, as the stop logic sees it.
  struct Connection {
    bool idle = true;             // waiting for the next request to start
    std::function<void()> close;  // closes the socket (pending operations fail)
  };

  asio::io_context& io;
  HttpLimits limits;
  Metrics metrics;
  HttpHandler handler;
  std::shared_ptr<ssl::context> tls_context;  // new connections use the latest (ReloadTls)
  HttpServer::CertificateUser certificate_user;
  std::list<tcp::acceptor> acceptors;
  std::optional<tcp::endpoint> http_endpoint;
  std::optional<tcp::endpoint> https_endpoint;
  std::map<std::uint64_t, Connection*> connections;  // by id: oldest first
  std::uint64_t next_connection_id = 0;
  bool stopping = false;
  std::shared_ptr<ByteBudget> input_budget;  // null: request bodies are bounded one by one only
};

namespace {

using State = HttpServer::State;

// Registers a session in State::connections for its lifetime and keeps the gauge exact.
class ConnectionRegistration {
 public:
  ConnectionRegistration(State& state, std::function<void()> close)
      : state_(state), id_(state.next_connection_id++) {
    connection_.close = std::move(close);
    state_.connections.emplace(id_, &connection_);
    state_.metrics.ConnectionOpened();
  }
  ~ConnectionRegistration() {
    state_.connections.erase(id_);
    state_.metrics.ConnectionClosed();
  }
  ConnectionRegistration(const ConnectionRegistration&) = delete;
  ConnectionRegistration& operator=(const ConnectionRegistration&) = delete;

  void set_idle(bool idle) { connection_.idle = idle; }

 private:
  State& state_;
  std::uint64_t id_;
  State::Connection connection_;
};

// Runs the handler and resumes the awaiting coroutine with its response. The completion is
// posted (never run inside Handle) and keeps the io_context's work count up while the
// request is in flight, so a reply that arrives later still finds the loop running.
template <typename CompletionToken>
auto AsyncHandle(HttpHandler& handler, HttpRequest request, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(HttpResponse)>(
      [&handler](auto completion, HttpRequest request) {
        using Completion = decltype(completion);
        auto executor = asio::prefer(asio::get_associated_executor(completion),
                                     asio::execution::outstanding_work.tracked);
        struct Pending {
          Completion completion;
          decltype(executor) work;
        };
        auto pending = std::make_shared<Pending>(Pending{std::move(completion), executor});
        handler.Handle(std::move(request), [pending](HttpResponse response) {
          asio::post(pending->work, [pending, response = std::move(response)]() mutable {
            std::move(pending->completion)(std::move(response));
          });
        });
      },
      token, std::move(request));
}

http::response<http::string_body> ToBeast(HttpResponse response, unsigned version,
                                          bool keep_alive) {
  http::response<http::string_body> message{static_cast<http::status>(response.status), version};
  message.set(http::field::server, "meridian/" MERIDIAN_VERSION);
  if (!response.content_type.empty()) message.set(http::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) message.set(name, value);
  message.body() = std::move(response.body);
  message.keep_alive(keep_alive && !response.close_connection);
  message.prepare_payload();
  return message;
}

// The header of `message` as Beast's serializer writes it, in one string: the response then
// goes out as two buffers (header, body) instead of Beast's buffer sequence of several pieces
// per header field, which the send path walks again on every partial write (~5 % of a small
// request's CPU, docs/benchmarks.md).
std::string SerializedHeader(http::response<http::string_body>& message) {
  http::response_serializer<http::string_body> serializer(message);
  serializer.split(true);
  std::string header;
  beast::error_code ec;
  while (!ec && !serializer.is_header_done()) {
    serializer.next(ec, [&](beast::error_code&, const auto& buffers) {
      for (const asio::const_buffer piece : beast::buffers_range_ref(buffers)) {
        header.append(static_cast<const char*>(piece.data()), piece.size());
      }
      serializer.consume(beast::buffer_bytes(buffers));
    });
  }
  MERIDIAN_CHECK(!ec);  // a string body's header cannot fail to serialize
  return header;
}

template <typename Stream>
tcp::socket& Socket(Stream& stream) {
  return beast::get_lowest_layer(stream).socket();
}

// Reads and discards what the client still sends, for at most kLingerMax (see there).
template <typename Stream>
asio::awaitable<void> Linger(Stream& stream) {
  auto deadline = std::chrono::steady_clock::now() + kLingerMax;
  beast::get_lowest_layer(stream).expires_at(deadline);
  std::array<char, 16384> discard;
  for (;;) {
    auto [ec, bytes] = co_await stream.async_read_some(asio::buffer(discard), kUseTuple);
    if (ec) co_return;
  }
}

// Serves requests on an established (and, for TLS, handshaken) stream until the client
// closes, a limit or error ends the connection, or the server stops. Returns whether the
// connection should linger before closing (a response was sent while input may be pending).
template <typename Stream>
asio::awaitable<bool> ServeRequests(State& state, Stream& stream,
                                    ConnectionRegistration& registration,
                                    std::optional<std::string> certificate_user = std::nullopt) {
  const auto idle_timeout = std::chrono::milliseconds(state.limits.idle_timeout_ms);
  const auto request_timeout = std::chrono::milliseconds(state.limits.request_timeout_ms);
  auto& lowest = beast::get_lowest_layer(stream);
  beast::flat_buffer buffer;

  auto send = [&](HttpResponse response, unsigned version,
                  bool keep_alive) -> asio::awaitable<bool> {
    auto message = ToBeast(std::move(response), version, keep_alive);
    const std::string header = SerializedHeader(message);
    // Not a std::array of two: asio writes that in a special way whose second write after a
    // partial one leads with an empty buffer, and Beast's flat_stream (under TLS) then sends
    // 0 bytes, which ends the write early (a body over 16 KiB never went out).
    const std::vector<asio::const_buffer> buffers{asio::buffer(header),
                                                  asio::buffer(message.body())};
    lowest.expires_after(request_timeout);
    auto [ec, bytes] = co_await asio::async_write(stream, buffers, kUseTuple);
    co_return !ec && message.keep_alive();
  };

  for (;;) {
    registration.set_idle(true);
    if (state.stopping) co_return false;
    if (buffer.size() == 0) {
      lowest.expires_after(idle_timeout);
      auto [ec, bytes] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
      if (ec) co_return false;  // idle timeout, client closed, or server stopping
      buffer.commit(bytes);
    }
    registration.set_idle(false);

    lowest.expires_after(request_timeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(state.limits.header_bytes_max));
    // Beast checks Content-Length against body_limit while parsing the header; lift it until
    // the target is known, then apply that target's limit (with its own error code) below.
    parser.body_limit(boost::none);
    {
      auto [ec, bytes] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
      if (ec == beast::error::timeout || ec == asio::error::operation_aborted) co_return false;
      if (ec == http::error::end_of_stream || ec == asio::error::eof) co_return false;
      if (ec) {
        co_await send(state.handler.MalformedRequest("malformed HTTP request: " + ec.message()), 11,
                      false);
        co_return true;
      }
    }
    const std::string method(parser.get().method_string());
    const std::string target(parser.get().target());
    const unsigned version = parser.get().version();
    HeaderVerdict verdict = CheckRequestHeader(state.handler, parser);
    if (verdict.refusal) {
      co_await send(std::move(*verdict.refusal), version, false);
      co_return true;
    }
    const std::size_t body_bytes_max = verdict.body_bytes_max;
    parser.body_limit(body_bytes_max);
    // The body is held in memory until it is complete: its bytes (all of them the limit allows
    // when the length is not declared) come out of the node's input budget first.
    ByteBudget::Reservation body_bytes;
    if (!parser.is_done() && state.input_budget) {
      const std::uint64_t wanted =
          parser.content_length() ? *parser.content_length() : body_bytes_max;
      std::optional<ByteBudget::Reservation> reserved = state.input_budget->TryReserve(wanted);
      if (!reserved) {
        co_await send(state.handler.InputBudgetExhausted(method, target, wanted,
                                                         state.input_budget->capacity()),
                      version, false);
        co_return true;
      }
      body_bytes = std::move(*reserved);
    }
    if (!parser.is_done() && beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // The client waits for this before sending the body (RFC 9110 section 10.1.1).
      http::response<http::empty_body> proceed{http::status::continue_, version};
      auto [ec, bytes] = co_await http::async_write(stream, proceed, kUseTuple);
      if (ec) co_return false;
    }
    if (!parser.is_done()) {
      auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, kUseTuple);
      if (ec == beast::error::timeout || ec == asio::error::operation_aborted) co_return false;
      if (ec) {
        co_await send(BodyReadFailure(state.handler, parser, ec), version, false);
        co_return true;
      }
    }

    http::request<http::string_body> message = parser.release();
    const bool keep_alive = message.keep_alive();
    HttpRequest request = ToHttpRequest(std::move(message), certificate_user);
    body_bytes.Release();  // complete: the node's own bounds take over

    lowest.expires_never();  // the reply's latency is the service's business, not the client's
    HttpResponse response =
        co_await AsyncHandle(state.handler, std::move(request), asio::use_awaitable);
    if (state.stopping) response.close_connection = true;
    if (!co_await send(std::move(response), version, keep_alive)) co_return false;
  }
}

template <typename Stream>
asio::awaitable<void> CloseGracefully(Stream& stream, bool linger) {
  boost::system::error_code ignored;
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    Socket(stream).shutdown(tcp::socket::shutdown_send, ignored);
    if (linger) co_await Linger(stream);
  } else {
    if (linger) co_await Linger(stream);
    beast::get_lowest_layer(stream).expires_after(kLingerMax);
    co_await stream.async_shutdown(kUseTuple);
  }
  Socket(stream).close(ignored);
}

// The TLS context of the HTTPS listener: TLS 1.2+ with AEAD suites, the certificate chain and
// key, and, with a client CA, client certificates asked for (not required: tokens still work).
Result<std::shared_ptr<ssl::context>> ServerTlsContext(const HttpServer::HttpsFiles& files) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  // TLS 1.2: forward-secret AEAD suites only (no CBC, no static RSA); TLS 1.3's are all AEAD.
  if (SSL_CTX_set_cipher_list(context->native_handle(), kTls12Ciphers) != 1) {
    return Status::Internal("cannot set the TLS 1.2 cipher list");
  }
  boost::system::error_code ec;
  context->use_certificate_chain_file(files.certificate_chain, ec);
  if (ec) {
    return Status::InvalidArgument("cannot load TLS certificate chain (PEM) from " +
                                   files.certificate_chain + ": " + ec.message());
  }
  context->use_private_key_file(files.private_key, ssl::context::pem, ec);
  if (ec) {
    return Status::InvalidArgument("cannot load TLS private key (PEM) from " + files.private_key +
                                   ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    return Status::InvalidArgument("TLS private key " + files.private_key +
                                   " does not match the certificate " + files.certificate_chain);
  }
  if (!files.client_ca.empty()) {
    context->load_verify_file(files.client_ca, ec);
    if (ec) {
      return Status::InvalidArgument("cannot load the client CA certificate (PEM) from " +
                                     files.client_ca + ": " + ec.message());
    }
    // Asked for, verified when given (a bad one fails the handshake), not required.
    context->set_verify_mode(ssl::verify_peer);
    // TLS 1.3 session tickets would skip the certificate on resumption: none are issued.
    SSL_CTX_set_num_tickets(context->native_handle(), 0);
    SSL_CTX_set_session_cache_mode(context->native_handle(), SSL_SESS_CACHE_OFF);
    static const unsigned char kSessionContext[] = "meridian-https";
    SSL_CTX_set_session_id_context(context->native_handle(), kSessionContext,
                                   sizeof(kSessionContext) - 1);
  }
  return context;
}

asio::awaitable<void> ServePlain(std::shared_ptr<State> state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  ConnectionRegistration registration(*state, [&stream] { stream.close(); });
  bool linger = co_await ServeRequests(*state, stream, registration);
  co_await CloseGracefully(stream, linger);
}

asio::awaitable<void> ServeTls(std::shared_ptr<State> state, tcp::socket socket) {
  const std::shared_ptr<ssl::context> context = state->tls_context;  // alive for the session
  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *context);
  ConnectionRegistration registration(*state,
                                      [&stream] { beast::get_lowest_layer(stream).close(); });
  beast::get_lowest_layer(stream).expires_after(
      std::chrono::milliseconds(state->limits.request_timeout_ms));
  auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, kUseTuple);
  if (ec) {
    spdlog::debug("TLS handshake failed: {}", ec.message());
    co_return;
  }
  // A client certificate got here only if it verified against the client CA.
  std::optional<std::string> certificate_user;
  if (X509* presented = SSL_get0_peer_certificate(stream.native_handle());
      presented != nullptr && state->certificate_user &&
      SSL_get_verify_result(stream.native_handle()) == X509_V_OK) {
    certificate_user = state->certificate_user(presented);
  }
  bool linger = co_await ServeRequests(*state, stream, registration, certificate_user);
  co_await CloseGracefully(stream, linger);
}

void LogSessionEnd(std::exception_ptr error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("HTTP session ended by an exception: {}", e.what());
  } catch (...) {
    spdlog::error("HTTP session ended by an unknown exception");
  }
}

asio::awaitable<void> AcceptLoop(std::shared_ptr<State> state, tcp::acceptor& acceptor, bool tls) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(kUseTuple);
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer delay(state->io, kAcceptRetryDelay);
      co_await delay.async_wait(kUseTuple);
      continue;
    }
    if (state->connections.size() >= state->limits.connections_max) {
      // At the cap, the oldest idle connection (waiting for its next request) makes room;
      // only when none is idle is the new one refused, so idle connections cannot lock
      // clients out (issue 11).
      for (auto& [id, connection] : state->connections) {
        if (connection->idle) {
          connection->close();  // its session ends and unregisters
          state->connections.erase(id);
          state->metrics.ConnectionEvicted();
          break;
        }
      }
    }
    if (state->connections.size() >= state->limits.connections_max) {
      state->metrics.ConnectionRejected();
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    // Replies are written whole; Nagle would hold a pipelined client's next reply back
    // until the previous one is acknowledged (a 40 ms delayed-ACK stall).
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (tls) {
      asio::co_spawn(state->io, ServeTls(state, std::move(socket)), LogSessionEnd);
    } else {
      asio::co_spawn(state->io, ServePlain(state, std::move(socket)), LogSessionEnd);
    }
  }
}

Result<tcp::endpoint> Bind(asio::io_context& io, std::list<tcp::acceptor>& acceptors,
                           std::string_view text) {
  Result<ListenAddress> address = ParseListenAddress(text);
  if (!address.ok()) return address.status();
  tcp::endpoint endpoint(asio::ip::make_address(address->host), address->port);
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IoError("cannot listen on " + std::string(text) + ": " + ec.message());
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return Status::IoError("cannot read the bound address: " + ec.message());
  acceptors.push_back(std::move(acceptor));
  return bound;
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, KvService& service, const HttpLimits& limits)
    : state_(std::make_shared<State>(io, service, limits)) {}

HttpServer::~HttpServer() {
  Stop();
}

Status HttpServer::ListenHttp(std::string_view address) {
  MERIDIAN_RETURN_IF_ERROR(CheckLimits(state_->limits));
  Result<tcp::endpoint> bound = Bind(state_->io, state_->acceptors, address);
  if (!bound.ok()) return bound.status();
  state_->http_endpoint = *bound;
  asio::co_spawn(state_->io, AcceptLoop(state_, state_->acceptors.back(), /*tls=*/false),
                 LogSessionEnd);
  return Status::Ok();
}

Status HttpServer::ListenHttps(std::string_view address, const std::string& certificate_chain_file,
                               const std::string& private_key_file) {
  return ListenHttps(address, HttpsFiles{certificate_chain_file, private_key_file, ""});
}

Status HttpServer::ListenHttps(std::string_view address, const HttpsFiles& files) {
  MERIDIAN_RETURN_IF_ERROR(CheckLimits(state_->limits));
  Result<std::shared_ptr<ssl::context>> context = ServerTlsContext(files);
  if (!context.ok()) return context.status();
  Result<tcp::endpoint> bound = Bind(state_->io, state_->acceptors, address);
  if (!bound.ok()) return bound.status();
  state_->tls_context = std::move(*context);
  state_->https_endpoint = *bound;
  asio::co_spawn(state_->io, AcceptLoop(state_, state_->acceptors.back(), /*tls=*/true),
                 LogSessionEnd);
  return Status::Ok();
}

Status HttpServer::ReloadTls(const HttpsFiles& files) {
  if (!state_->tls_context) return Status::InvalidArgument("HTTPS is not on");
  Result<std::shared_ptr<ssl::context>> context = ServerTlsContext(files);
  if (!context.ok()) return context.status();
  state_->tls_context = std::move(*context);
  return Status::Ok();
}

void HttpServer::SetCertificateUser(CertificateUser user) {
  state_->certificate_user = std::move(user);
}

void HttpServer::SetAccessControl(std::shared_ptr<const AccessControl> access,
                                  bool metrics_require_auth) {
  state_->handler.SetAccessControl(std::move(access), metrics_require_auth);
}

void HttpServer::SetInputBudget(std::shared_ptr<ByteBudget> budget) {
  state_->input_budget = std::move(budget);
}

void HttpServer::SetHealthCheck(HttpHandler::HealthCheck check) {
  state_->handler.SetHealthCheck(std::move(check));
}

void HttpServer::SetBackupService(BackupService* backup) {
  state_->handler.SetBackupService(backup);
}

std::string HttpServer::http_endpoint() const {
  return state_->http_endpoint ? EndpointText(*state_->http_endpoint) : std::string();
}
std::string HttpServer::https_endpoint() const {
  return state_->https_endpoint ? EndpointText(*state_->https_endpoint) : std::string();
}
std::uint16_t HttpServer::http_port() const {
  return state_->http_endpoint ? state_->http_endpoint->port() : 0;
}
std::uint16_t HttpServer::https_port() const {
  return state_->https_endpoint ? state_->https_endpoint->port() : 0;
}

void HttpServer::Stop() {
  if (state_->stopping) return;
  state_->stopping = true;
  for (tcp::acceptor& acceptor : state_->acceptors) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
  }
  // Copy first: closing fails the session's pending read, but the session only resumes (and
  // unregisters) later, on the loop; still, never iterate a map a callee may change.
  std::vector<State::Connection*> idle;
  for (auto& [id, connection] : state_->connections) {
    if (connection->idle) idle.push_back(connection);
  }
  for (State::Connection* connection : idle) connection->close();
}

std::size_t HttpServer::connection_count() const {
  return state_->connections.size();
}

Metrics& HttpServer::metrics() {
  return state_->metrics;
}

}  // namespace meridian::api
