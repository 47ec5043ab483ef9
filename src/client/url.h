// Endpoint URL parsing and request-target building for the client library.
// Pure functions over bytes; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "meridian/result.h"

namespace meridian::client::internal {

struct Endpoint {
  bool tls = false;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
};

// Parses "http://HOST[:PORT][/]" or "https://HOST[:PORT][/]". Any other path, a query,
// user information or an unknown scheme is kInvalidArgument.
Result<Endpoint> ParseEndpoint(std::string_view url);

// A bearer token is empty or 1..1024 visible ASCII characters (no spaces or control bytes,
// which could split the header); kInvalidArgument otherwise.
Result<void> ValidateToken(std::string_view token);

// Percent-encodes every byte except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~),
// so any byte string (NUL, '/', '%', non-UTF-8) survives as one path segment.
std::string PercentEncode(std::string_view bytes);

// True for 1..64 bytes of [A-Za-z0-9_.-] (docs/api.md).
bool IsValidBucketName(std::string_view bucket);

// "/v1/kv/{bucket}/{key}" with both segments percent-encoded.
std::string ObjectTarget(std::string_view bucket, std::string_view key);

}  // namespace meridian::client::internal
