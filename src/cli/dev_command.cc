// `meridian dev`: starts a local cluster of N `meridian serve` processes on loopback, each
// with its own ports and data directory, prints the endpoints, and stops them all cleanly on
// Ctrl-C (SIGINT) or SIGTERM. Node i (1-based) gets HTTP port http_base+i-1, peer port
// peer_base+i-1, a Redis-protocol (RESP) listener on resp_base+i-1 (a free port instead when
// that one is taken; 0 = off) and data directory DATA_ROOT/node<i>; nodes 2..N join through
// node 1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "node/node.h"
#include "replication/background_governor.h"
#include "runtime/certificates.h"
#include "runtime/shard_count.h"

extern char** environ;

namespace meridian::cli {
namespace {

struct DevOptions {
  int nodes = 3;
  int http_base = 8080;
  int peer_base = 7080;
  int resp_base = 6380;  // 0: no RESP listeners
  std::string data_root = "var";
  std::string cluster_name = "meridian-dev";
  int ready_timeout_ms = 30000;
  // Shards per node; 0: the CPUs shared out among the nodes (at least one each) for a new node,
  // the count an existing node's data directory was created with.
  unsigned shards = 0;
};

struct Child {
  pid_t pid = -1;
  int stdout_fd = -1;
  std::string name;
  std::string http;
  std::string peer;
  std::string resp;  // the bound RESP address (from the ready line); empty when off
  std::string ready_line;
};

std::string SelfExecutable() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string("meridian") : path.string();
}

// Whether `port` on 127.0.0.1 can be bound now (checked by binding it).
bool PortFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const int yes = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return free;
}

// The value of " name=VALUE" in a ready line; empty when absent.
std::string ReadyField(const std::string& line, const std::string& name) {
  const std::string key = " " + name + "=";
  const std::size_t start = line.find(key);
  if (start == std::string::npos) return "";
  const std::size_t value = start + key.size();
  return line.substr(value, line.find(' ', value) - value);
}

// Starts one `meridian serve` with stdout on a pipe (for the ready line) and stderr appended
// to <data_dir>/meridian.log.
bool Spawn(const std::string& executable, const std::vector<std::string>& args,
           const std::string& log_path, Child& child) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  // The children must not inherit our blocked signal mask: they handle SIGINT/SIGTERM.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attributes, &empty);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(executable.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const int rc =
      posix_spawn(&child.pid, executable.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  close(pipe_fds[1]);
  if (rc != 0) {
    close(pipe_fds[0]);
    return false;
  }
  child.stdout_fd = pipe_fds[0];
  return true;
}

