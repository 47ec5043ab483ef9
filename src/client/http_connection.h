// HttpConnection: one keep-alive HTTP/1.1 connection (plain TCP or TLS) to one endpoint,
// used by Client. Blocking calls with a deadline; Boost.Beast stays inside the .cc file.
//
// Not thread-safe: one caller at a time. Errors are values; Boost/OpenSSL exceptions and
// error codes are translated to client::Error here.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/url.h"
#include "meridian/client.h"

namespace meridian::client::internal {

struct HttpRequest {
  std::string method;  // "GET", "PUT", "DELETE"
  std::string target;  // already percent-encoded, e.g. "/v1/kv/default/a%2Fb?dw=1"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // May be re-sent once on a fresh connection if a reused connection fails before a reply.
  bool idempotent = false;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names as received
  std::string body;

  // The first header with this name (case-insensitive), or empty.
  std::string Header(std::string_view name) const;
};

class HttpConnection {
 public:
  // Loads the CA file (kTlsError when unreadable). Does not connect.
  static Result<std::unique_ptr<HttpConnection>> Create(Endpoint endpoint,
                                                        const ClientOptions& options);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends `request` and reads the whole reply; connects (or reconnects) as needed.
  Result<HttpResponse> RoundTrip(const HttpRequest& request);

 private:
  class Impl;
  explicit HttpConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::client::internal
