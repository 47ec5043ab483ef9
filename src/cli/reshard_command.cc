// `meridian reshard --data-dir D --shards N` (docs/operations.md "Changing the shard count"):
// offline, changes the shard count of a stopped node's data directory
// (runtime/reshard.h); `meridian reshard --data-dir D` alone finishes an interrupted one.
//
// Exit codes as for the other commands: 0 success, 1 the reshard failed, 2 usage error; every
// failure prints exactly one line to stderr.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/client_connection.h"
#include "cli/commands.h"
#include "runtime/reshard.h"

namespace meridian::cli {
namespace {

struct ReshardArguments {
  std::string data_dir;
  std::uint32_t shards = 0;
};

std::optional<Failure> RunReshard(const ReshardArguments& arguments) {
  if (arguments.data_dir.empty()) return Failure{kExitUsage, "missing --data-dir DIR"};
  Result<runtime::ReshardReport> report =
      runtime::ReshardDataDirectory({arguments.data_dir, arguments.shards});
  if (!report.ok()) {
    const bool usage = report.status().code() == StatusCode::kInvalidArgument;
    return Failure{usage ? kExitUsage : kExitRequestFailed, Printable(report.status().message())};
  }
  std::string line;
  if (report->finished_interrupted) {
    line = "finished the interrupted reshard of " + Printable(report->data_dir) + " to " +
           std::to_string(report->to_shards) + " shards";
  } else {
    line = "resharded " + Printable(report->data_dir) + " from " +
           std::to_string(report->from_shards) + " to " + std::to_string(report->to_shards) +
           " shards (" + std::to_string(report->objects) + " objects, " +
           std::to_string(report->hints) + " hints, " + std::to_string(report->strong_records) +
           " strong records, " + std::to_string(report->bytes) + " bytes)";
  }
  line += "; the old databases are in " + Printable(report->moved_aside) +
          " (delete them once the node runs well); start the node with shards = 0 (the "
          "default) or " +
          std::to_string(report->to_shards);
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
  return std::nullopt;
}

}  // namespace

void AddReshardCommand(CLI::App& app, int& exit_code) {
  auto arguments = std::make_shared<ReshardArguments>();
  CLI::App* reshard = app.add_subcommand(
      "reshard", "Change the shard count of a stopped node's data directory (offline)");
  reshard->add_option("--data-dir", arguments->data_dir, "The stopped node's data directory");
  reshard->add_option("--shards", arguments->shards,
                      "The new shard count (1 to the partition count); omitted: only finish an "
                      "interrupted reshard");
  reshard->footer(
      "Builds the new databases beside the old ones (the disk needs room for a second copy), "
      "then moves the old ones aside to <data-dir>.before-reshard-<ms> and the new ones in.\n"
      "Exit codes: 0 success, 1 reshard failed, 2 usage error.");
  reshard->callback(
      [arguments, &exit_code] { exit_code = Report("reshard", RunReshard(*arguments)); });
}

}  // namespace meridian::cli
