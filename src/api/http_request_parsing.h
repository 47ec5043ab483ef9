// The steps between Beast's request parser and HttpHandler that every HTTP request takes,
// shared by the server's connection loop (http_server.cc) and the HTTP fuzzer, so the fuzzer
// runs the server's own checks: the Transfer-Encoding rule, the per-target body limit and the
// conversion into the transport-neutral HttpRequest. Pure functions of their inputs.
#pragma once

#include <boost/beast/http.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_handler.h"
#include "api/http_message.h"
#include "core/status.h"

namespace meridian::api {

using BeastRequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;
using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

// RFC 9112 section 6.3: a request whose last transfer coding is not chunked has no reliable
// length; and chunked is the only coding this server decodes. Ok for an absent header.
Status CheckTransferEncoding(std::string_view header);

// What the server does once a request's header is parsed: either refuse it (the response; the
// connection closes after it), or read a body of at most `body_bytes_max` bytes.
struct HeaderVerdict {
  std::optional<HttpResponse> refusal;
  std::size_t body_bytes_max = 0;
};
HeaderVerdict CheckRequestHeader(HttpHandler& handler, const BeastRequestParser& parser);

// The response to a failed read of a request's body (the connection closes after it).
HttpResponse BodyReadFailure(HttpHandler& handler, const BeastRequestParser& parser,
                             const boost::beast::error_code& error);

// The handler's request for a complete Beast request; `certificate_user` is the user a verified
// client certificate names (none on plain HTTP).
HttpRequest ToHttpRequest(BeastRequest message, std::optional<std::string> certificate_user);

}  // namespace meridian::api
