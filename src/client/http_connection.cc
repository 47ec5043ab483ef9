#include "client/http_connection.h"

#include <poll.h>

#include <strings.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <exception>
#include <optional>

#include "client/tls_client.h"
#include "client/transport_errors.h"

namespace meridian::client::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (field.size() == name.size() && strncasecmp(field.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return {};
}

class HttpConnection::Impl {
 public:
  Impl(Endpoint endpoint, ClientOptions options, std::unique_ptr<ssl::context> ssl_context)
      : endpoint_(std::move(endpoint)),
        options_(std::move(options)),
        ssl_context_(std::move(ssl_context)) {
    const bool ipv6 = endpoint_.host.find(':') != std::string::npos;
    host_header_ =
        (ipv6 ? "[" + endpoint_.host + "]" : endpoint_.host) + ":" + std::to_string(endpoint_.port);
    endpoint_text_ = std::string(endpoint_.tls ? "https://" : "http://") + host_header_;
  }

  Result<HttpResponse> RoundTrip(const HttpRequest& request) {
    try {
      return RoundTripWithRetry(request);
    } catch (const std::exception& e) {
      // Beast and Asio report through error codes here; this is a last line of defence.
      Close();
      return MakeError(ErrorCode::kProtocolError, std::string("unexpected failure: ") + e.what(),
                       false);
    }
  }

 private:
  Result<HttpResponse> RoundTripWithRetry(const HttpRequest& request) {
    SetDeadline();
    for (int attempt = 0;; ++attempt) {
      bool reused = true;
      if (!IdleConnectionUsable()) {
        Close();
        reused = false;
        if (auto connected = Connect(); !connected.ok()) return connected.error();
      }
      bool nothing_received = false;
      auto response = endpoint_.tls ? Exchange(*secure_, request, nothing_received)
                                    : Exchange(*plain_, request, nothing_received);
      if (response.ok()) return response;
      Close();
      // A keep-alive connection the server dropped just as we reused it: the request was not
      // answered. Re-sending is safe only for idempotent requests.
      const bool retry = attempt == 0 && reused && request.idempotent && nothing_received &&
                         response.error().code == ErrorCode::kConnectionFailed;
      if (!retry) return response;
    }
  }

  void SetDeadline() {
    if (options_.timeout_ms == 0) {
      deadline_.reset();
    } else {
      deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    }
  }

  beast::tcp_stream& Lowest() {
    return endpoint_.tls ? beast::get_lowest_layer(*secure_) : *plain_;
  }

  void ArmTimer() {
    if (deadline_) {
      Lowest().expires_at(*deadline_);
    } else {
      Lowest().expires_never();
    }
  }

  // Runs the io_context until the operation started before it completes.
  void RunUntilComplete() {
    io_.restart();
    io_.run();
  }

  // True when the open connection has been idle and nothing (EOF, stray bytes) arrived on it.
  bool IdleConnectionUsable() {
    if (!connected_) return false;
    pollfd descriptor{};
    descriptor.fd = Lowest().socket().native_handle();
    descriptor.events = POLLIN;
    const int ready = ::poll(&descriptor, 1, 0);
    return ready == 0;
  }

  Result<void> Connect() {
    beast::error_code ec;
    tcp::resolver resolver(io_);
    const auto addresses = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
    if (ec) {
      return MakeError(ErrorCode::kConnectionFailed,
                       "cannot resolve " + endpoint_.host + ": " + ec.message(), true);
    }
    if (endpoint_.tls) {
      secure_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, *ssl_context_);
    } else {
      plain_ = std::make_unique<beast::tcp_stream>(io_);
    }
    ArmTimer();
    ec = asio::error::would_block;
    Lowest().async_connect(addresses,
                           [&ec](beast::error_code result, const tcp::endpoint&) { ec = result; });
    RunUntilComplete();
    if (ec) {
      Close();
      return TransportError("connect to", ec, endpoint_text_);
    }
    Lowest().socket().set_option(tcp::no_delay(true), ec);
    if (endpoint_.tls) {
      if (auto handshake = Handshake(); !handshake.ok()) {
        Close();
        return handshake;
      }
    }
    connected_ = true;
    buffer_.clear();
    return {};
  }

  Result<void> Handshake() {
    if (auto prepared = PrepareTlsClientStream(*secure_, endpoint_.host, options_.verify_peer);
        !prepared.ok()) {
      return prepared;
    }
    beast::error_code ec = asio::error::would_block;
    secure_->async_handshake(ssl::stream_base::client,
                             [&ec](beast::error_code result) { ec = result; });
    RunUntilComplete();
    if (ec) return TransportError("TLS handshake with", ec, endpoint_text_);
    return {};
  }

  template <typename Stream>
  Result<HttpResponse> Exchange(Stream& stream, const HttpRequest& request,
                                bool& nothing_received) {
    http::request<http::string_body> message;
    message.method_string(request.method);
    message.target(request.target);
    message.version(11);
    message.set(http::field::host, host_header_);
    message.set(http::field::user_agent, kUserAgent);
    if (!options_.token.empty())
      message.set(http::field::authorization, "Bearer " + options_.token);
    for (const auto& [name, value] : request.headers) message.set(name, value);
    message.body() = request.body;
    message.keep_alive(true);
    message.prepare_payload();

    ArmTimer();
    beast::error_code ec = asio::error::would_block;
    http::async_write(stream, message,
                      [&ec](beast::error_code result, std::size_t) { ec = result; });
    RunUntilComplete();
    if (ec) {
      nothing_received = true;
      return TransportError("send to", ec, endpoint_text_);
    }

    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.response_body_bytes_max);
    ec = asio::error::would_block;
    http::async_read(stream, buffer_, parser,
                     [&ec](beast::error_code result, std::size_t) { ec = result; });
    RunUntilComplete();
    if (ec) {
      nothing_received = !parser.got_some();
      if (ec == http::error::body_limit) {
        return MakeError(
            ErrorCode::kProtocolError,
            "reply body exceeds " + std::to_string(options_.response_body_bytes_max) + " bytes",
            false);
      }
      return TransportError("receive from", ec, endpoint_text_);
    }
    auto reply = parser.release();
    HttpResponse response;
    response.status = static_cast<int>(reply.result_int());
    for (const auto& field : reply) {
      response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(reply.body());
    if (!reply.keep_alive()) Close();
    return response;
  }

  void Close() {
    beast::error_code ignored;
    if (plain_) plain_->socket().close(ignored);
    if (secure_) beast::get_lowest_layer(*secure_).socket().close(ignored);
    // Let cancelled handlers run so the streams can be destroyed safely.
    RunUntilComplete();
    plain_.reset();
    secure_.reset();
    buffer_.clear();
    connected_ = false;
  }

  asio::io_context io_;
  Endpoint endpoint_;
  ClientOptions options_;
  std::unique_ptr<ssl::context> ssl_context_;  // set for https endpoints only
  std::string host_header_;
  std::string endpoint_text_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

Result<std::unique_ptr<HttpConnection>> HttpConnection::Create(Endpoint endpoint,
                                                               const ClientOptions& options) {
  std::unique_ptr<ssl::context> ssl_context;
  if (endpoint.tls) {
    auto context = MakeTlsClientContext(options);
    if (!context) return context.error();
    ssl_context = std::move(*context);
  }
  return std::unique_ptr<HttpConnection>(new HttpConnection(
      std::make_unique<Impl>(std::move(endpoint), options, std::move(ssl_context))));
}

HttpConnection::HttpConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpConnection::~HttpConnection() = default;

Result<HttpResponse> HttpConnection::RoundTrip(const HttpRequest& request) {
  return impl_->RoundTrip(request);
}

}  // namespace meridian::client::internal
