// BenchConfig: everything one `meridian bench` invocation runs (docs/benchmarks.md
// "meridian bench"), checked by Validate before anything connects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bench/key_chooser.h"
#include "bench/workload.h"
#include "meridian/result.h"

namespace meridian::bench {

enum class DriverKind { kMeridianHttp, kMeridianResp, kRedis, kEtcd };
enum class PhaseSelection { kLoad, kRun, kBoth };

// "meridian-http", "meridian-resp", "redis", "etcd".
const char* DriverName(DriverKind kind);
client::Result<DriverKind> ParseDriver(std::string_view name);
// The address a driver connects to without --address.
const char* DefaultAddress(DriverKind kind);

struct BenchConfig {
  WorkloadSpec workload;
  Distribution distribution = Distribution::kZipfian;  // the workload's unless overridden
  std::uint64_t record_count = 10'000;
  std::uint32_t value_size = 100;
  std::uint32_t connections = 50;
  std::uint32_t pipeline = 1;  // requests in flight per connection
  std::uint32_t threads = 1;   // event-loop threads; connections are split among them
  // The run phase ends after `duration_s` seconds or `operations` operations, whichever is
  // first; 0 = no such bound (at least one is set).
  double duration_s = 10;
  std::uint64_t operations = 0;
  double target_rate = 0;  // operations per second over all connections; 0 = closed loop
  PhaseSelection phases = PhaseSelection::kBoth;
  DriverKind driver = DriverKind::kMeridianHttp;
  std::string address;  // HOST:PORT
  std::string bucket = "bench";
  std::string token;  // meridian-http: bearer token of a user (empty: none)
  // Meridian over HTTP: per-request quorum overrides (empty: the bucket's), and whether to
  // set the bucket's conflict_policy to lww first (blind updates then overwrite).
  std::string r;
  std::string w;
  std::string dw;
  bool set_lww = true;
  // Meridian over HTTP: the bucket's consistency to set first ("eventual" | "strong"; empty:
  // leave it). A bucket's consistency changes only while it holds no data.
  std::string consistency;
  std::uint32_t timeout_ms = 10'000;
  std::uint64_t seed = 1;
  double max_error_rate = 0.01;  // a phase above this fraction of failed operations fails
  bool progress = true;          // the once-a-second line on stderr
  std::string json_path;         // empty: no JSON report
};

// kInvalidArgument naming the first bad setting.
client::Result<void> Validate(const BenchConfig& config);

// "host:port" split; kInvalidArgument for a missing or bad port. Brackets around an IPv6
// host are removed.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
client::Result<HostPort> ParseHostPort(std::string_view address);

}  // namespace meridian::bench
