// Cross-loop calls: the server's front ends (HTTP, HTTPS, RESP) run on one event loop and the
// node (its state machine, storage and peers) on another, each on its own thread. These carry
// a call from the front ends' loop (the caller) to the node's (the owner) and its answer back.
//
// Contract: Submit, Backup and CallAcross are called on the caller's thread; the target is
// called on the owner's thread; the completion runs on the caller's thread, exactly once,
// unless a loop stops first (then it is destroyed uncalled with the channel's inbox, or
// dropped by the target as its own contract says). A channel runs its tasks in the order they
// were pushed, so two requests submitted in order reach the target, and their replies come
// back, in that order.
//
// The queue between the loops is a LoopChannel's inbox. It is bounded by what the front ends
// let into it: each connection has at most its window of requests in flight (one for HTTP,
// the RESP pipeline window), and connections are capped.
#pragma once

#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "api/backup_service.h"
#include "api/kv_service.h"

namespace meridian::runtime {

// Tasks from any thread, run on one loop's thread in the order they were pushed. They are
// handed over in batches: a push schedules a drain of the loop's inbox only when none is
// scheduled yet, so a burst (a pipelined RESP read, the replies of one group commit) costs
// the receiving loop one wake-up, not one per task. Destroy it only once its loop no longer
// runs; tasks never run are destroyed with it.
class LoopChannel {
 public:
  explicit LoopChannel(boost::asio::io_context& loop) : loop_(loop) {}
  LoopChannel(const LoopChannel&) = delete;
  LoopChannel& operator=(const LoopChannel&) = delete;

  // Thread-safe.
  void Push(std::function<void()> task) {
    bool schedule = false;
    {
      std::lock_guard lock(mutex_);
      inbox_.push_back(std::move(task));
      schedule = !scheduled_;
      scheduled_ = true;
    }
    if (schedule) boost::asio::post(loop_, [this] { Drain(); });
  }

 private:
  // On the loop's thread.
  void Drain() {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(mutex_);
      batch.swap(inbox_);
      scheduled_ = false;
    }
    for (std::function<void()>& task : batch) task();
  }

  boost::asio::io_context& loop_;
  std::mutex mutex_;
  std::vector<std::function<void()>> inbox_;  // guarded by mutex_
  bool scheduled_ = false;                    // a Drain is posted and has not taken the inbox
};

// Runs `call(reply)` on the owner's loop; `reply(value)` (called there, once) runs
// `done(value)` on the caller's loop.
template <typename Value>
void CallAcross(LoopChannel& to_caller, LoopChannel& to_owner,
                std::function<void(std::function<void(Value)>)> call,
                std::function<void(Value)> done) {
  to_owner.Push([&to_caller, call = std::move(call), done = std::move(done)]() mutable {
    call([&to_caller, done = std::move(done)](Value value) mutable {
      to_caller.Push(
          [done = std::move(done), value = std::move(value)]() mutable { done(std::move(value)); });
    });
  });
}

// A KvService on the caller's loop whose requests run on `target`, which lives on the owner's.
class CrossLoopKvService final : public api::KvService {
 public:
  CrossLoopKvService(LoopChannel& to_caller, LoopChannel& to_owner, api::KvService& target)
      : to_caller_(to_caller), to_owner_(to_owner), target_(target) {}

  void Submit(node::ClientRequest request, Completion done) override {
    CallAcross<node::ClientReply>(
        to_caller_, to_owner_,
        [&target = target_, request = std::move(request)](Completion reply) mutable {
          target.Submit(std::move(request), std::move(reply));
        },
        std::move(done));
  }

 private:
  LoopChannel& to_caller_;
  LoopChannel& to_owner_;
  api::KvService& target_;
};

// A BackupService on the caller's loop whose backups start on `target`, on the owner's loop.
class CrossLoopBackupService final : public api::BackupService {
 public:
  CrossLoopBackupService(LoopChannel& to_caller, LoopChannel& to_owner, api::BackupService& target)
      : to_caller_(to_caller), to_owner_(to_owner), target_(target) {}

  void Backup(api::BackupRequest request, Done done) override {
    CallAcross<Result<api::BackupReport>>(
        to_caller_, to_owner_,
        [&target = target_, request = std::move(request)](Done reply) mutable {
          target.Backup(std::move(request), std::move(reply));
        },
        std::move(done));
  }

 private:
  LoopChannel& to_caller_;
  LoopChannel& to_owner_;
  api::BackupService& target_;
};

}  // namespace meridian::runtime
