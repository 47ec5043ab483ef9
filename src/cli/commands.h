// Subcommands of the `meridian` binary. Each Add*Command registers its subcommand(s) on
// `app`; when a registered subcommand runs, it stores the process exit code in `exit_code`
// (0 on success; non-zero after printing a one-line reason to stderr).
#pragma once

namespace CLI {
class App;
}

namespace meridian::cli {

void AddServeCommand(CLI::App& app, int& exit_code);  // serve_command.cc
void AddKvCommands(CLI::App& app, int& exit_code);    // kv_commands.cc: get, put, delete
void AddSimCommand(CLI::App& app, int& exit_code);    // sim_command.cc: sim
void AddDevCommand(CLI::App& app, int& exit_code);    // dev_command.cc: local cluster
// cluster_commands.cc: cluster status, ring, join, leave, remove, set-weight
void AddClusterCommands(CLI::App& app, int& exit_code);
void AddBenchCommand(CLI::App& app, int& exit_code);  // bench_command.cc: load generator
void AddCertCommand(CLI::App& app, int& exit_code);   // cert_command.cc: CA, node, client certs
void AddUserCommand(CLI::App& app, int& exit_code);   // user_command.cc: users file
// bucket_commands.cc: bucket list, get, set
void AddBucketCommands(CLI::App& app, int& exit_code);
// backup_commands.cc: backup (one node or the cluster), restore (offline)
void AddBackupCommands(CLI::App& app, int& exit_code);
// reshard_command.cc: reshard (offline: change a data directory's shard count)
void AddReshardCommand(CLI::App& app, int& exit_code);
// lincheck_command.cc: linearizability check of a history file
void AddLincheckCommand(CLI::App& app, int& exit_code);

}  // namespace meridian::cli
