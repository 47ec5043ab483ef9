#include "node/peer_suspicion.h"

namespace meridian::node {

bool PeerSuspicion::ExpectsAnswer(const proto::PeerMessage& message) {
  switch (message.body_case()) {
    case proto::PeerMessage::kKvRequest:
    case proto::PeerMessage::kHeartbeatPing:  // the failure detector's, every second
    case proto::PeerMessage::kReplicaRead:
    case proto::PeerMessage::kHintBatch:
    case proto::PeerMessage::kHandoffBatch:
      return true;
    case proto::PeerMessage::kReplicaWrite:
      return message.replica_write().request_id() != 0;  // 0: read repair, never acknowledged
    default:
      return false;
  }
}

void PeerSuspicion::OnRequestSent(const std::string& address, std::uint64_t now_ms) {
  if (config_.suspect_after_ms == 0) return;
  waiting_.try_emplace(address, Waiting{now_ms, now_ms + config_.suspect_after_ms});
}

void PeerSuspicion::OnHeard(const std::string& address) {
  waiting_.erase(address);
}

void PeerSuspicion::OnHeardAt(const std::string& address, std::uint64_t heard_ms) {
  auto it = waiting_.find(address);
  if (it != waiting_.end() && it->second.since_ms <= heard_ms) waiting_.erase(it);
}

bool PeerSuspicion::Suspect(const std::string& address, std::uint64_t now_ms) const {
  auto it = waiting_.find(address);
  return it != waiting_.end() && now_ms >= it->second.since_ms + config_.suspect_after_ms;
}

std::vector<std::string> PeerSuspicion::TakeProbes(std::uint64_t now_ms) {
  std::vector<std::string> probes;
  for (auto& [address, waiting] : waiting_) {
    if (!Suspect(address, now_ms) || now_ms < waiting.next_probe_ms) continue;
    probes.push_back(address);
    waiting.next_probe_ms = now_ms + config_.probe_interval_ms;
  }
  return probes;
}

std::vector<std::string> PeerSuspicion::Suspects(std::uint64_t now_ms) const {
  std::vector<std::string> suspects;
  for (const auto& [address, waiting] : waiting_) {
    if (Suspect(address, now_ms)) suspects.push_back(address);
  }
  return suspects;
}

std::size_t PeerSuspicion::SuspectCount(std::uint64_t now_ms) const {
  std::size_t count = 0;
  for (const auto& [address, waiting] : waiting_) count += Suspect(address, now_ms) ? 1 : 0;
  return count;
}

}  // namespace meridian::node
