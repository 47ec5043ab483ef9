// RESP2 reply encoding: functions that append one reply (or an array header) to a buffer, so
// a connection encodes every reply straight into its output without temporary strings.
//
//   +OK\r\n   -ERR message\r\n   :42\r\n   $5\r\nhello\r\n   $-1\r\n (nil)   *2\r\n... (array)
//
// Simple strings and errors cannot carry CR or LF: those bytes are replaced by spaces (as
// Redis does for error messages). Bulk strings carry any bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::api::resp {

void AppendSimpleString(std::string& out, std::string_view text);
// `message` starts with the error's code word, e.g. "ERR no such key" or "NOPROTO ...".
void AppendError(std::string& out, std::string_view message);
void AppendInteger(std::string& out, std::int64_t value);
void AppendBulkString(std::string& out, std::string_view bytes);
void AppendNull(std::string& out);  // the nil bulk string, "$-1"
void AppendArrayHeader(std::string& out, std::size_t count);

inline void AppendOk(std::string& out) {
  out.append("+OK\r\n");
}

}  // namespace meridian::api::resp
