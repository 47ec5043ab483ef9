#include "cluster/failure_detector.h"

#include <xxhash.h>

#include <algorithm>
#include <unordered_set>
#include <utility>

#include "core/assert.h"

namespace meridian::cluster {

Status ValidateFailureDetectorConfig(const FailureDetectorConfig& config) {
  if (config.heartbeat_interval_ms == 0) {
    return Status::InvalidArgument("failure detector heartbeat_interval_ms must be > 0");
  }
  if (config.monitored_peers_max == 0) {
    return Status::InvalidArgument("failure detector monitored_peers_max must be > 0");
  }
  if (config.monitored_peers_when_large == 0) {
    return Status::InvalidArgument("failure detector monitored_peers_when_large must be > 0");
  }
  return ValidatePhiAccrualConfig(config.phi);
}

namespace {

// Position of a member on the monitoring ring, relative to the selecting node: members sort by
// (xxh3(id), id); a member's key is how far clockwise it lies from the selecting node.
struct RingDistance {
  bool full_circle = false;  // same hash, smaller id: sorts just before self, i.e. last
  std::uint64_t clockwise = 0;
  const NodeId* id = nullptr;
  bool operator<(const RingDistance& other) const {
    if (full_circle != other.full_circle) return other.full_circle;
    if (clockwise != other.clockwise) return clockwise < other.clockwise;
    return *id < *other.id;
  }
};

std::uint64_t RingHash(const NodeId& id) {
  return XXH3_64bits(id.data(), id.size());
}

}  // namespace

std::vector<NodeId> SelectMonitoredPeers(const NodeId& self, const std::vector<NodeId>& members,
                                         std::size_t monitored_peers_max,
                                         std::size_t monitored_peers_when_large) {
  std::vector<const NodeId*> others;
  others.reserve(members.size());
  std::unordered_set<std::string_view> seen;
  for (const NodeId& id : members) {
    if (id == self || !seen.insert(id).second) continue;
    others.push_back(&id);
  }
  std::vector<NodeId> monitored;
  const std::size_t cluster_size = others.size() + 1;
  if (cluster_size <= monitored_peers_max || others.size() <= monitored_peers_when_large) {
    for (const NodeId* id : others) monitored.push_back(*id);
  } else {
    // The k members following self on the ring; O(n log k), no full sort of the ring.
    const std::uint64_t self_hash = RingHash(self);
    std::vector<RingDistance> distances;
    distances.reserve(others.size());
    for (const NodeId* id : others) {
      const std::uint64_t hash = RingHash(*id);
      distances.push_back({.full_circle = hash == self_hash && *id < self,
                           .clockwise = hash - self_hash,  // wraps modulo 2^64
                           .id = id});
    }
    const auto kth = distances.begin() + static_cast<std::ptrdiff_t>(monitored_peers_when_large);
    std::partial_sort(distances.begin(), kth, distances.end());
    for (auto it = distances.begin(); it != kth; ++it) monitored.push_back(*it->id);
  }
  std::sort(monitored.begin(), monitored.end());
  return monitored;
}

FailureDetector::FailureDetector(NodeId self_id, std::uint64_t self_incarnation,
                                 const FailureDetectorConfig& config)
    : self_id_(std::move(self_id)), self_incarnation_(self_incarnation), config_(config) {
  MERIDIAN_CHECK(ValidateFailureDetectorConfig(config_).ok());
  MERIDIAN_CHECK(ValidateNodeId(self_id_).ok());
}

void FailureDetector::SetPeers(const std::vector<FailureDetectorPeer>& peers) {
  std::vector<NodeId> member_ids;
  member_ids.reserve(peers.size());
  for (const FailureDetectorPeer& peer : peers) member_ids.push_back(peer.id);
  const std::vector<NodeId> selected = SelectMonitoredPeers(
      self_id_, member_ids, config_.monitored_peers_max, config_.monitored_peers_when_large);
  const std::unordered_set<std::string_view> selected_set(selected.begin(), selected.end());
  // Peers no longer monitored (left, or moved out of the selection) lose their history.
  std::erase_if(peers_, [&](const auto& entry) { return !selected_set.contains(entry.first); });
  for (const FailureDetectorPeer& peer : peers) {
    if (!selected_set.contains(peer.id)) continue;
    auto [it, inserted] =
        peers_.try_emplace(peer.id, PeerState{.detector = PhiAccrualDetector(config_.phi)});
    PeerState& state = it->second;
    state.address = peer.address;
    if (inserted) {
      state.incarnation = peer.incarnation;
    } else if (peer.incarnation > state.incarnation) {
      // Restarted (membership heard of it first): a new process, a new history.
      state.incarnation = peer.incarnation;
      state.detector.Reset();
      state.clock_started = false;
    }
  }
}

void FailureDetector::SetSelfIncarnation(std::uint64_t incarnation) {
  self_incarnation_ = incarnation;
}

void FailureDetector::Tick(std::uint64_t now_ms) {
  if (ticked_ && now_ms < next_round_ms_) return;
  // Keep a steady cadence; after a long gap between ticks start a fresh one instead of bursting.
  next_round_ms_ = ticked_ ? next_round_ms_ + config_.heartbeat_interval_ms
                           : now_ms + config_.heartbeat_interval_ms;
  if (next_round_ms_ <= now_ms) next_round_ms_ = now_ms + config_.heartbeat_interval_ms;
  ticked_ = true;
  for (auto& [id, state] : peers_) {
    if (!state.clock_started) {
      state.detector.ExpectHeartbeatFrom(now_ms);
      state.clock_started = true;
    }
    Outbound& out = outbound_.emplace_back();
    out.to_address = state.address;
    proto::HeartbeatPing* ping = out.message.mutable_heartbeat_ping();
    ping->set_from_id(self_id_);
    ping->set_incarnation(self_incarnation_);
    ping->set_sequence(next_sequence_++);
    ping->set_sent_at_ms(now_ms);
  }
}

Status FailureDetector::Receive(const std::string& from_address, const proto::PeerMessage& message,
                                std::uint64_t now_ms) {
  if (message.has_heartbeat_ping()) {
    const proto::HeartbeatPing& ping = message.heartbeat_ping();
    if (Status valid = ValidateNodeId(ping.from_id()); !valid.ok()) {
      return Status::InvalidArgument("heartbeat ping: " + valid.message());
    }
    // Answer every ping, also from nodes outside the peer set (a joining node, say).
    Outbound& out = outbound_.emplace_back();
    out.to_address = from_address;
    proto::HeartbeatPong* pong = out.message.mutable_heartbeat_pong();
    pong->set_from_id(self_id_);
    pong->set_incarnation(self_incarnation_);
    pong->set_ping_sequence(ping.sequence());
    pong->set_ping_sent_at_ms(ping.sent_at_ms());
    RecordArrival(ping.from_id(), ping.incarnation(), now_ms);
    return Status::Ok();
  }
  if (message.has_heartbeat_pong()) {
    const proto::HeartbeatPong& pong = message.heartbeat_pong();
    if (Status valid = ValidateNodeId(pong.from_id()); !valid.ok()) {
      return Status::InvalidArgument("heartbeat pong: " + valid.message());
    }
    RecordArrival(pong.from_id(), pong.incarnation(), now_ms);
    return Status::Ok();
  }
  return Status::InvalidArgument("failure detector received a message that is not a heartbeat");
}

void FailureDetector::RecordArrival(const NodeId& from_id, std::uint64_t incarnation,
                                    std::uint64_t now_ms) {
  auto it = peers_.find(from_id);
  if (it == peers_.end()) return;  // not monitored (or not a member): answered, no detector
  PeerState& state = it->second;
  if (incarnation < state.incarnation) return;  // from a previous life of the peer
  if (incarnation > state.incarnation) {
    state.incarnation = incarnation;
    state.detector.Reset();  // restarted: fresh history; the heartbeat below makes it alive
    state.clock_started = true;
  }
  state.detector.Heartbeat(now_ms);
}

std::vector<Outbound> FailureDetector::TakeOutbound() {
  return std::exchange(outbound_, {});
}

bool FailureDetector::IsAlive(const NodeId& id, std::uint64_t now_ms) const {
  return Phi(id, now_ms) < config_.phi.threshold;
}

double FailureDetector::Phi(const NodeId& id, std::uint64_t now_ms) const {
  auto it = peers_.find(id);
  if (it == peers_.end()) return 0.0;
  return it->second.detector.Phi(now_ms);
}

std::vector<NodeId> FailureDetector::DownPeers(std::uint64_t now_ms) const {
  std::vector<NodeId> down;
  for (const auto& [id, state] : peers_) {
    if (!state.detector.IsAvailable(now_ms)) down.push_back(id);
  }
  std::sort(down.begin(), down.end());
  return down;
}

bool FailureDetector::IsMonitored(const NodeId& id) const {
  return peers_.contains(id);
}

std::vector<NodeId> FailureDetector::MonitoredPeers() const {
  std::vector<NodeId> monitored;
  monitored.reserve(peers_.size());
  for (const auto& [id, state] : peers_) monitored.push_back(id);
  std::sort(monitored.begin(), monitored.end());
  return monitored;
}

}  // namespace meridian::cluster
