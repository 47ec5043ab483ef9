#include "client/request_options.h"

#include <charconv>
#include <cstdint>
#include <optional>
#include <utility>

namespace meridian::client::internal {
namespace {

Error InvalidArgument(std::string message) {
  Error error;
  error.code = ErrorCode::kInvalidArgument;
  error.message = std::move(message);
  return error;
}

// Appends "name=value" to `query` ("?" first, then "&"); quorum text needs no escaping.
Result<void> AddQuorum(std::string& query, std::string_view name,
                       const std::optional<std::string>& value) {
  if (!value) return {};
  if (!IsQuorumText(*value)) {
    return InvalidArgument(std::string(name) + " must be one, quorum, all or a number, not '" +
                           value->substr(0, 32) + "'");
  }
  query += query.empty() ? "?" : "&";
  query += std::string(name) + "=" + *value;
  return {};
}

void AddBool(std::string& query, std::string_view name, const std::optional<bool>& value) {
  if (!value) return;
  query += query.empty() ? "?" : "&";
  query += std::string(name) + (*value ? "=true" : "=false");
}

}  // namespace

bool IsQuorumText(std::string_view text) {
  if (text == "one" || text == "quorum" || text == "all") return true;
  std::uint32_t number = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, number);
  return !text.empty() && error == std::errc() && ptr == end;
}

Result<std::string> GetQuery(const GetOptions& options) {
  std::string query;
  if (auto added = AddQuorum(query, "r", options.r); !added.ok()) return added.error();
  if (auto added = AddQuorum(query, "pr", options.pr); !added.ok()) return added.error();
  AddBool(query, "sloppy_quorum", options.sloppy_quorum);
  return query;
}

Result<std::string> WriteQuery(const WriteOptions& options) {
  if (options.durable_write && options.dw) {
    return InvalidArgument("give dw or durable_write, not both");
  }
  std::optional<std::string> dw = options.dw;
  if (options.durable_write) dw = *options.durable_write ? "1" : "0";
  std::string query;
  if (auto added = AddQuorum(query, "w", options.w); !added.ok()) return added.error();
  if (auto added = AddQuorum(query, "pw", options.pw); !added.ok()) return added.error();
  if (auto added = AddQuorum(query, "dw", dw); !added.ok()) return added.error();
  AddBool(query, "sloppy_quorum", options.sloppy_quorum);
  return query;
}

}  // namespace meridian::client::internal
