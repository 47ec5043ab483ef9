#include "client/url.h"

#include <charconv>

namespace meridian::client::internal {
namespace {

Error InvalidEndpoint(std::string_view url, std::string_view why) {
  Error error;
  error.code = ErrorCode::kInvalidArgument;
  error.message = "invalid endpoint '" + std::string(url) + "': " + std::string(why);
  return error;
}

bool IsUnreserved(unsigned char byte) {
  return (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
         (byte >= '0' && byte <= '9') || byte == '-' || byte == '.' || byte == '_' || byte == '~';
}

}  // namespace

Result<void> ValidateToken(std::string_view token) {
  if (token.size() > 1024) {
    return Error{ErrorCode::kInvalidArgument, "", "the token is longer than 1024 bytes", 0, false};
  }
  for (char c : token) {
    if (c <= ' ' || c > '~') {
      return Error{ErrorCode::kInvalidArgument, "",
                   "the token may contain only visible ASCII characters", 0, false};
    }
  }
  return {};
}

Result<Endpoint> ParseEndpoint(std::string_view url) {
  Endpoint endpoint;
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    endpoint.tls = true;
    rest = url.substr(8);
  } else {
    return InvalidEndpoint(url, "the scheme must be http:// or https://");
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return InvalidEndpoint(url, "only scheme, host and port are allowed");
  }
  std::string_view port_text;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return InvalidEndpoint(url, "unterminated '['");
    endpoint.host = std::string(rest.substr(1, close - 1));
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidEndpoint(url, "unexpected text after ']'");
      port_text = after.substr(1);
      if (port_text.empty()) return InvalidEndpoint(url, "empty port");
    }
  } else {
    const auto colon = rest.find(':');
    endpoint.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return InvalidEndpoint(url, "empty port");
    }
  }
  if (endpoint.host.empty()) return InvalidEndpoint(url, "empty host");
  if (port_text.empty()) {
    endpoint.port = endpoint.tls ? 443 : 80;
  } else {
    unsigned port = 0;
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return InvalidEndpoint(url, "the port must be a number in 1..65535");
    }
    endpoint.port = static_cast<std::uint16_t>(port);
  }
  return endpoint;
}

std::string PercentEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  encoded.reserve(bytes.size() * 3);
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    if (IsUnreserved(byte)) {
      encoded.push_back(c);
    } else {
      encoded.push_back('%');
      encoded.push_back(kHex[byte >> 4]);
      encoded.push_back(kHex[byte & 0x0F]);
    }
  }
  return encoded;
}

bool IsValidBucketName(std::string_view bucket) {
  if (bucket.empty() || bucket.size() > 64) return false;
  for (const char c : bucket) {
    const auto byte = static_cast<unsigned char>(c);
    const bool allowed = (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') ||
                         (byte >= '0' && byte <= '9') || byte == '_' || byte == '.' || byte == '-';
    if (!allowed) return false;
  }
  return true;
}

std::string ObjectTarget(std::string_view bucket, std::string_view key) {
  return "/v1/kv/" + PercentEncode(bucket) + "/" + PercentEncode(key);
}

}  // namespace meridian::client::internal
