// `meridian backup` and `meridian restore` (docs/operations.md "Backup and restore").
//
//   backup --to DIR [--url URL]   the node at URL writes a backup of itself into DIR, a new
//                                 absolute directory on its own machine
//   backup --cluster --to DIR     asks the node at URL for the members and has every member
//                                 (not removed) write a backup into DIR/<node-id>; fails,
//                                 naming them, unless every member succeeded
//   restore --from DIR --data-dir D [--force] [--url URL]
//                                 offline: puts the backup in DIR in place as the stopped
//                                 node's data in D (runtime/backup_restore.h); with --url, a
//                                 live member tells the node's highest incarnation first
//
// Exit codes as for the other commands: 0 success, 1 request or restore failed, 2 usage error;
// every failure prints exactly one line to stderr.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cli/client_connection.h"
#include "cli/commands.h"
#include "meridian/client.h"
#include "runtime/backup_restore.h"

namespace meridian::cli {
namespace {

namespace mc = meridian::client;

// A backup of a large node takes a while; the request waits this long by default.
constexpr const char* kBackupTimeoutMsDefault = "600000";

struct BackupArguments {
  ConnectionFlags connection;
  std::string to;
  bool cluster = false;
};

struct RestoreArguments {
  ConnectionFlags connection;
  CLI::Option* url_option = nullptr;
  std::string from;
  std::string data_dir;
  bool force = false;
};

void PrintLine(const std::string& line) {
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

std::string Describe(const mc::BackupResult& result) {
  return "backed up node " + Printable(result.node) + " into " + Printable(result.directory) +
         " (" + std::to_string(result.files) + " files, " + std::to_string(result.bytes) +
         " bytes, " + std::to_string(result.milliseconds) + " ms, ring version " +
         std::to_string(result.ring_version) + ")";
}

// The backup of the node `flags` names, into `directory`.
std::variant<mc::BackupResult, Failure> BackupOne(const ConnectionFlags& flags,
                                                  const std::string& directory) {
  auto client = Connect(flags);
  if (auto* failure = std::get_if<Failure>(&client)) return *failure;
  auto result = std::get<std::unique_ptr<mc::Client>>(client)->Backup(directory);
  if (!result.ok()) return RequestFailed(result.error());
  return std::move(*result);
}

std::optional<Failure> RunBackup(const BackupArguments& arguments) {
  if (arguments.to.empty()) return Failure{kExitUsage, "missing --to DIR"};
  if (!std::filesystem::path(arguments.to).is_absolute()) {
    return Failure{kExitUsage, "--to must be an absolute path (on the node's machine)"};
  }
  if (!arguments.cluster) {
    auto result = BackupOne(arguments.connection, arguments.to);
    if (auto* failure = std::get_if<Failure>(&result)) return *failure;
    PrintLine(Describe(std::get<mc::BackupResult>(result)));
    return std::nullopt;
  }
  // Every member the answering node knows, each asked at its own HTTP address, over the same
  // scheme and with the same credentials.
  auto client = Connect(arguments.connection);
  if (auto* failure = std::get_if<Failure>(&client)) return *failure;
  auto status = std::get<std::unique_ptr<mc::Client>>(client)->ClusterStatus();
  if (!status.ok()) return RequestFailed(status.error());
  const std::string scheme =
      arguments.connection.url.starts_with("https://") ? "https://" : "http://";
  std::vector<std::string> failed;
  std::string first_error;
  std::size_t members = 0;
  for (const mc::ClusterMember& member : status->members) {
    if (member.status == "removed") continue;
    ++members;
    ConnectionFlags flags = arguments.connection;
    flags.url = scheme + member.http_address;
    const std::string directory = (std::filesystem::path(arguments.to) / member.id).string();
    auto result = member.http_address.empty() ? std::variant<mc::BackupResult, Failure>(Failure{
                                                    kExitRequestFailed, "no HTTP address known"})
                                              : BackupOne(flags, directory);
    if (auto* failure = std::get_if<Failure>(&result)) {
      failed.push_back(member.id);
      if (first_error.empty()) first_error = member.id + ": " + failure->message;
      std::fprintf(stderr, "node %s: backup failed: %s\n", Printable(member.id).c_str(),
                   failure->message.c_str());
      continue;
    }
    PrintLine(Describe(std::get<mc::BackupResult>(result)));
  }
  if (!failed.empty()) {
    std::string names;
    for (const std::string& id : failed) names += (names.empty() ? "" : ", ") + Printable(id);
    return Failure{kExitRequestFailed, std::to_string(failed.size()) + " of " +
                                           std::to_string(members) + " members failed (" + names +
                                           "); first: " + Printable(first_error)};
  }
  PrintLine("backed up " + std::to_string(members) + " members of cluster " +
            Printable(status->cluster_name) + " into " + Printable(arguments.to));
  return std::nullopt;
}

std::optional<Failure> RunRestore(const RestoreArguments& arguments) {
  if (arguments.from.empty()) return Failure{kExitUsage, "missing --from DIR"};
  if (arguments.data_dir.empty()) return Failure{kExitUsage, "missing --data-dir DIR"};
  runtime::RestoreOptions options;
  options.backup_directory = arguments.from;
  options.data_dir = arguments.data_dir;
  options.force = arguments.force;
  if (arguments.url_option->count() > 0) {
    // The incarnation the cluster knows of this node: its lives after the backup count.
    Result<runtime::BackupManifest> manifest = runtime::ReadBackupManifest(arguments.from);
    if (!manifest.ok()) return Failure{kExitRequestFailed, Printable(manifest.status().message())};
    auto client = Connect(arguments.connection);
    if (auto* failure = std::get_if<Failure>(&client)) return *failure;
    auto status = std::get<std::unique_ptr<mc::Client>>(client)->ClusterStatus();
    if (!status.ok()) return RequestFailed(status.error());
    if (status->cluster_name != manifest->cluster_name) {
      return Failure{kExitRequestFailed, "the node at --url belongs to cluster " +
                                             Printable(status->cluster_name) + ", the backup to " +
                                             Printable(manifest->cluster_name)};
    }
    for (const mc::ClusterMember& member : status->members) {
      if (member.id == manifest->node_id) options.incarnation_floor = member.incarnation;
    }
  }
  Result<runtime::RestoreReport> report = runtime::RestoreBackup(options);
  if (!report.ok()) return Failure{kExitRequestFailed, Printable(report.status().message())};
  if (!report->moved_aside.empty()) {
    PrintLine("moved the old " + Printable(report->data_dir) + " aside to " +
              Printable(report->moved_aside));
  }
  PrintLine("restored node " + Printable(report->manifest.node_id) + " of cluster " +
            Printable(report->manifest.cluster_name) + " into " + Printable(report->data_dir) +
            " (" + std::to_string(report->files) + " files, " + std::to_string(report->bytes) +
            " bytes, incarnation " + std::to_string(report->stored_incarnation) +
            "); start it with node_id = \"" + Printable(report->manifest.node_id) +
            "\" and cluster_name = \"" + Printable(report->manifest.cluster_name) + "\"");
  return std::nullopt;
}

}  // namespace

void AddBackupCommands(CLI::App& app, int& exit_code) {
  auto backup_arguments = std::make_shared<BackupArguments>();
  CLI::App* backup = app.add_subcommand(
      "backup", "Have a running node (or every member) write a consistent backup of its data");
  backup_arguments->connection.timeout_ms = kBackupTimeoutMsDefault;  // shown by --help
  AddConnectionFlags(*backup, backup_arguments->connection);
  backup->add_option("--to", backup_arguments->to,
                     "New absolute directory on the node's machine (with --cluster: one "
                     "subdirectory per member id)");
  backup->add_flag("--cluster", backup_arguments->cluster,
                   "Back up every member the --url node knows, each into --to/<node-id>");
  backup->footer("Exit codes: 0 success, 1 request failed, 2 usage error.");
  backup->callback([backup_arguments, &exit_code] {
    exit_code = Report("backup", RunBackup(*backup_arguments));
  });

  auto restore_arguments = std::make_shared<RestoreArguments>();
  CLI::App* restore = app.add_subcommand(
      "restore", "Put a backup in place as a stopped node's data directory (offline)");
  restore->add_option("--from", restore_arguments->from,
                      "A backup directory (holds backup.json and db/)");
  restore->add_option("--data-dir", restore_arguments->data_dir,
                      "The stopped node's data directory");
  restore->add_flag("--force", restore_arguments->force,
                    "Move a non-empty --data-dir aside (renamed to <dir>.before-restore-<ms>) "
                    "instead of refusing");
  AddConnectionFlags(*restore, restore_arguments->connection);
  restore_arguments->url_option = restore->get_option("--url");
  restore->footer(
      "With --url (a live member of the node's cluster), the restored node's incarnation is "
      "raised to the highest its peers know, so that they do not ignore it as stale after "
      "restarts that followed the backup.\nExit codes: 0 success, 1 restore failed, 2 usage "
      "error.");
  restore->callback([restore_arguments, &exit_code] {
    exit_code = Report("restore", RunRestore(*restore_arguments));
  });
}

}  // namespace meridian::cli
