// RespParser: an incremental parser of client commands in the Redis protocol (RESP2), as a
// Redis server reads them: a multibulk array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
// or an inline command (a line of space-separated words, e.g. "PING\r\n", with "..." and '...'
// quoting as redis-cli's). No sockets here; resp_connection.h feeds it.
//
// Incremental contract: Parse(input) is given the connection's unconsumed bytes, starting at
// the first byte of the command being parsed. When the command is incomplete it returns
// kNeedMore and remembers how far it got; the next call must pass the same bytes again (they
// may have moved in memory) followed by more. So each byte is scanned once, however the
// input is fragmented, and no bytes are copied except the words of an inline command.
//
// Errors are final for the connection (Redis closes it too): the caller replies
// "-ERR <error()>" and closes. Limits bound memory: a bulk string over bulk_bytes_max, an
// array of more than args_max elements, a command whose declared bulk bytes exceed
// command_bytes_max, and a length or inline line over inline_bytes_max without a newline.
//
// Not thread-safe; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meridian::api {

struct RespParserLimits {
  std::size_t bulk_bytes_max = 8u << 20;      // one argument (the node's value limit)
  std::size_t args_max = 1024 * 1024;         // elements of one command (Redis: 1M)
  std::size_t command_bytes_max = 64u << 20;  // sum of one command's bulk lengths
  std::size_t inline_bytes_max = 64u << 10;   // an inline command, or a length line
};

class RespParser {
 public:
  enum class Outcome {
    kCommand,   // args() holds a complete command (possibly empty: skip it); consumed() bytes
    kNeedMore,  // the input ends inside a command
    kError,     // malformed or over a limit; error() says why
  };

  explicit RespParser(const RespParserLimits& limits = {});

  Outcome Parse(std::string_view input);

  // After kCommand: the arguments, viewing `input` (or the parser's own storage for an inline
  // command); valid until the next Parse call or until `input` changes.
  std::span<const std::string_view> args() const { return args_; }
  // After kCommand: bytes of `input` the command occupied.
  std::size_t consumed() const { return consumed_; }
  // After kError: "Protocol error: ..." as Redis words it.
  const std::string& error() const { return error_; }

 private:
  Outcome Fail(std::string message);
  Outcome ParseInline(std::string_view input);
  // Reads "<prefix><integer>\r\n" at position_; kNeedMore until the line is complete.
  Outcome ReadLength(std::string_view input, char prefix, std::int64_t& value);
  void Reset();

  RespParserLimits limits_;
  // Progress in the current command, relative to its first byte.
  std::size_t position_ = 0;
  std::int64_t expected_args_ = -1;  // -1: the array header is not read yet
  std::int64_t bulk_length_ = -1;    // -1: the next element's header is not read yet
  std::size_t declared_bytes_ = 0;   // sum of the bulk lengths read so far
  std::size_t scanned_ = 0;          // inline: bytes already searched for a newline
  std::vector<std::pair<std::size_t, std::size_t>> spans_;  // (offset, length) of each arg
  std::vector<std::string_view> args_;
  std::string inline_storage_;
  std::size_t consumed_ = 0;
  std::string error_;
};

// Parses a RESP decimal integer: an optional '-' and 1-18 digits (no '+', no spaces), so it
// never overflows. False when malformed or out of range.
bool ParseInteger(std::string_view text, std::int64_t& value);

}  // namespace meridian::api
