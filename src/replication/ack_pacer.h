// AckPacer: the receiving side of the background budget (issue 10, item 7). A node that
// applies background data sent by its peers — hint batches, handoff batches (ownership streams
// and replica copies) — pays for that work out of its own BackgroundBudget, not only the
// senders out of theirs: four senders each within their budget would otherwise together
// apply four budgets' worth on one receiver. The applied batch is charged after the fact
// (BackgroundBudget::Charge, which may take the budget into debt) and the ack that lets its
// sender go on is held until the budget has paid for it, so the senders, which keep at most a
// batch or a few in flight, slow down to the receiver's rate.
//
// Contract:
//   * Hold charges `size` to `kind` and queues `ack`. Acks leave through Release in the order
//     they were held, each once the budget is out of debt (BackgroundBudget::InDebt is false;
//     other kinds waiting for credit do not hold acks back) or once it has been held for
//     hold_max_ms, whichever comes first — hold_max_ms must stay well below every sender's ack
//     timeout, so pacing never turns into retransmissions.
//   * Hold with an empty queue and a budget out of debt releases nothing by itself; the caller
//     calls Release right after Hold (and on every tick) and sends what it returns.
// Sans-IO, not thread-safe; time comes in as now_ms (the budget's clock).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "cluster/outbound.h"
#include "replication/background_budget.h"

namespace meridian::replication {

struct AckPacerConfig {
  // The longest an ack is held; 0 switches pacing off (acks leave at once; still charged).
  std::uint64_t hold_max_ms = 1'000;
};

struct AckPacerCounters {
  std::uint64_t acks_held = 0;      // acks that could not leave at once
  std::uint64_t acks_expired = 0;   // released by hold_max_ms while the budget was in debt
  std::uint64_t held_ms_total = 0;  // summed over released acks
};

class AckPacer {
 public:
  // `budget` must outlive the pacer.
  AckPacer(BackgroundBudget& budget, AckPacerConfig config);

  void Hold(WorkKind kind, WorkSize size, cluster::Outbound ack, std::uint64_t now_ms);
  // The acks that may leave now, oldest first.
  [[nodiscard]] std::vector<cluster::Outbound> Release(std::uint64_t now_ms);

  std::size_t held() const { return queue_.size(); }
  const AckPacerCounters& counters() const { return counters_; }

 private:
  struct Held {
    std::uint64_t since_ms;
    cluster::Outbound ack;
  };
  bool MayLeave(const Held& held, std::uint64_t now_ms);

  BackgroundBudget& budget_;
  AckPacerConfig config_;
  std::deque<Held> queue_;
  AckPacerCounters counters_;
};

}  // namespace meridian::replication
