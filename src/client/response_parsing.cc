#include "client/response_parsing.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <exception>
#include <limits>
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
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kForbidden;
    case 404:
      return ErrorCode::kNotFound;
    case 413:
      return ErrorCode::kTooLarge;
    case 503:
      return ErrorCode::kUnavailable;
    case 507:
      return ErrorCode::kInsufficientStorage;
    case 412:
      return ErrorCode::kPreconditionFailed;
    default:
      return (status >= 400 && status < 500) ? ErrorCode::kBadRequest : ErrorCode::kServerError;
  }
}

std::optional<std::uint32_t> ParseNumber(std::string_view text) {
  std::uint32_t number = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, number);
  if (text.empty() || error != std::errc() || ptr != end) return std::nullopt;
  return number;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// A quorum setting of the props JSON as text: a number or one of the symbols.
bool QuorumText(const nlohmann::json& value, std::string& out) {
  if (value.is_number_unsigned()) {
    out = std::to_string(value.get<std::uint64_t>());
    return true;
  }
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (text == "one" || text == "quorum" || text == "all") {
      out = text;
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<Consistency> ParseConsistencyHeader(std::string_view text) {
  Consistency consistency;
  bool has_n = false;
  bool has_required = false;
  while (!text.empty()) {
    const std::size_t semicolon = text.find(';');
    const std::string_view part = Trim(text.substr(0, semicolon));
    text = semicolon == std::string_view::npos ? std::string_view() : text.substr(semicolon + 1);
    const std::size_t equals = part.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    const std::string_view name = part.substr(0, equals);
    const std::optional<std::uint32_t> value = ParseNumber(part.substr(equals + 1));
    if (name.empty() || !value) return std::nullopt;
    if (name == "n") {
      consistency.n = *value;
      has_n = true;
    } else if (name == "r" || name == "w") {
      consistency.required = *value;
      has_required = true;
    } else if (name == "replies") {
      consistency.replies = *value;
    } else if (name == "primaries") {
      consistency.primaries = *value;
    } else if (name == "fallbacks") {
      consistency.fallbacks = *value;
    } else if (name == "durable") {
      consistency.durable = *value;
    } else if (name == "hinted") {
      consistency.hinted = *value;
    } else if (name == "behind") {
      consistency.behind = *value;
    }
  }
  if (!has_n || !has_required) return std::nullopt;
  return consistency;
}

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
  error.retryable = response.status == 503 || response.status == 507;
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
  result.consistency = ParseConsistencyHeader(response.Header("X-Meridian-Consistency"));
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
  const auto consistency = props->find("consistency");
  if (consistency != props->end()) {
    if (!consistency->is_string()) {
      return ProtocolError("the bucket props' consistency is not a string", 200);
    }
    result.consistency = consistency->get<std::string>();
  }
  const auto dw = props->find("dw");
  if (dw == props->end() || !QuorumText(*dw, result.dw)) {
    return ProtocolError("the bucket props have no dw (a number, \"one\", \"quorum\" or \"all\")",
                         200);
  }
  const auto n = props->find("n");
  if (n != props->end()) {
    if (!n->is_number_unsigned() ||
        n->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
      return ProtocolError("the bucket props' n is not a non-negative integer", 200);
    }
    result.n = n->get<std::uint32_t>();
  }
  const std::pair<const char*, std::string*> quorums[] = {
      {"r", &result.r}, {"w", &result.w}, {"pr", &result.pr}, {"pw", &result.pw}};
  for (const auto& [name, field] : quorums) {
    const auto value = props->find(name);
    if (value != props->end() && !QuorumText(*value, *field)) {
      return ProtocolError(std::string("the bucket props' ") + name +
                               " is not a number, \"one\", \"quorum\" or \"all\"",
                           200);
    }
  }
  const auto sloppy = props->find("sloppy_quorum");
  if (sloppy != props->end()) {
    if (!sloppy->is_boolean()) {
      return ProtocolError("the bucket props' sloppy_quorum is not a boolean", 200);
    }
    result.sloppy_quorum = sloppy->get<bool>();
  }
  result.json = props->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return result;
}

Result<std::vector<BucketListing>> ParseBucketListBody(std::string_view body_text) {
  const auto body = nlohmann::json::parse(body_text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return ProtocolError("the bucket list is not a JSON object", 200);
  const auto buckets = body.find("buckets");
  if (buckets == body.end() || !buckets->is_array()) {
    return ProtocolError("the bucket list has no buckets array", 200);
  }
  std::vector<BucketListing> result;
  for (const auto& entry : *buckets) {
    if (!entry.is_object()) return ProtocolError("a bucket list entry is not an object", 200);
    const auto name = entry.find("bucket");
    const auto sealed = entry.find("sealed");
    const auto configured = entry.find("configured");
    if (name == entry.end() || !name->is_string() || sealed == entry.end() ||
        !sealed->is_boolean() || configured == entry.end() || !configured->is_boolean()) {
      return ProtocolError(
          "a bucket list entry lacks a string bucket or a boolean sealed or configured", 200);
    }
    auto props =
        ParseBucketPropsBody(entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (!props.ok()) return props.error();
    result.push_back({name->get<std::string>(), std::move(*props), sealed->get<bool>(),
                      configured->get<bool>()});
  }
  return result;
}

std::string BucketPropsUpdateBody(const BucketPropsUpdate& update) {
  nlohmann::json body = nlohmann::json::object();
  if (update.consistency) body["consistency"] = *update.consistency;
  if (update.conflict_policy) body["conflict_policy"] = *update.conflict_policy;
  if (update.n) body["n"] = *update.n;
  const std::pair<const char*, const std::optional<std::string>*> quorums[] = {{"r", &update.r},
                                                                               {"w", &update.w},
                                                                               {"pr", &update.pr},
                                                                               {"pw", &update.pw},
                                                                               {"dw", &update.dw}};
  for (const auto& [name, value] : quorums) {
    if (!value->has_value()) continue;
    if (const std::optional<std::uint32_t> number = ParseNumber(**value)) {
      body[name] = *number;
    } else {
      body[name] = **value;
    }
  }
  if (update.sloppy_quorum) body["sloppy_quorum"] = *update.sloppy_quorum;
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace meridian::client::internal
