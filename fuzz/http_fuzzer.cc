// HTTP request path: bytes as one client connection sends them.
//
// Contract: whatever the bytes, parsing them with Boost.Beast under the server's limits
// (api/http_limits.h, applied as http_server.cc applies them), the server's own header checks
// and request conversion (api/http_request_parsing.h), splitting and decoding the target,
// checking access, routing and validating them in HttpHandler and answering them from
// a real standalone Node never crashes, trips ASan/UBSan or leaves a request unanswered; and
// every response is one HTTP can carry (a status of 100-599, header names and values without
// CR, LF or NUL and short enough for Beast's 16-bit field length).
//
// Input: byte 0 holds flags (bit 0: access control on, bit 1: /metrics needs a token too);
// the rest is the connection's byte stream. Requests are served one after another while the
// connection stays open, as http_server.cc's ServeRequests does.
//
// Not covered (no seam without sockets): http_server.cc's input budget, 100-continue, timeouts,
// TLS and the connection cap.
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/access_control.h"
#include "api/http_handler.h"
#include "api/http_limits.h"
#include "api/http_request_parsing.h"
#include "api/http_target.h"
#include "api/metrics.h"
#include "fuzz_support.h"

namespace meridian::fuzz {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

// Users of the access-control runs; the dictionary knows their tokens.
std::shared_ptr<const api::AccessControl> FuzzUsers() {
  static const std::shared_ptr<const api::AccessControl> users = [] {
    std::vector<api::User> list = {
        {"admin", api::Role::kAdmin, api::TokenSha256("admin-token"), {}},
        {"writer", api::Role::kReadWrite, api::TokenSha256("rw-token"), {"b"}},
        {"reader", api::Role::kReadOnly, api::TokenSha256("ro-token"), {}},
    };
    auto access = api::AccessControl::FromUsers(std::move(list));
    MERIDIAN_FUZZ_CHECK(access.ok());
    return std::make_shared<const api::AccessControl>(std::move(*access));
  }();
  return users;
}

bool HasLineBreakOrNul(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

void CheckResponse(const api::HttpResponse& response) {
  MERIDIAN_FUZZ_CHECK(response.status >= 100 && response.status <= 599);
  MERIDIAN_FUZZ_CHECK(!HasLineBreakOrNul(response.content_type));
  for (const auto& [name, value] : response.headers) {
    MERIDIAN_FUZZ_CHECK(!name.empty() && !HasLineBreakOrNul(name));
    MERIDIAN_FUZZ_CHECK(!HasLineBreakOrNul(value));
    MERIDIAN_FUZZ_CHECK(value.size() <= api::kHeaderBytesMaxLimit);
  }
}

// The connection layer's answer to a request it refuses itself: it closes afterwards.
void CheckClosingResponse(const api::HttpResponse& response) {
  CheckResponse(response);
  MERIDIAN_FUZZ_CHECK(response.close_connection);
}

// Feeds `input` to the parser until it wants no more (header or message done, or an error),
// eagerly for the body as http::async_read and lazily for the header as async_read_header.
// At the end of the input the client has closed: as Beast's read operations, end_of_stream
// before any byte of a message, else the parser's verdict on EOF.
void Put(http::request_parser<http::string_body>& parser, std::string_view& input, bool header_only,
         beast::error_code& ec) {
  const auto done = [&] { return header_only ? parser.is_header_done() : parser.is_done(); };
  parser.eager(!header_only);
  ec = {};
  while (!done()) {
    std::size_t used = 0;
    if (!input.empty()) {
      used = parser.put(boost::asio::buffer(input.data(), input.size()), ec);
      input.remove_prefix(used);
    }
    if (ec == http::error::need_more) {
      ec = {};
    } else if (ec) {
      return;
    }
    if (used > 0) continue;
    // No progress on what is left: the client closed the connection here.
    if (!parser.got_some()) {
      ec = http::error::end_of_stream;
      return;
    }
    parser.put_eof(ec);
    if (!ec && !done()) ec = http::error::partial_message;
    return;
  }
}

}  // namespace
}  // namespace meridian::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace meridian;
  using namespace meridian::fuzz;
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  NodeKvService service;
  api::Metrics metrics;
  const api::HttpLimits limits;  // the server's defaults; their value limits equal the node's
  api::HttpHandler handler(service, metrics, limits);
  if ((flags & 1) != 0) handler.SetAccessControl(FuzzUsers(), (flags & 2) != 0);

  for (int request_index = 0; request_index < 32 && !input.empty(); ++request_index) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes_max));
    parser.body_limit(boost::none);  // as the server: the target's limit is applied below
    beast::error_code ec;
    Put(parser, input, /*header_only=*/true, ec);
    if (ec == http::error::end_of_stream) break;
    if (ec) {
      CheckClosingResponse(handler.MalformedRequest("malformed HTTP request: " + ec.message()));
      break;
    }
    const std::string method(parser.get().method_string());
    const std::string target(parser.get().target());
    // Target parsing on its own: split, then decode the path and the query.
    const api::SplitTargetResult split = api::SplitTarget(target);
    MERIDIAN_FUZZ_CHECK(split.path.size() + split.query.size() <= target.size());
    if (auto decoded = api::PercentDecode(split.path)) {
      MERIDIAN_FUZZ_CHECK(decoded->size() <= split.path.size());
    }
    if (auto query = api::ParseQuery(split.query)) {
      for (const auto& [name, value] : *query) {
        MERIDIAN_FUZZ_CHECK(name.size() + value.size() <= split.query.size());
      }
    }
    api::HeaderVerdict verdict = api::CheckRequestHeader(handler, parser);
    if (verdict.refusal) {
      CheckClosingResponse(*verdict.refusal);
      break;
    }
    parser.body_limit(verdict.body_bytes_max);
    Put(parser, input, /*header_only=*/false, ec);
    if (ec) {
      CheckClosingResponse(api::BodyReadFailure(handler, parser, ec));
      break;
    }

    http::request<http::string_body> message = parser.release();
    const bool keep_alive = message.keep_alive();
    api::HttpRequest request = api::ToHttpRequest(std::move(message), std::nullopt);
    MERIDIAN_FUZZ_CHECK(request.method == method && request.target == target);

    std::optional<api::HttpResponse> response;
    handler.Handle(std::move(request), [&response](api::HttpResponse out) {
      MERIDIAN_FUZZ_CHECK(!response.has_value());  // respond exactly once
      response = std::move(out);
    });
    service.Settle();
    MERIDIAN_FUZZ_CHECK(response.has_value());
    CheckResponse(*response);
    if (!keep_alive || response->close_connection) break;
  }
  // Prometheus rendering of whatever was recorded (names and labels come from requests).
  const std::string rendered = metrics.RenderPrometheus();
  MERIDIAN_FUZZ_CHECK(rendered.empty() || rendered.back() == '\n');
  return 0;
}
