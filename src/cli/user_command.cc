// `meridian user`: edits a users file (api/access_control.h; `serve --users-file`) —
//   meridian user add    --file F --name NAME --role admin|readwrite|readonly [--bucket B]...
//   meridian user remove --file F --name NAME
//   meridian user list   --file F
// `add` makes a random bearer token, prints it once and stores only its SHA-256. The file is
// replaced atomically (mode 0600). Nodes read it at start and on SIGHUP.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "api/access_control.h"
#include "cli/commands.h"
#include "runtime/certificates.h"

namespace meridian::cli {
namespace {

constexpr int kExitFailed = 1;

struct UserOptions {
  std::string file = "users.json";
  std::string name;
  std::string role;
  std::vector<std::string> buckets;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "meridian user: %s\n", message.c_str());
  return kExitFailed;
}

// The users in `path`; none when the file does not exist yet.
Result<std::vector<api::User>> ReadUsers(const std::string& path) {
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) return std::vector<api::User>{};
  Result<api::AccessControl> access = api::AccessControl::LoadFile(path);
  if (!access.ok()) return access.status();
  return access->users();
}

// Replaces `path` with `users` atomically (a new file renamed over it).
Status WriteUsers(const std::string& path, const std::vector<api::User>& users) {
  const std::string temporary = path + ".new";
  std::error_code ignored;
  std::filesystem::remove(temporary, ignored);
  MERIDIAN_RETURN_IF_ERROR(
      runtime::WriteNewFile(temporary, api::AccessControl::Serialize(users), /*secret=*/true));
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) return Status::IoError("cannot replace " + path + ": " + error.message());
  return Status::Ok();
}

int RunAdd(const UserOptions& options) {
  Result<api::Role> role = api::ParseRole(options.role);
  if (!role.ok()) return Fail(role.status().message());
  Result<std::vector<api::User>> users = ReadUsers(options.file);
  if (!users.ok()) return Fail(users.status().message());
  for (const api::User& user : *users) {
    if (user.name == options.name) {
      return Fail("user '" + options.name + "' exists already in " + options.file +
                  " (remove it first to issue a new token)");
    }
  }
  Result<std::string> token = api::NewToken();
  if (!token.ok()) return Fail(token.status().message());
  users->push_back(api::User{options.name, *role, api::TokenSha256(*token), options.buckets});
  // Validates the new entry with the rest (name, buckets).
  if (Result<api::AccessControl> valid = api::AccessControl::FromUsers(*users); !valid.ok()) {
    return Fail(valid.status().message());
  }
  if (Status written = WriteUsers(options.file, *users); !written.ok()) {
    return Fail(written.message());
  }
  std::printf("%s\n", token->c_str());
  std::fprintf(stderr,
               "user '%s' (%s) added to %s. The line above is its bearer token: store it now, "
               "only its hash is kept. Nodes read the file at start and on SIGHUP.\n",
               options.name.c_str(), std::string(api::RoleName(*role)).c_str(),
               options.file.c_str());
  return 0;
}

int RunRemove(const UserOptions& options) {
  Result<std::vector<api::User>> users = ReadUsers(options.file);
  if (!users.ok()) return Fail(users.status().message());
  const std::size_t before = users->size();
  std::erase_if(*users, [&](const api::User& user) { return user.name == options.name; });
  if (users->size() == before) {
    return Fail("no user '" + options.name + "' in " + options.file);
  }
  if (Status written = WriteUsers(options.file, *users); !written.ok()) {
    return Fail(written.message());
  }
  std::fprintf(stderr, "user '%s' removed from %s\n", options.name.c_str(), options.file.c_str());
  return 0;
}

int RunList(const UserOptions& options) {
  Result<std::vector<api::User>> users = ReadUsers(options.file);
  if (!users.ok()) return Fail(users.status().message());
  for (const api::User& user : *users) {
    std::string buckets;
    for (const std::string& bucket : user.buckets) buckets += (buckets.empty() ? "" : ",") + bucket;
    std::printf("%s\t%s\t%s\n", user.name.c_str(), std::string(api::RoleName(user.role)).c_str(),
                buckets.empty() ? "*" : buckets.c_str());
  }
  return 0;
}

}  // namespace

void AddUserCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<UserOptions>();
  CLI::App* user = app.add_subcommand("user", "Manage the users of `serve --users-file`");
  user->require_subcommand(1);

  CLI::App* add = user->add_subcommand("add", "Add a user; prints its new bearer token once");
  add->add_option("--file", options->file, "The users file (JSON)")->capture_default_str();
  add->add_option("--name", options->name, "User name")->required();
  add->add_option("--role", options->role, "admin, readwrite or readonly")->required();
  add->add_option("--bucket", options->buckets,
                  "A bucket the user may use (repeatable; default: every bucket)");
  add->callback([options, &exit_code] { exit_code = RunAdd(*options); });

  CLI::App* remove = user->add_subcommand("remove", "Remove a user (its token stops working)");
  remove->add_option("--file", options->file, "The users file (JSON)")->capture_default_str();
  remove->add_option("--name", options->name, "User name")->required();
  remove->callback([options, &exit_code] { exit_code = RunRemove(*options); });

  CLI::App* list = user->add_subcommand("list", "List users: name, role, buckets");
  list->add_option("--file", options->file, "The users file (JSON)")->capture_default_str();
  list->callback([options, &exit_code] { exit_code = RunList(*options); });
}

}  // namespace meridian::cli
