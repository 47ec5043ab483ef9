// `meridian cluster status|ring|join|leave|remove|set-weight|locate|local|background`: cluster
// administration and key inspection from the command line, built on the public client library
// (include/meridian/client.h) only. Exit codes as for get/put/delete: 0 success, 1 request/server
// error, 2 usage error. Every failure prints exactly one line to stderr.
//
// Options are parsed as text and validated here (extras allowed and rejected by hand) so that
// every usage error, including an unknown flag or subcommand, exits 2 with one line.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "cli/client_connection.h"
#include "cli/commands.h"
#include "meridian/client.h"

namespace meridian::cli {
namespace {

namespace mc = meridian::client;

// Flags shared by every cluster command, plus each command's own.
struct ClusterArguments {
  ConnectionFlags connection;
  bool json = false;
  bool partitions = false;
  std::vector<std::string> seeds;
  std::string node;
  std::string weight;
  std::string bucket;  // locate, local
  std::string key;
  bool wait = false;  // join, leave, remove, set-weight: until the ring settles
  std::string wait_timeout = "600";
  CLI::Option* wait_timeout_option = nullptr;
  CLI::Option* node_option = nullptr;
  CLI::Option* weight_option = nullptr;
  CLI::Option* key_option = nullptr;
  bool pause = false;  // background
  bool resume = false;
  std::string bytes_per_second;
  CLI::Option* bytes_option = nullptr;
};

void AddCommonOptions(CLI::App& command, ClusterArguments& arguments) {
  AddConnectionFlags(command, arguments.connection);
  command.allow_extras();
}

std::string Percent(double fraction) {
  char text[16];
  std::snprintf(text, sizeof(text), "%.1f%%", 100.0 * fraction);
  return text;
}

// 1536 -> "1.5 KiB".
std::string Bytes(double bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  std::size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return text;
}

std::string Fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

// "about 12 s left", "about 3 min left"; "time left unknown" without an estimate.
std::string TimeLeft(const std::optional<double>& seconds) {
  if (!seconds.has_value()) return "time left unknown";
  if (*seconds < 90) return "about " + Fixed(std::max(1.0, *seconds), 0) + " s left";
  if (*seconds < 5400) return "about " + Fixed(*seconds / 60, 0) + " min left";
  return "about " + Fixed(*seconds / 3600, 1) + " h left";
}

// One line per running stream of every member that reported, with its progress, and one
// per member without a report saying why.
std::string ActivityText(const mc::ClusterStatusResult& status) {
  std::string text;
  std::size_t transfers = 0;
  for (const mc::ClusterMember& member : status.members) {
    if (!member.report.has_value()) continue;
    for (const mc::ClusterTransfer& transfer : member.report->transfers) {
      ++transfers;
      std::string line = "  " + Printable(member.id) + " -> " + Printable(transfer.peer) +
                         "  partition " + std::to_string(transfer.partition) + " (" +
                         Printable(transfer.kind) + "): ";
      if (transfer.bytes_total > 0) {
        const double fraction = std::min(0.99, static_cast<double>(transfer.bytes_done) /
                                                   static_cast<double>(transfer.bytes_total));
        line += Percent(fraction) + ", " + Bytes(static_cast<double>(transfer.bytes_done)) +
                " of about " + Bytes(static_cast<double>(transfer.bytes_total));
      } else {
        line += Bytes(static_cast<double>(transfer.bytes_done)) + " sent, size unknown";
      }
      line += ", " + Bytes(transfer.bytes_per_second) + "/s, " + TimeLeft(transfer.eta_seconds);
      text += line + "\n";
    }
  }
  text = (transfers == 0 ? std::string("transfers: none running\n")
                         : "transfers: " + std::to_string(transfers) + " running\n" + text);
  std::string repairs;
  for (const mc::ClusterMember& member : status.members) {
    if (!member.report.has_value()) continue;
    const mc::ClusterMemberReport& report = *member.report;
    if (report.copies_queued == 0 && report.hints_pending == 0 && report.aae_keys_repaired == 0)
      continue;
    repairs += "  " + Printable(member.id) + ": " + std::to_string(report.copies_queued) +
               " partition copies queued, " + std::to_string(report.hints_pending) +
               " hints pending (" + Bytes(static_cast<double>(report.hint_bytes)) + "), " +
               std::to_string(report.aae_keys_repaired) + " keys repaired by anti-entropy in " +
               std::to_string(report.aae_exchanges) + " exchanges\n";
  }
  text += repairs.empty() ? "repairs: nothing queued, no hints pending\n" : "repairs:\n" + repairs;
  for (const mc::ClusterMember& member : status.members) {
    if (!member.report.has_value() && !member.report_missing.empty()) {
      text +=
          "no report from " + Printable(member.id) + ": " + Printable(member.report_missing) + "\n";
    }
  }
  return text;
}

std::optional<Failure> RunStatus(mc::Client& client, const ClusterArguments& arguments) {
  auto status = client.ClusterStatus();
  if (!status.ok()) return RequestFailed(status.error());
  if (arguments.json) {
    Print(status->json + "\n");
    return std::nullopt;
  }
  std::string text = "cluster " + Printable(status->cluster_name) + ", self " +
                     Printable(status->self) + ", claimant " + Printable(status->claimant) +
                     ", ring version " + std::to_string(status->ring_version) + ", " +
                     std::to_string(status->partition_count) + " partitions\n";
  std::vector<std::vector<std::string>> rows = {{"ID", "STATUS", "ALIVE", "ZONE", "WEIGHT",
                                                 "SHARDS", "OWNED", "INCOMING", "DISK", "HINTS",
                                                 "REQ/S", "P99 MS", "VERSION", "ADDRESS", "HTTP"}};
  for (const mc::ClusterMember& member : status->members) {
    std::string disk = "-", hints = "-", rate = "-", p99 = "-", version = "-";
    if (!member.meridian_version.empty()) {
      version = member.meridian_version;
    } else if (member.report.has_value()) {
      version = "<=0.1.0";  // a report without a release: 0.1.0 sent none
    }
    if (member.report.has_value()) {
      const mc::ClusterMemberReport& report = *member.report;
      hints = std::to_string(report.hints_pending);
      if (report.load_known) {
        disk = report.disk_capacity_bytes == 0
                   ? "-"
                   : Percent(static_cast<double>(report.disk_used_bytes) /
                             static_cast<double>(report.disk_capacity_bytes));
        rate = Fixed(report.requests_per_second, 1);
        p99 = Fixed(report.p99_ms, 2);
      }
    }
    rows.push_back({member.id, member.status, member.alive ? "yes" : "no", member.zone,
                    std::to_string(member.weight), std::to_string(member.shards),
                    std::to_string(member.partitions_owned),
                    std::to_string(member.partitions_incoming), disk, hints, rate, p99, version,
                    member.peer_address, member.http_address});
  }
  Print(text + Table(std::move(rows)) + ActivityText(*status));
  return std::nullopt;
}

std::optional<Failure> RunRing(mc::Client& client, const ClusterArguments& arguments) {
  auto ring = client.ClusterRing(arguments.partitions);
  if (!ring.ok()) return RequestFailed(ring.error());
  if (arguments.json) {
    Print(ring->json + "\n");
    return std::nullopt;
  }
  std::string text = "ring version " + std::to_string(ring->version) + ", " +
                     std::to_string(ring->partition_count) + " partitions\n";
  // Each member's share of partitions next to its share of the weight of active members.
  std::uint64_t total_weight = 0;
  for (const mc::ClusterMember& member : ring->members) {
    if (member.status != "removed") total_weight += member.weight;
  }
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATUS", "WEIGHT", "OWNED", "SHARE", "WEIGHT SHARE", "INCOMING"}};
  for (const mc::ClusterMember& member : ring->members) {
    const double share = ring->partition_count == 0
                             ? 0.0
                             : static_cast<double>(member.partitions_owned) /
                                   static_cast<double>(ring->partition_count);
    const double weight_share =
        member.status == "removed" || total_weight == 0
            ? 0.0
            : static_cast<double>(member.weight) / static_cast<double>(total_weight);
    rows.push_back({member.id, member.status, std::to_string(member.weight),
                    std::to_string(member.partitions_owned), Percent(share), Percent(weight_share),
                    std::to_string(member.partitions_incoming)});
  }
  text += Table(std::move(rows));
  if (arguments.partitions) {
    std::vector<std::vector<std::string>> partition_rows = {{"PARTITION", "OWNER", "PENDING"}};
    for (const mc::RingPartition& partition : ring->partitions) {
      partition_rows.push_back(
          {std::to_string(partition.partition), partition.owner, partition.pending_owner});
    }
    text += "\n" + Table(std::move(partition_rows));
  }
  Print(text);
  return std::nullopt;
}

// What a membership change waits for with --wait, besides a ring with nothing pending.
struct SettledWhen {
  std::string node;          // the member the change is about (empty: the server's node)
  std::string status;        // its status once the change took effect ("up", "removed")
  std::uint32_t weight = 0;  // set-weight: its weight once known (0: any)
  // leave: "leaving" with no partition owned counts too. Its data has moved; the removal that
  // follows may never reach the leaving node itself (nobody gossips to a removed member), and
  // a preStop hook asks exactly that node.
  bool owning_nothing_suffices = false;
};

// The ring as `status` shows it has settled for `want`: the member has the status (and
// weight) wanted and no member has partitions incoming. `incoming` gets the total.
bool Settled(const mc::ClusterStatusResult& status, const SettledWhen& want,
             std::uint64_t& incoming) {
  incoming = 0;
  bool member_ok = false;
  const std::string& node = want.node.empty() ? status.self : want.node;
  for (const mc::ClusterMember& member : status.members) {
    incoming += member.partitions_incoming;
    if (member.id == node) {
      member_ok = (want.status.empty() || member.status == want.status) &&
                  (want.weight == 0 || member.weight == want.weight) &&
                  (member.status == "removed" || member.partitions_owned > 0);
      if (want.owning_nothing_suffices && member.status == "leaving" &&
          member.partitions_owned == 0) {
        member_ok = true;
      }
    }
  }
  return member_ok && incoming == 0;
}

std::string Seconds(double seconds) {
  if (seconds < 1.0) return "under 1 s";
  char text[32];
  std::snprintf(text, sizeof(text), "%.0f s", seconds);
  return text;
}

// After an accepted change: polls the server's view of the cluster once a second, printing a
// progress line whenever the number of partitions still moving changes (with an estimate of
// the time left from the rate so far), until it settles — stable for two polls and past a
// ring change or `settle_s` — or `timeout_s` passes (a failure).
std::optional<Failure> WaitUntilSettled(mc::Client& client, const SettledWhen& want,
                                        std::uint64_t timeout_s) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  std::optional<std::uint64_t> first_version;
  std::uint64_t peak = 0;
  std::optional<std::uint64_t> last_printed;
  std::optional<double> moving_since;
  int settled_polls = 0;
  while (true) {
    auto status = client.ClusterStatus(/*reports=*/false);
    if (!status.ok()) return RequestFailed(status.error());
    if (!first_version) first_version = status->ring_version;
    std::uint64_t incoming = 0;
    const bool settled = Settled(*status, want, incoming);
    if (incoming > 0 && !moving_since) moving_since = elapsed();
    peak = std::max(peak, incoming);
    if (!last_printed || *last_printed != incoming) {
      std::string line = "waiting: ring version " + std::to_string(status->ring_version) + ", " +
                         std::to_string(incoming) + " partition(s) moving";
      const std::uint64_t done = peak - incoming;
      if (incoming > 0 && done > 0 && moving_since) {
        const double rate = static_cast<double>(done) / std::max(elapsed() - *moving_since, 0.1);
        const double left = static_cast<double>(incoming) / rate;
        line += " (" + std::to_string(done) + " of " + std::to_string(peak) + " done, " +
                (left < 1.0 ? std::string() : std::string("about ")) + Seconds(left) + " left)";
      }
      Print(line + "\n");
      last_printed = incoming;
    }
    // A ring change, or a few gossip rounds without one (a change that moves nothing).
    const bool past_change = status->ring_version != *first_version || elapsed() >= 3.0;
    settled_polls = settled && past_change ? settled_polls + 1 : 0;
    if (settled_polls >= 2) {
      Print("settled: ring version " + std::to_string(status->ring_version) + ", nothing moving, " +
            Seconds(elapsed()) + "\n");
      return std::nullopt;
    }
    if (elapsed() >= static_cast<double>(timeout_s)) {
      return Failure{kExitRequestFailed, "the ring did not settle within " +
                                             std::to_string(timeout_s) + " s (" +
                                             std::to_string(incoming) +
                                             " partition(s) still moving); the change goes on"};
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

std::optional<Failure> ReportAdmin(mc::Client& client, const ClusterArguments& arguments,
                                   const mc::Result<mc::ClusterAdminResult>& result,
                                   const SettledWhen& want) {
  if (!result.ok()) return RequestFailed(result.error());
  Print(result->message + "\n");
  if (!arguments.wait) return std::nullopt;
  return WaitUntilSettled(client, want, *ParseUnsigned(arguments.wait_timeout));
}

std::optional<Failure> RunJoin(mc::Client& client, const ClusterArguments& arguments) {
  return ReportAdmin(client, arguments, client.ClusterJoin(arguments.seeds), {"", "up", 0});
}

std::optional<Failure> RunLeave(mc::Client& client, const ClusterArguments& arguments) {
  return ReportAdmin(client, arguments, client.ClusterLeave(arguments.node),
                     {arguments.node, "removed", 0, /*owning_nothing_suffices=*/true});
}

std::optional<Failure> RunRemove(mc::Client& client, const ClusterArguments& arguments) {
  return ReportAdmin(client, arguments, client.ClusterRemove(arguments.node),
                     {arguments.node, "removed", 0});
}

std::optional<Failure> RunSetWeight(mc::Client& client, const ClusterArguments& arguments) {
  // Validated by CheckUsage.
  const std::uint32_t weight = *ParseUnsigned(arguments.weight);
  return ReportAdmin(client, arguments, client.ClusterSetWeight(arguments.node, weight),
                     {arguments.node, "", weight});
}

std::optional<Failure> RunBackground(mc::Client& client, const ClusterArguments& arguments) {
  std::optional<std::uint64_t> rate;
  if (arguments.bytes_option->count() > 0) rate = ParseUnsigned64(arguments.bytes_per_second);
  std::optional<bool> paused;
  if (arguments.pause) paused = true;
  if (arguments.resume) paused = false;
  const mc::Result<mc::BackgroundSetting> result = client.ClusterBackground(rate, paused);
  if (!result.ok()) return RequestFailed(result.error());
  if (arguments.json) {
    Print(result->json + "\n");
    return std::nullopt;
  }
  Print(std::string("background work: ") + (result->paused ? "paused" : "running") + ", " +
        (result->bytes_per_second == 0 ? std::string("no byte limit")
                                       : std::to_string(result->bytes_per_second) + " bytes/s") +
        " (" + std::to_string(result->shards) + " shard(s)); until the node restarts\n");
  return std::nullopt;
}

// Node ids separated by spaces; "-" for none.
std::string Ids(const std::vector<std::string>& ids) {
  std::string text;
  for (const std::string& id : ids) text += (text.empty() ? "" : " ") + Printable(id);
  return text.empty() ? "-" : text;
}

std::optional<Failure> RunLocate(mc::Client& client, const ClusterArguments& arguments) {
  auto location = client.ClusterLocate(arguments.bucket, arguments.key);
  if (!location.ok()) return RequestFailed(location.error());
  if (arguments.json) {
    Print(location->json + "\n");
    return std::nullopt;
  }
  const std::string pending =
      location->pending_owner.empty() ? "none" : Printable(location->pending_owner);
  Print("bucket " + Printable(location->bucket) + ", key " + Printable(location->key) +
        ": partition " + std::to_string(location->partition) + ", owner " +
        Printable(location->owner) + ", pending owner " + pending + "\n" +
        "primaries (n=" + std::to_string(location->n) + "): " + Ids(location->primaries) + "\n" +
        "fallbacks: " + Ids(location->fallbacks) + "\n");
  return std::nullopt;
}

// Values longer than this are cut in the table (--json has them whole, in base64).
constexpr std::size_t kValueColumnBytesMax = 40;

std::string DescribeObject(const mc::LocalObject& object) {
  std::string clock;
  for (const auto& [actor, counter] : object.clock) {
    clock += (clock.empty() ? "" : " ") + Printable(actor) + ":" + std::to_string(counter);
  }
  std::string text = "  clock: " + (clock.empty() ? std::string("-") : clock) + "\n";
  std::vector<std::vector<std::string>> rows = {
      {"ACTOR", "COUNTER", "TIMESTAMP_MS", "TOMBSTONE", "VALUE"}};
  for (const mc::LocalSibling& sibling : object.siblings) {
    std::string value = Printable(sibling.value.substr(0, kValueColumnBytesMax));
    if (sibling.value.size() > kValueColumnBytesMax) value += "...";
    rows.push_back({sibling.actor, std::to_string(sibling.counter),
                    std::to_string(sibling.timestamp_ms), sibling.tombstone ? "yes" : "no",
                    sibling.tombstone ? "" : value});
  }
  std::string table = Table(std::move(rows));
  std::string indented;
  std::size_t start = 0;
  while (start < table.size()) {
    const std::size_t end = table.find('\n', start);
    indented += "  " + table.substr(start, end - start + 1);
    start = end + 1;
  }
  return text + indented;
}

std::optional<Failure> RunLocal(mc::Client& client, const ClusterArguments& arguments) {
  auto copy = client.ClusterLocal(arguments.bucket, arguments.key);
  if (!copy.ok()) return RequestFailed(copy.error());
  if (arguments.json) {
    Print(copy->json + "\n");
    return std::nullopt;
  }
  std::string text = "node " + Printable(copy->node) + ", partition " +
                     std::to_string(copy->partition) +
                     ", holds a replica of the key: " + (copy->holds_replica ? "yes" : "no") + "\n";
  text += copy->object ? "object:\n" + DescribeObject(*copy->object) : "object: none\n";
  if (copy->hint) {
    text += "hint for " + Ids(copy->hint_targets) + ":\n" + DescribeObject(*copy->hint);
  } else {
    text += "hint: none\n";
  }
  Print(text);
  return std::nullopt;
}

// What each command requires beyond the common flags.
enum class Positionals { kNone, kSeeds, kOptionalNode, kNode, kNodeAndWeight, kBucketAndKey };

std::optional<Failure> CheckUsage(const CLI::App& command, const ClusterArguments& arguments,
                                  Positionals positionals) {
  const auto extras = command.remaining();
  if (!extras.empty()) {
    return Failure{kExitUsage, "unexpected argument '" + Printable(extras.front()) + "'"};
  }
  const bool needs_node =
      positionals == Positionals::kNode || positionals == Positionals::kNodeAndWeight;
  if (positionals == Positionals::kSeeds && arguments.seeds.empty()) {
    return Failure{kExitUsage, "missing SEED (a peer address host:port)"};
  }
  if (positionals == Positionals::kSeeds) {
    for (const std::string& seed : arguments.seeds) {
      if (seed.empty()) return Failure{kExitUsage, "SEED must not be empty"};
    }
  }
  if (needs_node && arguments.node_option->count() == 0) return Failure{kExitUsage, "missing NODE"};
  if (arguments.node_option != nullptr && arguments.node_option->count() > 0 &&
      arguments.node.empty()) {
    return Failure{kExitUsage, "NODE must not be empty"};
  }
  if (positionals == Positionals::kBucketAndKey) {
    if (arguments.bucket.empty()) return Failure{kExitUsage, "missing BUCKET"};
    if (arguments.key_option->count() == 0) return Failure{kExitUsage, "missing KEY"};
    if (arguments.key.empty()) return Failure{kExitUsage, "KEY must not be empty"};
  }
  if (arguments.wait_timeout_option != nullptr && arguments.wait_timeout_option->count() > 0) {
    if (!arguments.wait) return Failure{kExitUsage, "--wait-timeout needs --wait"};
    const std::optional<std::uint32_t> seconds = ParseUnsigned(arguments.wait_timeout);
    if (!seconds || *seconds == 0) {
      return Failure{kExitUsage, "--wait-timeout must be a positive number of seconds"};
    }
  }
  if (arguments.pause && arguments.resume) {
    return Failure{kExitUsage, "--pause and --resume exclude each other"};
  }
  if (arguments.bytes_option != nullptr && arguments.bytes_option->count() > 0 &&
      !ParseUnsigned64(arguments.bytes_per_second)) {
    return Failure{kExitUsage, "--bytes-per-second must be a non-negative integer (0: no limit)"};
  }
  if (positionals == Positionals::kNodeAndWeight) {
    if (arguments.weight_option->count() == 0) return Failure{kExitUsage, "missing WEIGHT"};
    const std::optional<std::uint32_t> weight = ParseUnsigned(arguments.weight);
    if (!weight || *weight == 0) {
      return Failure{kExitUsage, "WEIGHT must be a positive integer (at most 4294967295)"};
    }
  }
  return std::nullopt;
}

using Runner = std::optional<Failure> (*)(mc::Client&, const ClusterArguments&);

// Registers one cluster command: validates, connects, runs, sets the exit code.
CLI::App& AddCommand(CLI::App& cluster, const std::string& name, const std::string& description,
                     Positionals positionals, Runner run, int& exit_code) {
  auto arguments = std::make_shared<ClusterArguments>();
  CLI::App* command = cluster.add_subcommand(name, description);
  AddCommonOptions(*command, *arguments);
  switch (positionals) {
    case Positionals::kNone:
      break;
    case Positionals::kSeeds:
      command->add_option("seeds", arguments->seeds, "Peer addresses (host:port) of members");
      break;
    case Positionals::kOptionalNode:
    case Positionals::kNode:
      arguments->node_option = command->add_option("node", arguments->node, "Member id");
      break;
    case Positionals::kNodeAndWeight:
      arguments->node_option = command->add_option("node", arguments->node, "Member id");
      arguments->weight_option =
          command->add_option("weight", arguments->weight, "New weight, a positive integer");
      break;
    case Positionals::kBucketAndKey:
      command->add_option("bucket", arguments->bucket, "Bucket name");
      arguments->key_option = command->add_option("key", arguments->key, "Key");
      break;
  }
  if (name == "status" || name == "ring" || name == "background" ||
      positionals == Positionals::kBucketAndKey) {
    command->add_flag("--json", arguments->json, "Print the server's JSON reply");
  }
  if (name == "ring") {
    command->add_flag("--partitions", arguments->partitions, "Also list every partition's owner");
  }
  if (name == "join" || name == "leave" || name == "remove" || name == "set-weight") {
    command->add_flag("--wait", arguments->wait,
                      "After the change is accepted, show progress until the ring settles "
                      "(nothing moving); exit 1 if it has not within --wait-timeout");
    arguments->wait_timeout_option = command->add_option(
        "--wait-timeout", arguments->wait_timeout, "Seconds --wait waits at most (default 600)");
  }
  if (name == "background") {
    command->add_flag("--pause", arguments->pause, "Start no new background work");
    command->add_flag("--resume", arguments->resume, "Let background work start again");
    arguments->bytes_option =
        command->add_option("--bytes-per-second", arguments->bytes_per_second,
                            "The node's background byte budget (0: no limit)");
  }
  command->footer("Exit codes: 0 success, 1 request failed, 2 usage error.");
  command->callback([command, arguments, positionals, run, &exit_code] {
    std::optional<Failure> failure = CheckUsage(*command, *arguments, positionals);
    if (!failure) {
      failure = WithClient(arguments->connection,
                           [&](mc::Client& client) { return run(client, *arguments); });
    }
    exit_code = Report("cluster " + command->get_name(), failure);
  });
  return *command;
}

}  // namespace

void AddClusterCommands(CLI::App& app, int& exit_code) {
  CLI::App* cluster = app.add_subcommand("cluster", "Cluster administration (status, membership)");
  cluster->allow_extras();
  AddCommand(*cluster, "status", "Show the members as the server's node sees them",
             Positionals::kNone, RunStatus, exit_code)
      .footer(
          "Prints a header line, a table (ID STATUS ALIVE ZONE WEIGHT SHARDS OWNED INCOMING DISK\n"
          "HINTS REQ/S P99 MS VERSION ADDRESS HTTP; '-' for empty or unknown) and the transfers\n"
          "and repairs running. Exit codes: 0 success, 1 request failed, 2 usage error.");
  AddCommand(*cluster, "ring", "Show the ring: partitions owned per member (and per partition)",
             Positionals::kNone, RunRing, exit_code);
  AddCommand(*cluster, "join", "Make the server's node join the cluster of SEED(s)",
             Positionals::kSeeds, RunJoin, exit_code);
  AddCommand(*cluster, "leave", "Move NODE's partitions away, then remove it (default: the server)",
             Positionals::kOptionalNode, RunLeave, exit_code);
  AddCommand(*cluster, "remove", "Remove (dead) NODE at once; its partitions are reassigned",
             Positionals::kNode, RunRemove, exit_code);
  AddCommand(*cluster, "set-weight", "Change NODE's weight (its share of partitions)",
             Positionals::kNodeAndWeight, RunSetWeight, exit_code);
  AddCommand(*cluster, "locate", "Show where KEY of BUCKET lives: partition, owner, replicas",
             Positionals::kBucketAndKey, RunLocate, exit_code);
  AddCommand(*cluster, "local",
             "Show the server's own stored copy of KEY (replica copy and hint), asking no other "
             "node",
             Positionals::kBucketAndKey, RunLocal, exit_code);
  AddCommand(*cluster, "background",
             "Show or change the server's node's background budget (hint replay, handoff, "
             "anti-entropy repair, reaping) until it restarts",
             Positionals::kNone, RunBackground, exit_code);
  // `meridian cluster` alone, or with an unknown command.
  cluster->callback([cluster, &exit_code] {
    if (!cluster->get_subcommands().empty()) return;
    const auto extras = cluster->remaining();
    const std::string reason =
        extras.empty() ? "missing command" : "unknown command '" + Printable(extras.front()) + "'";
    exit_code =
        Report("cluster", Failure{kExitUsage, reason + " (status, ring, join, leave, remove, "
                                                       "set-weight, locate, local, background)"});
  });
}

}  // namespace meridian::cli
