// failure_detection_scale: the phi-accrual failure detector (src/cluster/failure_detector.h)
// at cluster scale, in a deterministic discrete-event simulation. N FailureDetectors with the
// default settings exchange heartbeat pings and pongs over a simulated network (latency: base
// + exponential jitter + a rare uniform tail; random loss) driven by one seeded PRNG and a
// virtual clock in microseconds. Nothing sleeps: an hour of virtual time takes a few minutes.
//
// Phase 1 (healthy, --seconds): counts false "down" opinions and the largest phi any node
// held for a live peer. Phi only grows between heartbeats, so its peak over a silence is its
// value when the next heartbeat arrives: the run evaluates Phi() just before every arrival
// (and at the end), which catches every excursion, however short.
// Phase 2 (--crashes nodes crash at random instants within one second): every node watching a
// crashed node polls IsAlive() every 10 ms; the detection time is the first poll that says
// "down", minus the crash instant.
//
// Usage: failure_detection_scale                      the standard suite (docs/scale.md)
//        failure_detection_scale --nodes N [--seconds S] [--crashes C] [--seed X]
//            [--loss P] [--tail-probability P] [--tail-max-ms M]
// Prints a Markdown table. "RSS at end" is the process's resident set after a row; rows that
// follow a larger one include memory the allocator kept from it.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/failure_detector.h"
#include "core/seeded_random.h"

namespace meridian::cluster {
namespace {

struct ScenarioOptions {
  int node_count = 1000;
  std::uint64_t healthy_seconds = 3600;
  int crash_count = 5;
  std::uint64_t detection_window_seconds = 30;
  std::uint64_t seed = 1;
  double base_latency_ms = 0.5;
  double jitter_mean_ms = 0.5;  // exponential
  double tail_probability = 0.001;
  double tail_min_ms = 50.0;
  double tail_max_ms = 200.0;
  double loss_probability = 0.001;
};

struct ScenarioResult {
  std::uint64_t deliveries = 0;
  std::uint64_t false_down_episodes = 0;
  double max_phi_live = 0.0;
  double bytes_per_node_second = 0.0;
  double messages_per_node_second = 0.0;
  std::vector<double> detection_seconds;  // one per (crashed node, watcher)
  int undetected = 0;
  double wall_seconds = 0.0;
  double resident_mib = 0.0;  // resident set at the end of the run
};

// SplitMix64: a small seeded generator, the same on every platform.
class Prng {
 public:
  explicit Prng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() { return SplitMix64Next(state_); }
  double Uniform01() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform01()); }
  std::uint64_t Below(std::uint64_t bound) { return Next() % bound; }

 private:
  std::uint64_t state_;
};

enum class EventKind : std::uint8_t { kTick, kDeliver, kCrash, kPoll };

struct Event {
  std::uint64_t at_us;
  std::uint64_t order;  // ties broken by scheduling order: deterministic
  EventKind kind;
  std::int32_t node;      // the node the event happens at
  std::int32_t argument;  // kDeliver: message slot; kPoll: the crashed node polled about
  bool operator>(const Event& other) const {
    return at_us != other.at_us ? at_us > other.at_us : order > other.order;
  }
};

NodeId IdOf(int index) {
  return "node-" + std::to_string(index);
}
std::string AddressOf(int index) {
  return "node-" + std::to_string(index) + ".meridian:7000";
}

double ResidentMib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}

class Simulation {
 public:
  explicit Simulation(const ScenarioOptions& options) : options_(options), prng_(options.seed) {
    std::vector<FailureDetectorPeer> peers;
    for (int i = 0; i < options.node_count; ++i) {
      peers.push_back({IdOf(i), AddressOf(i), 1});
      ids_.push_back(IdOf(i));
      address_to_index_[AddressOf(i)] = i;
    }
    for (int i = 0; i < options.node_count; ++i) {
      nodes_.push_back(std::make_unique<FailureDetector>(IdOf(i), 1));
      nodes_.back()->SetPeers(peers);
    }
    crashed_.assign(options.node_count, false);
    detected_.assign(options.node_count, {});
    interval_us_ = nodes_[0]->config().heartbeat_interval_ms * 1000;
    threshold_ = nodes_[0]->config().phi.threshold;
    for (int i = 0; i < options.node_count; ++i)
      Schedule(prng_.Below(interval_us_), EventKind::kTick, i, 0);
  }

