// gossip_scale: how many gossip rounds (and bytes) a member change needs to reach every node of
// a converged cluster of 10, 100, 1,000 and 10,000 Membership instances in one process.
//
// Model: every round each node (in a freshly shuffled order) calls Tick once, which starts one
// push-pull exchange with one random peer; messages are delivered within the round. The change
// is a restart of one node (its record returns with a raised incarnation). Steady-state bytes
// are measured over rounds before the change, once nothing changes any more.
//
// Memory: the converged starting state is built once and copied to every node; member records
// and the ring are immutable shared objects, so 10,000 full member tables cost ~16 bytes per
// entry per node. Usage: gossip_scale [csv_path] [partition_count]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/cluster_state.h"
#include "cluster/membership.h"
#include "cluster/ring.h"
#include "core/seeded_random.h"

namespace {

using meridian::cluster::ClusterState;
using meridian::cluster::Member;
using meridian::cluster::Membership;
using meridian::cluster::MembershipOptions;
using meridian::cluster::MemberStatus;
using meridian::cluster::NodeId;
using meridian::cluster::Outbound;
using meridian::cluster::Ring;

using SplitMixRandom = meridian::SplitMix64Random;

constexpr std::uint64_t kIntervalMs = 1000;

Member MakeMember(std::size_t index) {
  char id[32];
  std::snprintf(id, sizeof id, "node-%05zu", index);
  Member member;
  member.id = id;
  member.peer_address = member.id + ":7000";
  member.http_address = member.id + ":8080";
  member.zone = "zone-" + std::to_string(index % 3);
  member.status = MemberStatus::kUp;
  member.incarnation = 1;
  member.version = 1;
  return member;
}

struct Result {
  std::size_t nodes = 0;
  int rounds = 0;
  double steady_bytes_per_node_second = 0;
  double change_bytes_per_node_second = 0;
  double wall_seconds = 0;
};

class Cluster {
 public:
  Cluster(std::size_t nodes, std::uint32_t partition_count, std::uint64_t seed) : random_(seed) {
    ClusterState state("bench", partition_count);
    std::vector<NodeId> owners(partition_count);
    for (std::size_t i = 0; i < nodes; ++i) state.MergeMember(MakeMember(i));
    for (std::uint32_t p = 0; p < partition_count; ++p) {
      owners[p] = state.members()[p % nodes]->id;
    }
    auto ring = std::make_shared<Ring>(partition_count);
    ring->AssignAll(owners);
    const std::uint64_t hash = meridian::cluster::RingContentHash(*ring);
    state.PutRing(std::move(ring), hash, state.members().front()->id);
    for (std::size_t i = 0; i < nodes; ++i) {
      MembershipOptions options;
      options.self = *state.members()[i];
      options.cluster_name = "bench";
      options.partition_count = partition_count;
      options.gossip_interval_ms = kIntervalMs;
      nodes_.push_back(std::make_unique<Membership>(options, state));
      index_of_[options.self.peer_address] = i;
    }
    order_.resize(nodes);
    std::iota(order_.begin(), order_.end(), 0);
  }

  // One round; returns the bytes sent.
  std::size_t Round() {
    now_ms_ += kIntervalMs;
    for (std::size_t i = order_.size(); i > 1; --i) {
      std::swap(order_[i - 1], order_[random_.Uniform(i)]);
    }
    std::size_t bytes = 0;
    for (std::size_t index : order_) {
      nodes_[index]->Tick(now_ms_, random_);
      bytes += Deliver(index);
    }
    return bytes;
  }

  std::uint64_t StateVersionSum() const {
    std::uint64_t sum = 0;
    for (const auto& node : nodes_) sum += node->state_version();
    return sum;
  }

  // Restarts node `index` with a raised incarnation (the injected member change).
  void Restart(std::size_t index) {
    MembershipOptions options;
    options.self = nodes_[index]->self();
    options.self.incarnation += 1;
    options.cluster_name = "bench";
    options.partition_count = nodes_[index]->state().partition_count();
    options.gossip_interval_ms = kIntervalMs;
    ClusterState persisted = nodes_[index]->state();
    nodes_[index] = std::make_unique<Membership>(options, std::move(persisted));
  }

  std::size_t CountKnowing(const NodeId& id, std::uint64_t incarnation) const {
    std::size_t count = 0;
    for (const auto& node : nodes_) {
      const Member* member = node->state().FindMember(id);
      if (member != nullptr && member->incarnation >= incarnation) ++count;
    }
    return count;
  }

  Membership& node(std::size_t index) { return *nodes_[index]; }

