// ForwardedRequests: client requests this node forwarded to another node and is waiting on.
// Each entry remembers who asked (a local client or a forwarding peer), the operation (to decode
// the reply), the peer and a deadline; a reply resolves it, Expire() returns those past their
// deadline and Abandon() those whose peer went silent, so the node can answer them with a
// Timeout. Bounded: Track refuses beyond `capacity` entries. Not thread-safe; deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "node/client_request.h"
#include "node/request_ids.h"
#include "proto/peer.pb.h"

namespace meridian::node {

class ForwardedRequests {
 public:
  // Where a request came from, so its reply can go back there.
  struct Origin {
    RequestId client_id = 0;    // a local client (when reply_address is empty)
    std::string reply_address;  // else: a peer that forwarded the request to this node
    std::uint64_t peer_request_id = 0;
    // The nodes this request was forwarded to that did not answer in time (went silent, or
    // took forward_hedge_after_ms), oldest first; it is being routed again around them (hedged
    // forwarding). Any of them may have applied it, so a failure from here on is answered "may
    // or may not have been applied" (Node::Deliver).
    std::vector<std::string> unanswered_by;

    bool routed_again() const { return !unanswered_by.empty(); }

    // "from a client of this node" or "forwarded by <address>", for logs.
    std::string Describe() const {
      return reply_address.empty() ? "from a client of this node" : "forwarded by " + reply_address;
    }
  };
  struct Entry {
    Origin origin;
    proto::KvRequest::Op op = proto::KvRequest::OP_UNSPECIFIED;
    std::string peer_address;
    std::uint64_t deadline_ms = 0;
    std::uint64_t started_ms = 0;  // when it was forwarded
    std::uint32_t partition = 0;   // the key's
    // A write forwarded with a fixed version keeps a copy of itself here, to be routed again
    // if the peer goes silent (hedged forwarding, Node::ExpireForwards); its value and context
    // count against the retained bytes.
    std::optional<ClientRequest> retained;
    std::size_t retained_bytes = 0;
    std::uint32_t hops = 0;  // the hops the request had made when this node forwarded it
    std::string peer_node;   // the node id at peer_address
    // The version was fixed by this node for this forward (no other node was sent the write):
    // if `peer_node` refuses it (ClientReply::fixed_version_refused), it may be sent again
    // without one.
    bool fixed_here = false;
  };

  explicit ForwardedRequests(std::size_t capacity) : capacity_(capacity) {}

  // The forward id to put in the KvRequest, or nullopt when `capacity` requests are in flight.
  std::optional<std::uint64_t> Track(Entry entry);
  // The entry a reply from `from_address` answers; nullopt for an unknown or already expired id,
  // or a reply from another peer than the one the request went to.
  std::optional<Entry> Resolve(std::uint64_t forward_id, const std::string& from_address);
  // Forward ids come from `ids` (based above any id of an earlier incarnation of this node, so
  // a late reply to a request sent before a restart never answers a new one). Before Track.
  void UseIds(RequestIds ids) { ids_ = ids; }
  // Removes and returns every entry whose deadline is <= now_ms, oldest forward id first.
  std::vector<Entry> Expire(std::uint64_t now_ms);
  // Removes and returns every entry whose peer `silent` says is silent, oldest forward id first.
  std::vector<Entry> Abandon(const std::function<bool(const std::string& peer_address)>& silent);
  // Removes and returns every entry that keeps a copy to route again (`retained`) and was
  // forwarded at least `after_ms` before now_ms, oldest forward id first. An entry routed again
  // already is taken again: each routing avoids every peer that left it unanswered
  // (Origin::unanswered_by), and the hop budget bounds how often it happens.
  std::vector<Entry> TakeUnanswered(std::uint64_t now_ms, std::uint64_t after_ms);

  std::size_t size() const { return entries_.size(); }
  // Calls `visit` with the retained copy of every entry that has one (each may still be routed
  // again under its fixed version).
  template <typename Visit>
  void ForEachRetained(Visit&& visit) const {
    for (const auto& [id, entry] : entries_) {
      if (entry.retained.has_value()) visit(*entry.retained);
    }
  }
  // Bytes of the retained copies of the entries in flight.
  std::size_t retained_bytes() const { return retained_bytes_; }

 private:
  // Removes and returns every entry `take` holds for, oldest forward id first.
  std::vector<Entry> TakeIf(const std::function<bool(const Entry&)>& take);

  std::size_t capacity_;
  RequestIds ids_{0, 0, 1};
  std::map<std::uint64_t, Entry> entries_;  // ordered: deterministic expiry order
  std::size_t retained_bytes_ = 0;
};

}  // namespace meridian::node
