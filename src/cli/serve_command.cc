// `meridian serve`: runs one node (runtime::Server) until SIGINT/SIGTERM.
//
// Settings come from built-in defaults, then an optional TOML file (--config), then flags;
// each later source overrides the earlier. Every setting has one TOML key and one flag (the
// key with '_' -> '-', except max_connections/--max-connections etc. which match too).
// Exit codes: 0 after a clean stop, 1 when startup fails (e.g. RocksDB locked, port in use,
// bad TLS files), 2 for an invalid configuration; failures print one line to stderr.
//
// Numeric flags are parsed as text here (not by CLI11) so that every configuration error,
// a malformed number or an unknown flag included, exits 2 with one line.
//
// --test-power-loss-fs is TEST ONLY (runtime/server.h): it is a command-line flag and nothing
// else — a config file that names it is refused — and the server logs it loudly.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <toml++/toml.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>
#include "api/http_server.h"
#include "cli/commands.h"
#include "cluster/link_monitor.h"
#include "cluster/node_id.h"
#include "cluster/reconnect_backoff.h"
#include "core/object_id.h"
#include "replication/background_governor.h"
#include "runtime/server.h"

namespace meridian::cli {
namespace {

constexpr int kExitStartupFailed = 1;
constexpr int kExitInvalidConfig = 2;
// The test-only setting, refused in config files (see the top of this file).
constexpr std::string_view kTestPowerLossKey = "test_power_loss_fs";

enum class Kind { kText, kUnsigned };

constexpr std::string_view kMutualTls = "mtls";
constexpr std::string_view kInsecurePlaintext = "insecure-plaintext";

// One configuration setting: its TOML key, flag, and how a value is applied to the config.
struct Setting {
  std::string key;  // TOML key, e.g. "value_bytes_max"
  Kind kind;
  std::string help;
  std::function<std::string(const runtime::ServerConfig&)> show;  // current value as text
  std::function<Status(runtime::ServerConfig&, std::string_view)> apply;
};

std::string FlagName(const std::string& key) {
  std::string flag = "--" + key;
  for (char& c : flag) {
    if (c == '_') c = '-';
  }
  return flag;
}

Result<std::uint64_t> ParseUnsigned(std::string_view key, std::string_view text) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument(std::string(key) + " must be a non-negative integer, got '" +
                                   std::string(text) + "'");
  }
  return value;
}

template <typename Field>
Setting TextSetting(std::string key, std::string help, Field field) {
  return Setting{key, Kind::kText, std::move(help),
                 [field](const runtime::ServerConfig& c) {
                   runtime::ServerConfig copy = c;  // fields are reached through a mutable ref
                   return field(copy);
                 },
                 [field](runtime::ServerConfig& c, std::string_view text) {
                   field(c) = std::string(text);
                   return Status::Ok();
                 }};
}

// An unsigned setting in [min, max].
template <typename Field>
Setting NumberSetting(std::string key, std::string help, std::uint64_t min, std::uint64_t max,
                      Field field) {
  return Setting{key, Kind::kUnsigned, std::move(help),
                 [field](const runtime::ServerConfig& c) {
                   runtime::ServerConfig copy = c;  // fields are reached through a mutable ref
                   return std::to_string(field(copy));
                 },
                 [key, min, max, field](runtime::ServerConfig& c, std::string_view text) -> Status {
                   Result<std::uint64_t> value = ParseUnsigned(key, text);
                   if (!value.ok()) return value.status();
                   if (*value < min || *value > max) {
                     return Status::InvalidArgument(key + " must be in [" + std::to_string(min) +
                                                    ", " + std::to_string(max) + "], got " +
                                                    std::string(text));
                   }
                   field(c) = static_cast<std::remove_reference_t<decltype(field(c))>>(*value);
                   return Status::Ok();
                 }};
}

