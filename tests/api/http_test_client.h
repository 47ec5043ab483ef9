// Blocking test clients for the in-process HTTP server tests: a Beast HTTP(S) client for
// well-formed exchanges and a raw socket for malformed or partial requests.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace meridian::api::test_support {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using Response = http::response<http::string_body>;

// Every blocking read in the tests gives up after this long, so a bug fails, never hangs.
inline constexpr std::chrono::seconds kReadDeadline{10};

inline void SetReceiveTimeout(tcp::socket& socket, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

inline tcp::socket Connect(asio::io_context& io, std::uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  SetReceiveTimeout(socket, kReadDeadline);
  return socket;
}

// One keep-alive HTTP/1.1 connection.
class HttpClient {
 public:
  HttpClient(asio::io_context& io, std::uint16_t port) : socket_(Connect(io, port)) {}

  Response Send(http::verb method, const std::string& target, const std::string& body = "",
                const std::map<std::string, std::string>& headers = {}) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = body;
    if (method == http::verb::put || !body.empty()) request.prepare_payload();
    http::write(socket_, request);
    Response response;
    http::read(socket_, buffer_, response);
    return response;
  }

  tcp::socket& socket() { return socket_; }

 private:
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// A TLS connection that verifies the server against `ca_file` (the self-signed cert).
class HttpsClient {
 public:
  HttpsClient(asio::io_context& io, std::uint16_t port, const std::string& ca_file)
      : context_(asio::ssl::context::tls_client), stream_(io, context_) {
    context_.load_verify_file(ca_file);
    stream_.set_verify_mode(asio::ssl::verify_peer);
    stream_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream_.next_layer().expires_after(kReadDeadline);
    stream_.handshake(asio::ssl::stream_base::client);
  }

  Response Send(http::verb method, const std::string& target, const std::string& body = "") {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.body() = body;
    if (method == http::verb::put) request.prepare_payload();
    http::write(stream_, request);
    Response response;
    http::read(stream_, buffer_, response);
    return response;
  }

 private:
  asio::ssl::context context_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

// Reads until the peer closes the connection or the read deadline passes.
struct ReadResult {
  std::string data;
  bool closed = false;  // EOF or reset seen (false: the deadline passed first)
};
inline ReadResult ReadUntilClosed(tcp::socket& socket) {
  ReadResult result;
  char chunk[4096];
  for (;;) {
    boost::system::error_code ec;
    std::size_t n = socket.read_some(asio::buffer(chunk), ec);
    result.data.append(chunk, n);
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      result.closed = true;
      return result;
    }
    if (ec) return result;  // would_block / timed out: still open at the deadline
  }
}

inline void WriteRaw(tcp::socket& socket, const std::string& bytes) {
  asio::write(socket, asio::buffer(bytes));
}

}  // namespace meridian::api::test_support
