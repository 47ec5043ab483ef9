#include "sim/linearizability_history_file.h"

#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>

namespace meridian::sim {
namespace {

const std::set<std::string, std::less<>> kFields = {"id",       "client",   "key",      "op",
                                                    "call",     "return",   "outcome",  "value",
                                                    "expected", "observed", "succeeded"};

// Reads the fields of one line's object; errors name the field (the caller adds the line).
class LineReader {
 public:
  explicit LineReader(const nlohmann::json& object) : object_(object) {}

  bool Has(std::string_view name) const { return object_.contains(name); }

  Result<std::uint64_t> Unsigned(const std::string& name) const {
    if (!Has(name)) return Missing(name);
    const nlohmann::json& value = object_.at(name);
    if (!value.is_number_unsigned()) {
      return Status::InvalidArgument("\"" + name + "\" must be a non-negative integer");
    }
    return value.get<std::uint64_t>();
  }
  Result<std::optional<std::uint64_t>> OptionalUnsigned(const std::string& name) const {
    if (!Has(name) || object_.at(name).is_null()) return std::optional<std::uint64_t>();
    Result<std::uint64_t> value = Unsigned(name);
    if (!value.ok()) return Status::InvalidArgument(value.status().message() + " or null");
    return std::optional<std::uint64_t>(*value);
  }
  Result<std::string> String(const std::string& name) const {
    if (!Has(name)) return Missing(name);
    const nlohmann::json& value = object_.at(name);
    if (!value.is_string()) return Status::InvalidArgument("\"" + name + "\" must be a string");
    return value.get<std::string>();
  }
  // A string, or null (nullopt). Required.
  Result<std::optional<std::string>> NullableString(const std::string& name) const {
    if (!Has(name)) return Missing(name);
    const nlohmann::json& value = object_.at(name);
    if (value.is_null()) return std::optional<std::string>();
    if (!value.is_string()) {
      return Status::InvalidArgument("\"" + name + "\" must be a string or null");
    }
    return std::optional<std::string>(value.get<std::string>());
  }
  Result<bool> Bool(const std::string& name) const {
    if (!Has(name)) return Missing(name);
    const nlohmann::json& value = object_.at(name);
    if (!value.is_boolean()) return Status::InvalidArgument("\"" + name + "\" must be a boolean");
    return value.get<bool>();
  }

