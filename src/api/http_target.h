// Parsing of request targets: splitting path and query, percent-decoding (RFC 3986
// section 2.1) and query-string parameters. Stateless functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meridian::api {

struct SplitTargetResult {
  std::string_view path;   // before the first '?'
  std::string_view query;  // after it; empty when absent
};
SplitTargetResult SplitTarget(std::string_view target);

// Decodes %XX escapes (hex digits in either case) into bytes; every other byte is kept
// as is ('+' stays '+': this is a path, not a form). nullopt when a '%' is not followed by
// two hex digits.
std::optional<std::string> PercentDecode(std::string_view encoded);

// "a=1&b=2" -> {{"a","1"},{"b","2"}}, names and values percent-decoded; empty segments
// ("a=1&&b=2", a trailing '&') are skipped; "a" yields {"a", ""}. nullopt on a malformed
// escape.
std::optional<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query);

}  // namespace meridian::api
