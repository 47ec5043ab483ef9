// BucketChange: one change of a bucket's `consistency` or `n`, which is allowed only while no
// member holds any of the bucket's data (objects, hints or acceptor records). The node that
// took the admin request drives it:
//   1. it seals the bucket — a new record of the current properties with `sealed` — so every
//      node that knows the record refuses the bucket's reads and writes;
//   2. it asks every other member that is not removed whether it holds data of the bucket,
//      sending the sealed record along (a member merges it before it looks, so nothing can
//      land there after its answer), and re-asks the ones that have not answered;
//   3. when all answered "empty", it asks every member once more (a copy in flight during the
//      first round — a handoff or a hint delivered from a node that answered after it let go
//      of its copy to one that answered before receiving it — is found by the second);
//   4. then the node writes the new properties. Any "holds data", a seal replaced by a newer
//      record, or members still unanswered at the deadline end the change without it.
// Pure: the node sends the messages, owns the records and answers the client.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cluster/node_id.h"
#include "core/bucket_props.h"
#include "core/status.h"
#include "proto/gossip.pb.h"

namespace meridian::node {

// The refusal of a sealed bucket's reads and writes (Unavailable: retry shortly).
Status SealedBucketStatus(std::string_view bucket);
// The refusal of a change of `bucket`'s consistency or n from `current` to `next` because the
// bucket holds data (InvalidArgument; `where` says where, e.g. "on node1").
Status BucketHoldsDataStatus(const std::string& bucket, const BucketProps& current,
                             const BucketProps& next, const std::string& where);

class BucketChange {
 public:
  static constexpr int kRounds = 2;

  enum class Outcome {
    kPending,     // waiting for answers
    kApply,       // every member answered "empty" in every round: write the new properties
    kHoldsData,   // some member holds data of the bucket: refuse (400)
    kSuperseded,  // a newer record of the bucket replaced the seal somewhere: refuse (409)
    kFailed,      // a member could not look, or the deadline passed with members unanswered
  };

  // `members`: every member except this node that is not removed (this node checks its own
  // storage itself). `first_check_id`: a node-wide unique id; the change uses it and the next
  // kRounds - 1 ids `id_stride` apart (node::RequestIds::stride()), one per round.
  BucketChange(std::string bucket, std::set<cluster::NodeId> members, std::uint64_t first_check_id,
               std::uint64_t now_ms, std::uint64_t deadline_ms, std::uint64_t resend_ms,
               std::uint64_t id_stride = 1);

  const std::string& bucket() const { return bucket_; }
  int round() const { return round_; }
  std::uint64_t check_id() const {
    return first_check_id_ + static_cast<std::uint64_t>(round_) * id_stride_;
  }
  bool Owns(std::uint64_t check_id) const {
    return check_id >= first_check_id_ && (check_id - first_check_id_) % id_stride_ == 0 &&
           (check_id - first_check_id_) / id_stride_ < kRounds;
  }

  // The members to ask now under check_id(): the ones not yet asked this round, and the
  // unanswered ones every resend_ms.
  std::vector<cluster::NodeId> Due(std::uint64_t now_ms);
  // An answer; ignored unless it is from a member, for the current round, and its first.
  void OnReply(const cluster::NodeId& from, std::uint64_t check_id,
               proto::BucketCheckReply::Answer answer, const std::string& message);
  Outcome outcome(std::uint64_t now_ms) const;
  // Who held data, superseded, failed or did not answer, for the error message.
  std::string Explain(std::uint64_t now_ms) const;

 private:
  std::string bucket_;
  std::set<cluster::NodeId> members_;
  std::uint64_t first_check_id_;
  std::uint64_t id_stride_;
  std::uint64_t deadline_ms_;
  std::uint64_t resend_ms_;
  int round_ = 0;
  std::map<cluster::NodeId, std::uint64_t> last_asked_ms_;              // this round
  std::map<cluster::NodeId, proto::BucketCheckReply::Answer> answers_;  // this round
  std::map<cluster::NodeId, std::string> messages_;
};

}  // namespace meridian::node
