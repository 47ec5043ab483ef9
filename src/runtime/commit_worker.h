// CommitWorker: the one thread on which a NodeService runs the slow half of its group commit
// (the WAL write and fsync, storage::Engine::FinishCommit), so that the event loop keeps
// serving the node meanwhile.
//
// Contract: one owner thread (the event loop) calls Run and Join. Run hands one job to the
// worker thread and returns at once; jobs run one at a time, in the order handed over, and
// the owner hands over the next one only after the previous one reported back (the worker
// may still be returning from it: the job waits for the thread, never the other way round).
// A job reports its own result, e.g. by posting to the owner's io_context; it must not
// touch the owner's state. Join (and the destructor) waits for the job running and the one
// handed over, then ends the thread; Run after Join is a bug (checked).
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace meridian::runtime {

class CommitWorker {
 public:
  using Job = std::function<void()>;

  CommitWorker();  // starts the thread
  ~CommitWorker();
  CommitWorker(const CommitWorker&) = delete;
  CommitWorker& operator=(const CommitWorker&) = delete;

  // Runs `job` on the worker thread. At most one job may wait to start (checked).
  void Run(Job job);
  // Finishes the jobs handed over, then ends the thread. Idempotent.
  void Join();

 private:
  void Loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  Job next_;              // GUARDED_BY(mutex_): handed over, not started
  bool joining_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;    // last: starts once the members above exist
};

}  // namespace meridian::runtime
