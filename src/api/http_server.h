// HttpServer: HTTP/1.1 listeners (plain TCP and TLS 1.2+) on Boost.Beast, serving the API
// of docs/api.md through an HttpHandler over a KvService.
//
// Concurrency model: everything runs on the one thread that runs the io_context passed in
// (listeners, sessions, handler, metrics, and the KvService's completions). Each connection is
// one coroutine that reads a request, waits for its reply, writes the response, and repeats
// while the client keeps the connection alive (no pipelining: one request in flight per
// connection). Limits (api/http_limits.h):
//   * connections over connections_max are accepted and closed at once (counted);
//   * waiting for a request to start: idle_timeout_ms; from its first byte to its last body
//     byte (and writing the response): request_timeout_ms; the connection is closed on expiry;
//   * header block over header_bytes_max or malformed HTTP: 400 bad_request, then close;
//   * a declared Content-Length over the target's body limit: 413 before reading the body.
// Exceptions never escape a session: they are logged and the connection is closed.
//
// Not thread-safe: construct, Listen*, Stop and destroy on the io_context's thread (or before
// it runs). The service must outlive the server. Sessions keep the server's shared state
// alive, so destroying the server while connections exist is safe once the io_context no
// longer runs them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/access_control.h"
#include "api/http_handler.h"
#include "api/http_limits.h"
#include "api/kv_service.h"
#include "api/metrics.h"
#include "core/byte_budget.h"
#include "core/status.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

struct x509_st;  // OpenSSL's X509

namespace meridian::api {

struct ListenAddress {
  std::string host;        // an IPv4 or IPv6 address literal
  std::uint16_t port = 0;  // 0: the OS picks a free port
};
// Parses "HOST:PORT" or "[IPV6]:PORT". InvalidArgument naming the problem otherwise.
Result<ListenAddress> ParseListenAddress(std::string_view text);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, KvService& service, const HttpLimits& limits);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds `address` ("HOST:PORT") and starts accepting plain HTTP connections.
  // IoError when binding fails (address in use, permission).
  Status ListenHttp(std::string_view address);
  // As ListenHttp, with TLS (1.2 or newer). InvalidArgument naming the file when the PEM
  // certificate chain or private key cannot be loaded or do not match.
  Status ListenHttps(std::string_view address, const std::string& certificate_chain_file,
                     const std::string& private_key_file);
  // With client certificates too: when files.client_ca is set, a client may present a
  // certificate signed by that CA (one that does not verify fails the handshake); the user it
  // names (SetCertificateUser) is the request's credential. Without one, tokens still work.
  struct HttpsFiles {
    std::string certificate_chain;
    std::string private_key;
    std::string client_ca;  // empty: no client certificates asked for
  };
  Status ListenHttps(std::string_view address, const HttpsFiles& files);
  // Loads the files again for new connections (certificate rotation; open connections keep
  // theirs). InvalidArgument naming the file when one does not load: the old ones stay.
  Status ReloadTls(const HttpsFiles& files);
  // The user a verified client certificate names (nullopt: none, e.g. a node certificate).
  using CertificateUser = std::function<std::optional<std::string>(x509_st*)>;
  void SetCertificateUser(CertificateUser user);

  // Authentication and authorisation of every request (HttpHandler::SetAccessControl).
  void SetAccessControl(std::shared_ptr<const AccessControl> access, bool metrics_require_auth);
  // Partial request bodies are held under `budget` (shared with the node's other front ends):
  // a body that does not fit is answered 503 before it is read, and the connection closed.
  void SetInputBudget(std::shared_ptr<ByteBudget> budget);
  // What GET /health reports (HttpHandler::SetHealthCheck).
  void SetHealthCheck(HttpHandler::HealthCheck check);
  // Where POST /v1/cluster/backup goes (HttpHandler::SetBackupService).
  void SetBackupService(BackupService* backup);

  // Bound endpoints as "IP:PORT"; empty when that listener is not open.
  std::string http_endpoint() const;
  std::string https_endpoint() const;
  std::uint16_t http_port() const;
  std::uint16_t https_port() const;

  // Graceful stop: closes the listeners and idle connections; a connection with a request in
  // flight finishes it (its response says "Connection: close") and then closes. Idempotent.
  void Stop();

  // Open connections (sessions not yet finished).
  std::size_t connection_count() const;
  Metrics& metrics();

  // Defined in http_server.cc; public only so the session code there can name it.
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace meridian::api
