#include "replication/strong_move.h"

#include <utility>

#include "core/assert.h"
#include "replication/strong_codec.h"

namespace meridian::replication {

namespace {

StrongOp ChooseOp(const StrongConfiguration& next, const RegisterValue& from_value) {
  StrongOp op;
  op.kind = StrongOp::Kind::kPut;
  op.bytes = EncodeConfiguration(next);
  op.precondition = Precondition::kVersion;
  op.expected = from_value.version;
  return op;
}

std::size_t RecordBytes(const std::string& key, const AcceptorState& state) {
  return key.size() + state.value.bytes.size() + 128;
}

}  // namespace

StrongMove::StrongMove(const StrongMoveConfig& config, StrongConfiguration from,
                       RegisterValue from_value, std::vector<cluster::NodeId> target,
                       std::vector<std::uint32_t> factors, std::uint64_t round_floor,
                       std::uint64_t seed, std::uint64_t now_ms, std::uint64_t deadline_ms)
    : config_(config),
      from_(std::move(from)),
      factors_(std::move(factors)),
      deadline_ms_(deadline_ms),
      now_ms_(now_ms),
      proposer_(config.proposer, JointQuorum::Majority(from_.members.size()),
                ChooseOp(StrongConfiguration{from_.epoch + 1, std::move(target)}, from_value),
                std::nullopt, round_floor, seed, now_ms, deadline_ms) {
  MERIDIAN_CHECK(!from_.members.empty() && from_.epoch > 0);
  scans_.resize(from_.members.size());
}

std::vector<StrongRequest> StrongMove::TakeRegisterRequests() {
  if (state_ != State::kChoosing) return {};
  return proposer_.TakeRequests();
}

std::vector<StrongScanPage> StrongMove::TakeScans() {
  return std::exchange(scan_out_, {});
}

std::vector<StrongInstallPage> StrongMove::TakeInstalls() {
  return std::exchange(install_out_, {});
}

void StrongMove::OnRegisterReply(std::size_t member, StrongRequest::Kind kind, const Ballot& ballot,
                                 const AcceptorReply& reply) {
  if (state_ != State::kChoosing) return;
  proposer_.OnReply(member, kind, ballot, reply);
  if (proposer_.state() == StrongProposer::State::kFailed) {
    Fail(Status(proposer_.result().status.code(),
                "choosing the next configuration: " + proposer_.result().status.message()));
    return;
  }
  if (proposer_.state() != StrongProposer::State::kSucceeded) return;
  if (!proposer_.chosen().has_value()) {
    Fail(Status::Internal("the configuration register's write left no chosen proposal"));
    return;
  }
  Adopt(*proposer_.chosen());
}

void StrongMove::Adopt(const ChosenProposal& chosen) {
  auto next = DecodeConfiguration(chosen.value.bytes);
  if (!chosen.value.present || !next.ok()) {
    Fail(Status::Corruption("the configuration register holds no configuration"));
    return;
  }
  if (next->epoch != from_.epoch + 1 || next->members.empty()) {
    // Another mover got further (or the register never held `from`): nothing to finish here.
    Fail(Status::FailedPrecondition("the partition's configuration register holds epoch " +
                                    std::to_string(next->epoch) + ", not " +
                                    std::to_string(from_.epoch + 1)));
    return;
  }
  to_ = std::move(next).value();
  register_state_.promised = chosen.ballot;
  register_state_.accepted = chosen.ballot;
  register_state_.value = chosen.value;
  state_ = State::kCollecting;
  for (std::size_t member = 0; member < scans_.size(); ++member) {
    scans_[member].in_flight = true;
    scans_[member].asked_ms = now_ms_;
    scan_out_.push_back(StrongScanPage{member, ""});
  }
}

void StrongMove::OnScanPage(std::size_t member, const std::string& after,
                            std::vector<std::pair<std::string, AcceptorState>> records, bool done) {
  if (state_ != State::kCollecting || member >= scans_.size()) return;
  ScanCursor& cursor = scans_[member];
  if (!cursor.in_flight || cursor.done || cursor.after != after) return;  // a repeat
  for (auto& [key, state] : records) {
    MERIDIAN_CHECK(key > cursor.after);  // pages come in key order
    MergeAcceptorState(merged_[key], state);
    cursor.after = key;
  }
  cursor.in_flight = false;
  cursor.done = done;
  if (!done) {
    cursor.in_flight = true;
    cursor.asked_ms = now_ms_;
    scan_out_.push_back(StrongScanPage{member, cursor.after});
  }
  std::vector<bool> answered(scans_.size());
  for (std::size_t i = 0; i < scans_.size(); ++i) answered[i] = scans_[i].done;
  if (!CollectCovers(from_, answered, factors_)) return;
  if (config_.install_delay_ms == 0) {
    StartInstall();
  } else {
    state_ = State::kCollected;
    collected_ms_ = now_ms_;
    scan_out_.clear();
  }
}

void StrongMove::StartInstall() {
  state_ = State::kInstalling;
  scan_out_.clear();
  installs_.assign(to_.members.size(), InstallCursor{});
  for (std::size_t member = 0; member < installs_.size(); ++member) QueueInstall(member);
}

void StrongMove::QueueInstall(std::size_t member) {
  InstallCursor& cursor = installs_[member];
  StrongInstallPage page;
  page.member = member;
  page.page = cursor.page;
  std::size_t bytes = 0;
  auto it = cursor.after.empty() && cursor.page == 0 ? merged_.begin()
                                                     : merged_.upper_bound(cursor.after);
  for (; it != merged_.end(); ++it) {
    const std::size_t size = RecordBytes(it->first, it->second);
    if (!page.records.empty() && bytes + size > config_.page_bytes_max) break;
    bytes += size;
    page.records.emplace_back(it->first, it->second);
  }
  page.last = it == merged_.end();
  if (page.last) page.register_state = register_state_;
  cursor.asked_ms = now_ms_;
  install_out_.push_back(std::move(page));
}

void StrongMove::OnInstallAck(std::size_t member, std::uint64_t page) {
  if (state_ != State::kInstalling || member >= installs_.size()) return;
  InstallCursor& cursor = installs_[member];
  if (cursor.done || page != cursor.page) return;  // a repeat
  // Recompute where the acknowledged page ended (merged_ does not change while installing).
  std::size_t bytes = 0;
  std::size_t count = 0;
  auto it = cursor.after.empty() && cursor.page == 0 ? merged_.begin()
                                                     : merged_.upper_bound(cursor.after);
  std::string last_key = cursor.after;
  for (; it != merged_.end(); ++it) {
    const std::size_t size = RecordBytes(it->first, it->second);
    if (count > 0 && bytes + size > config_.page_bytes_max) break;
    bytes += size;
    ++count;
    last_key = it->first;
  }
  if (it == merged_.end()) {
    cursor.done = true;
  } else {
    cursor.after = last_key;
    ++cursor.page;
    QueueInstall(member);
  }
  if (!install_covered_ms_ && InstallCovered()) install_covered_ms_ = now_ms_;
  FinishInstallIfDone();
}

void StrongMove::SkipInstall(std::size_t member) {
  if (state_ != State::kInstalling || member >= installs_.size()) return;
  installs_[member].skipped = true;
  FinishInstallIfDone();
}

void StrongMove::FinishInstallIfDone() {
  for (const InstallCursor& each : installs_) {
    if (!each.done && !each.skipped) return;
  }
  if (InstallCovered()) state_ = State::kSucceeded;
}

bool StrongMove::InstallCovered() const {
  std::vector<bool> acked(installs_.size());
  for (std::size_t i = 0; i < installs_.size(); ++i) acked[i] = installs_[i].done;
  return CollectCovers(to_, acked, factors_);
}

void StrongMove::OnTime(std::uint64_t now_ms) {
  now_ms_ = now_ms;
  if (state_ == State::kSucceeded || state_ == State::kFailed) return;
  if (state_ == State::kChoosing) {
    proposer_.OnTime(now_ms);
    if (proposer_.state() == StrongProposer::State::kFailed) {
      Fail(Status(proposer_.result().status.code(),
                  "choosing the next configuration: " + proposer_.result().status.message()));
    }
    return;
  }
  if (state_ == State::kCollected && now_ms >= collected_ms_ + config_.install_delay_ms) {
    StartInstall();
  }
  if (state_ == State::kInstalling && install_covered_ms_ && config_.install_grace_ms > 0 &&
      now_ms >= *install_covered_ms_ + config_.install_grace_ms) {
    state_ = State::kSucceeded;
    return;
  }
  if (now_ms >= deadline_ms_) {
    if (state_ == State::kInstalling && InstallCovered()) {
      state_ = State::kSucceeded;
    } else {
      Fail(Status::Timeout(state_ == State::kCollecting
                               ? "collecting the partition's records: too few members answered"
                               : "installing the partition's records: too few members answered"));
    }
    return;
  }
  if (state_ == State::kCollecting) {
    for (std::size_t member = 0; member < scans_.size(); ++member) {
      ScanCursor& cursor = scans_[member];
      if (cursor.in_flight && now_ms >= cursor.asked_ms + config_.resend_after_ms) {
        cursor.asked_ms = now_ms;
        scan_out_.push_back(StrongScanPage{member, cursor.after});
      }
    }
    return;
  }
  for (std::size_t member = 0; member < installs_.size(); ++member) {
    const InstallCursor& cursor = installs_[member];
    if (!cursor.done && !cursor.skipped && now_ms >= cursor.asked_ms + config_.resend_after_ms) {
      QueueInstall(member);
    }
  }
}

void StrongMove::Fail(Status status) {
  state_ = State::kFailed;
  failure_ = std::move(status);
  scan_out_.clear();
  install_out_.clear();
}

}  // namespace meridian::replication
