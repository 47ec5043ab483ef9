#include "api/resp_writer.h"

#include <charconv>

namespace meridian::api::resp {

namespace {

// Appends `prefix`, `value` in decimal and CRLF.
template <typename Integer>
void AppendLine(std::string& out, char prefix, Integer value) {
  char text[24];
  text[0] = prefix;
  auto [end, error] = std::to_chars(text + 1, text + sizeof(text) - 2, value);
  (void)error;  // 24 bytes hold any 64-bit integer
  *end++ = '\r';
  *end++ = '\n';
  out.append(text, static_cast<std::size_t>(end - text));
}

// Appends `text` with CR and LF replaced by spaces.
void AppendLineSafe(std::string& out, std::string_view text) {
  const std::size_t start = out.size();
  out.append(text);
  for (std::size_t i = start; i < out.size(); ++i) {
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  }
}

}  // namespace

void AppendSimpleString(std::string& out, std::string_view text) {
  out.push_back('+');
  AppendLineSafe(out, text);
  out.append("\r\n");
}

void AppendError(std::string& out, std::string_view message) {
  out.push_back('-');
  AppendLineSafe(out, message);
  out.append("\r\n");
}

void AppendInteger(std::string& out, std::int64_t value) {
  AppendLine(out, ':', value);
}

void AppendBulkString(std::string& out, std::string_view bytes) {
  AppendLine(out, '$', bytes.size());
  out.append(bytes);
  out.append("\r\n");
}

void AppendNull(std::string& out) {
  out.append("$-1\r\n");
}

void AppendArrayHeader(std::string& out, std::size_t count) {
  AppendLine(out, '*', count);
}

}  // namespace meridian::api::resp
