// Changes of a bucket's consistency or n: seal, check every member's storage, then change or
// unseal (bucket_change.h; docs/design/strong.md, "Changing a bucket's consistency").
#include <string>
#include <utility>

#include "cluster/gossip_codec.h"
#include "core/assert.h"
#include "node/bucket_change.h"
#include "node/node.h"

namespace meridian::node {

namespace {

bool SameRecord(const cluster::BucketPropsRecord* a, const cluster::BucketPropsRecord& b) {
  return a != nullptr && a->version == b.version && a->origin == b.origin && a->props == b.props;
}

}  // namespace

bool Node::SealMayBeLive(const std::string& bucket, const cluster::NodeId& origin) const {
  if (origin == config_.node_id) return bucket_changes_.count(bucket) != 0;
  const cluster::Member* member = membership_->state().FindMember(origin);
  return member != nullptr && member->status != cluster::MemberStatus::kRemoved &&
         Reachable(origin);
}

std::optional<Result<ReplyBody>> Node::StartBucketChange(RequestId id, const std::string& bucket,
                                                         const BucketProps& current,
                                                         const BucketProps& next) {
  auto holds = HoldsBucketData(bucket);
  if (!holds.ok()) return holds.status();
  if (*holds) return BucketHoldsDataStatus(bucket, current, next, "on " + config_.node_id);
  std::set<cluster::NodeId> members;
  for (const auto& member : membership_->state().members()) {
    if (member->status != cluster::MemberStatus::kRemoved && member->id != config_.node_id) {
      members.insert(member->id);
    }
  }
  BucketProps sealed = current;
  sealed.sealed = true;
  const BucketProps& write = members.empty() ? next : sealed;  // alone: nothing to ask
  const HlcTimestamp version = bucket_clock_.Now(env_.clock->WallMillis());
  if (Status status = membership_->SetBucketProps(bucket, write, version.value); !status.ok()) {
    return status;
  }
  // Sealed before anyone is asked: the seal must outlive a crash of this node.
  if (Status status = PersistClusterState(/*sync=*/true); !status.ok()) return status;
  if (members.empty()) return ReplyBody(BucketReply{bucket, next});
  const std::uint64_t now_ms = NowMs();
  const std::uint64_t first_check_id = call_ids_.Next();
  for (int round = 1; round < BucketChange::kRounds; ++round) call_ids_.Next();
  bucket_changes_.emplace(
      bucket, PendingBucketChange{id,
                                  BucketChange(bucket, std::move(members), first_check_id, now_ms,
                                               config_.bucket_change_timeout_ms,
                                               config_.bucket_change_resend_ms, call_ids_.stride()),
                                  *membership_->state().FindBucketProps(bucket), current, next});
  AdvanceBucketChange(bucket, now_ms);
  return std::nullopt;
}

void Node::AdvanceBucketChange(const std::string& bucket, std::uint64_t now_ms) {
  auto found = bucket_changes_.find(bucket);
  if (found == bucket_changes_.end()) return;
  PendingBucketChange& pending = found->second;
  for (const cluster::NodeId& member : pending.change.Due(now_ms)) {
    const std::string address = AddressOf(member);
    if (address.empty()) continue;
    cluster::Outbound& out = outbound_.emplace_back();
    out.to_address = address;
    proto::BucketCheckRequest* request = out.message.mutable_bucket_check_request();
    request->set_cluster_name(config_.cluster_name);
    request->set_from_id(config_.node_id);
    request->set_check_id(pending.change.check_id());
    cluster::EncodeBucketPropsEntry(bucket, pending.seal, request->mutable_sealed());
  }
  BucketChange::Outcome outcome = pending.change.outcome(now_ms);
  if (outcome == BucketChange::Outcome::kPending) return;

  // Decided. The seal must still be this node's record of the bucket, and its own storage
  // still empty (it refused the bucket's data since the seal; this is the invariant's check).
  const bool still_sealed = SameRecord(membership_->state().FindBucketProps(bucket), pending.seal);
  std::string explanation = pending.change.Explain(now_ms);
  if (outcome == BucketChange::Outcome::kApply) {
    auto holds = HoldsBucketData(bucket);
    if (!still_sealed) {
      outcome = BucketChange::Outcome::kSuperseded;
      explanation = "bucket \"" + bucket + "\" was changed concurrently by another node";
    } else if (!holds.ok()) {
      outcome = BucketChange::Outcome::kFailed;
      explanation = holds.status().message();
    } else if (*holds) {
      outcome = BucketChange::Outcome::kHoldsData;
      explanation = "on " + config_.node_id;
    }
  }
  Result<ReplyBody> reply = Status::Internal("unreachable");
  const HlcTimestamp version = bucket_clock_.Now(env_.clock->WallMillis());
  if (outcome == BucketChange::Outcome::kApply) {
    Status status = membership_->SetBucketProps(bucket, pending.next, version.value);
    if (status.ok()) status = PersistClusterState(/*sync=*/true);
    reply = status.ok() ? Result<ReplyBody>(ReplyBody(BucketReply{bucket, pending.next}))
                        : Result<ReplyBody>(status);
  } else {
    // Nothing changes: unseal (unless a newer record replaced the seal already).
    if (still_sealed) {
      Status status = membership_->SetBucketProps(bucket, pending.previous, version.value);
      if (status.ok()) (void)PersistClusterState(/*sync=*/true);
    }
    switch (outcome) {
      case BucketChange::Outcome::kHoldsData:
        reply = BucketHoldsDataStatus(bucket, pending.previous, pending.next, explanation);
        break;
      case BucketChange::Outcome::kSuperseded:
        reply = Status::Unavailable(explanation + "; this change was not made");
        break;
      default:
        reply = Status::Unavailable(explanation +
                                    "; nothing was changed, retry when every member "
                                    "is reachable (or remove the ones gone for good)");
    }
  }
  const RequestId request = pending.request;
  bucket_changes_.erase(found);
  Reply(request, std::move(reply));
}

void Node::TickBucketChanges(std::uint64_t now_ms) {
  std::vector<std::string> buckets;
  for (const auto& [bucket, pending] : bucket_changes_) buckets.push_back(bucket);
  for (const std::string& bucket : buckets) AdvanceBucketChange(bucket, now_ms);
  // A seal of this node that no change owns was left by a restart mid-change: lift it.
  std::vector<std::pair<std::string, BucketProps>> stale;
  for (const auto& [bucket, record] : membership_->state().bucket_props()) {
    if (record.props.sealed && record.origin == config_.node_id &&
        bucket_changes_.count(bucket) == 0) {
      BucketProps unsealed = record.props;
      unsealed.sealed = false;
      stale.emplace_back(bucket, unsealed);
    }
  }
  for (const auto& [bucket, props] : stale) {
    const HlcTimestamp version = bucket_clock_.Now(env_.clock->WallMillis());
    (void)membership_->SetBucketProps(bucket, props, version.value);
  }
}

void Node::OnBucketCheckRequest(const std::string& from_address,
                                const proto::BucketCheckRequest& request) {
  if (request.cluster_name() != config_.cluster_name) return;
  cluster::Outbound out;
  out.to_address = from_address;
  proto::BucketCheckReply* reply = out.message.mutable_bucket_check_reply();
  reply->set_from_id(config_.node_id);
  reply->set_check_id(request.check_id());
  const std::string& bucket = request.sealed().bucket();
  auto record = cluster::DecodeBucketPropsEntry(request.sealed());
  if (!record.ok() || !record->props.sealed) {
    reply->set_answer(proto::BucketCheckReply::ANSWER_ERROR);
    reply->set_message(record.ok() ? "the record named is not sealed" : record.status().message());
    outbound_.push_back(std::move(out));
    return;
  }
  // Sealed here first (and durably: the answer leaves only after it), then look.
  if (membership_->MergeBucketRecord(bucket, *record)) {
    if (Status status = PersistClusterState(/*sync=*/true); !status.ok()) {
      reply->set_answer(proto::BucketCheckReply::ANSWER_ERROR);
      reply->set_message(status.message());
      outbound_.push_back(std::move(out));
      return;
    }
  }
  if (config_.shard_count > 1 &&
      SameRecord(membership_->state().FindBucketProps(bucket), *record)) {
    // The followers look too, once the seal reached them (TakeShardChecks); the runtime answers
    // each at once, so more than a few waiting is a flood: refused (the asker may retry).
    constexpr std::size_t kShardChecksMax = 64;
    if (shard_checks_.size() >= kShardChecksMax) {
      reply->set_answer(proto::BucketCheckReply::ANSWER_ERROR);
      reply->set_message("too many bucket checks waiting for this node's shards");
      outbound_.push_back(std::move(out));
      return;
    }
    const std::uint64_t id = next_shard_check_id_++;
    shard_checks_.emplace(id, PendingShardCheck{from_address, bucket, *reply, *record});
    shard_checks_out_.push_back(ShardCheck{id, bucket});
    return;
  }
  AnswerBucketCheck(from_address, bucket, *reply, *record, Result<bool>(false));
}

void Node::AnswerBucketCheck(const std::string& from_address, const std::string& bucket,
                             proto::BucketCheckReply reply, const cluster::BucketPropsRecord& seal,
                             const Result<bool>& followers_hold_data) {
  if (!SameRecord(membership_->state().FindBucketProps(bucket), seal)) {
    reply.set_answer(proto::BucketCheckReply::ANSWER_SUPERSEDED);
  } else if (auto holds = HoldsBucketData(bucket); !holds.ok()) {
    reply.set_answer(proto::BucketCheckReply::ANSWER_ERROR);
    reply.set_message(holds.status().message());
  } else if (!followers_hold_data.ok()) {
    reply.set_answer(proto::BucketCheckReply::ANSWER_ERROR);
    reply.set_message(followers_hold_data.status().message());
  } else {
    reply.set_answer(*holds || *followers_hold_data ? proto::BucketCheckReply::ANSWER_HOLDS_DATA
                                                    : proto::BucketCheckReply::ANSWER_EMPTY);
  }
  cluster::Outbound& out = outbound_.emplace_back();
  out.to_address = from_address;
  *out.message.mutable_bucket_check_reply() = std::move(reply);
}

std::vector<Node::ShardCheck> Node::TakeShardChecks() {
  std::vector<ShardCheck> taken;
  taken.swap(shard_checks_out_);
  return taken;
}

void Node::OnShardCheck(std::uint64_t id, Result<bool> followers_hold_data) {
  MERIDIAN_CHECK(config_.shard_index == 0);
  writes_at_input_ = watched_engine_.writes();
  auto it = shard_checks_.find(id);
  if (!opened_ || it == shard_checks_.end()) return;
  PendingShardCheck pending = std::move(it->second);
  shard_checks_.erase(it);
  AnswerBucketCheck(pending.from_address, pending.bucket, std::move(pending.reply), pending.seal,
                    followers_hold_data);
  CollectOutbound();
}

Result<bool> Node::CheckSealedBucket(const std::string& bucket) {
  MERIDIAN_CHECK(FollowsShell());
  const cluster::BucketPropsRecord* record = membership_->state().FindBucketProps(bucket);
  if (record == nullptr || !record->props.sealed) {
    return Status::Unavailable("the seal of bucket \"" + bucket + "\" has not reached shard " +
                               std::to_string(config_.shard_index) + " yet");
  }
  return HoldsBucketData(bucket);
}

void Node::OnBucketCheckReply(const std::string& from_address,
                              const proto::BucketCheckReply& reply) {
  // Answers count only from the member asked (its address, as the transport authenticated).
  if (reply.from_id().empty() || AddressOf(reply.from_id()) != from_address) return;
  for (auto& [bucket, pending] : bucket_changes_) {
    if (!pending.change.Owns(reply.check_id())) continue;
    pending.change.OnReply(reply.from_id(), reply.check_id(), reply.answer(), reply.message());
    AdvanceBucketChange(bucket, NowMs());
    return;
  }
}

}  // namespace meridian::node
