// HttpRequest / HttpResponse: the transport-neutral shape of one HTTP exchange that the
// handler works on, so routing and validation are testable without sockets or Beast.
// Plain value types.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace meridian::api {

struct HttpRequest {
  std::string method;                  // "GET", "PUT", ... as sent (methods are case-sensitive)
  std::string target;                  // origin-form request target: path plus optional "?query"
  std::optional<std::string> context;  // X-Meridian-Context, when present
  std::string body;
  std::optional<std::string> authorization;  // Authorization, when present
  // The user a verified TLS client certificate names (HttpServer::HttpsFiles::client_ca).
  std::optional<std::string> certificate_user;
  std::optional<std::string> if_match;       // If-Match, when present
  std::optional<std::string> if_none_match;  // If-None-Match, when present
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type;  // empty: no Content-Type header (e.g. 204)
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, in order
  std::string body;
  bool close_connection = false;  // send "Connection: close" and close after writing

  // The value of the first header named `name` (exact case), or nullptr.
  const std::string* FindHeader(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return &value;
    }
    return nullptr;
  }
};

}  // namespace meridian::api