 private:
  std::size_t Deliver(std::size_t first_sender) {
    std::size_t bytes = 0;
    std::vector<std::pair<std::size_t, Outbound>> queue;
    for (Outbound& out : nodes_[first_sender]->TakeOutbound()) {
      queue.emplace_back(first_sender, std::move(out));
    }
    while (!queue.empty()) {
      auto [from, out] = std::move(queue.back());
      queue.pop_back();
      bytes += out.message.ByteSizeLong();
      const std::size_t to = index_of_.at(out.to_address);
      nodes_[to]->Receive(nodes_[from]->self().peer_address, out.message, now_ms_);
      for (Outbound& reply : nodes_[to]->TakeOutbound()) queue.emplace_back(to, std::move(reply));
    }
    return bytes;
  }

  SplitMixRandom random_;
  std::uint64_t now_ms_ = 0;
  std::vector<std::unique_ptr<Membership>> nodes_;
  std::unordered_map<std::string, std::size_t> index_of_;
  std::vector<std::size_t> order_;
};

Result Measure(std::size_t nodes, std::uint32_t partition_count, std::uint64_t seed) {
  const auto start = std::chrono::steady_clock::now();
  Cluster cluster(nodes, partition_count, seed);
  // Warm up until a round changes nothing (the claimant checks the ring once), then measure
  // steady-state traffic.
  std::uint64_t previous = cluster.StateVersionSum();
  for (int round = 0; round < 50; ++round) {
    cluster.Round();
    const std::uint64_t current = cluster.StateVersionSum();
    if (current == previous) break;
    previous = current;
  }
  constexpr int kSteadyRounds = 3;
  std::size_t steady_bytes = 0;
  for (int round = 0; round < kSteadyRounds; ++round) steady_bytes += cluster.Round();

  const std::size_t changed = nodes / 2;
  cluster.Restart(changed);
  const NodeId id = cluster.node(changed).self_id();
  const std::uint64_t incarnation = cluster.node(changed).self().incarnation;
  Result result;
  result.nodes = nodes;
  std::size_t change_bytes = 0;
  while (cluster.CountKnowing(id, incarnation) < nodes && result.rounds < 200) {
    change_bytes += cluster.Round();
    ++result.rounds;
  }
  const double seconds_per_round = static_cast<double>(kIntervalMs) / 1000.0;
  result.steady_bytes_per_node_second =
      static_cast<double>(steady_bytes) / nodes / (kSteadyRounds * seconds_per_round);
  result.change_bytes_per_node_second =
      static_cast<double>(change_bytes) / nodes / (result.rounds * seconds_per_round);
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string csv_path = argc > 1 ? argv[1] : "gossip_scale.csv";
  const std::uint32_t partition_count =
      argc > 2 ? static_cast<std::uint32_t>(std::stoul(argv[2])) : 65536;
  std::ofstream csv(csv_path);
  csv << "nodes,seed,rounds,seconds_at_1s_interval,steady_bytes_per_node_second,"
         "change_bytes_per_node_second\n";
  std::printf(
      "| nodes | seeds | rounds (median) | rounds (max) | seconds at 1 s | log2(n) | "
      "steady B/node/s | during change B/node/s |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (std::size_t nodes : {10, 100, 1000, 10000}) {
    const int seeds = nodes >= 10000 ? 1 : 5;
    std::vector<Result> results;
    for (int seed = 1; seed <= seeds; ++seed) {
      results.push_back(Measure(nodes, partition_count, static_cast<std::uint64_t>(seed)));
      const Result& r = results.back();
      csv << nodes << ',' << seed << ',' << r.rounds << ',' << r.rounds << ','
          << r.steady_bytes_per_node_second << ',' << r.change_bytes_per_node_second << '\n';
      std::fprintf(stderr, "nodes=%zu seed=%d rounds=%d wall=%.1fs\n", nodes, seed, r.rounds,
                   r.wall_seconds);
    }
    std::vector<int> rounds;
    double steady = 0;
    double change = 0;
    for (const Result& r : results) {
      rounds.push_back(r.rounds);
      steady += r.steady_bytes_per_node_second;
      change += r.change_bytes_per_node_second;
    }
    std::sort(rounds.begin(), rounds.end());
    const int median = rounds[rounds.size() / 2];
    std::printf("| %zu | %d | %d | %d | %d | %.1f | %.0f | %.0f |\n", nodes, seeds, median,
                rounds.back(), median, std::log2(static_cast<double>(nodes)),
                steady / results.size(), change / results.size());
    std::fflush(stdout);
  }
  return 0;
}
