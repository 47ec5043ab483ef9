#include "api/resp_parser.h"

#include <algorithm>
#include <cstdio>

namespace meridian::api {

namespace {

// A valid length line ("*<n>\r\n", "$<n>\r\n") is far shorter; longer is refused at once.
constexpr std::size_t kLengthLineMax = 32;
// Arrays declaring more elements reserve only this many slots up front.
constexpr std::size_t kReserveArgsMax = 1024;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte as Redis shows it in "expected '$', got 'X'", made printable.
std::string Printable(char c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, c);
  char text[8];
  std::snprintf(text, sizeof(text), "\\x%02x", static_cast<unsigned char>(c));
  return text;
}

// Splits an inline command line into words as Redis's sdssplitargs does: words separated by
// whitespace; "..." with \n \r \t \b \a \\ \" \xHH escapes; '...' with \' escapes; a closing
// quote must be followed by whitespace or the end. Unescaped words are appended to `storage`
// (reserved by the caller to at least line.size(), so views stay valid). False when quotes
// are unbalanced.
bool SplitInline(std::string_view line, std::string& storage, std::vector<std::string_view>& out) {
  std::size_t i = 0;
  const std::size_t n = line.size();
  for (;;) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i == n) return true;
    const std::size_t start = storage.size();
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      if (in_double) {
        if (i == n) return false;  // unterminated quotes
        char c = line[i];
        if (c == '\\' && i + 3 < n && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          storage.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 3;
        } else if (c == '\\' && i + 1 < n) {
          ++i;
          switch (line[i]) {
            case 'n':
              c = '\n';
              break;
            case 'r':
              c = '\r';
              break;
            case 't':
              c = '\t';
              break;
            case 'b':
              c = '\b';
              break;
            case 'a':
              c = '\a';
              break;
            default:
              c = line[i];
              break;
          }
          storage.push_back(c);
        } else if (c == '"') {
          // The closing quote must be followed by a space or nothing.
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          storage.push_back(c);
        }
      } else if (in_single) {
        if (i == n) return false;
        char c = line[i];
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          storage.push_back('\'');
        } else if (c == '\'') {
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          storage.push_back(c);
        }
      } else {
        if (i == n) break;
        char c = line[i];
        if (IsSpace(c)) {
          done = true;
        } else if (c == '"') {
          in_double = true;
        } else if (c == '\'') {
          in_single = true;
        } else {
          storage.push_back(c);
        }
      }
      if (i < n) ++i;
    }
    out.emplace_back(storage.data() + start, storage.size() - start);
  }
}

}  // namespace

bool ParseInteger(std::string_view text, std::int64_t& value) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 18) return false;  // 18 digits cannot overflow
  std::int64_t result = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  value = negative ? -result : result;
  return true;
}

RespParser::RespParser(const RespParserLimits& limits) : limits_(limits) {}

void RespParser::Reset() {
  position_ = 0;
  expected_args_ = -1;
  bulk_length_ = -1;
  declared_bytes_ = 0;
  scanned_ = 0;
}

RespParser::Outcome RespParser::Fail(std::string message) {
  error_ = "Protocol error: " + std::move(message);
  Reset();
  return Outcome::kError;
}

RespParser::Outcome RespParser::ReadLength(std::string_view input, char prefix,
                                           std::int64_t& value) {
  if (position_ >= input.size()) return Outcome::kNeedMore;
  if (input[position_] != prefix) {
    return Fail("expected '" + std::string(1, prefix) + "', got '" + Printable(input[position_]) +
                "'");
  }
  const std::size_t end = std::min(input.size(), position_ + kLengthLineMax);
  const std::size_t cr = input.substr(0, end).find('\r', position_);
  if (cr == std::string_view::npos) {
    if (input.size() - position_ >= kLengthLineMax) {
      return Fail(prefix == '*' ? "too big mbulk count string" : "too big bulk count string");
    }
    return Outcome::kNeedMore;
  }
  if (cr + 1 >= input.size()) return Outcome::kNeedMore;
  if (input[cr + 1] != '\n') return Fail("expected '\\r\\n' after a length");
  if (!ParseInteger(input.substr(position_ + 1, cr - position_ - 1), value)) {
    return Fail(prefix == '*' ? "invalid multibulk length" : "invalid bulk length");
  }
  position_ = cr + 2;
  return Outcome::kCommand;
}

RespParser::Outcome RespParser::Parse(std::string_view input) {
  args_.clear();
  consumed_ = 0;
  if (input.empty()) return Outcome::kNeedMore;
  if (input.front() != '*') return ParseInline(input);

  if (expected_args_ < 0) {
    std::int64_t count = 0;
    if (Outcome outcome = ReadLength(input, '*', count); outcome != Outcome::kCommand) {
      return outcome;
    }
    if (count <= 0) {  // "*0" and "*-1": an empty command, skipped as Redis does
      consumed_ = position_;
      Reset();
      return Outcome::kCommand;
    }
    if (static_cast<std::uint64_t>(count) > limits_.args_max) {
      return Fail("invalid multibulk length (" + std::to_string(count) + " arguments; at most " +
                  std::to_string(limits_.args_max) + ")");
    }
    expected_args_ = count;
    spans_.clear();
    spans_.reserve(std::min<std::size_t>(static_cast<std::size_t>(count), kReserveArgsMax));
  }
  while (spans_.size() < static_cast<std::size_t>(expected_args_)) {
    if (bulk_length_ < 0) {
      std::int64_t length = 0;
      if (Outcome outcome = ReadLength(input, '$', length); outcome != Outcome::kCommand) {
        return outcome;
      }
      if (length < 0) return Fail("invalid bulk length");
      if (static_cast<std::uint64_t>(length) > limits_.bulk_bytes_max) {
        return Fail("invalid bulk length (" + std::to_string(length) + " bytes; at most " +
                    std::to_string(limits_.bulk_bytes_max) + ")");
      }
      declared_bytes_ += static_cast<std::size_t>(length);
      if (declared_bytes_ > limits_.command_bytes_max) {
        return Fail("command too large (more than " + std::to_string(limits_.command_bytes_max) +
                    " bytes of arguments)");
      }
      bulk_length_ = length;
    }
    const std::size_t length = static_cast<std::size_t>(bulk_length_);
    if (input.size() < position_ + length + 2) return Outcome::kNeedMore;
    if (input[position_ + length] != '\r' || input[position_ + length + 1] != '\n') {
      return Fail("expected '\\r\\n' after a bulk string");
    }
    spans_.emplace_back(position_, length);
    position_ += length + 2;
    bulk_length_ = -1;
  }
  for (const auto& [offset, length] : spans_) args_.emplace_back(input.data() + offset, length);
  consumed_ = position_;
  Reset();
  return Outcome::kCommand;
}

RespParser::Outcome RespParser::ParseInline(std::string_view input) {
  const std::size_t newline = input.find('\n', scanned_);
  if (newline == std::string_view::npos) {
    if (input.size() > limits_.inline_bytes_max) return Fail("too big inline request");
    scanned_ = input.size();
    return Outcome::kNeedMore;
  }
  if (newline > limits_.inline_bytes_max) return Fail("too big inline request");
  std::string_view line = input.substr(0, newline);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  inline_storage_.clear();
  inline_storage_.reserve(line.size());
  if (!SplitInline(line, inline_storage_, args_)) {
    args_.clear();
    return Fail("unbalanced quotes in request");
  }
  consumed_ = newline + 1;
  Reset();
  return Outcome::kCommand;
}

}  // namespace meridian::api
