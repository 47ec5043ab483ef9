// PeerSuspicion: a quick, local suspicion that a peer cannot be reached, drawn from this node's
// own requests. A peer that was sent a request expecting an answer (a heartbeat ping, a
// forwarded write, a replica read or write, a hint or handoff batch) and from which nothing at
// all has arrived for
// suspect_after_ms since is suspected, until anything arrives from it. While suspected it is
// probed (a heartbeat ping every probe_interval_ms), so a healed link clears it within a round
// trip.
//
// Why (issue 10): the failure detector forgives silences of several seconds (phi accrual), so
// during the first seconds of a partition routing kept forwarding writes into the cut, and each
// waited out its deadline. Routing treats a suspected peer as unreachable: writes go to another
// primary or to a fallback at once. Nothing already sent is re-sent elsewhere (that could
// apply one write twice under two dots).
//
// Keyed by peer address. Holds only peers with an unanswered request (an entry goes when the
// peer is heard from), so it is bounded by the peers this node talks to. Sans-IO: time comes in
// as now_ms. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/peer.pb.h"

namespace meridian::node {

struct PeerSuspicionConfig {
  std::uint64_t suspect_after_ms = 1'000;  // 0: never suspect (routing waits for the detector)
  std::uint64_t probe_interval_ms = 500;
};

class PeerSuspicion {
 public:
  explicit PeerSuspicion(PeerSuspicionConfig config) : config_(config) {}

  // Whether `message` expects an answer from its receiver (so its silence means something).
  static bool ExpectsAnswer(const proto::PeerMessage& message);

  void OnRequestSent(const std::string& address, std::uint64_t now_ms);
  // Anything arrived from the peer at `address`.
  void OnHeard(const std::string& address);
  // Something arrived from the peer at `heard_ms`, elsewhere in this node (a shard learns it
  // from its shell, node/shell_view.h): clears the suspicion if no request waits from before.
  void OnHeardAt(const std::string& address, std::uint64_t heard_ms);
  bool Suspect(const std::string& address, std::uint64_t now_ms) const;
  // Suspected peers due for a probe now (each at most once per probe_interval_ms).
  std::vector<std::string> TakeProbes(std::uint64_t now_ms);
  std::size_t SuspectCount(std::uint64_t now_ms) const;
  // The addresses of the peers suspected now.
  std::vector<std::string> Suspects(std::uint64_t now_ms) const;

 private:
  struct Waiting {
    std::uint64_t since_ms = 0;  // the oldest request not followed by anything from the peer
    std::uint64_t next_probe_ms = 0;
  };
  PeerSuspicionConfig config_;
  std::map<std::string, Waiting> waiting_;
};

}  // namespace meridian::node
