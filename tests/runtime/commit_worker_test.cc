// CommitWorker: jobs run on its own thread, one at a time and in order; Join finishes the job
// handed over before it ends the thread.
#include "runtime/commit_worker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

namespace meridian::runtime {
namespace {

TEST(CommitWorkerTest, RunsEachJobOnItsOwnThreadInOrder) {
  CommitWorker worker;
  std::vector<int> order;  // written by the worker only, read after Join
  std::vector<std::thread::id> threads;
  for (int i = 0; i < 3; ++i) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> finished = done->get_future();
    worker.Run([&order, &threads, i, done] {
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
      done->set_value();
    });
    ASSERT_EQ(finished.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  }
  worker.Join();
  EXPECT_EQ(order, std::vector<int>({0, 1, 2}));
  ASSERT_EQ(threads.size(), 3u);
  EXPECT_NE(threads[0], std::this_thread::get_id());
  EXPECT_EQ(threads[1], threads[0]);
  EXPECT_EQ(threads[2], threads[0]);
}

TEST(CommitWorkerTest, JoinFinishesTheJobHandedOverFirst) {
  bool ran = false;
  {
    CommitWorker worker;
    worker.Run([&ran] { ran = true; });
    worker.Join();
    EXPECT_TRUE(ran);
    worker.Join();  // idempotent, and the destructor joins again
  }
  EXPECT_TRUE(ran);
}

TEST(CommitWorkerTest, RunAfterJoinIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        CommitWorker worker;
        worker.Join();
        worker.Run([] {});
      },
      "joining_");
}

}  // namespace
}  // namespace meridian::runtime