  ScenarioResult Run() {
    const auto wall_start = std::chrono::steady_clock::now();
    const std::uint64_t healthy_end_us = options_.healthy_seconds * 1'000'000;
    RunUntil(healthy_end_us);
    result_.bytes_per_node_second =
        static_cast<double>(bytes_sent_) /
        (options_.node_count * static_cast<double>(options_.healthy_seconds));
    result_.messages_per_node_second =
        static_cast<double>(messages_sent_) /
        (options_.node_count * static_cast<double>(options_.healthy_seconds));
    // Crashes: distinct random nodes, each at a random instant within the next second.
    std::vector<int> victims;
    while (static_cast<int>(victims.size()) <
           std::min(options_.crash_count, options_.node_count - 1)) {
      const int victim = static_cast<int>(prng_.Below(options_.node_count));
      if (std::find(victims.begin(), victims.end(), victim) == victims.end())
        victims.push_back(victim);
    }
    for (int victim : victims) {
      crash_at_us_[victim] = healthy_end_us + prng_.Below(1'000'000);
      Schedule(crash_at_us_[victim], EventKind::kCrash, victim, 0);
    }
    RunUntil(healthy_end_us + options_.detection_window_seconds * 1'000'000);
    // Silences still open at the end: a live peer held down now is a false opinion too.
    const std::uint64_t now_ms = now_us_ / 1000;
    for (int i = 0; i < options_.node_count; ++i) {
      if (crashed_[i]) continue;
      for (const NodeId& peer : nodes_[i]->MonitoredPeers()) {
        const int peer_index = std::stoi(peer.substr(5));
        if (crashed_[peer_index]) continue;
        const double phi = nodes_[i]->Phi(peer, now_ms);
        result_.max_phi_live = std::max(result_.max_phi_live, phi);
        if (phi >= threshold_) ++result_.false_down_episodes;
      }
    }
    for (int victim : victims) {
      for (int watcher = 0; watcher < options_.node_count; ++watcher) {
        if (watcher == victim || crashed_[watcher]) continue;
        if (!nodes_[watcher]->IsMonitored(ids_[victim])) continue;
        auto it = detected_[victim].find(watcher);
        if (it == detected_[victim].end()) {
          ++result_.undetected;
        } else {
          result_.detection_seconds.push_back(
              static_cast<double>(it->second - crash_at_us_[victim]) / 1e6);
        }
      }
    }
    std::sort(result_.detection_seconds.begin(), result_.detection_seconds.end());
    result_.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    result_.resident_mib = ResidentMib();
    return result_;
  }

 private:
  struct Pending {
    std::int32_t from;
    proto::PeerMessage message;
  };

  void Schedule(std::uint64_t at_us, EventKind kind, int node, int argument) {
    events_.push({at_us, next_order_++, kind, node, argument});
  }

  void RunUntil(std::uint64_t end_us) {
    while (!events_.empty() && events_.top().at_us <= end_us) {
      const Event event = events_.top();
      events_.pop();
      now_us_ = event.at_us;
      const std::uint64_t now_ms = now_us_ / 1000;
      switch (event.kind) {
        case EventKind::kTick:
          if (crashed_[event.node]) break;
          nodes_[event.node]->Tick(now_ms);
          Send(event.node);
          Schedule(now_us_ + interval_us_, EventKind::kTick, event.node, 0);
          break;
        case EventKind::kDeliver:
          Deliver(event.node, event.argument, now_ms);
          break;
        case EventKind::kCrash:
          Crash(event.node);
          break;
        case EventKind::kPoll:
          Poll(event.node, event.argument, now_ms);
          break;
      }
    }
    now_us_ = end_us;
  }

