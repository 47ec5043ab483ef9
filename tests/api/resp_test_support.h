// Helpers for the RESP tests: encode commands as a client does, decode replies as a client
// does (a small RESP2 reply decoder, independent of the server's code).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::api::test_support {

// One decoded reply. type: '+' simple, '-' error, ':' integer, '$' bulk, '*' array.
struct RespValue {
  char type = 0;
  std::string text;  // simple, error, bulk
  std::int64_t integer = 0;
  std::vector<RespValue> elements;
  bool null = false;  // $-1 or *-1

  bool IsBulk(std::string_view expected) const { return type == '$' && !null && text == expected; }
  bool IsNil() const { return type == '$' && null; }
  bool IsError() const { return type == '-'; }
};

// "*N\r\n$len\r\narg\r\n..." for the given arguments.
inline std::string Command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& arg : args) {
    out += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  }
  return out;
}

// Decodes one reply from the front of `input` and removes it; nullopt when `input` does not
// hold a complete reply (or is malformed).
inline std::optional<RespValue> DecodeOne(std::string_view& input) {
  if (input.empty()) return std::nullopt;
  const std::size_t line_end = input.find("\r\n");
  if (line_end == std::string_view::npos) return std::nullopt;
  RespValue value;
  value.type = input[0];
  const std::string line(input.substr(1, line_end - 1));
  std::string_view rest = input.substr(line_end + 2);
  switch (value.type) {
    case '+':
    case '-':
      value.text = line;
      break;
    case ':':
      value.integer = std::stoll(line);
      break;
    case '$': {
      const long long length = std::stoll(line);
      if (length < 0) {
        value.null = true;
        break;
      }
      if (rest.size() < static_cast<std::size_t>(length) + 2) return std::nullopt;
      value.text = std::string(rest.substr(0, static_cast<std::size_t>(length)));
      if (rest.substr(static_cast<std::size_t>(length), 2) != "\r\n") return std::nullopt;
      rest.remove_prefix(static_cast<std::size_t>(length) + 2);
      break;
    }
    case '*': {
      const long long count = std::stoll(line);
      if (count < 0) {
        value.null = true;
        break;
      }
      for (long long i = 0; i < count; ++i) {
        std::optional<RespValue> element = DecodeOne(rest);
        if (!element) return std::nullopt;
        value.elements.push_back(std::move(*element));
      }
      break;
    }
    default:
      return std::nullopt;
  }
  input = rest;
  return value;
}

// Every complete reply in `input`; `complete` is false when bytes are left over.
inline std::vector<RespValue> DecodeAll(std::string_view input, bool* complete = nullptr) {
  std::vector<RespValue> values;
  while (std::optional<RespValue> value = DecodeOne(input)) values.push_back(std::move(*value));
  if (complete != nullptr) *complete = input.empty();
  return values;
}

}  // namespace meridian::api::test_support
