#include "api/http_request_parsing.h"

#include <boost/beast/core/string.hpp>
#include <utility>
#include <vector>

namespace meridian::api {

namespace beast = boost::beast;
namespace http = beast::http;

Status CheckTransferEncoding(std::string_view header) {
  if (header.empty()) return Status::Ok();
  std::vector<std::string_view> codings;
  std::size_t start = 0;
  while (start <= header.size()) {
    std::size_t end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view coding = header.substr(start, end - start);
    while (!coding.empty() && (coding.front() == ' ' || coding.front() == '\t')) {
      coding.remove_prefix(1);
    }
    while (!coding.empty() && (coding.back() == ' ' || coding.back() == '\t')) {
      coding.remove_suffix(1);
    }
    if (!coding.empty()) codings.push_back(coding);
    start = end + 1;
  }
  if (codings.empty() || !beast::iequals(codings.back(), "chunked")) {
    return Status::InvalidArgument(
        "Transfer-Encoding must end with chunked (RFC 9112 section 6.3), got '" +
        std::string(header) + "'");
  }
  if (codings.size() > 1) {
    return Status::InvalidArgument("only the chunked transfer coding is supported, got '" +
                                   std::string(header) + "'");
  }
  return Status::Ok();
}

HeaderVerdict CheckRequestHeader(HttpHandler& handler, const BeastRequestParser& parser) {
  HeaderVerdict verdict;
  const auto& header = parser.get();
  if (Status coding = CheckTransferEncoding(header[http::field::transfer_encoding]); !coding.ok()) {
    verdict.refusal = handler.MalformedRequest(coding.message());
    return verdict;
  }
  const std::string_view target(header.target().data(), header.target().size());
  verdict.body_bytes_max = handler.BodyBytesMax(target);
  if (parser.content_length() && *parser.content_length() > verdict.body_bytes_max) {
    const std::string_view method(header.method_string().data(), header.method_string().size());
    verdict.refusal = handler.BodyTooLarge(method, target);
  }
  return verdict;
}

HttpResponse BodyReadFailure(HttpHandler& handler, const BeastRequestParser& parser,
                             const beast::error_code& error) {
  if (error == http::error::body_limit) {
    const auto& header = parser.get();
    return handler.BodyTooLarge(
        std::string_view(header.method_string().data(), header.method_string().size()),
        std::string_view(header.target().data(), header.target().size()));
  }
  return handler.MalformedRequest("malformed HTTP request: " + error.message());
}

HttpRequest ToHttpRequest(BeastRequest message, std::optional<std::string> certificate_user) {
  HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  if (auto it = message.find("X-Meridian-Context"); it != message.end()) {
    request.context = std::string(it->value());
  }
  if (auto it = message.find(http::field::if_match); it != message.end()) {
    request.if_match = std::string(it->value());
  }
  if (auto it = message.find(http::field::if_none_match); it != message.end()) {
    request.if_none_match = std::string(it->value());
  }
  if (auto it = message.find(http::field::authorization); it != message.end()) {
    request.authorization = std::string(it->value());
  }
  request.body = std::move(message.body());
  request.certificate_user = std::move(certificate_user);
  return request;
}

}  // namespace meridian::api