std::vector<Setting> MakeSettings() {
  using C = runtime::ServerConfig;
  constexpr std::uint64_t kU32 = std::numeric_limits<std::uint32_t>::max();
  constexpr std::uint64_t kSizeMax = std::uint64_t{1} << 40;  // sanity bound for byte sizes
  std::vector<Setting> settings;
  settings.push_back(TextSetting("data_dir", "Data directory (RocksDB in <data_dir>/db)",
                                 [](C& c) -> std::string& { return c.data_dir; }));
  settings.push_back(
      TextSetting("http", "Plain HTTP listen address HOST:PORT (port 0: any free; \"\": off)",
                  [](C& c) -> std::string& { return c.http_address; }));
  settings.push_back(TextSetting("https", "TLS listen address HOST:PORT (default: off)",
                                 [](C& c) -> std::string& { return c.https_address; }));
  settings.push_back(
      TextSetting("tls_cert", "PEM certificate chain file, required with --https (default: none)",
                  [](C& c) -> std::string& { return c.tls_certificate_file; }));
  settings.push_back(TextSetting("tls_key",
                                 "PEM private key file, required with --https (default: none)",
                                 [](C& c) -> std::string& { return c.tls_private_key_file; }));
  settings.push_back(TextSetting(
      "tls_client_ca",
      "PEM CA certificate: HTTPS clients may authenticate with a certificate it signed "
      "(`meridian cert client --name USER`), as that user of --users-file (default: tokens only)",
      [](C& c) -> std::string& { return c.tls_client_ca_file; }));
  settings.push_back(TextSetting(
      "users_file",
      "Users, roles and token hashes (JSON; `meridian user add` writes it). Given: every "
      "request but /health needs a bearer token (default: none = no authentication)",
      [](C& c) -> std::string& { return c.users_file; }));
  settings.push_back(
      Setting{"metrics_auth", Kind::kText,
              "With --users-file: \"open\" (GET /metrics needs no token) or \"required\"",
              [](const C& c) { return std::string(c.metrics_require_auth ? "required" : "open"); },
              [](C& c, std::string_view text) -> Status {
                if (text != "open" && text != "required") {
                  return Status::InvalidArgument("must be \"open\" or \"required\", got '" +
                                                 std::string(text) + "'");
                }
                c.metrics_require_auth = text == "required";
                return Status::Ok();
              }});
  settings.push_back(TextSetting("resp",
                                 "Redis-protocol (RESP2) listen address HOST:PORT (default: off)",
                                 [](C& c) -> std::string& { return c.resp_address; }));
  settings.push_back(TextSetting("resp_bucket", "Bucket that RESP (Redis) keys live in",
                                 [](C& c) -> std::string& { return c.resp_bucket; }));
  settings.push_back(NumberSetting(
      "partition_count", "Number of partitions; a power of two, fixed when the data dir is created",
      1, 1u << 20, [](C& c) -> std::uint32_t& { return c.node.partition_count; }));
  settings.push_back(NumberSetting("key_bytes_max", "Largest key in bytes", 1, kU32,
                                   [](C& c) -> std::size_t& { return c.node.key_bytes_max; }));
  settings.push_back(NumberSetting("value_bytes_max", "Largest value in bytes", 1, 1u << 30,
                                   [](C& c) -> std::size_t& { return c.node.value_bytes_max; }));
  settings.push_back(
      NumberSetting("header_bytes_max",
                    "Largest HTTP request line + header block in bytes (at most 65535: the HTTP "
                    "parser's largest field)",
                    1024, api::kHeaderBytesMaxLimit,
                    [](C& c) -> std::size_t& { return c.http_limits.header_bytes_max; }));
  settings.push_back(NumberSetting(
      "max_connections",
      "Concurrent HTTP connections (and, separately, RESP ones); at the cap the oldest idle one "
      "is closed to make room, and a new one is refused only when none is idle",
      1, 1u << 20, [](C& c) -> std::size_t& { return c.http_limits.connections_max; }));
  settings.push_back(
      NumberSetting("request_timeout_ms", "Time to send one request's headers and body, in ms", 1,
                    kU32, [](C& c) -> std::uint64_t& { return c.http_limits.request_timeout_ms; }));
  settings.push_back(
      NumberSetting("idle_timeout_ms", "Idle keep-alive connections are closed after this many ms",
                    1, kU32, [](C& c) -> std::uint64_t& { return c.http_limits.idle_timeout_ms; }));
  settings.push_back(NumberSetting(
      "front_end_threads",
      "Threads that run the HTTP, HTTPS and RESP front ends: 0 runs them on the node's thread, "
      "1 on a thread of their own (default 0; docs/benchmarks.md \"Front ends on a thread of their "
      "own\")",
      0, 1, [](C& c) -> unsigned& { return c.front_end_threads; }));
  settings.push_back(NumberSetting(
      "shards",
      "Shards of the node: its partitions split over this many state machines, each with its "
      "own thread and RocksDB (default 0: one per CPU available for a new data directory, the "
      "count it was created with for an existing one; fixed when the data directory is "
      "created; docs/operations.md \"Shards\")",
      0, 1024, [](C& c) -> unsigned& { return c.shards; }));
  settings.push_back(NumberSetting(
      "storage_reserve_bytes",
      "Free-space reserve of the data directory's file system: below it writes answer 507 "
      "(reads go on) until space returns (default 512 MiB)",
      0, std::numeric_limits<std::uint64_t>::max(),
      [](C& c) -> std::uint64_t& { return c.storage_reserve_bytes; }));
  settings.push_back(NumberSetting(
      "input_bytes_max",
      "Memory for requests still arriving (partial HTTP bodies, RESP commands, peer frames), "
      "over every connection: beyond it 503 / -BUSY (default 256 MiB; at least the largest "
      "single request)",
      1, std::numeric_limits<std::uint64_t>::max(),
      [](C& c) -> std::uint64_t& { return c.input_bytes_max; }));
  settings.push_back(
      NumberSetting("block_cache_bytes", "RocksDB block cache size in bytes", 0, kSizeMax,
                    [](C& c) -> std::size_t& { return c.rocksdb.block_cache_bytes; }));
  settings.push_back(NumberSetting(
      "write_buffer_bytes", "RocksDB memtable size in bytes, per column family", 64u << 10,
      kSizeMax, [](C& c) -> std::size_t& { return c.rocksdb.write_buffer_bytes; }));
  // Cluster settings. Without --peer the node runs standalone and owns every partition.
  settings.push_back(TextSetting("name", "Node id in the cluster: 1-64 of [A-Za-z0-9_.:-]",
                                 [](C& c) -> std::string& { return c.node.node_id; }));
  settings.push_back(TextSetting("cluster_name",
                                 "Cluster name; peers of another cluster are refused",
                                 [](C& c) -> std::string& { return c.node.cluster_name; }));
  settings.push_back(
      TextSetting("peer", "Node-to-node listen address HOST:PORT (default: none = standalone node)",
                  [](C& c) -> std::string& { return c.node.peer_address; }));
  settings.push_back(TextSetting(
      "peer_tls_ca", "Cluster CA certificate (PEM) that peers' certificates must chain to",
      [](C& c) -> std::string& { return c.peer_tls.ca_file; }));
  settings.push_back(TextSetting(
      "peer_tls_cert", "This node's certificate (PEM; `meridian cert node --name NAME` makes one)",
      [](C& c) -> std::string& { return c.peer_tls.certificate_file; }));
  settings.push_back(TextSetting("peer_tls_key", "This node's private key (PEM)",
                                 [](C& c) -> std::string& { return c.peer_tls.private_key_file; }));
  settings.push_back(Setting{
      "peer_security", Kind::kText,
      "Node-to-node security: \"mtls\" (mutual TLS 1.3; needs --peer-tls-ca/-cert/-key) or "
      "\"insecure-plaintext\" (anyone who reaches the peer port can act as a node)",
      [](const C& c) { return std::string(c.peer_plaintext ? kInsecurePlaintext : kMutualTls); },
      [](C& c, std::string_view text) -> Status {
        if (text == kMutualTls) {
          c.peer_plaintext = false;
        } else if (text == kInsecurePlaintext) {
          c.peer_plaintext = true;
        } else {
          return Status::InvalidArgument("must be \"" + std::string(kMutualTls) + "\" or \"" +
                                         std::string(kInsecurePlaintext) + "\", got '" +
                                         std::string(text) + "'");
        }
        return Status::Ok();
      }});
  settings.push_back(
      Setting{"seeds", Kind::kText,
              "Comma-separated peer addresses to join through on first start (default: none = "
              "bootstrap a new cluster)",
              [](const C& c) {
                std::string joined;
                for (const std::string& seed : c.node.seeds)
                  joined += (joined.empty() ? "" : ",") + seed;
                return joined;
              },
              [](C& c, std::string_view text) {
                c.node.seeds.clear();
                std::size_t start = 0;
                while (start <= text.size()) {
                  const std::size_t comma = std::min(text.find(',', start), text.size());
                  if (comma > start) c.node.seeds.emplace_back(text.substr(start, comma - start));
                  start = comma + 1;
                }
                return Status::Ok();
              }});
  settings.push_back(TextSetting("zone", "Zone (rack / data centre) of this node",
                                 [](C& c) -> std::string& { return c.node.zone; }));
  settings.push_back(NumberSetting("weight", "Relative capacity; ownership follows weight", 1,
                                   1000000, [](C& c) -> std::uint32_t& { return c.node.weight; }));
  settings.push_back(
      NumberSetting("gossip_interval_ms", "Time between gossip rounds, in ms", 10, 600000,
                    [](C& c) -> std::uint64_t& { return c.node.gossip_interval_ms; }));
  // Node-to-node connections (docs/design/transport.md, "Heartbeats and deadlines").
  constexpr std::uint64_t kHourMs = 3'600'000;
  settings.push_back(NumberSetting(
      "peer_heartbeat_interval_ms",
      "A peer connection with nothing else to send carries a heartbeat this often, in ms", 1,
      kHourMs, [](C& c) -> std::uint32_t& { return c.peer_transport.heartbeat_interval_ms; }));
  settings.push_back(NumberSetting(
      "peer_idle_timeout_ms",
      "A peer connection that received nothing (heartbeats count) for this many ms is closed and "
      "replaced; at least twice the heartbeat interval",
      1, kHourMs, [](C& c) -> std::uint32_t& { return c.peer_transport.idle_timeout_ms; }));
  settings.push_back(NumberSetting(
      "peer_write_timeout_ms",
      "A peer connection whose write has not completed for this many ms is closed and replaced", 1,
      kHourMs, [](C& c) -> std::uint32_t& { return c.peer_transport.write_timeout_ms; }));
  settings.push_back(NumberSetting(
      "peer_connect_timeout_ms", "Deadline of one connection attempt to a peer, in ms", 1, kHourMs,
      [](C& c) -> std::uint32_t& { return c.peer_transport.connect_timeout_ms; }));
  settings.push_back(NumberSetting(
      "peer_reconnect_backoff_max_ms",
      "Longest spacing of connection attempts to an unreachable peer, in ms (the spacing starts "
      "at 100 ms and doubles)",
      100, kHourMs,
      [](C& c) -> std::uint32_t& { return c.peer_transport.reconnect_backoff_max_ms; }));
  settings.push_back(NumberSetting(
      "forward_timeout_ms", "Deadline of a write forwarded to a primary of the key, in ms", 10,
      kU32, [](C& c) -> std::uint64_t& { return c.node.forward_timeout_ms; }));
  settings.push_back(NumberSetting(
      "single_use_entries_max",
      "Hedged forwarding: a write forwarded to a primary carries a version fixed by this node and "
      "is routed again if that primary goes silent; a key's history takes at most this many such "
      "versions, later forwarded writes to it are not hedged (0: no write is hedged)",
      0, 1u << 16, [](C& c) -> std::size_t& { return c.node.single_use_entries_max; }));
  settings.push_back(NumberSetting(
      "forward_hedge_after_ms",
      "Hedged forwarding: a write forwarded with a fixed version and unanswered for this long, "
      "while its primary still answers other traffic, is routed again avoiding that primary, "
      "in ms (0: only when the primary goes silent)",
      0, kU32, [](C& c) -> std::uint64_t& { return c.node.forward_hedge_after_ms; }));
  settings.push_back(NumberSetting(
      "aae_exchange_interval_ms",
      "Active anti-entropy: each primary compares each partition with each other primary once "
      "per interval, in ms (0: off)",
      0, kU32, [](C& c) -> std::uint64_t& { return c.node.anti_entropy.exchange_interval_ms; }));
  settings.push_back(NumberSetting(
      "aae_keys_per_round_max",
      "Active anti-entropy: copies one side sends in one exchange round (larger rounds repair "
      "faster, with longer pauses of this node's event loop)",
      1, 1u << 20, [](C& c) -> std::uint32_t& { return c.node.anti_entropy.keys_per_round_max; }));
  settings.push_back(NumberSetting(
      "reap_interval_ms",
      "Tombstone reaping: how often this node starts a round for the partitions it reaps, in ms "
      "(0: off; needs anti-entropy on). Tombstones go once every member acknowledged that "
      "nothing they superseded is left anywhere",
      0, kU32, [](C& c) -> std::uint64_t& { return c.node.reaping.interval_ms; }));
  settings.push_back(NumberSetting(
      "reap_prune_soon_after_ms",
      "Pruning on demand: a key stored with enough superseded single-use clock entries (hedged "
      "forwarding's versions) is proposed for pruning by a round of its own this long after "
      "its partition's last round, without waiting for reap_interval_ms, in ms (0: only the "
      "interval's rounds prune)",
      0, kU32, [](C& c) -> std::uint64_t& { return c.node.reaping.prune_soon_after_ms; }));
  settings.push_back(NumberSetting(
      "peer_suspect_after_ms",
      "A peer sent a request and silent for this long is routed around until it answers "
      "(0: only the failure detector decides)",
      0, kU32, [](C& c) -> std::uint64_t& { return c.node.suspicion.suspect_after_ms; }));
  settings.push_back(NumberSetting(
      "coordinator_timeout_ms",
      "Deadline of a get or write this node coordinates (waiting for r or w replicas), in ms", 10,
      kU32, [](C& c) -> std::uint64_t& { return c.node.request_timeout_ms; }));
  settings.push_back(NumberSetting(
      "slow_request_ms",
      "A get, put or delete this node coordinates or forwards that takes this long or more is "
      "logged with where its time went (which replica answered when), in ms (0: never)",
      0, kU32, [](C& c) -> std::uint64_t& { return c.node.slow_request_ms; }));
  settings.push_back(NumberSetting(
      "hints_max",
      "Objects this node keeps for unreachable primaries (hints); past it, it refuses to stand "
      "in for more",
      0, 1u << 30, [](C& c) -> std::size_t& { return c.node.hints.hints_max; }));
  settings.push_back(NumberSetting(
      "hint_bytes_max",
      "Bytes of hints (keys plus encoded records) this node keeps; past it, it refuses to stand "
      "in for more",
      0, kSizeMax, [](C& c) -> std::uint64_t& { return c.node.hints.hint_bytes_max; }));
  // The background budget shared by handoff, replica copies and hint replay
  // (docs/design/governor.md).
  settings.push_back(
      NumberSetting("background_bytes_per_second",
                    "Background work's budget in bytes per second, each object also costing "
                    "background_object_cost_bytes; 0 = unlimited",
                    0, replication::BackgroundGovernor::kBytesPerSecondMax,
                    [](C& c) -> std::uint64_t& { return c.node.background.bytes_per_second; }));
  settings.push_back(NumberSetting(
      "background_burst_bytes", "Most background bytes sent at once after an idle spell", 1,
      replication::BackgroundGovernor::kBurstBytesMax,
      [](C& c) -> std::uint64_t& { return c.node.background.burst_bytes; }));
  settings.push_back(
      NumberSetting("background_object_cost_bytes",
                    "What each object of background work costs on top of its bytes, in bytes", 0,
                    replication::BackgroundGovernor::kObjectCostBytesMax,
                    [](C& c) -> std::uint64_t& { return c.node.background.object_cost_bytes; }));
  settings.push_back(NumberSetting(
      "background_streams_max",
      "Partition streams (handoffs, replica copies) running at once; 0 = unlimited", 0, 1u << 16,
      [](C& c) -> std::uint32_t& { return c.node.background.streams_max; }));
  settings.push_back(NumberSetting(
      "background_ack_hold_max_ms",
      "Longest the ack of an applied hint or handoff batch waits for the background budget; "
      "0 = acks are not held",
      0, 4'000, [](C& c) -> std::uint64_t& { return c.node.ack_pacing.hold_max_ms; }));
  return settings;
}

// Applies a TOML file. InvalidArgument for a parse error, an unknown key or a wrong type.
Status ApplyConfigFile(const std::string& path, const std::vector<Setting>& settings,
                       runtime::ServerConfig& config) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    return Status::InvalidArgument("config " + path + ":" + std::to_string(where.line) + ":" +
                                   std::to_string(where.column) + ": " +
                                   std::string(error.description()));
  }
  for (const auto& [name, node] : table) {
    const std::string key(name.str());
    const Setting* setting = nullptr;
    for (const Setting& candidate : settings) {
      if (candidate.key == key) setting = &candidate;
    }
    if (key == kTestPowerLossKey) {
      return Status::InvalidArgument("config " + path + ": " + key +
                                     " is test-only and cannot be set in a config file; pass "
                                     "--test-power-loss-fs on the command line");
    }
    if (setting == nullptr) {
      return Status::InvalidArgument("config " + path + ": unknown key '" + key + "'");
    }
    std::string text;
    if (setting->kind == Kind::kText) {
      if (!node.is_string()) {
        return Status::InvalidArgument("config " + path + ": " + key + " must be a string");
      }
      text = node.as_string()->get();
    } else {
      if (!node.is_integer() || node.as_integer()->get() < 0) {
        return Status::InvalidArgument("config " + path + ": " + key +
                                       " must be a non-negative integer");
      }
      text = std::to_string(node.as_integer()->get());
    }
    if (Status status = setting->apply(config, text); !status.ok()) {
      return Status::InvalidArgument("config " + path + ": " + status.message());
    }
  }
  return Status::Ok();
}

