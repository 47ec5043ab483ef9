#include "bench/config.h"

#include <charconv>

namespace meridian::bench {
namespace {

client::Error Invalid(std::string message) {
  client::Error error;
  error.code = client::ErrorCode::kInvalidArgument;
  error.message = std::move(message);
  return error;
}

}  // namespace

const char* DriverName(DriverKind kind) {
  switch (kind) {
    case DriverKind::kMeridianHttp:
      return "meridian-http";
    case DriverKind::kMeridianResp:
      return "meridian-resp";
    case DriverKind::kRedis:
      return "redis";
    case DriverKind::kEtcd:
      return "etcd";
  }
  return "unknown";
}

client::Result<DriverKind> ParseDriver(std::string_view name) {
  for (DriverKind kind : {DriverKind::kMeridianHttp, DriverKind::kMeridianResp, DriverKind::kRedis,
                          DriverKind::kEtcd}) {
    if (name == DriverName(kind)) return kind;
  }
  return Invalid("unknown driver '" + std::string(name) +
                 "': meridian-http, meridian-resp, redis or etcd");
}

const char* DefaultAddress(DriverKind kind) {
  switch (kind) {
    case DriverKind::kMeridianHttp:
      return "127.0.0.1:8080";
    case DriverKind::kMeridianResp:
      return "127.0.0.1:6380";
    case DriverKind::kRedis:
      return "127.0.0.1:6379";
    case DriverKind::kEtcd:
      return "127.0.0.1:2379";
  }
  return "";
}

client::Result<HostPort> ParseHostPort(std::string_view address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Invalid("address '" + std::string(address) + "' is not HOST:PORT");
  }
  HostPort result;
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  result.host = std::string(host);
  const std::string_view port = address.substr(colon + 1);
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || error != std::errc() || end != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return Invalid("address '" + std::string(address) + "' has no valid port");
  }
  result.port = static_cast<std::uint16_t>(value);
  return result;
}

client::Result<void> Validate(const BenchConfig& config) {
  if (config.record_count == 0) return Invalid("--records must be at least 1");
  if (config.connections == 0) return Invalid("--connections must be at least 1");
  if (config.pipeline == 0) return Invalid("--pipeline must be at least 1");
  if (config.threads == 0) return Invalid("--threads must be at least 1");
  if (config.threads > config.connections) {
    return Invalid("--threads must not exceed --connections");
  }
  if (!(config.duration_s >= 0)) return Invalid("--duration must not be negative");
  if (config.duration_s == 0 && config.operations == 0 && config.phases != PhaseSelection::kLoad) {
    return Invalid("the run phase needs --duration or --operations");
  }
  if (!(config.target_rate >= 0)) return Invalid("--target-rate must not be negative");
  if (!(config.max_error_rate >= 0 && config.max_error_rate <= 1)) {
    return Invalid("--max-error-rate must be within 0..1");
  }
  if (config.value_size > 64 * 1024 * 1024) return Invalid("--value-size is at most 64 MiB");
  if (config.driver != DriverKind::kMeridianHttp &&
      (!config.r.empty() || !config.w.empty() || !config.dw.empty())) {
    return Invalid("--r, --w and --dw apply to the meridian-http driver only");
  }
  if (config.driver != DriverKind::kMeridianHttp && !config.consistency.empty()) {
    return Invalid("--consistency applies to the meridian-http driver only");
  }
  if (!config.consistency.empty() && config.consistency != "eventual" &&
      config.consistency != "strong") {
    return Invalid("--consistency must be eventual or strong");
  }
  if (config.workload.compare_and_set && config.driver != DriverKind::kMeridianHttp) {
    return Invalid("workload cas (compare-and-set) runs on the meridian-http driver only");
  }
  if (auto address = ParseHostPort(config.address); !address.ok()) return address.error();
  return {};
}

}  // namespace meridian::bench
