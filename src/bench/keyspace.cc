#include "bench/keyspace.h"

namespace meridian::bench {

Keyspace::Keyspace(std::uint64_t record_count)
    : record_count_(record_count),
      next_insert_(record_count),
      limit_(record_count),
      acknowledged_(kWindow, false) {}

void Keyspace::Acknowledge(std::uint64_t key) {
  std::lock_guard lock(mutex_);
  std::uint64_t limit = limit_.load(std::memory_order_relaxed);
  if (key < limit || key - limit >= kWindow) return;  // outside the window: cannot track
  acknowledged_[key % kWindow] = true;
  while (acknowledged_[limit % kWindow]) {
    acknowledged_[limit % kWindow] = false;
    ++limit;
  }
  limit_.store(limit, std::memory_order_release);
}

}  // namespace meridian::bench