// Reads the child's stdout until its ready line or the deadline.
bool AwaitReady(Child& child, std::chrono::steady_clock::time_point deadline) {
  std::string buffer;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd fd{child.stdout_fd, POLLIN, 0};
    if (poll(&fd, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
    char chunk[512];
    const ssize_t n = read(child.stdout_fd, chunk, sizeof(chunk));
    if (n <= 0) return false;  // the child exited before becoming ready
    buffer.append(chunk, static_cast<std::size_t>(n));
    const auto end = buffer.find('\n');
    if (end != std::string::npos && buffer.rfind("meridian ready", 0) == 0) {
      child.ready_line = buffer.substr(0, end);
      return true;
    }
  }
  return false;
}

void StopAll(std::vector<Child>& children) {
  for (const Child& child : children) {
    if (child.pid > 0) kill(child.pid, SIGTERM);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (Child& child : children) {
    if (child.pid <= 0) continue;
    int status = 0;
    while (waitpid(child.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(child.pid, SIGKILL);
        waitpid(child.pid, &status, 0);
        break;
      }
      pollfd none{-1, 0, 0};
      poll(&none, 0, 20);  // wait briefly for the child to finish its clean stop
    }
    child.pid = -1;
    if (child.stdout_fd >= 0) close(child.stdout_fd);
  }
}

// The cluster's CA and a node certificate per node in `dir` (kept from an earlier run when
// present: restarts keep their identities). False after printing why.
bool EnsureCertificates(const std::string& dir, const DevOptions& options) {
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  using runtime::CertificateKind;
  const runtime::CertificatePaths ca_paths =
      runtime::CertificatePathsIn(dir, CertificateKind::kAuthority, "");
  if (!std::filesystem::exists(ca_paths.certificate, ignored)) {
    Result<runtime::CertificateAndKey> created =
        runtime::CreateCertificateAuthority(options.cluster_name, 3650);
    Status written =
        created.ok() ? runtime::WriteCertificateAndKey(ca_paths, *created) : created.status();
    if (!written.ok()) {
      std::fprintf(stderr, "meridian dev: cannot create the cluster CA: %s\n",
                   written.message().c_str());
      return false;
    }
  }
  Result<runtime::CertificateAndKey> authority = runtime::ReadAuthority(dir);
  if (!authority.ok()) {
    std::fprintf(stderr, "meridian dev: %s\n", authority.status().message().c_str());
    return false;
  }
  for (int i = 1; i <= options.nodes; ++i) {
    const std::string name = "node" + std::to_string(i);
    const runtime::CertificatePaths paths =
        runtime::CertificatePathsIn(dir, CertificateKind::kNode, name);
    if (std::filesystem::exists(paths.certificate, ignored)) continue;
    runtime::CertificateRequest request;
    request.kind = CertificateKind::kNode;
    request.name = name;
    request.hosts = {"127.0.0.1", "localhost"};
    Result<runtime::CertificateAndKey> issued = runtime::IssueCertificate(*authority, request);
    Status written =
        issued.ok() ? runtime::WriteCertificateAndKey(paths, *issued) : issued.status();
    if (!written.ok()) {
      std::fprintf(stderr, "meridian dev: cannot issue %s's certificate: %s\n", name.c_str(),
                   written.message().c_str());
      return false;
    }
  }
  return true;
}

int RunDev(const DevOptions& options) {
  if (options.nodes < 1 || options.nodes > 64) {
    std::fprintf(stderr, "meridian dev: --nodes must be between 1 and 64\n");
    return 2;
  }
  // Block the stop signals before spawning, then wait for them (or a child's exit).
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, SIGINT);
  sigaddset(&waited, SIGTERM);
  sigaddset(&waited, SIGCHLD);
  sigprocmask(SIG_BLOCK, &waited, nullptr);

  // Nodes talk to each other over mutual TLS with certificates of the dev cluster's own CA.
  const std::string cert_dir = options.data_root + "/certs";
  // A data root made before (nodes named after their peer addresses, no certificates) would
  // come back as a cluster of strangers to itself: say so instead.
  std::error_code ignored;
  if (std::filesystem::exists(options.data_root + "/node1/db", ignored) &&
      !std::filesystem::exists(cert_dir, ignored)) {
    std::fprintf(stderr,
                 "meridian dev: %s holds a dev cluster made by an older meridian (nodes named "
                 "after their addresses, no certificates); remove it (rm -rf %s) or pass "
                 "--data-root with a new directory\n",
                 options.data_root.c_str(), options.data_root.c_str());
    return 1;
  }
  if (!EnsureCertificates(cert_dir, options)) return 1;
  const runtime::CertificatePaths ca_paths =
      runtime::CertificatePathsIn(cert_dir, runtime::CertificateKind::kAuthority, "");

  const std::string executable = SelfExecutable();
  std::vector<Child> children;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options.ready_timeout_ms);
  const std::string seed = "127.0.0.1:" + std::to_string(options.peer_base);
  for (int i = 1; i <= options.nodes; ++i) {
    Child child;
    child.name = "node" + std::to_string(i);
    child.http = "127.0.0.1:" + std::to_string(options.http_base + i - 1);
    child.peer = "127.0.0.1:" + std::to_string(options.peer_base + i - 1);
    const std::string data_dir = options.data_root + "/" + child.name;
    // The nodes share this machine's CPUs: each taking one shard per CPU, as a node alone
    // would, runs every CPU's worth of shards once per node (docs/benchmarks.md, "Shards in a
    // cluster on one machine").
    const unsigned shards =
        options.shards != 0
            ? options.shards
            : runtime::ResolveShardCount(
                  0, data_dir, node::NodeConfig{}.partition_count,
                  std::max(1u, runtime::AvailableCpus() / static_cast<unsigned>(options.nodes)));
    std::filesystem::create_directories(data_dir);
    std::vector<std::string> args = {
        "serve",    "--data-dir", data_dir,   "--http",         child.http,          "--peer",
        child.peer, "--name",     child.name, "--cluster-name", options.cluster_name};
    args.push_back("--shards");
    args.push_back(std::to_string(shards));
    // Likewise the background budget: each node's share of what one node alone would take.
    args.push_back("--background-bytes-per-second");
    args.push_back(std::to_string(replication::BackgroundBytesPerSecondShared(
        runtime::AvailableCpus(), static_cast<unsigned>(options.nodes))));
    const runtime::CertificatePaths node_paths =
        runtime::CertificatePathsIn(cert_dir, runtime::CertificateKind::kNode, child.name);
    for (const std::string& arg :
         {std::string("--peer-tls-ca"), ca_paths.certificate, std::string("--peer-tls-cert"),
          node_paths.certificate, std::string("--peer-tls-key"), node_paths.private_key}) {
      args.push_back(arg);
    }
    if (i > 1) {
      args.push_back("--seeds");
      args.push_back(seed);
    }
    if (options.resp_base > 0) {
      // The wanted port may be taken (e.g. by a local Redis): fall back to any free port.
      const int wanted = options.resp_base + i - 1;
      const bool available = PortFree(wanted);
      if (!available) {
        std::fprintf(stderr, "meridian dev: RESP port %d is in use; %s takes a free port\n", wanted,
                     child.name.c_str());
      }
      args.push_back("--resp");
      args.push_back("127.0.0.1:" + std::to_string(available ? wanted : 0));
    }
    if (!Spawn(executable, args, data_dir + "/meridian.log", child)) {
      std::fprintf(stderr, "meridian dev: cannot start %s\n", child.name.c_str());
      StopAll(children);
      return 1;
    }
    children.push_back(child);
    if (!AwaitReady(children.back(), deadline)) {
      std::fprintf(stderr, "meridian dev: %s did not become ready; see %s/meridian.log\n",
                   child.name.c_str(), data_dir.c_str());
      StopAll(children);
      return 1;
    }
    children.back().resp = ReadyField(children.back().ready_line, "resp");
  }
  std::printf(
      "Meridian dev cluster '%s' is up with %d node(s) (nodes talk over mutual TLS; CA and "
      "certificates in %s):\n",
      options.cluster_name.c_str(), options.nodes, cert_dir.c_str());
  for (const Child& child : children) {
    const std::string resp = child.resp.empty() ? "" : "  resp " + child.resp;
    std::printf("  %-7s http://%s%s  peer %s  data %s/%s  log %s/%s/meridian.log\n",
                child.name.c_str(), child.http.c_str(), resp.c_str(), child.peer.c_str(),
                options.data_root.c_str(), child.name.c_str(), options.data_root.c_str(),
                child.name.c_str());
  }
  std::printf(
      "Try: curl -X PUT --data-binary hello http://%s/v1/kv/default/greeting\n"
      "     curl http://%s/v1/kv/default/greeting\n"
      "     curl http://%s/v1/cluster/status\n",
      children.front().http.c_str(), children.back().http.c_str(), children.front().http.c_str());
  if (!children.front().resp.empty()) {
    const std::string& resp = children.front().resp;
    const std::size_t colon = resp.rfind(':');
    std::printf("     redis-cli -h %s -p %s set greeting hello\n", resp.substr(0, colon).c_str(),
                resp.substr(colon + 1).c_str());
  }
  std::printf("Press Ctrl-C to stop every node.\n");
  std::fflush(stdout);

  int exit_code = 0;
  for (;;) {
    int signal_number = 0;
    sigwait(&waited, &signal_number);
    if (signal_number != SIGCHLD) break;
    // A child exited on its own: report it and stop the rest.
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) continue;
    for (Child& child : children) {
      if (child.pid == pid) {
        std::fprintf(stderr, "meridian dev: %s exited unexpectedly; see its log\n",
                     child.name.c_str());
        child.pid = -1;
      }
    }
    exit_code = 1;
    break;
  }
  std::printf("stopping %zu node(s)...\n", children.size());
  std::fflush(stdout);
  StopAll(children);
  return exit_code;
}

}  // namespace

void AddDevCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<DevOptions>();
  CLI::App* dev = app.add_subcommand(
      "dev", "Start a local cluster of N nodes on loopback; Ctrl-C stops all of them");
  dev->add_option("--nodes", options->nodes, "Number of nodes (1-64)")->capture_default_str();
  dev->add_option("--http-base-port", options->http_base, "HTTP port of node 1; node i uses +i-1")
      ->capture_default_str();
  dev->add_option("--peer-base-port", options->peer_base, "Peer port of node 1; node i uses +i-1")
      ->capture_default_str();
  dev->add_option("--resp-base-port", options->resp_base,
                  "RESP (Redis protocol) port of node 1; node i uses +i-1; 0: off")
      ->capture_default_str();
  dev->add_option("--data-root", options->data_root, "Data directories: DATA_ROOT/node<i>")
      ->capture_default_str();
  dev->add_option("--cluster-name", options->cluster_name, "Cluster name")->capture_default_str();
  dev->add_option("--shards", options->shards,
                  "Shards per node (default 0: the CPUs available shared out among the nodes, at "
                  "least one each, for a new node; an existing node keeps the count it was "
                  "created with)")
      ->capture_default_str();
  dev->add_option("--ready-timeout-ms", options->ready_timeout_ms,
                  "How long each node may take to start")
      ->capture_default_str();
  dev->callback([options, &exit_code] { exit_code = RunDev(*options); });
}

}  // namespace meridian::cli
