// SimNetwork: the simulated network's policy — which messages are lost, duplicated or cut
// off, and how late each copy arrives. It does not hold messages: the Simulation asks
// Route() once per sent message and schedules the deliveries itself.
//
// Model: every directed link (from, to) is independent. A message is dropped when the link
// is cut (a partition: both directions; a one-way partition: one direction) or with
// probability loss_ppm; otherwise it arrives after latency_ms_min + uniform jitter + a
// geometric tail (each tail_step_ms added with probability tail_ppm), capped at
// latency_ms_max; with probability duplicate_ppm a second, independently delayed copy
// arrives too. Reordering falls out of the random latencies. A cut is also checked at
// delivery time, so no message crosses a partition, even one sent before it began.
// Connections through a partition (LinkStalls, link_stall.h): a link that was cut stays
// stalled after the heal — its messages dropped as kDropStalled — until its TCP connection's
// next retransmission or its replacement by the transport's deadline, as a real one would.
// All randomness comes from the stream given at construction (and streams derived from it);
// integer arithmetic only. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/link_stall.h"
#include "sim/seeded_random.h"
#include "sim/trace.h"

namespace meridian::sim {

struct NetworkConfig {
  std::uint64_t latency_ms_min = 1;
  std::uint64_t latency_jitter_ms = 4;  // uniform extra in [0, jitter]
  std::uint32_t tail_ppm = 100'000;     // chance of each further tail step (geometric)
  std::uint64_t tail_step_ms = 20;
  std::uint64_t latency_ms_max = 2'000;  // the tail is capped here
  std::uint32_t loss_ppm = 0;
  std::uint32_t duplicate_ppm = 0;
  LinkStallConfig stalls;  // enabled, with the transport's default deadlines
};

// What happens to one sent message.
struct Routing {
  std::optional<TraceKind> dropped;  // kDropPartition, kDropStalled or kDropLoss; then no delays
  std::vector<std::uint64_t> delays_ms;  // one per delivered copy (1, or 2 when duplicated)
};

class SimNetwork {
 public:
  SimNetwork(NetworkConfig config, SeededRandom random);

  // A message sent at now_ms (virtual time; never decreasing across calls).
  Routing Route(const std::string& from_address, const std::string& to_address,
                std::uint64_t now_ms);
  bool IsCut(const std::string& from_address, const std::string& to_address) const;

  // Cuts every link between the two sides, both directions, at now_ms. Adds to existing cuts.
  void Partition(const std::vector<std::string>& side_a, const std::vector<std::string>& side_b,
                 std::uint64_t now_ms);
  // Cuts links from `from_side` to `to_side` only; the reverse direction keeps working.
  void PartitionOneWay(const std::vector<std::string>& from_side,
                       const std::vector<std::string>& to_side, std::uint64_t now_ms);
  // Restores every link at now_ms (connections that stalled recover later, see above).
  void Heal(std::uint64_t now_ms);

  void set_loss_ppm(std::uint32_t ppm) { config_.loss_ppm = ppm; }
  void set_duplicate_ppm(std::uint32_t ppm) { config_.duplicate_ppm = ppm; }
  const NetworkConfig& config() const { return config_; }
  std::size_t cut_link_count() const { return cut_links_.size(); }
  std::size_t stalled_link_count() const { return stalls_.stalled_link_count(); }
  // Whether every link carries a message sent at now_ms: none is cut and every connection a
  // partition stalled has recovered (a heal alone does not make the network whole).
  bool Whole(std::uint64_t now_ms) const {
    return cut_links_.empty() && !stalls_.AnyBlockingAt(now_ms);
  }

 private:
  std::uint64_t DrawLatencyMs();

  NetworkConfig config_;
  SeededRandom random_;
  SeededRandom reconnect_random_;  // reconnect jitter of stalled links
  LinkStalls stalls_;
  // Directed (from, to) pairs that drop everything. An ordered set: never iterated for events.
  std::set<std::pair<std::string, std::string>> cut_links_;
};

}  // namespace meridian::sim
