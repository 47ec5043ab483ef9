// Keyspace: which key numbers exist during a run. The load phase inserts [0, record_count);
// inserts of the run phase take the following numbers; reads and updates only choose keys
// below Limit(), the end of the contiguous prefix of acknowledged inserts (YCSB's
// AcknowledgedCounterGenerator), so they never target a key still being inserted.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace meridian::bench {

class Keyspace {
 public:
  // Inserts this far ahead of Limit() still in flight are allowed (far more than any run's
  // concurrency).
  static constexpr std::uint64_t kWindow = std::uint64_t{1} << 20;

  explicit Keyspace(std::uint64_t record_count);

  std::uint64_t record_count() const { return record_count_; }

  // The next key number for a run-phase insert.
  std::uint64_t NextInsert() { return next_insert_.fetch_add(1, std::memory_order_relaxed); }
  // Marks an insert of the run phase finished (also a failed one, so Limit keeps moving).
  void Acknowledge(std::uint64_t key);
  // Every key below exists (or was attempted): at least record_count.
  std::uint64_t Limit() const { return limit_.load(std::memory_order_acquire); }

 private:
  const std::uint64_t record_count_;
  std::atomic<std::uint64_t> next_insert_;
  std::atomic<std::uint64_t> limit_;
  std::mutex mutex_;
  std::vector<bool> acknowledged_;  // ring of kWindow flags, indexed by key % kWindow
};

}  // namespace meridian::bench
