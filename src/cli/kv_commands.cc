// `meridian get|put|delete`: the command-line client, built on the public client library
// (include/meridian/client.h) only. Exit codes: 0 success, 1 request/server error, 2 usage
// error, 3 key not found (get). Every failure prints exactly one line to stderr; -v adds one
// `consistency: ...` line (the server's receipt) to stderr before it.
//
// Options are parsed as text and validated here (extras allowed and rejected by hand) so that
// every usage error, including an unknown flag, exits 2 with one line.
#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "cli/client_connection.h"
#include "cli/commands.h"
#include "meridian/client.h"

namespace meridian::cli {
namespace {

namespace mc = meridian::client;

constexpr int kExitNotFound = 3;
constexpr int kExitPreconditionFailed = 4;  // a conditional write whose condition did not hold

// Flags shared by get, put and delete, plus each command's own.
struct KvArguments {
  std::string key;
  std::string value;
  std::string bucket = "default";
  ConnectionFlags connection;
  std::string context;
  // Quorum overrides as given (empty: not given); get: r, pr; put/delete: w, pw, dw.
  std::string r;
  std::string pr;
  std::string w;
  std::string pw;
  std::string dw;
  std::string sloppy_quorum;  // "true" | "false" | empty
  std::string if_match;       // --if-match CONTEXT
  bool if_absent = false;     // --if-absent
  bool if_present = false;    // --if-present
  std::string file;
  bool json = false;
  bool show_context = false;
  bool verbose = false;
  CLI::Option* key_option = nullptr;
  CLI::Option* value_option = nullptr;
};

std::string Base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string text;
  text.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t count = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      group <<= 8;
      if (j < count) group |= static_cast<unsigned char>(bytes[i + j]);
    }
    for (std::size_t j = 0; j < 4; ++j) {
      text.push_back(j <= count ? kAlphabet[(group >> (18 - 6 * j)) & 0x3F] : '=');
    }
  }
  return text;
}

void WriteBytes(std::string_view bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
}

void AddCommonOptions(CLI::App& command, KvArguments& arguments) {
  arguments.key_option = command.add_option("key", arguments.key, "The key (any bytes)");
  command.add_option("--bucket", arguments.bucket, "The bucket")->capture_default_str();
  AddConnectionFlags(command, arguments.connection);
  command.allow_extras();
}

constexpr const char* kQuorumForms = "one, quorum, all or a number";

void AddSloppyQuorumOption(CLI::App& command, KvArguments& arguments) {
  command.add_option("--sloppy-quorum", arguments.sloppy_quorum,
                     "true|false: let fallbacks stand in for unreachable primaries "
                     "(default: the bucket's)");
}

void AddReadOptions(CLI::App& command, KvArguments& arguments) {
  command.add_option("--r", arguments.r,
                     "Replies to wait for: one, quorum, all or a number (default: the bucket's)");
  command.add_option("--pr", arguments.pr,
                     "Of those, how many must be primaries (default: the bucket's)");
  AddSloppyQuorumOption(command, arguments);
  command.add_flag("-v,--verbose", arguments.verbose, "Print the consistency receipt to stderr");
}

void AddWriteOptions(CLI::App& command, KvArguments& arguments) {
  command.add_option("--context", arguments.context, "Causal context from a previous get");
  command.add_option("--w", arguments.w,
                     "Acknowledgements to wait for: one, quorum, all or a number "
                     "(default: the bucket's)");
  command.add_option("--pw", arguments.pw,
                     "Of those, how many must be primaries (default: the bucket's)");
  command.add_option("--dw", arguments.dw,
                     "Of those, how many must be synced to disk (default: the bucket's)");
  AddSloppyQuorumOption(command, arguments);
  CLI::Option* if_match = command.add_option(
      "--if-match", arguments.if_match,
      "Write only if the key's current version is exactly this context (compare-and-set)");
  CLI::Option* if_absent =
      command.add_flag("--if-absent", arguments.if_absent, "Write only if the key does not exist");
  CLI::Option* if_present =
      command.add_flag("--if-present", arguments.if_present, "Write only if the key exists");
  if_match->excludes(if_absent)->excludes(if_present)->excludes("--context");
  if_absent->excludes(if_present);
  command.add_flag("-v,--verbose", arguments.verbose,
                   "Print the new context to stdout and the consistency receipt to stderr");
}

// one | quorum | all | a decimal number (the server checks the range).
bool IsQuorumText(const std::string& text) {
  return text == "one" || text == "quorum" || text == "all" || ParseUnsigned(text).has_value();
}

