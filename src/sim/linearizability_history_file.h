// The history file of the linearizability checker (sim/linearizability.h): JSON Lines, one
// operation per line, written by the end-to-end tests (Python) and by WriteHistoryFile:
//   {"id":1,"client":0,"key":"k1","op":"write","value":"v1","call":3,"return":7,"outcome":"ok"}
//   {"id":2,"client":1,"key":"k1","op":"read","call":4,"return":9,"outcome":"ok",
//    "observed":"v1"}
//   {"id":3,"client":2,"key":"k1","op":"cas","expected":"v1","value":"v2","call":10,
//    "return":15,"outcome":"ok","succeeded":true}
//   {"id":4,"client":2,"key":"k1","op":"delete","call":16,"return":null,"outcome":"unknown"}
// Fields: id, client, call (non-negative integers); key (string); op ("read", "write",
// "delete", "cas"); outcome ("ok", "failed", "unknown"); return (integer, or null / missing
// unless the outcome is ok). Per op: write needs "value" (string); cas needs "expected" and
// "value" (string, or null: absent / delete); an ok read needs "observed" (string or null:
// absent); an ok cas needs "succeeded" (boolean). Other fields are errors; blank lines are
// skipped. Values are JSON strings, so they must be valid UTF-8.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sim/linearizability.h"

namespace meridian::sim {

// Parses history text. Errors are InvalidArgument and name the (1-based) line; the history is
// also checked with ValidateHistory.
Result<std::vector<Operation>> ParseHistory(std::string_view text);

// The text of `history`, one line per operation, in order; ParseHistory reads it back equal.
// InvalidArgument when a key or value is not valid UTF-8.
Result<std::string> FormatHistory(const std::vector<Operation>& history);

// ParseHistory of the file at `path` (IoError when it cannot be read).
Result<std::vector<Operation>> ReadHistoryFile(const std::string& path);

// Writes FormatHistory(history) to `path`, replacing it (IoError when it cannot be written).
Status WriteHistoryFile(const std::string& path, const std::vector<Operation>& history);

}  // namespace meridian::sim
