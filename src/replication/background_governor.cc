#include "replication/background_governor.h"

#include <algorithm>
#include <utility>

#include "core/assert.h"

namespace meridian::replication {
namespace {

// Credit is kept in thousandths of a byte: bytes per second times elapsed milliseconds is
// millibytes, so refills over a few milliseconds are exact.
constexpr std::int64_t kMillibytesPerByte = 1000;

std::int64_t Millibytes(std::uint64_t bytes) {
  return static_cast<std::int64_t>(bytes) * kMillibytesPerByte;
}

}  // namespace

std::uint64_t BackgroundBytesPerSecondForCores(unsigned cores) {
  const std::uint64_t per_core = kBackgroundBytesPerSecondPerCore;
  return std::clamp<std::uint64_t>(per_core * std::max(cores, 1u), per_core,
                                   kBackgroundBytesPerSecondDefaultMax);
}

std::uint64_t BackgroundBytesPerSecondShared(unsigned cores, unsigned nodes) {
  return std::max(BackgroundBytesPerSecondForCores(cores) / std::max(nodes, 1u),
                  kBackgroundBytesPerSecondSharedMin);
}

std::uint64_t BackgroundBytesPerSecondShare(std::uint64_t bytes_per_second, std::uint32_t shards) {
  MERIDIAN_CHECK(shards >= 1);
  if (bytes_per_second == 0) return 0;
  return std::max<std::uint64_t>(bytes_per_second / shards, 1);
}

BackgroundKindStats BackgroundStats::Total() const {
  BackgroundKindStats total;
  for (const BackgroundKindStats& kind : kinds) {
    total.bytes_granted += kind.bytes_granted;
    total.objects_granted += kind.objects_granted;
    total.requests_granted += kind.requests_granted;
    total.spend_refused += kind.spend_refused;
    total.streams_refused += kind.streams_refused;
    total.streams_held += kind.streams_held;
  }
  return total;
}

BackgroundGovernor::BackgroundGovernor(BackgroundGovernorConfig config)
    : config_(config),
      capacity_millibytes_(Millibytes(std::min(config.burst_bytes, kBurstBytesMax))),
      credit_millibytes_(capacity_millibytes_) {
  MERIDIAN_CHECK(config_.bytes_per_second <= kBytesPerSecondMax);
  MERIDIAN_CHECK(config_.burst_bytes >= 1);
  MERIDIAN_CHECK(config_.burst_bytes <= kBurstBytesMax);
  MERIDIAN_CHECK(config_.object_cost_bytes <= kObjectCostBytesMax);
  stats_.bytes_per_second = config_.bytes_per_second;
  stats_.streams_max = config_.streams_max;
}

std::uint64_t BackgroundGovernor::ChargeOf(WorkSize size) const {
  MERIDIAN_CHECK(size.bytes <= kChargeMax);
  // objects * object_cost_bytes <= kChargeMax, checked without overflowing.
  MERIDIAN_CHECK(config_.object_cost_bytes == 0 ||
                 size.objects <= kChargeMax / config_.object_cost_bytes);
  const std::uint64_t charge = size.bytes + size.objects * config_.object_cost_bytes;
  MERIDIAN_CHECK(charge <= kChargeMax);
  return charge;
}

void BackgroundGovernor::SetBytesPerSecond(std::uint64_t bytes_per_second, std::uint64_t now_ms) {
  MERIDIAN_CHECK(bytes_per_second <= kBytesPerSecondMax);
  Refill(now_ms);
  config_.bytes_per_second = bytes_per_second;
  stats_.bytes_per_second = bytes_per_second;
}

void BackgroundGovernor::SetPaused(bool paused) {
  stats_.paused = paused;
}

std::optional<StreamSlot> BackgroundGovernor::TryAcquireStream(WorkKind kind,
                                                               std::uint64_t now_ms) {
  MERIDIAN_CHECK(WorkKindIndex(kind) < kWorkKindCount);
  if (stats_.paused) return std::nullopt;
  stream_line_.Expire(now_ms, config_.turn_expiry_ms);
  BackgroundKindStats& stats = stats_.kinds[WorkKindIndex(kind)];
  const bool free = config_.streams_max == 0 || held_.size() < config_.streams_max;
  if (free && stream_line_.MayGo(kind, now_ms, config_.turn_expiry_ms)) {
    stream_line_.Granted(kind);
    const std::uint64_t id = next_slot_id_++;
    held_.emplace(id, kind);
    ++stats.streams_held;
    return StreamSlot(id, kind);
  }
  stream_line_.Refused(kind, now_ms);
  ++stats.streams_refused;
  return std::nullopt;
}

void BackgroundGovernor::ReleaseStream(StreamSlot slot) {
  MERIDIAN_CHECK(slot.id() != 0);  // moved from, or never issued
  const auto held = held_.find(slot.id());
  MERIDIAN_CHECK(held != held_.end());  // released twice, or issued by another budget
  MERIDIAN_CHECK(held->second == slot.kind());
  BackgroundKindStats& stats = stats_.kinds[WorkKindIndex(slot.kind())];
  MERIDIAN_CHECK(stats.streams_held > 0);
  --stats.streams_held;
  held_.erase(held);
}

bool BackgroundGovernor::TrySpend(WorkKind kind, WorkSize size, std::uint64_t now_ms) {
  MERIDIAN_CHECK(WorkKindIndex(kind) < kWorkKindCount);
  const std::uint64_t charge = ChargeOf(size);
  BackgroundKindStats& stats = stats_.kinds[WorkKindIndex(kind)];
  Refill(now_ms);
  if (stats_.paused) return false;
  spend_line_.Expire(now_ms, config_.turn_expiry_ms);
  const bool unlimited = config_.bytes_per_second == 0;
  if (unlimited || (spend_line_.MayGo(kind, now_ms, config_.turn_expiry_ms) &&
                    Fits(credit_millibytes_, charge))) {
    spend_line_.Granted(kind);
    if (!unlimited) credit_millibytes_ -= Millibytes(charge);
    stats.bytes_granted += size.bytes;
    stats.objects_granted += size.objects;
    ++stats.requests_granted;
    return true;
  }
  spend_line_.Refused(kind, now_ms);
  ++stats.spend_refused;
  return false;
}

void BackgroundGovernor::Charge(WorkKind kind, WorkSize size, std::uint64_t now_ms) {
  MERIDIAN_CHECK(WorkKindIndex(kind) < kWorkKindCount);
  const std::uint64_t charge = ChargeOf(size);
  BackgroundKindStats& stats = stats_.kinds[WorkKindIndex(kind)];
  Refill(now_ms);
  if (config_.bytes_per_second != 0) credit_millibytes_ -= Millibytes(charge);
  stats.bytes_granted += size.bytes;
  stats.objects_granted += size.objects;
  ++stats.requests_granted;
}

std::optional<std::uint64_t> BackgroundGovernor::NextGrantMs(WorkKind kind, WorkSize size,
                                                             std::uint64_t now_ms) const {
  const std::uint64_t charge = ChargeOf(size);
  if (stats_.paused) return std::nullopt;
  if (config_.bytes_per_second == 0) return now_ms;
  if (!spend_line_.MayGo(kind, now_ms, config_.turn_expiry_ms)) return std::nullopt;
  const std::int64_t credit = CreditAt(now_ms);
  if (Fits(credit, charge)) return now_ms;
  // What must be there: the charge, or a full bucket for a charge larger than it.
  const std::int64_t needed = std::min(Millibytes(charge), capacity_millibytes_);
  const auto missing = static_cast<std::uint64_t>(needed - credit);
  const std::uint64_t rate = config_.bytes_per_second;  // millibytes per millisecond
  const std::uint64_t from_ms = std::max(now_ms, refilled_at_ms_.value_or(now_ms));
  return from_ms + (missing + rate - 1) / rate;
}

bool BackgroundGovernor::InDebt(std::uint64_t now_ms) const {
  return config_.bytes_per_second != 0 && CreditAt(now_ms) < 0;
}

void BackgroundGovernor::Refill(std::uint64_t now_ms) {
  credit_millibytes_ = CreditAt(now_ms);
  if (!refilled_at_ms_.has_value() || now_ms > *refilled_at_ms_) refilled_at_ms_ = now_ms;
}

std::int64_t BackgroundGovernor::CreditAt(std::uint64_t now_ms) const {
  if (config_.bytes_per_second == 0 || !refilled_at_ms_.has_value() || now_ms <= *refilled_at_ms_) {
    return credit_millibytes_;  // the bucket starts full: nothing before the first request
  }
  if (credit_millibytes_ >= capacity_millibytes_) return capacity_millibytes_;
  const std::uint64_t elapsed_ms = now_ms - *refilled_at_ms_;
  const auto missing = static_cast<std::uint64_t>(capacity_millibytes_ - credit_millibytes_);
  const std::uint64_t rate = config_.bytes_per_second;
  // Compared before multiplying, so a long pause cannot overflow.
  if (elapsed_ms >= missing / rate + 1) return capacity_millibytes_;
  return std::min(capacity_millibytes_,
                  credit_millibytes_ + static_cast<std::int64_t>(rate * elapsed_ms));
}

bool BackgroundGovernor::Fits(std::int64_t credit_millibytes, std::uint64_t charge) const {
  const std::int64_t wanted = Millibytes(charge);
  if (credit_millibytes >= wanted) return true;
  // Larger than the bucket: passes when the bucket is full, so it cannot starve.
  return wanted > capacity_millibytes_ && credit_millibytes >= capacity_millibytes_;
}

void BackgroundGovernor::WaitLine::Expire(std::uint64_t now_ms, std::uint64_t expiry_ms) {
  std::erase_if(order_, [&](WorkKind kind) {
    return Expired(asked_ms_[WorkKindIndex(kind)], now_ms, expiry_ms);
  });
}

bool BackgroundGovernor::WaitLine::MayGo(WorkKind kind, std::uint64_t now_ms,
                                         std::uint64_t expiry_ms) const {
  for (WorkKind waiting : order_) {
    if (Expired(asked_ms_[WorkKindIndex(waiting)], now_ms, expiry_ms)) continue;
    return waiting == kind;  // the first kind still in line
  }
  return true;
}

void BackgroundGovernor::WaitLine::Refused(WorkKind kind, std::uint64_t now_ms) {
  asked_ms_[WorkKindIndex(kind)] = now_ms;
  if (std::find(order_.begin(), order_.end(), kind) == order_.end()) order_.push_back(kind);
  MERIDIAN_DCHECK(order_.size() <= kWorkKindCount);
}

void BackgroundGovernor::WaitLine::Granted(WorkKind kind) {
  std::erase(order_, kind);
}

bool BackgroundGovernor::WaitLine::Expired(std::uint64_t asked_ms, std::uint64_t now_ms,
                                           std::uint64_t expiry_ms) {
  return now_ms > asked_ms && now_ms - asked_ms > expiry_ms;
}

}  // namespace meridian::replication