std::optional<Failure> CheckUsage(const CLI::App& command, const KvArguments& arguments) {
  const auto extras = command.remaining();
  if (!extras.empty()) {
    return Failure{kExitUsage, "unexpected argument '" + Printable(extras.front()) + "'"};
  }
  if (arguments.key_option->count() == 0) return Failure{kExitUsage, "missing KEY"};
  if (arguments.key.empty()) return Failure{kExitUsage, "KEY must not be empty"};
  const std::pair<const char*, const std::string*> quorums[] = {{"--r", &arguments.r},
                                                                {"--pr", &arguments.pr},
                                                                {"--w", &arguments.w},
                                                                {"--pw", &arguments.pw},
                                                                {"--dw", &arguments.dw}};
  for (const auto& [flag, value] : quorums) {
    const CLI::Option* option = command.get_option_no_throw(flag);
    if (option != nullptr && option->count() > 0 && !IsQuorumText(*value)) {
      return Failure{kExitUsage, std::string(flag) + " must be " + kQuorumForms + ", not '" +
                                     Printable(*value) + "'"};
    }
  }
  const CLI::Option* sloppy = command.get_option_no_throw("--sloppy-quorum");
  if (sloppy != nullptr && sloppy->count() > 0 && arguments.sloppy_quorum != "true" &&
      arguments.sloppy_quorum != "false") {
    return Failure{kExitUsage, "--sloppy-quorum must be true or false"};
  }
  return std::nullopt;
}

std::optional<std::string> Given(const std::string& value) {
  if (value.empty()) return std::nullopt;
  return value;
}

std::optional<bool> SloppyQuorumOf(const KvArguments& arguments) {
  if (arguments.sloppy_quorum.empty()) return std::nullopt;
  return arguments.sloppy_quorum == "true";
}

mc::GetOptions GetOptionsOf(const KvArguments& arguments) {
  mc::GetOptions options;
  options.r = Given(arguments.r);
  options.pr = Given(arguments.pr);
  options.sloppy_quorum = SloppyQuorumOf(arguments);
  return options;
}

mc::WriteOptions WriteOptionsOf(const KvArguments& arguments) {
  mc::WriteOptions options;
  options.context = arguments.context;
  if (!arguments.if_match.empty()) {
    options.condition = mc::WriteOptions::Condition::kIfMatch;
    options.context = arguments.if_match;
  } else if (arguments.if_absent) {
    options.condition = mc::WriteOptions::Condition::kIfAbsent;
  } else if (arguments.if_present) {
    options.condition = mc::WriteOptions::Condition::kIfPresent;
  }
  options.w = Given(arguments.w);
  options.pw = Given(arguments.pw);
  options.dw = Given(arguments.dw);
  options.sloppy_quorum = SloppyQuorumOf(arguments);
  return options;
}

