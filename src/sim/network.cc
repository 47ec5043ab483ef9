#include "sim/network.h"

#include <algorithm>

namespace meridian::sim {

SimNetwork::SimNetwork(NetworkConfig config, SeededRandom random)
    : config_(config),
      random_(std::move(random)),
      reconnect_random_(random_.Derive("reconnect")),
      stalls_(config_.stalls) {}

std::uint64_t SimNetwork::DrawLatencyMs() {
  std::uint64_t latency_ms =
      config_.latency_ms_min + random_.Uniform(config_.latency_jitter_ms + 1);
  while (latency_ms < config_.latency_ms_max && ChancePpm(random_, config_.tail_ppm)) {
    latency_ms += config_.tail_step_ms;
  }
  return std::min(latency_ms, config_.latency_ms_max);
}

Routing SimNetwork::Route(const std::string& from_address, const std::string& to_address,
                          std::uint64_t now_ms) {
  Routing routing;
  const bool cut = IsCut(from_address, to_address);
  if (stalls_.Blocks(from_address, to_address, cut, now_ms)) {
    routing.dropped = cut ? TraceKind::kDropPartition : TraceKind::kDropStalled;
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
                           const std::vector<std::string>& side_b, std::uint64_t now_ms) {
  PartitionOneWay(side_a, side_b, now_ms);
  PartitionOneWay(side_b, side_a, now_ms);
}

void SimNetwork::PartitionOneWay(const std::vector<std::string>& from_side,
                                 const std::vector<std::string>& to_side, std::uint64_t now_ms) {
  for (const std::string& from : from_side) {
    for (const std::string& to : to_side) {
      if (from != to && cut_links_.emplace(from, to).second) stalls_.OnCut(from, to, now_ms);
    }
  }
}

void SimNetwork::Heal(std::uint64_t now_ms) {
  cut_links_.clear();
  stalls_.OnHeal(now_ms, reconnect_random_, [](const std::string&, const std::string&) {
    return false;  // every cut is lifted
  });
}

}  // namespace meridian::sim
