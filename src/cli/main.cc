// The `meridian` binary: one entry point for the server and the command-line client.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Meridian: a leaderless, Dynamo-style distributed key-value store"};
  app.set_version_flag("--version", std::string("meridian ") + MERIDIAN_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  meridian::cli::AddServeCommand(app, exit_code);
  meridian::cli::AddKvCommands(app, exit_code);
  meridian::cli::AddSimCommand(app, exit_code);
  meridian::cli::AddDevCommand(app, exit_code);
  meridian::cli::AddClusterCommands(app, exit_code);
  meridian::cli::AddBucketCommands(app, exit_code);
  meridian::cli::AddBenchCommand(app, exit_code);
  meridian::cli::AddCertCommand(app, exit_code);
  meridian::cli::AddUserCommand(app, exit_code);
  meridian::cli::AddLincheckCommand(app, exit_code);
  meridian::cli::AddBackupCommands(app, exit_code);
  meridian::cli::AddReshardCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every other parse error is a usage error: exit 2, the code
    // every command documents (CLI11's own codes, e.g. 108 for two exclusive flags, are not).
    return app.exit(e) == 0 ? 0 : 2;
  }
  return exit_code;
}