// -v: "consistency: n=3 r=2 replies=2 primaries=2 fallbacks=0 behind=0" (get) or
// "consistency: n=3 w=2 replies=2 primaries=2 fallbacks=0 durable=0 hinted=0" (writes).
void PrintConsistency(const std::optional<mc::Consistency>& consistency, bool write) {
  if (!consistency) {
    std::fprintf(stderr, "consistency: not reported by the server\n");
    return;
  }
  const mc::Consistency& c = *consistency;
  std::string line = "consistency: n=" + std::to_string(c.n) + (write ? " w=" : " r=") +
                     std::to_string(c.required) + " replies=" + std::to_string(c.replies) +
                     " primaries=" + std::to_string(c.primaries) +
                     " fallbacks=" + std::to_string(c.fallbacks);
  if (write) {
    line += " durable=" + std::to_string(c.durable) + " hinted=" + std::to_string(c.hinted);
  } else {
    line += " behind=" + std::to_string(c.behind);
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

std::optional<Failure> RunGet(mc::Client& client, const KvArguments& arguments) {
  auto result = client.Get(arguments.bucket, arguments.key, GetOptionsOf(arguments));
  if (!result.ok()) return RequestFailed(result.error());
  if (arguments.verbose) PrintConsistency(result->consistency, /*write=*/false);
  if (arguments.show_context && !result->context.empty()) {
    std::fprintf(stderr, "context: %s\n", result->context.c_str());
  }
  if (!result->found) {
    return Failure{kExitNotFound,
                   "not found: " + arguments.bucket + "/" + Printable(arguments.key)};
  }
  const auto& siblings = result->siblings;
  if (arguments.json) {
    nlohmann::json document = {{"context", result->context}, {"siblings", nlohmann::json::array()}};
    for (const auto& sibling : siblings) {
      nlohmann::json entry = {{"value", Base64Encode(sibling.value)}};
      if (siblings.size() > 1) entry["timestamp_ms"] = sibling.timestamp_ms;
      document["siblings"].push_back(std::move(entry));
    }
    WriteBytes(document.dump() + "\n");
  } else if (siblings.size() == 1) {
    WriteBytes(siblings.front().value);
  } else {
    for (std::size_t i = 0; i < siblings.size(); ++i) {
      WriteBytes("--- sibling " + std::to_string(i + 1) + "/" + std::to_string(siblings.size()) +
                 " timestamp_ms=" + std::to_string(siblings[i].timestamp_ms) +
                 " bytes=" + std::to_string(siblings[i].value.size()) + "\n");
      WriteBytes(siblings[i].value);
      WriteBytes("\n");
    }
  }
  std::fflush(stdout);
  return std::nullopt;
}

std::variant<std::string, Failure> ReadValue(const KvArguments& arguments) {
  const bool from_argument = arguments.value_option->count() > 0;
  if (from_argument && !arguments.file.empty()) {
    return Failure{kExitUsage, "give VALUE or --file, not both"};
  }
  if (from_argument) return arguments.value;
  std::ostringstream bytes;
  if (!arguments.file.empty()) {
    std::ifstream file(arguments.file, std::ios::binary);
    if (!file) return Failure{kExitUsage, "cannot open --file " + arguments.file};
    bytes << file.rdbuf();
    if (file.bad()) return Failure{kExitRequestFailed, "cannot read --file " + arguments.file};
    return std::move(bytes).str();
  }
  std::string value;
  char chunk[65536];
  while (const std::size_t read = std::fread(chunk, 1, sizeof(chunk), stdin)) {
    value.append(chunk, read);
  }
  if (std::ferror(stdin)) return Failure{kExitRequestFailed, "cannot read the value from stdin"};
  return value;
}

std::optional<Failure> ReportWrite(const mc::Result<mc::WriteResult>& result,
                                   const KvArguments& arguments) {
  if (!result.ok()) {
    if (result.error().code == mc::ErrorCode::kPreconditionFailed) {
      return Failure{kExitPreconditionFailed, "not written: " + result.error().message};
    }
    return RequestFailed(result.error());
  }
  if (arguments.verbose) {
    PrintConsistency(result->consistency, /*write=*/true);
    WriteBytes(result->context + "\n");
  }
  std::fflush(stdout);
  return std::nullopt;
}

std::optional<Failure> RunPut(mc::Client& client, const KvArguments& arguments) {
  auto value = ReadValue(arguments);
  if (auto* failure = std::get_if<Failure>(&value)) return *failure;
  return ReportWrite(client.Put(arguments.bucket, arguments.key, std::get<std::string>(value),
                                WriteOptionsOf(arguments)),
                     arguments);
}

std::optional<Failure> RunDelete(mc::Client& client, const KvArguments& arguments) {
  return ReportWrite(client.Delete(arguments.bucket, arguments.key, WriteOptionsOf(arguments)),
                     arguments);
}

using Runner = std::optional<Failure> (*)(mc::Client&, const KvArguments&);

// Validates, connects, runs, and turns the outcome into an exit code plus one stderr line.
void SetCallback(CLI::App& command, const std::shared_ptr<KvArguments>& arguments, Runner run,
                 int& exit_code) {
  command.callback([&command, arguments, run, &exit_code] {
    std::optional<Failure> failure = CheckUsage(command, *arguments);
    if (!failure) {
      failure = WithClient(arguments->connection,
                           [&](mc::Client& client) { return run(client, *arguments); });
    }
    exit_code = Report(command.get_name(), failure);
  });
}

}  // namespace

void AddKvCommands(CLI::App& app, int& exit_code) {
  auto get_arguments = std::make_shared<KvArguments>();
  CLI::App* get = app.add_subcommand("get", "Read a key; writes its value bytes to stdout");
  AddCommonOptions(*get, *get_arguments);
  get->add_flag("--json", get_arguments->json,
                "Print {\"context\", \"siblings\": [{\"value\": base64, ...}]} instead of bytes");
  get->add_flag("--show-context", get_arguments->show_context, "Print the context to stderr");
  AddReadOptions(*get, *get_arguments);
  get->footer(
      "One value: its bytes, unmodified. Siblings: for each, a line\n"
      "'--- sibling I/N timestamp_ms=T bytes=B', the value bytes, and a newline.\n"
      "Exit codes: 0 found, 1 request failed, 2 usage error, 3 not found.");
  SetCallback(*get, get_arguments, RunGet, exit_code);

  auto put_arguments = std::make_shared<KvArguments>();
  CLI::App* put = app.add_subcommand("put", "Write a value (from VALUE, --file or stdin)");
  AddCommonOptions(*put, *put_arguments);
  put_arguments->value_option = put->add_option("value", put_arguments->value, "The value bytes");
  put->add_option("--file", put_arguments->file, "Read the value from this file");
  AddWriteOptions(*put, *put_arguments);
  put->footer(
      "Exit codes: 0 written, 1 request failed, 2 usage error, 4 not written: the condition\n"
      "(--if-match, --if-absent, --if-present) did not hold.");
  SetCallback(*put, put_arguments, RunPut, exit_code);

  auto delete_arguments = std::make_shared<KvArguments>();
  CLI::App* remove = app.add_subcommand("delete", "Delete a key (a tombstone)");
  AddCommonOptions(*remove, *delete_arguments);
  AddWriteOptions(*remove, *delete_arguments);
  remove->footer(
      "Exit codes: 0 deleted (also when missing), 1 request failed, 2 usage error, 4 not\n"
      "deleted: the condition (--if-match, --if-absent, --if-present) did not hold.");
  SetCallback(*remove, delete_arguments, RunDelete, exit_code);
}

}  // namespace meridian::cli
