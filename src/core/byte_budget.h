// ByteBudget: one bound on the bytes a node holds for input that is still arriving — partial
// HTTP request bodies, partial RESP commands, partial peer frames — shared by every front end,
// so that many slow or half-sent requests together cannot grow the process without bound.
// Whoever is about to hold bytes reserves them first; a refused reservation is answered by
// the caller (503 / -BUSY, or waiting) and holds nothing. Reservations release themselves.
//
// Thread-safe: the front ends' loop and the node's loop (the peer transport) reserve from one
// budget; a reservation itself belongs to one thread. The budget must outlive its
// reservations (hold it in a shared_ptr).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>

#include "core/assert.h"

namespace meridian {

class ByteBudget {
 public:
  explicit ByteBudget(std::uint64_t capacity) : capacity_(capacity) {}
  ByteBudget(const ByteBudget&) = delete;
  ByteBudget& operator=(const ByteBudget&) = delete;
  ~ByteBudget() { MERIDIAN_DCHECK(used_.load() == 0); }

  // Bytes held under a budget; movable, released on destruction.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
    Reservation& operator=(Reservation&& other) noexcept {
      if (this != &other) {
        Release();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
      }
      return *this;
    }
    ~Reservation() { Release(); }

    // Holds exactly `bytes` from now on. Growing fails (false, nothing changes) when the
    // budget cannot hold the difference; shrinking always succeeds.
    bool Resize(std::uint64_t bytes) {
      MERIDIAN_CHECK(budget_ != nullptr);
      if (bytes > bytes_ && !budget_->Take(bytes - bytes_)) return false;
      if (bytes < bytes_) budget_->Give(bytes_ - bytes);
      bytes_ = bytes;
      return true;
    }
    void Release() {
      if (budget_ != nullptr && bytes_ > 0) budget_->Give(bytes_);
      bytes_ = 0;
    }
    std::uint64_t bytes() const { return bytes_; }

   private:
    friend class ByteBudget;
    Reservation(ByteBudget* budget, std::uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    ByteBudget* budget_ = nullptr;
    std::uint64_t bytes_ = 0;
  };

  // A reservation of `bytes`, or nullopt (counted in refused()) when they do not fit.
  std::optional<Reservation> TryReserve(std::uint64_t bytes) {
    if (!Take(bytes)) return std::nullopt;
    return Reservation(this, bytes);
  }
  // An empty reservation, to Resize later.
  Reservation Empty() { return Reservation(this, 0); }

  std::uint64_t capacity() const { return capacity_; }
  std::uint64_t used() const { return used_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  bool Take(std::uint64_t bytes) {
    std::uint64_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > capacity_ - used) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  void Give(std::uint64_t bytes) {
    [[maybe_unused]] const std::uint64_t before = used_.fetch_sub(bytes, std::memory_order_relaxed);
    MERIDIAN_DCHECK(bytes <= before);
  }

  const std::uint64_t capacity_;
  std::atomic<std::uint64_t> used_{0};
  std::atomic<std::uint64_t> refused_{0};
};

}  // namespace meridian
