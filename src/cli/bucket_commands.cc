// `meridian bucket list|get|set`: bucket properties from the command line (docs/api.md
// "Buckets"), built on the public client library only. Exit codes as for get/put/delete: 0
// success, 1 request/server error, 2 usage error; every failure prints one line to stderr.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cli/client_connection.h"
#include "cli/commands.h"
#include "meridian/client.h"

namespace meridian::cli {
namespace {

namespace mc = meridian::client;

struct BucketArguments {
  ConnectionFlags connection;
  bool json = false;
  std::string bucket;
  CLI::Option* bucket_option = nullptr;
  // set: each given flag is one property to change; the text ones go straight into `update`,
  // n and sloppy_quorum are checked first (a bad value is a usage error).
  mc::BucketPropsUpdate update;
  std::optional<std::string> n;
  std::optional<std::string> sloppy_quorum;
};

const std::vector<std::string> kHeader = {"BUCKET", "CONSISTENCY", "CONFLICT", "N",  "R",
                                          "W",      "PR",          "PW",       "DW", "SLOPPY"};

std::vector<std::string> Row(const std::string& bucket, const mc::BucketProps& props) {
  return {bucket,
          props.consistency,
          props.conflict_policy,
          std::to_string(props.n),
          props.r,
          props.w,
          props.pr,
          props.pw,
          props.dw,
          props.sloppy_quorum ? "true" : "false"};
}

std::optional<Failure> RunList(mc::Client& client, const BucketArguments& arguments) {
  auto buckets = client.ListBuckets();
  if (!buckets.ok()) return RequestFailed(buckets.error());
  if (arguments.json) {
    // Bucket names are [A-Za-z0-9_.-] (server-validated), so they need no JSON escaping.
    std::string text = "[";
    for (const mc::BucketListing& listing : *buckets) {
      if (text.size() > 1) text += ",";
      text += std::string(R"({"bucket":")") + listing.bucket + R"(","configured":)" +
              (listing.configured ? "true" : "false") + R"(,"sealed":)" +
              (listing.sealed ? "true" : "false") + R"(,"props":)" + listing.props.json + "}";
    }
    Print(text + "]\n");
    return std::nullopt;
  }
  std::vector<std::vector<std::string>> rows = {kHeader};
  rows.front().push_back("NOTE");
  for (const mc::BucketListing& listing : *buckets) {
    std::vector<std::string> row = Row(listing.bucket, listing.props);
    row.push_back(listing.sealed ? "sealed" : listing.configured ? "" : "defaults");
    rows.push_back(std::move(row));
  }
  Print(Table(std::move(rows)));
  if (buckets->empty()) Print("(no bucket has been configured; every bucket has the defaults)\n");
  return std::nullopt;
}

std::optional<Failure> PrintProps(const std::string& bucket, const mc::BucketProps& props,
                                  bool json) {
  if (json) {
    Print(props.json + "\n");
  } else {
    Print(Table({kHeader, Row(bucket, props)}));
  }
  return std::nullopt;
}

std::optional<Failure> RunGet(mc::Client& client, const BucketArguments& arguments) {
  auto props = client.GetBucketProps(arguments.bucket);
  if (!props.ok()) return RequestFailed(props.error());
  return PrintProps(arguments.bucket, *props, arguments.json);
}

std::optional<Failure> RunSet(mc::Client& client, const BucketArguments& arguments) {
  mc::BucketPropsUpdate update = arguments.update;
  if (arguments.n) {
    std::optional<std::uint32_t> n = ParseUnsigned(*arguments.n);
    if (!n)
      return Failure{kExitUsage,
                     "--n must be a whole number, not '" + Printable(*arguments.n) + "'"};
    update.n = *n;
  }
  if (arguments.sloppy_quorum) {
    if (*arguments.sloppy_quorum != "true" && *arguments.sloppy_quorum != "false") {
      return Failure{kExitUsage, "--sloppy-quorum must be true or false, not '" +
                                     Printable(*arguments.sloppy_quorum) + "'"};
    }
    update.sloppy_quorum = *arguments.sloppy_quorum == "true";
  }
  const bool nothing = !update.consistency && !update.conflict_policy && !update.n && !update.r &&
                       !update.w && !update.pr && !update.pw && !update.dw && !update.sloppy_quorum;
  if (nothing) {
    return Failure{kExitUsage,
                   "nothing to change: give at least one of --consistency, --conflict-policy, "
                   "--n, --r, --w, --pr, --pw, --dw, --sloppy-quorum"};
  }
  auto props = client.SetBucketProps(arguments.bucket, update);
  if (!props.ok()) return RequestFailed(props.error());
  return PrintProps(arguments.bucket, *props, arguments.json);
}

using Runner = std::optional<Failure> (*)(mc::Client&, const BucketArguments&);

CLI::App& AddCommand(CLI::App& bucket, const std::string& name, const std::string& description,
                     bool takes_bucket, Runner run, std::shared_ptr<BucketArguments> arguments,
                     int& exit_code) {
  CLI::App* command = bucket.add_subcommand(name, description);
  AddConnectionFlags(*command, arguments->connection);
  command->allow_extras();
  if (takes_bucket) {
    arguments->bucket_option = command->add_option("bucket", arguments->bucket, "Bucket name");
  }
  command->add_flag("--json", arguments->json,
                    name == "list" ? "Print a JSON array of {bucket, configured, sealed, props}"
                                   : "Print the props JSON the server answered");
  command->footer("Exit codes: 0 success, 1 request failed, 2 usage error.");
  command->callback([command, arguments, takes_bucket, run, &exit_code] {
    std::optional<Failure> failure;
    const auto extras = command->remaining();
    if (!extras.empty()) {
      failure = Failure{kExitUsage, "unexpected argument '" + Printable(extras.front()) + "'"};
    } else if (takes_bucket && arguments->bucket_option->count() == 0) {
      failure = Failure{kExitUsage, "missing BUCKET"};
    } else {
      failure = WithClient(arguments->connection,
                           [&](mc::Client& client) { return run(client, *arguments); });
    }
    exit_code = Report("bucket " + command->get_name(), failure);
  });
  return *command;
}

}  // namespace

void AddBucketCommands(CLI::App& app, int& exit_code) {
  CLI::App* bucket = app.add_subcommand("bucket", "Bucket properties (list, get, set)");
  bucket->allow_extras();
  AddCommand(*bucket, "list",
             "List the configured buckets you may read, with their properties (buckets never "
             "configured have the defaults and are not listed)",
             false, RunList, std::make_shared<BucketArguments>(), exit_code);
  AddCommand(*bucket, "get", "Show BUCKET's properties", true, RunGet,
             std::make_shared<BucketArguments>(), exit_code);
  auto set_arguments = std::make_shared<BucketArguments>();
  CLI::App& set = AddCommand(*bucket, "set",
                             "Change BUCKET's properties (admins); prints them after the change",
                             true, RunSet, set_arguments, exit_code);
  set.add_option("--consistency", set_arguments->update.consistency,
                 "eventual or strong (only while the bucket holds no data)");
  set.add_option("--conflict-policy", set_arguments->update.conflict_policy, "siblings or lww");
  set.add_option("--n", set_arguments->n, "Replicas of every key");
  const std::pair<const char*, std::optional<std::string>*> quorums[] = {
      {"--r", &set_arguments->update.r},
      {"--w", &set_arguments->update.w},
      {"--pr", &set_arguments->update.pr},
      {"--pw", &set_arguments->update.pw},
      {"--dw", &set_arguments->update.dw}};
  for (const auto& [flag, field] : quorums) {
    set.add_option(flag, *field, "one, quorum, all or a number");
  }
  set.add_option("--sloppy-quorum", set_arguments->sloppy_quorum, "true or false");
  bucket->callback([bucket, &exit_code] {
    if (!bucket->get_subcommands().empty()) return;
    const auto extras = bucket->remaining();
    const std::string reason =
        extras.empty() ? "missing command" : "unknown command '" + Printable(extras.front()) + "'";
    exit_code = Report("bucket", Failure{kExitUsage, reason + " (list, get, set)"});
  });
}

}  // namespace meridian::cli
