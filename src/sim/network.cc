#include "sim/network.h"

#include <algorithm>

namespace meridian::sim {

SimNetwork::SimNetwork(NetworkConfig config, SeededRandom random)
    : config_(config), random_(std::move(random)) {}

std::uint64_t SimNetwork::DrawLatencyMs() {
  std::uint64_t latency_ms =
      config_.latency_ms_min + random_.Uniform(config_.latency_jitter_ms + 1);
  while (latency_ms < config_.latency_ms_max && ChancePpm(random_, config_.tail_ppm)) {
    latency_ms += config_.tail_step_ms;
  }
  return std::min(latency_ms, config_.latency_ms_max);
}

Routing SimNetwork::Route(const std::string& from_address, const std::string& to_address) {
  Routing routing;
  if (IsCut(from_address, to_address)) {
    routing.dropped = TraceKind::kDropPartition;
    return routing;
  }
  if (ChancePpm(random_, config_.loss_ppm)) {
    routing.dropped = TraceKind::kDropLoss;
    return routing;
  }
  routing.delays_ms.push_back(DrawLatencyMs());
  if (ChancePpm(random_, config_.duplicate_ppm)) routing.delays_ms.push_back(DrawLatencyMs());
  return routing;
}

bool SimNetwork::IsCut(const std::string& from_address, const std::string& to_address) const {
  return cut_links_.contains(std::make_pair(from_address, to_address));
}

void SimNetwork::Partition(const std::vector<std::string>& side_a,
                           const std::vector<std::string>& side_b) {
  PartitionOneWay(side_a, side_b);
  PartitionOneWay(side_b, side_a);
}

void SimNetwork::PartitionOneWay(const std::vector<std::string>& from_side,
                                 const std::vector<std::string>& to_side) {
  for (const std::string& from : from_side) {
    for (const std::string& to : to_side) {
      if (from != to) cut_links_.emplace(from, to);
    }
  }
}

void SimNetwork::Heal() {
  cut_links_.clear();
}

}  // namespace meridian::sim