  void Send(int from) {
    const bool healthy_phase = crash_at_us_.empty();
    for (Outbound& out : nodes_[from]->TakeOutbound()) {
      if (healthy_phase) {
        bytes_sent_ += out.message.ByteSizeLong();
        ++messages_sent_;
      }
      if (prng_.Uniform01() < options_.loss_probability) continue;
      double latency_ms = options_.base_latency_ms + prng_.Exponential(options_.jitter_mean_ms);
      if (prng_.Uniform01() < options_.tail_probability) {
        latency_ms += options_.tail_min_ms +
                      prng_.Uniform01() * (options_.tail_max_ms - options_.tail_min_ms);
      }
      int slot;
      if (free_slots_.empty()) {
        slot = static_cast<int>(pending_.size());
        pending_.push_back({from, std::move(out.message)});
      } else {
        slot = free_slots_.back();
        free_slots_.pop_back();
        pending_[slot] = {from, std::move(out.message)};
      }
      const int to = address_to_index_.at(out.to_address);
      Schedule(now_us_ + static_cast<std::uint64_t>(latency_ms * 1000.0), EventKind::kDeliver, to,
               slot);
    }
  }

  void Deliver(int to, int slot, std::uint64_t now_ms) {
    Pending& pending = pending_[slot];
    if (!crashed_[to]) {
      ++result_.deliveries;
      FailureDetector& receiver = *nodes_[to];
      if (!crashed_[pending.from]) {
        // The peak of phi over the silence this arrival ends.
        const double phi = receiver.Phi(ids_[pending.from], now_ms);
        result_.max_phi_live = std::max(result_.max_phi_live, phi);
        if (phi >= threshold_) ++result_.false_down_episodes;
      }
      receiver.Receive(AddressOf(pending.from), pending.message, now_ms).IgnoreError();
      Send(to);
    }
    pending.message.Clear();
    free_slots_.push_back(slot);
  }

  void Crash(int victim) {
    crashed_[victim] = true;
    for (int watcher = 0; watcher < options_.node_count; ++watcher) {
      if (watcher != victim && !crashed_[watcher] && nodes_[watcher]->IsMonitored(ids_[victim])) {
        Schedule(now_us_, EventKind::kPoll, watcher, victim);
      }
    }
  }

  void Poll(int watcher, int victim, std::uint64_t now_ms) {
    if (crashed_[watcher]) return;
    if (!nodes_[watcher]->IsAlive(ids_[victim], now_ms)) {
      detected_[victim].emplace(watcher, now_us_);
      return;
    }
    Schedule(now_us_ + 10'000, EventKind::kPoll, watcher, victim);
  }

  ScenarioOptions options_;
  Prng prng_;
  std::vector<std::unique_ptr<FailureDetector>> nodes_;
  std::vector<NodeId> ids_;
  std::unordered_map<std::string, int> address_to_index_;
  std::vector<bool> crashed_;
  std::unordered_map<int, std::uint64_t> crash_at_us_;
  std::vector<std::unordered_map<int, std::uint64_t>> detected_;  // [victim][watcher] = at_us
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Pending> pending_;
  std::vector<int> free_slots_;
  std::uint64_t next_order_ = 0;
  std::uint64_t now_us_ = 0;
  std::uint64_t interval_us_ = 0;
  double threshold_ = 0.0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t messages_sent_ = 0;
  ScenarioResult result_;
};

double Percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return NAN;
  const auto index =
      static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[index];
}

void PrintHeader() {
  std::printf(
      "| nodes | virtual time (healthy) | network | false down | max phi (live peers) | "
      "crashed | detections | detection min / median / max (s) | undetected | "
      "heartbeat bytes/node/s (msgs/node/s) | wall time | RSS at end |\n"
      "|---:|---:|---|---:|---:|---:|---:|---|---:|---|---:|---:|\n");
}

