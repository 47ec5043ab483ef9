// The little of RESP2 (the Redis protocol) a load generator needs: encoding commands as
// arrays of bulk strings, and parsing replies incrementally from a byte buffer. Pure
// functions; thread-safe.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace meridian::bench {

enum class RespKind { kSimple, kError, kInteger, kBulk, kNil, kArray };

struct RespReply {
  RespKind kind = RespKind::kNil;
  // kSimple / kError / kInteger: the line; kBulk: the payload; else empty. Points into the
  // parsed buffer.
  std::string_view text;
};

// Parses the reply at the start of `data` (arrays are parsed through, nested, and reported
// as kArray). Returns the bytes it spans; 0 when `data` holds only part of it; -1 when the
// bytes are not RESP.
std::ptrdiff_t ParseRespReply(std::string_view data, RespReply& reply);

// Appends the command `arguments` as a RESP array of bulk strings to `out`.
void AppendRespCommand(std::string& out, std::initializer_list<std::string_view> arguments);

}  // namespace meridian::bench