struct PeerTlsFilesGiven {
  explicit PeerTlsFilesGiven(const runtime::PeerTlsFiles& files) {
    const int count =
        !files.ca_file.empty() + !files.certificate_file.empty() + !files.private_key_file.empty();
    any = count > 0;
    all = count == 3;
  }
  bool any = false;
  bool all = false;
};

// Whether `address` ("HOST:PORT") listens on a loopback address only (127.0.0.0/8, ::1).
bool IsLoopback(const std::string& address) {
  Result<api::ListenAddress> parsed = api::ParseListenAddress(address);
  if (!parsed.ok()) return false;
  return parsed->host.starts_with("127.") || parsed->host == "::1";
}

// Secure by default (issue 11): a node reachable from other machines needs TLS and
// authentication on every port it opens, unless the operator says --insecure.
Status CheckExposure(const runtime::ServerConfig& config, bool insecure) {
  if (insecure) return Status::Ok();
  std::vector<std::string> problems;
  if (!config.http_address.empty() && !IsLoopback(config.http_address)) {
    problems.push_back("plain HTTP on " + config.http_address +
                       " (use --https, and --http on 127.0.0.1 or --http \"\" to turn it off)");
  }
  if (!config.https_address.empty() && !IsLoopback(config.https_address) &&
      config.users_file.empty()) {
    problems.push_back("HTTPS on " + config.https_address + " without --users-file");
  }
  if (!config.resp_address.empty() && !IsLoopback(config.resp_address)) {
    problems.push_back("RESP on " + config.resp_address +
                       " (RESP has no TLS: passwords and data would cross the network in clear "
                       "text)");
  }
  if (problems.empty()) return Status::Ok();
  std::string message =
      "refusing to serve clients from other machines without TLS and "
      "authentication: ";
  for (std::size_t i = 0; i < problems.size(); ++i) message += (i ? "; " : "") + problems[i];
  return Status::InvalidArgument(message + ". Pass --insecure to do it anyway");
}

