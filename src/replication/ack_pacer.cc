#include "replication/ack_pacer.h"

#include <utility>

namespace meridian::replication {

AckPacer::AckPacer(BackgroundBudget& budget, AckPacerConfig config)
    : budget_(budget), config_(config) {}

void AckPacer::Hold(WorkKind kind, WorkSize size, cluster::Outbound ack, std::uint64_t now_ms) {
  budget_.Charge(kind, size, now_ms);
  queue_.push_back(Held{now_ms, std::move(ack)});
}

bool AckPacer::MayLeave(const Held& held, std::uint64_t now_ms) {
  if (config_.hold_max_ms == 0) return true;
  if (!budget_.InDebt(now_ms)) return true;
  if (now_ms - held.since_ms < config_.hold_max_ms) return false;
  ++counters_.acks_expired;
  return true;
}

std::vector<cluster::Outbound> AckPacer::Release(std::uint64_t now_ms) {
  std::vector<cluster::Outbound> released;
  while (!queue_.empty()) {
    Held& front = queue_.front();
    // A clock that went back counts as no time passing.
    if (now_ms < front.since_ms) now_ms = front.since_ms;
    if (!MayLeave(front, now_ms)) break;
    if (now_ms > front.since_ms) {
      ++counters_.acks_held;
      counters_.held_ms_total += now_ms - front.since_ms;
    }
    released.push_back(std::move(front.ack));
    queue_.pop_front();
  }
  return released;
}

}  // namespace meridian::replication