 private:
  static Status Missing(const std::string& name) {
    return Status::InvalidArgument("missing field \"" + name + "\"");
  }
  const nlohmann::json& object_;
};

Status NotAllowed(const std::string& field, const std::string& where) {
  return Status::InvalidArgument("field \"" + field + "\" is not allowed " + where);
}

Result<Operation> ParseOperation(const nlohmann::json& object) {
  if (!object.is_object()) return Status::InvalidArgument("not a JSON object");
  for (const auto& [name, value] : object.items()) {
    if (!kFields.contains(name)) return Status::InvalidArgument("unknown field \"" + name + "\"");
  }
  const LineReader reader(object);
  Operation op;
  Result<std::uint64_t> id = reader.Unsigned("id");
  if (!id.ok()) return id.status();
  op.id = *id;
  Result<std::uint64_t> client = reader.Unsigned("client");
  if (!client.ok()) return client.status();
  op.client = *client;
  Result<std::string> key = reader.String("key");
  if (!key.ok()) return key.status();
  op.key = std::move(*key);

  Result<std::string> kind = reader.String("op");
  if (!kind.ok()) return kind.status();
  if (*kind == "read") {
    op.kind = OpKind::kRead;
  } else if (*kind == "write") {
    op.kind = OpKind::kWrite;
  } else if (*kind == "delete") {
    op.kind = OpKind::kDelete;
  } else if (*kind == "cas") {
    op.kind = OpKind::kCas;
  } else {
    return Status::InvalidArgument(
        "\"op\" must be \"read\", \"write\", \"delete\" or \"cas\", not \"" + *kind + "\"");
  }

  Result<std::string> outcome = reader.String("outcome");
  if (!outcome.ok()) return outcome.status();
  if (*outcome == "ok") {
    op.outcome = OpOutcome::kOk;
  } else if (*outcome == "failed") {
    op.outcome = OpOutcome::kFailed;
  } else if (*outcome == "unknown") {
    op.outcome = OpOutcome::kUnknown;
  } else {
    return Status::InvalidArgument("\"outcome\" must be \"ok\", \"failed\" or \"unknown\", not \"" +
                                   *outcome + "\"");
  }
  const bool ok = op.outcome == OpOutcome::kOk;

  Result<std::uint64_t> call = reader.Unsigned("call");
  if (!call.ok()) return call.status();
  op.call_time = *call;
  if (ok) {
    Result<std::uint64_t> returned = reader.Unsigned("return");
    if (!returned.ok()) {
      return Status::InvalidArgument(returned.status().message() + " (the outcome is ok)");
    }
    op.return_time = *returned;
  } else {
    Result<std::optional<std::uint64_t>> returned = reader.OptionalUnsigned("return");
    if (!returned.ok()) return returned.status();
    op.return_time = *returned;
  }
  if (op.return_time && *op.return_time < op.call_time) {
    return Status::InvalidArgument(
        fmt::format("\"return\" ({}) is before \"call\" ({})", *op.return_time, op.call_time));
  }

  const std::string where = "on a " + *kind;
  switch (op.kind) {
    case OpKind::kRead:
    case OpKind::kDelete:
      if (reader.Has("value")) return NotAllowed("value", where);
      break;
    case OpKind::kWrite: {
      Result<std::string> value = reader.String("value");
      if (!value.ok()) return value.status();
      op.value = std::move(*value);
      break;
    }
    case OpKind::kCas: {
      Result<std::optional<std::string>> value = reader.NullableString("value");
      if (!value.ok()) return value.status();
      op.value = std::move(*value);
      Result<std::optional<std::string>> expected = reader.NullableString("expected");
      if (!expected.ok()) return expected.status();
      op.expected = std::move(*expected);
      break;
    }
  }
  if (op.kind != OpKind::kCas && reader.Has("expected")) return NotAllowed("expected", where);
  if (op.kind != OpKind::kCas && reader.Has("succeeded")) return NotAllowed("succeeded", where);
  if (op.kind != OpKind::kRead && reader.Has("observed")) return NotAllowed("observed", where);
  // Results: required when the outcome is ok, accepted (and kept) otherwise.
  if (op.kind == OpKind::kRead && (ok || reader.Has("observed"))) {
    Result<std::optional<std::string>> observed = reader.NullableString("observed");
    if (!observed.ok()) return observed.status();
    op.observed = std::move(*observed);
  }
  if (op.kind == OpKind::kCas && (ok || reader.Has("succeeded"))) {
    Result<bool> succeeded = reader.Bool("succeeded");
    if (!succeeded.ok()) return succeeded.status();
    op.succeeded = *succeeded;
  }
  return op;
}

nlohmann::ordered_json NullableJson(const std::optional<std::string>& value) {
  if (!value) return nullptr;
  return *value;
}

}  // namespace

Result<std::vector<Operation>> ParseHistory(std::string_view text) {
  std::vector<Operation> history;
  std::unordered_map<std::uint64_t, std::size_t> id_lines;
  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = fmt::format("line {}: ", line_number);
    nlohmann::json object;
    try {
      object = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& error) {
      return Status::InvalidArgument(where + "invalid JSON: " + error.what());
    }
    Result<Operation> op = ParseOperation(object);
    if (!op.ok()) return Status::InvalidArgument(where + op.status().message());
    const auto [first, inserted] = id_lines.emplace(op->id, line_number);
    if (!inserted) {
      return Status::InvalidArgument(
          fmt::format("{}duplicate id {} (first on line {})", where, op->id, first->second));
    }
    history.push_back(std::move(*op));
  }
  if (Status valid = ValidateHistory(history); !valid.ok()) return valid;
  return history;
}

Result<std::string> FormatHistory(const std::vector<Operation>& history) {
  std::string text;
  for (const Operation& op : history) {
    nlohmann::ordered_json line;
    line["id"] = op.id;
    line["client"] = op.client;
    line["key"] = op.key;
    line["op"] = std::string(OpKindName(op.kind));
    if (op.kind == OpKind::kCas) line["expected"] = NullableJson(op.expected);
    if (op.kind == OpKind::kWrite || op.kind == OpKind::kCas)
      line["value"] = NullableJson(op.value);
    line["call"] = op.call_time;
    line["return"] = op.return_time ? nlohmann::ordered_json(*op.return_time) : nullptr;
    line["outcome"] = std::string(OpOutcomeName(op.outcome));
    const bool ok = op.outcome == OpOutcome::kOk;
    if (op.kind == OpKind::kRead && (ok || op.observed))
      line["observed"] = NullableJson(op.observed);
    if (op.kind == OpKind::kCas && (ok || op.succeeded)) line["succeeded"] = op.succeeded;
    try {
      text += line.dump();
    } catch (const nlohmann::json::type_error& error) {
      return Status::InvalidArgument(
          fmt::format("op {}: cannot be written as JSON: {}", op.id, error.what()));
    }
    text += '\n';
  }
  return text;
}

Result<std::vector<Operation>> ReadHistoryFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot open " + path);
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return Status::IoError("cannot read " + path);
  Result<std::vector<Operation>> history = ParseHistory(contents.str());
  if (!history.ok()) return Status::InvalidArgument(path + ": " + history.status().message());
  return history;
}

Status WriteHistoryFile(const std::string& path, const std::vector<Operation>& history) {
  Result<std::string> text = FormatHistory(history);
  if (!text.ok()) return text.status();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IoError("cannot create " + path);
  out << *text;
  out.flush();
  if (!out) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

}  // namespace meridian::sim