Status ValidateConfig(const runtime::ServerConfig& config) {
  const std::uint32_t partitions = config.node.partition_count;
  if ((partitions & (partitions - 1)) != 0) {
    return Status::InvalidArgument("partition_count must be a power of two, got " +
                                   std::to_string(partitions));
  }
  if (config.data_dir.empty()) return Status::InvalidArgument("data_dir must not be empty");
  if (config.http_address.empty()) {
    if (config.https_address.empty()) {
      return Status::InvalidArgument("no client listener: give --http or --https (or both)");
    }
  } else if (Result<api::ListenAddress> http = api::ParseListenAddress(config.http_address);
             !http.ok()) {
    return Status::InvalidArgument("http: " + http.status().message());
  }
  if (Status name = cluster::ValidateNodeId(config.node.node_id); !name.ok()) {
    return Status::InvalidArgument("name: " + name.message());
  }
  if (!config.node.peer_address.empty()) {
    if (Result<api::ListenAddress> peer = api::ParseListenAddress(config.node.peer_address);
        !peer.ok()) {
      return Status::InvalidArgument("peer: " + peer.status().message());
    }
  } else if (!config.node.seeds.empty()) {
    return Status::InvalidArgument("seeds given without a peer address (--peer)");
  }
  for (const std::string& seed : config.node.seeds) {
    if (Result<api::ListenAddress> parsed = api::ParseListenAddress(seed); !parsed.ok()) {
      return Status::InvalidArgument("seeds: '" + seed + "': " + parsed.status().message());
    }
  }
  if (Status link = cluster::ValidateLinkMonitorConfig(config.peer_transport.link_monitor());
      !link.ok()) {
    return Status::InvalidArgument(
        "peer connection settings (peer_heartbeat_interval_ms, peer_idle_timeout_ms, "
        "peer_write_timeout_ms): " +
        link.message());
  }
  if (Status backoff =
          cluster::ValidateReconnectBackoffConfig(config.peer_transport.reconnect_backoff());
      !backoff.ok()) {
    return Status::InvalidArgument("peer_reconnect_backoff_max_ms: " + backoff.message());
  }
  const PeerTlsFilesGiven tls_given(config.peer_tls);
  if (config.node.peer_address.empty()) {
    if (tls_given.any) {
      return Status::InvalidArgument("peer_tls_* given without a peer address (--peer)");
    }
  } else if (config.peer_plaintext) {
    if (tls_given.any) {
      return Status::InvalidArgument(
          "peer_tls_* given with peer_security = \"insecure-plaintext\"; drop one of them");
    }
  } else if (!tls_given.all) {
    return Status::InvalidArgument(
        "a clustered node (--peer) needs mutual TLS: --peer-tls-ca, --peer-tls-cert and "
        "--peer-tls-key (make them with `meridian cert ca` and `meridian cert node --name " +
        config.node.node_id +
        "`), or --peer-security insecure-plaintext to run without any peer authentication");
  }
  if (!config.resp_address.empty()) {
    if (Result<api::ListenAddress> resp = api::ParseListenAddress(config.resp_address);
        !resp.ok()) {
      return Status::InvalidArgument("resp: " + resp.status().message());
    }
  }
  if (Status bucket = ValidateBucketName(config.resp_bucket); !bucket.ok()) {
    return Status::InvalidArgument("resp_bucket: " + bucket.message());
  }
  const bool has_cert = !config.tls_certificate_file.empty();
  const bool has_key = !config.tls_private_key_file.empty();
  if (config.https_address.empty()) {
    if (has_cert || has_key || !config.tls_client_ca_file.empty()) {
      return Status::InvalidArgument(
          "tls_cert/tls_key/tls_client_ca given without an https address");
    }
    return Status::Ok();
  }
  if (!config.tls_client_ca_file.empty() && config.users_file.empty()) {
    return Status::InvalidArgument(
        "tls_client_ca needs users_file: a client certificate names a user of that file");
  }
  if (Result<api::ListenAddress> https = api::ParseListenAddress(config.https_address);
      !https.ok()) {
    return Status::InvalidArgument("https: " + https.status().message());
  }
  if (!has_cert || !has_key) {
    return Status::InvalidArgument("https needs both tls_cert and tls_key");
  }
  return Status::Ok();
}

