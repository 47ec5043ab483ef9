// LoopThread: an event loop (asio::io_context) run by a thread of its own from construction
// until Join() or destruction. Join lets the loop finish the work it has (its work guard is
// released), then joins the thread: whatever is posted to it before then runs. Idempotent.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <thread>

namespace meridian::runtime {

class LoopThread {
 public:
  LoopThread() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~LoopThread() { Join(); }
  void Join() {
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }
  LoopThread(const LoopThread&) = delete;
  LoopThread& operator=(const LoopThread&) = delete;

  boost::asio::io_context& io() { return io_; }
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace meridian::runtime
