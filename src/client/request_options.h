// Per-request quorum options as query strings (docs/api.md "Objects"), and the check of the
// quorum-setting text the public API takes. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "meridian/client.h"

namespace meridian::client::internal {

// "one", "quorum", "all" or a decimal number that fits 32 bits (the server checks the range).
bool IsQuorumText(std::string_view text);

// "" or "?r=...&pr=...&sloppy_quorum=..." for the options that are set; kInvalidArgument
// naming the option when a value is not quorum text.
Result<std::string> GetQuery(const GetOptions& options);

// "" or "?w=...&pw=...&dw=...&sloppy_quorum=..."; `durable_write` becomes dw=1|0.
// kInvalidArgument for a value that is not quorum text, or for both `durable_write` and `dw`.
Result<std::string> WriteQuery(const WriteOptions& options);

}  // namespace meridian::client::internal
