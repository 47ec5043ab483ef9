#include "node/bucket_change.h"

#include <algorithm>
#include <utility>

#include "core/assert.h"

namespace meridian::node {

Status BucketHoldsDataStatus(const std::string& bucket, const BucketProps& current,
                             const BucketProps& next, const std::string& where) {
  if (next.consistency != current.consistency) {
    return Status::InvalidArgument(
        "consistency cannot change from " + std::string(ConsistencyName(current.consistency)) +
        " to " + std::string(ConsistencyName(next.consistency)) + " on bucket \"" + bucket +
        "\": it holds data (" + where +
        "); copy the data into a new bucket created with the consistency you need "
        "(docs/design/strong.md)");
  }
  return Status::InvalidArgument(
      "n cannot change from " + std::to_string(current.n) + " to " + std::to_string(next.n) +
      " on bucket \"" + bucket + "\": it holds data (" + where +
      "), and re-replicating existing keys to a new n is not supported; create a new bucket "
      "with the n you need");
}

Status SealedBucketStatus(std::string_view bucket) {
  return Status::Unavailable("bucket \"" + std::string(bucket) +
                             "\" is sealed: a change of its consistency or n is checking that no "
                             "member holds its data; nothing was read or changed, retry shortly");
}

BucketChange::BucketChange(std::string bucket, std::set<cluster::NodeId> members,
                           std::uint64_t first_check_id, std::uint64_t now_ms,
                           std::uint64_t deadline_ms, std::uint64_t resend_ms,
                           std::uint64_t id_stride)
    : bucket_(std::move(bucket)),
      members_(std::move(members)),
      first_check_id_(first_check_id),
      id_stride_(id_stride),
      deadline_ms_(now_ms + deadline_ms),
      resend_ms_(resend_ms) {
  MERIDIAN_CHECK(resend_ms_ > 0);
  MERIDIAN_CHECK(id_stride_ > 0);
}

std::vector<cluster::NodeId> BucketChange::Due(std::uint64_t now_ms) {
  std::vector<cluster::NodeId> due;
  if (outcome(now_ms) != Outcome::kPending) return due;
  for (const cluster::NodeId& member : members_) {
    if (answers_.count(member) != 0) continue;
    auto asked = last_asked_ms_.find(member);
    if (asked != last_asked_ms_.end() && now_ms < asked->second + resend_ms_) continue;
    last_asked_ms_[member] = now_ms;
    due.push_back(member);
  }
  return due;
}

void BucketChange::OnReply(const cluster::NodeId& from, std::uint64_t check_id,
                           proto::BucketCheckReply::Answer answer, const std::string& message) {
  if (check_id != this->check_id() || members_.count(from) == 0 || answers_.count(from) != 0) {
    return;
  }
  if (answer == proto::BucketCheckReply::ANSWER_UNSPECIFIED) return;
  answers_[from] = answer;
  if (!message.empty()) messages_[from] = message;
  const bool round_done = answers_.size() == members_.size() &&
                          std::all_of(answers_.begin(), answers_.end(), [](const auto& entry) {
                            return entry.second == proto::BucketCheckReply::ANSWER_EMPTY;
                          });
  if (round_done && round_ + 1 < kRounds) {
    ++round_;
    answers_.clear();
    last_asked_ms_.clear();
  }
}

BucketChange::Outcome BucketChange::outcome(std::uint64_t now_ms) const {
  bool empty = true;
  for (const auto& [member, answer] : answers_) {
    switch (answer) {
      case proto::BucketCheckReply::ANSWER_HOLDS_DATA:
        return Outcome::kHoldsData;
      case proto::BucketCheckReply::ANSWER_SUPERSEDED:
        return Outcome::kSuperseded;
      case proto::BucketCheckReply::ANSWER_EMPTY:
        break;
      default:
        empty = false;
    }
  }
  if (!empty) return Outcome::kFailed;
  if (answers_.size() == members_.size()) return Outcome::kApply;
  return now_ms >= deadline_ms_ ? Outcome::kFailed : Outcome::kPending;
}

std::string BucketChange::Explain(std::uint64_t now_ms) const {
  const auto list = [&](auto&& keep) {
    std::string out;
    for (const cluster::NodeId& member : members_) {
      if (!keep(member)) continue;
      if (!out.empty()) out += ", ";
      out += member;
      auto message = messages_.find(member);
      if (message != messages_.end()) out += " (" + message->second + ")";
    }
    return out;
  };
  const auto answered = [&](proto::BucketCheckReply::Answer wanted) {
    return [this, wanted](const cluster::NodeId& member) {
      auto found = answers_.find(member);
      return found != answers_.end() && found->second == wanted;
    };
  };
  switch (outcome(now_ms)) {
    case Outcome::kHoldsData:
      return "data of bucket \"" + bucket_ + "\" is stored on " +
             list(answered(proto::BucketCheckReply::ANSWER_HOLDS_DATA));
    case Outcome::kSuperseded:
      return "bucket \"" + bucket_ + "\" was changed concurrently (seen on " +
             list(answered(proto::BucketCheckReply::ANSWER_SUPERSEDED)) + ")";
    case Outcome::kFailed: {
      std::string failed = list(answered(proto::BucketCheckReply::ANSWER_ERROR));
      std::string silent =
          list([this](const cluster::NodeId& member) { return answers_.count(member) == 0; });
      std::string out = "could not check that no member holds data of bucket \"" + bucket_ + "\"";
      if (!failed.empty()) out += "; failed on " + failed;
      if (!silent.empty()) out += "; no answer from " + silent;
      return out;
    }
    case Outcome::kPending:
    case Outcome::kApply:
      break;
  }
  return {};
}

}  // namespace meridian::node