void PrintRow(const ScenarioOptions& options, const ScenarioResult& result) {
  char network[160];
  std::snprintf(network, sizeof network,
                "%.1f ms + exp(%.1f ms), %.2g%% tail %.0f-%.0f ms, %.2g%% loss",
                options.base_latency_ms, options.jitter_mean_ms, options.tail_probability * 100,
                options.tail_min_ms, options.tail_max_ms, options.loss_probability * 100);
  const auto& detections = result.detection_seconds;
  std::printf(
      "| %d | %llu s | %s | %llu | %.3g | %d | %zu | %.2f / %.2f / %.2f | %d | %.0f (%.1f) | %.0f "
      "s | %.0f MiB |\n",
      options.node_count, static_cast<unsigned long long>(options.healthy_seconds), network,
      static_cast<unsigned long long>(result.false_down_episodes), result.max_phi_live,
      options.crash_count, detections.size(), Percentile(detections, 0.0),
      Percentile(detections, 0.5), Percentile(detections, 1.0), result.undetected,
      result.bytes_per_node_second, result.messages_per_node_second, result.wall_seconds,
      result.resident_mib);
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  std::vector<ScenarioOptions> scenarios;
  if (argc <= 1) {
    for (const auto& [nodes, seconds] : std::vector<std::pair<int, std::uint64_t>>{
             {10, 3600}, {100, 3600}, {1000, 3600}, {10000, 300}}) {
      ScenarioOptions options;
      options.node_count = nodes;
      options.healthy_seconds = seconds;
      scenarios.push_back(options);
    }
    ScenarioOptions rough;  // a much worse network than the brief's, to show the margin
    rough.node_count = 1000;
    rough.healthy_seconds = 600;
    rough.loss_probability = 0.01;
    rough.tail_probability = 0.01;
    rough.tail_max_ms = 1000;
    scenarios.push_back(rough);
  } else {
    ScenarioOptions options;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string flag = argv[i];
      const char* value = argv[i + 1];
      if (flag == "--nodes")
        options.node_count = std::stoi(value);
      else if (flag == "--seconds")
        options.healthy_seconds = std::stoull(value);
      else if (flag == "--crashes")
        options.crash_count = std::stoi(value);
      else if (flag == "--seed")
        options.seed = std::stoull(value);
      else if (flag == "--loss")
        options.loss_probability = std::stod(value);
      else if (flag == "--tail-probability")
        options.tail_probability = std::stod(value);
      else if (flag == "--tail-max-ms")
        options.tail_max_ms = std::stod(value);
      else {
        std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
        return 2;
      }
    }
    if (options.node_count < 2) {
      std::fprintf(stderr, "--nodes must be >= 2\n");
      return 2;
    }
    scenarios.push_back(options);
  }
  const FailureDetectorConfig defaults;
  std::printf(
      "Failure detector defaults: heartbeat %llu ms, phi threshold %.0f, window %zu, "
      "min std %.0f ms, acceptable pause %llu ms, all-to-all up to %zu members, else k = %zu.\n\n",
      static_cast<unsigned long long>(defaults.heartbeat_interval_ms), defaults.phi.threshold,
      defaults.phi.max_sample_size, defaults.phi.min_std_deviation_ms,
      static_cast<unsigned long long>(defaults.phi.acceptable_heartbeat_pause_ms),
      defaults.monitored_peers_max, defaults.monitored_peers_when_large);
  PrintHeader();
  for (const ScenarioOptions& options : scenarios) {
    Simulation simulation(options);
    PrintRow(options, simulation.Run());
  }
  return 0;
}

}  // namespace
}  // namespace meridian::cluster

int main(int argc, char** argv) {
  return meridian::cluster::Main(argc, argv);
}
