#include "client/response_parsing.h"

#include <array>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <utility>

namespace meridian::client::internal {
namespace {

Error ProtocolError(std::string message, int http_status) {
  Error error;
  error.code = ErrorCode::kProtocolError;
  error.message = std::move(message);
  error.http_status = http_status;
  return error;
}

// 0..63 for a base64 alphabet byte, -1 otherwise.
int Base64Digit(unsigned char byte) {
  if (byte >= 'A' && byte <= 'Z') return byte - 'A';
  if (byte >= 'a' && byte <= 'z') return byte - 'a' + 26;
  if (byte >= '0' && byte <= '9') return byte - '0' + 52;
  if (byte == '+') return 62;
  if (byte == '/') return 63;
  return -1;
}

ErrorCode CodeForStatus(int status) {
  switch (status) {
    case 400:
      return ErrorCode::kBadRequest;
    case 404:
      return ErrorCode::kNotFound;
    case 413:
      return ErrorCode::kTooLarge;
    case 503:
      return ErrorCode::kUnavailable;
    default:
      return (status >= 400 && status < 500) ? ErrorCode::kBadRequest : ErrorCode::kServerError;
  }
}

}  // namespace

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string decoded;
  decoded.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last_group = i + 4 == text.size();
    std::array<int, 4> digits{};
    int padding = 0;
    for (int j = 0; j < 4; ++j) {
      const auto byte = static_cast<unsigned char>(text[i + j]);
      if (byte == '=') {
        // Padding only at the end of the last group, at most two characters.
        if (!last_group || j < 2) return std::nullopt;
        ++padding;
        digits[j] = 0;
        continue;
      }
      if (padding > 0) return std::nullopt;  // data after padding
      digits[j] = Base64Digit(byte);
      if (digits[j] < 0) return std::nullopt;
    }
    const std::uint32_t group = (static_cast<std::uint32_t>(digits[0]) << 18) |
                                (static_cast<std::uint32_t>(digits[1]) << 12) |
                                (static_cast<std::uint32_t>(digits[2]) << 6) |
                                static_cast<std::uint32_t>(digits[3]);
    // Non-canonical encodings (stray bits under the padding) are malformed.
    if (padding == 1 && (group & 0xFF) != 0) return std::nullopt;
    if (padding == 2 && (group & 0xFFFF) != 0) return std::nullopt;
    decoded.push_back(static_cast<char>((group >> 16) & 0xFF));
    if (padding < 2) decoded.push_back(static_cast<char>((group >> 8) & 0xFF));
    if (padding < 1) decoded.push_back(static_cast<char>(group & 0xFF));
  }
  return decoded;
}

Error ErrorFromResponse(const HttpResponse& response) {
  Error error;
  error.http_status = response.status;
  error.code = CodeForStatus(response.status);
  error.retryable = response.status == 503;
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    const auto code = body.find("error");
    if (code != body.end() && code->is_string()) error.server_code = code->get<std::string>();
    const auto message = body.find("message");
    if (message != body.end() && message->is_string()) {
      error.message = message->get<std::string>();
    }
  }
  if (error.message.empty()) {
    error.message = "the server answered HTTP " + std::to_string(response.status);
  }
  return error;
}

Result<GetResult> ParseGetResponse(const HttpResponse& response) {
  GetResult result;
  result.context = response.Header("X-Meridian-Context");
  if (response.status == 200) {
    result.found = true;
    result.siblings.push_back(Sibling{response.body, 0});
    return result;
  }
  if (response.status != 300) return ErrorFromResponse(response);
  const auto body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return ProtocolError("the 300 reply is not a JSON object", 300);
  const auto context = body.find("context");
  if (context != body.end()) {
    if (!context->is_string()) return ProtocolError("the 300 reply's context is not a string", 300);
    result.context = context->get<std::string>();
  }
  const auto siblings = body.find("siblings");
  if (siblings == body.end() || !siblings->is_array()) {
    return ProtocolError("the 300 reply has no siblings array", 300);
  }
  for (const auto& sibling : *siblings) {
    if (!sibling.is_object()) return ProtocolError("a sibling is not a JSON object", 300);
    const auto value = sibling.find("value");
    const auto timestamp = sibling.find("timestamp_ms");
    if (value == sibling.end() || !value->is_string()) {
      return ProtocolError("a sibling has no string value", 300);
    }
    if (timestamp == sibling.end() || !timestamp->is_number_integer()) {
      return ProtocolError("a sibling has no integer timestamp_ms", 300);
    }
    auto bytes = Base64Decode(value->get_ref<const std::string&>());
    if (!bytes) return ProtocolError("a sibling value is not valid base64", 300);
    result.siblings.push_back(Sibling{std::move(*bytes), timestamp->get<std::int64_t>()});
  }
  result.found = !result.siblings.empty();
  return result;
}

Result<BucketProps> ParseBucketPropsBody(std::string_view body_text) {
  const auto body = nlohmann::json::parse(body_text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return ProtocolError("the bucket reply is not a JSON object", 200);
  const auto props = body.find("props");
  if (props == body.end() || !props->is_object()) {
    return ProtocolError("the bucket reply has no props object", 200);
  }
  BucketProps result;
  const auto policy = props->find("conflict_policy");
  if (policy == props->end() || !policy->is_string()) {
    return ProtocolError("the bucket props have no string conflict_policy", 200);
  }
  result.conflict_policy = policy->get<std::string>();
  const auto dw = props->find("dw");
  if (dw == props->end() || !dw->is_number_integer()) {
    return ProtocolError("the bucket props have no integer dw", 200);
  }
  result.dw = dw->get<int>();
  result.json = props->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return result;
}

std::string BucketPropsUpdateBody(const BucketPropsUpdate& update) {
  nlohmann::json body = nlohmann::json::object();
  if (update.conflict_policy) body["conflict_policy"] = *update.conflict_policy;
  if (update.dw) body["dw"] = *update.dw;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace meridian::client::internal
