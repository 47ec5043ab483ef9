#include "runtime/commit_worker.h"

#include <pthread.h>

#include <utility>

#include "core/assert.h"

namespace meridian::runtime {

CommitWorker::CommitWorker()
    : thread_([this] {
        pthread_setname_np(pthread_self(), "commit");  // for top -H, perf and /proc
        Loop();
      }) {}

CommitWorker::~CommitWorker() {
  Join();
}

void CommitWorker::Run(Job job) {
  MERIDIAN_CHECK(job != nullptr);
  {
    std::lock_guard lock(mutex_);
    MERIDIAN_CHECK(!joining_);
    MERIDIAN_CHECK(next_ == nullptr);
    next_ = std::move(job);
  }
  wake_.notify_one();
}

void CommitWorker::Join() {
  MERIDIAN_CHECK(std::this_thread::get_id() != thread_.get_id());  // a job cannot join
  {
    std::lock_guard lock(mutex_);
    joining_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void CommitWorker::Loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return next_ != nullptr || joining_; });
      if (next_ == nullptr) return;  // joining, and nothing left to run
      job = std::exchange(next_, nullptr);
    }
    job();
  }
}

}  // namespace meridian::runtime
