#include "bench/resp_reply.h"

#include <charconv>
#include <cstdint>

namespace meridian::bench {
namespace {

constexpr std::int64_t kMaxBulk = std::int64_t{512} * 1024 * 1024;  // Redis' proto-max-bulk-len
constexpr int kMaxDepth = 8;

// The line from `at` to CRLF: its end (the index of '\r'), or npos when incomplete.
std::size_t LineEnd(std::string_view data, std::size_t at) {
  const std::size_t cr = data.find('\r', at);
  if (cr == std::string_view::npos || cr + 1 >= data.size()) return std::string_view::npos;
  return cr;
}

bool ParseInteger(std::string_view text, std::int64_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

std::ptrdiff_t Parse(std::string_view data, std::size_t at, RespReply& reply, int depth) {
  if (depth > kMaxDepth) return -1;
  if (at >= data.size()) return 0;
  const char type = data[at];
  const std::size_t end = LineEnd(data, at + 1);
  if (end == std::string_view::npos) return 0;
  if (data[end + 1] != '\n') return -1;
  const std::string_view line = data.substr(at + 1, end - at - 1);
  const std::size_t after_line = end + 2;
  switch (type) {
    case '+':
    case '-':
    case ':':
      reply.kind = type == '+'   ? RespKind::kSimple
                   : type == '-' ? RespKind::kError
                                 : RespKind::kInteger;
      reply.text = line;
      return static_cast<std::ptrdiff_t>(after_line - at);
    case '$': {
      std::int64_t length = 0;
      if (!ParseInteger(line, length) || length < -1 || length > kMaxBulk) return -1;
      if (length == -1) {
        reply.kind = RespKind::kNil;
        reply.text = {};
        return static_cast<std::ptrdiff_t>(after_line - at);
      }
      const std::size_t total = after_line + static_cast<std::size_t>(length) + 2;
      if (data.size() < total) return 0;
      if (data[total - 2] != '\r' || data[total - 1] != '\n') return -1;
      reply.kind = RespKind::kBulk;
      reply.text = data.substr(after_line, static_cast<std::size_t>(length));
      return static_cast<std::ptrdiff_t>(total - at);
    }
    case '*': {
      std::int64_t count = 0;
      if (!ParseInteger(line, count) || count < -1) return -1;
      std::size_t next = after_line;
      for (std::int64_t i = 0; i < count; ++i) {
        RespReply element;
        const std::ptrdiff_t used = Parse(data, next, element, depth + 1);
        if (used <= 0) return used;
        next += static_cast<std::size_t>(used);
      }
      reply.kind = count == -1 ? RespKind::kNil : RespKind::kArray;
      reply.text = {};
      return static_cast<std::ptrdiff_t>(next - at);
    }
    default:
      return -1;
  }
}

}  // namespace

std::ptrdiff_t ParseRespReply(std::string_view data, RespReply& reply) {
  return Parse(data, 0, reply, 0);
}

void AppendRespCommand(std::string& out, std::initializer_list<std::string_view> arguments) {
  char digits[24];
  const auto append_number = [&](char prefix, std::size_t number) {
    out += prefix;
    const auto [end, error] = std::to_chars(digits, digits + sizeof(digits), number);
    (void)error;
    out.append(digits, end);
    out += "\r\n";
  };
  append_number('*', arguments.size());
  for (std::string_view argument : arguments) {
    append_number('$', argument.size());
    out += argument;
    out += "\r\n";
  }
}

}  // namespace meridian::bench
