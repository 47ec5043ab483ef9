// GatedEngine: a MemoryEngine whose group commit is split as RocksDbEngine's is, with syncs the
// test controls, and RunLoopUntil — for NodeService tests (node_service_test.cc,
// node_service_early_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "storage/engine.h"
#include "storage/memory_engine.h"

namespace meridian::runtime {

// A MemoryEngine whose group commit is split as RocksDbEngine's is: BeginCommit (on the loop)
// takes the writes since the last one into a ticket, and FinishCommit (on the service's
// commit thread) blocks until the test releases it when the ticket asks for a sync; a ticket
// without one passes at once.
class GatedEngine final : public storage::Engine {
 public:
  Result<std::optional<std::string>> Get(storage::Column column, std::string_view key) override {
    return inner_.Get(column, key);
  }
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override {
    ++writes_;
    write_pending_ = true;
    sync_pending_ = sync_pending_ || options.sync;
    return inner_.Write(batch, options);
  }
  Status Scan(storage::Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override {
    return inner_.Scan(column, begin, end, visitor);
  }
  Result<storage::CommitTicket> BeginCommit() override {
    const storage::CommitTicket ticket{.write = write_pending_, .sync = sync_pending_};
    write_pending_ = false;
    sync_pending_ = false;
    return ticket;
  }
  Status FinishCommit(const storage::CommitTicket& ticket) override {
    EXPECT_FALSE(ticket.empty());  // the service does not sync for nothing
    std::unique_lock lock(mutex_);
    if (!ticket.sync) {  // a WAL write only: never held (the service may do it on its loop)
      ++unsynced_commits_;
      return Status::Ok();
    }
    ++syncs_started_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_ || releases_ > 0; });
    if (!open_) --releases_;
    ++syncs_finished_;
    changed_.notify_all();
    return Status::Ok();
  }

  // The loop's thread only: Write calls so far.
  int writes() const { return writes_; }
  // Any thread.
  void Release(int syncs = 1) {
    std::lock_guard lock(mutex_);
    releases_ += syncs;
    changed_.notify_all();
  }
  // Every sync from now on passes at once.
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  int syncs_started() {
    std::lock_guard lock(mutex_);
    return syncs_started_;
  }
  int syncs_finished() {
    std::lock_guard lock(mutex_);
    return syncs_finished_;
  }
  // Commits of writes none of which asked for sync (not gated, not counted as syncs).
  int unsynced_commits() {
    std::lock_guard lock(mutex_);
    return unsynced_commits_;
  }

 private:
  storage::MemoryEngine inner_;
  int writes_ = 0;
  bool write_pending_ = false;
  bool sync_pending_ = false;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;  // GUARDED_BY(mutex_)
  int releases_ = 0;   // GUARDED_BY(mutex_)
  int syncs_started_ = 0;
  int syncs_finished_ = 0;
  int unsynced_commits_ = 0;
};

// Runs `io` until `done` holds (checked after every handler and every 10 ms); false after 5 s.
inline bool RunLoopUntil(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_one_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Destroyed before the service it is declared after: a failed assertion does not leave the
// service's destructor waiting for a sync nobody releases.
class OpenGateOnExit {
 public:
  explicit OpenGateOnExit(GatedEngine& engine) : engine_(engine) {}
  ~OpenGateOnExit() { engine_.Open(); }
  OpenGateOnExit(const OpenGateOnExit&) = delete;
  OpenGateOnExit& operator=(const OpenGateOnExit&) = delete;

 private:
  GatedEngine& engine_;
};

}  // namespace meridian::runtime
