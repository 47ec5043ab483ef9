// Server: one Meridian node process — RocksDB storage, the Node state machine, the HTTP(S)
// front end and optionally the Redis-protocol (RESP) front end — run on a single event loop.
//
// Concurrency model: two event loops (or one, with front_end_threads = 0), plus one per shard
// beyond the first (shards > 1).
//   * The node's loop, run by the caller of Run(): the node state machine, its tick timer, the
//     peer transport, storage checks and signals. RocksDB calls are synchronous on it, except
//     the group commit's WAL write and fsync, which run on the NodeService's commit thread (a
//     dw=1 write's reply waits for its fsync; the loop does not); RocksDB's own background
//     threads (flush, compaction) are its business. Nothing else touches the node, so the
//     node needs no locks.
//   * The front ends' loop, on a thread of its own: the HTTP(S) and RESP listeners and
//     sessions — accepting, TLS, parsing, authentication, rendering replies, and the kernel's
//     socket work for them. A parsed request goes to the node's loop (runtime/cross_loop.h)
//     and its reply comes back the same way; /metrics, /health and backups cross the same way.
//   With front_end_threads = 0 both run on the one loop (what a one-core machine gets).
//   * With shards > 1, shard 0 is the node above and every other shard runs its own node
//     state machine, storage and commit thread on a loop and thread of its own; requests reach
//     it from the front ends through runtime/cross_loop.h (runtime/sharded_kv_service.h).
//
// Lifecycle: Open() does every fallible step (data directory, RocksDB at <data_dir>/db,
// Node::Open, TLS files, binding the listeners) and returns a clear error if one fails. Run()
// prints the ready line, serves until SIGINT/SIGTERM or RequestStop(), then stops gracefully:
// listeners and idle connections close at once, in-flight requests finish (bounded by
// request_timeout_ms), the sync in flight ends (NodeService::Shutdown), the node's final
// writes are committed, and Run() returns OK. A second signal during the stop gets the
// default disposition (the process ends at once).
//
// Test only: with ServerConfig::test_power_loss_fs, RocksDB runs on a PowerLossFileSystem
// and SIGUSR2 is a simulated power cut: on the event loop, every write not yet durable is
// dropped from the data directory, and the process exits at once with
// kPowerLossExitCode — nothing is flushed, closed or committed (docs/operations.md
// "Power-loss testing").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/http_limits.h"
#include "core/status.h"
#include "node/node.h"
#include "runtime/peer_transport_config.h"
#include "storage/rocksdb_engine.h"

namespace meridian::runtime {

// The exit code after a simulated power loss (SIGUSR2 with test_power_loss_fs).
inline constexpr int kPowerLossExitCode = 86;

struct ServerConfig {
  std::string data_dir = "./var/node1";         // RocksDB lives in <data_dir>/db
  std::string http_address = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free port; empty: off
  std::string https_address;                    // empty: no TLS listener
  std::string tls_certificate_file;             // PEM chain; required with https_address
  std::string tls_private_key_file;             // PEM key; required with https_address
  // PEM CA whose client certificates (`meridian cert client`) authenticate HTTPS requests as
  // the user they name (with users_file). Empty: tokens only.
  std::string tls_client_ca_file;
  std::string resp_address;             // HOST:PORT of the RESP listener; empty: off
  std::string resp_bucket = "default";  // the bucket RESP keys live in
  node::NodeConfig node;
  // Connection liveness and reconnect settings of the node-to-node transport. cluster_name,
  // node_id and listen_address here are ignored: Open() takes them from `node`.
  PeerTransportConfig peer_transport;
  // Mutual TLS between nodes (runtime/peer_tls.h): required when node.peer_address is set,
  // unless peer_plaintext. SIGHUP reloads these files (certificate rotation).
  PeerTlsFiles peer_tls;
  // INSECURE: node-to-node traffic in plaintext, without authentication — anyone who reaches
  // the peer port can act as a node. Logged loudly at start.
  bool peer_plaintext = false;
  // Users, roles and token hashes (api/access_control.h); empty: no authentication.
  std::string users_file;
  bool metrics_require_auth = false;  // with users_file: GET /metrics needs a user too
  storage::RocksDbOptions rocksdb;
  // Free-space reserve of the data directory's file system: below it the node takes no new
  // data (writes answer 507) until space returns (runtime/storage_monitor.h).
  std::uint64_t storage_reserve_bytes = 512ull << 20;
  // One bound on the bytes held for input still arriving — partial HTTP bodies, partial RESP
  // commands, partial peer frames — over every connection together (core/byte_budget.h).
  // Must hold the largest single request. Over it: 503 / -BUSY (peers wait).
  std::uint64_t input_bytes_max = 256ull << 20;
  // key_bytes_max / value_bytes_max here are ignored: Open() copies them from `node` so the
  // edge and the node enforce the same limits. The RESP listener shares connections_max (its
  // own count) and idle_timeout_ms.
  api::HttpLimits http_limits;
  // Threads that run the front ends (HTTP, HTTPS, RESP): 0 runs them on the node's loop, 1 on
  // a loop of their own (see the concurrency model above). 0 by default: on a two-core
  // machine that also runs the clients, the hand-over between the loops costs more than the
  // second core gives (docs/benchmarks.md "Front ends on a thread of their own").
  unsigned front_end_threads = 0;
  // Shards of the node (docs/design/write_path.md, "The shards"): its partitions split over
  // this many node state machines, each with its own event loop and thread, its own RocksDB
  // (<data_dir>/db for shard 0, <data_dir>/db-shard-<s> for the others) and its own group
  // commit. The front ends hand each request to the shard of its key's partition. Fixed when
  // the data directory is created. 0: as many as the CPUs this process may run on for a new
  // data directory (at most the partition count; 1 with test_power_loss_fs), the count it was
  // created with for an existing one (runtime/shard_count.h).
  unsigned shards = 0;
  // TEST ONLY, never on in production: RocksDB runs on a PowerLossFileSystem (its graveyard
  // in <data_dir>/power-loss-graveyard) and SIGUSR2 simulates a power cut (see above).
  bool test_power_loss_fs = false;
};

// The defaults of `meridian serve` on this machine: ServerConfig{} with the background budget
// sized from the cores this process may run on (replication::BackgroundBytesPerSecondForCores).
ServerConfig MachineDefaultServerConfig();

class Server {
 public:
  // Everything that can fail at startup. Also installs the SIGINT/SIGTERM handlers, so a
  // signal delivered after Open() returns stops Run() instead of killing the process.
  static Result<std::unique_ptr<Server>> Open(const ServerConfig& config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // "meridian ready: http=IP:PORT" plus " https=IP:PORT" when TLS is on, " resp=IP:PORT" when
  // the RESP listener is on and " peer=IP:PORT" when the node is in a cluster (bound ports).
  std::string ReadyLine() const;
  std::uint16_t http_port() const;
  std::uint16_t https_port() const;  // 0 when TLS is off
  std::uint16_t resp_port() const;   // 0 when RESP is off

  // Prints ReadyLine() to stdout (flushed), then runs the event loop on the calling thread
  // until a stop is requested and in-flight requests finished. Call once.
  Status Run();

  // Thread-safe, async-signal-unsafe: asks Run() to stop, as SIGTERM does.
  void RequestStop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::runtime