struct ServeArguments {
  std::vector<Setting> settings = MakeSettings();
  std::vector<std::string> flag_values;  // parallel to settings
  std::vector<CLI::Option*> flag_options;
  std::string config_file;
  bool test_power_loss_fs = false;
  bool insecure = false;
};

int RunServe(CLI::App& command, ServeArguments& arguments) {
  auto fail = [](int code, const std::string& message) {
    std::fprintf(stderr, "meridian serve: %s\n", message.c_str());
    return code;
  };
  if (!command.remaining().empty()) {
    return fail(kExitInvalidConfig,
                "unknown argument '" + command.remaining().front() + "' (see --help)");
  }
  runtime::ServerConfig config = runtime::MachineDefaultServerConfig();
  const std::string default_name = config.node.node_id;
  config.node.node_id.clear();  // empty after the file and the flags: no name was given
  if (!arguments.config_file.empty()) {
    if (Status status = ApplyConfigFile(arguments.config_file, arguments.settings, config);
        !status.ok()) {
      return fail(kExitInvalidConfig, status.message());
    }
  }
  for (std::size_t i = 0; i < arguments.settings.size(); ++i) {
    if (arguments.flag_options[i]->count() == 0) continue;
    const Setting& setting = arguments.settings[i];
    if (Status status = setting.apply(config, arguments.flag_values[i]); !status.ok()) {
      return fail(kExitInvalidConfig, FlagName(setting.key) + ": " + status.message());
    }
  }
  config.test_power_loss_fs = arguments.test_power_loss_fs;
  // A clustered node without a name is named after its peer address, which is unique in the
  // cluster (with port 0 the address is not known yet: pass --name). A name given explicitly
  // is kept, even when it is the default's ("node1").
  if (config.node.node_id.empty()) {
    const bool addressed =
        !config.node.peer_address.empty() && !config.node.peer_address.ends_with(":0");
    config.node.node_id = addressed ? config.node.peer_address : default_name;
  }
  if (Status status = ValidateConfig(config); !status.ok()) {
    return fail(kExitInvalidConfig, status.message());
  }
  if (Status exposure = CheckExposure(config, arguments.insecure); !exposure.ok()) {
    return fail(kExitInvalidConfig, exposure.message());
  }

  // Logs go to stderr; stdout carries only the ready line.
  spdlog::set_default_logger(spdlog::stderr_color_mt("meridian"));
  if (arguments.insecure) {
    spdlog::warn(
        "--insecure: client ports may be reachable from other machines without TLS or "
        "authentication");
  }
  Result<std::unique_ptr<runtime::Server>> server = runtime::Server::Open(config);
  if (!server.ok()) return fail(kExitStartupFailed, server.status().ToString());
  if (Status status = (*server)->Run(); !status.ok()) {
    return fail(kExitStartupFailed, status.ToString());
  }
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int& exit_code) {
  CLI::App* command = app.add_subcommand("serve", "Run a Meridian node until SIGINT/SIGTERM");
  command->allow_extras();
  auto arguments = std::make_shared<ServeArguments>();
  const runtime::ServerConfig defaults = runtime::MachineDefaultServerConfig();
  arguments->flag_values.resize(arguments->settings.size());
  command->add_option("--config", arguments->config_file,
                      "TOML file with any of the settings below (keys as the flags, with '_'); "
                      "flags override it");
  for (std::size_t i = 0; i < arguments->settings.size(); ++i) {
    const Setting& setting = arguments->settings[i];
    std::string shown = setting.show(defaults);
    arguments->flag_values[i] = shown;
    CLI::Option* option =
        command->add_option(FlagName(setting.key), arguments->flag_values[i], setting.help);
    option->type_name(setting.kind == Kind::kText ? "TEXT" : "UINT");
    if (!shown.empty()) option->default_str(shown);
    arguments->flag_options.push_back(option);
  }
  command->add_flag("--insecure", arguments->insecure,
                    "Serve clients on non-loopback addresses without TLS or authentication "
                    "(plain HTTP, RESP, HTTPS without --users-file)");
  command
      ->add_flag("--test-power-loss-fs", arguments->test_power_loss_fs,
                 "TEST ONLY, never in production: RocksDB runs on a simulated power-loss file "
                 "system and SIGUSR2 drops every write not yet durable, then exits with code " +
                     std::to_string(runtime::kPowerLossExitCode) +
                     " (docs/operations.md \"Power-loss testing\")")
      ->group("Testing (never in production)");
  command->callback(
      [command, arguments, &exit_code] { exit_code = RunServe(*command, *arguments); });
}

}  // namespace meridian::cli
