// runtime/cross_loop.h: a call made on the caller's loop runs on the owner's thread, its answer
// comes back on the caller's thread, and calls keep their order both ways.
#include "runtime/cross_loop.h"
#include "runtime/loop_thread.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace meridian::runtime {
namespace {

namespace asio = boost::asio;

// A KvService that answers each get with its key, on the thread that runs it, after noting
// that thread and the order of the requests.
class EchoService final : public api::KvService {
 public:
  void Submit(node::ClientRequest request, Completion done) override {
    threads.push_back(std::this_thread::get_id());
    const auto& get = std::get<node::GetRequest>(request);
    keys.push_back(get.id.key);
    node::GetReply reply;
    reply.found = true;
    reply.values.push_back({get.id.key, {}});
    done(node::ClientReply{0, Status::Ok(), std::move(reply)});
  }
  std::vector<std::thread::id> threads;
  std::vector<std::string> keys;
};

// Two loops on two threads, as the server runs them with --front-end-threads 1.
struct TwoLoops {
  LoopThread caller_loop;
  LoopThread owner_loop;
  asio::io_context& caller = caller_loop.io();
  asio::io_context& owner = owner_loop.io();
  LoopChannel to_caller{caller};
  LoopChannel to_owner{owner};
  // The loops end before the channels their pending drains point to.
  ~TwoLoops() {
    caller_loop.Join();
    owner_loop.Join();
  }
};

TEST(CrossLoopTest, RequestsRunOnTheOwnersThreadAndRepliesComeBackInOrderOnTheCallers) {
  EchoService target;
  std::vector<std::string> answered;
  std::vector<std::thread::id> answered_on;
  std::promise<void> all_answered;
  constexpr int kRequests = 200;
  {
    TwoLoops loops;
    CrossLoopKvService service(loops.to_caller, loops.to_owner, target);
    asio::post(loops.caller, [&] {
      for (int i = 0; i < kRequests; ++i) {
        service.Submit(node::GetRequest{{"b", "k" + std::to_string(i)}, {}},
                       [&](node::ClientReply reply) {
                         ASSERT_TRUE(reply.status.ok());
                         answered.push_back(std::get<node::GetReply>(reply.body).values[0].value);
                         answered_on.push_back(std::this_thread::get_id());
                         if (answered.size() == kRequests) all_answered.set_value();
                       });
      }
    });
    ASSERT_EQ(all_answered.get_future().wait_for(std::chrono::seconds(10)),
              std::future_status::ready);
    const std::thread::id owner_id = loops.owner_loop.thread_id();
    const std::thread::id caller_id = loops.caller_loop.thread_id();
    ASSERT_NE(owner_id, caller_id);
    for (const std::thread::id& id : target.threads) EXPECT_EQ(id, owner_id);
    for (const std::thread::id& id : answered_on) EXPECT_EQ(id, caller_id);
  }
  ASSERT_EQ(answered.size(), static_cast<std::size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(target.keys[i], "k" + std::to_string(i));
    EXPECT_EQ(answered[i], "k" + std::to_string(i));
  }
}

// A BackupService that fails every backup with the directory it was asked for.
class RefusingBackup final : public api::BackupService {
 public:
  void Backup(api::BackupRequest request, Done done) override {
    thread = std::this_thread::get_id();
    done(Status::Unavailable("no backup into " + request.directory));
  }
  std::thread::id thread;
};

TEST(CrossLoopTest, ABackupStartsOnTheOwnersThreadAndItsReportComesBackOnTheCallers) {
  RefusingBackup target;
  std::promise<std::pair<Status, std::thread::id>> answered;
  TwoLoops loops;
  CrossLoopBackupService backup(loops.to_caller, loops.to_owner, target);
  asio::post(loops.caller, [&] {
    api::BackupRequest request;
    request.directory = "/nowhere";
    backup.Backup(std::move(request), [&](Result<api::BackupReport> report) {
      answered.set_value({report.status(), std::this_thread::get_id()});
    });
  });
  auto future = answered.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto [status, thread] = future.get();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "no backup into /nowhere");
  EXPECT_EQ(target.thread, loops.owner_loop.thread_id());
  EXPECT_EQ(thread, loops.caller_loop.thread_id());
}

}  // namespace
}  // namespace meridian::runtime
