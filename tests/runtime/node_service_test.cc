// NodeService: requests reach the node, each completion runs once with its reply, ticks run;
// the group commit's sync runs on the commit thread while the loop goes on, and no reply
// leaves before the sync covering it (GatedEngine: a sync that waits for the test).
#include "runtime/node_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/gated_engine.h"
#include "runtime/system_env.h"
#include "storage/engine.h"
#include "storage/memory_engine.h"

namespace meridian::runtime {
namespace {

class NodeServiceTest : public ::testing::Test {
 protected:
  NodeServiceTest() : node_(Config(), node::Env{&clock_, &random_, &engine_}) {
    EXPECT_TRUE(node_.Open().ok());
  }
  static node::NodeConfig Config() {
    node::NodeConfig config;
    config.partition_count = 8;
    config.tick_interval_ms = 5;
    return config;
  }

  // Submits on the loop and runs it until the completion ran (bounded).
  node::ClientReply Call(NodeService& service, node::ClientRequest request) {
    std::optional<node::ClientReply> reply;
    int calls = 0;
    service.Submit(std::move(request), [&](node::ClientReply r) {
      ++calls;
      reply = std::move(r);
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!reply && std::chrono::steady_clock::now() < deadline)
      io_.run_one_for(std::chrono::milliseconds(50));
    EXPECT_EQ(calls, 1);
    return reply.value_or(node::ClientReply{});
  }

  boost::asio::io_context io_;
  storage::MemoryEngine engine_;
  SystemClock clock_;
  SystemRandom random_{3};
  node::Node node_;
};

TEST_F(NodeServiceTest, PutThenGetReturnsTheValue) {
  NodeService service(io_, node_);
  node::ClientReply put = Call(service, node::PutRequest{{"b", "k"}, "v", "", {}});
  ASSERT_TRUE(put.status.ok()) << put.status.ToString();
  EXPECT_FALSE(std::get<node::WriteReply>(put.body).context.empty());
  node::ClientReply get = Call(service, node::GetRequest{{"b", "k"}});
  ASSERT_TRUE(get.status.ok());
  const auto& body = std::get<node::GetReply>(get.body);
  ASSERT_TRUE(body.found);
  ASSERT_EQ(body.values.size(), 1u);
  EXPECT_EQ(body.values[0].value, "v");
  EXPECT_EQ(service.pending_count(), 0u);
}

TEST_F(NodeServiceTest, RequestIdsAreDistinctAndErrorsComeBackAsStatus) {
  NodeService service(io_, node_);
  node::ClientReply first = Call(service, node::GetRequest{{"b", "a"}});
  node::ClientReply second = Call(service, node::GetRequest{{"b", "b"}});
  EXPECT_NE(first.id, second.id);
  node::ClientReply bad = Call(service, node::PutRequest{{"b", "k"}, "v", "not-a-context", {}});
  EXPECT_EQ(bad.status.code(), StatusCode::kInvalidArgument);
}

TEST_F(NodeServiceTest, TicksTheNodeUntilStopped) {
  NodeService service(io_, node_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (service.tick_count() < 3 && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(service.tick_count(), 3u);
  service.Stop();
  const std::uint64_t ticks = service.tick_count();
  io_.run_for(std::chrono::milliseconds(30));  // drains the cancelled wait; no work remains
  EXPECT_EQ(service.tick_count(), ticks);
  EXPECT_TRUE(io_.stopped());  // the stopped service holds no work
}

TEST_F(NodeServiceTest, TheInputHookFollowsEveryInputAndDriveRunsAnInputOfItsOwn) {
  NodeService service(io_, node_);
  int after_inputs = 0;
  int after_ticks = 0;
  service.SetInputHook([&](bool tick) { ++(tick ? after_ticks : after_inputs); });
  ASSERT_TRUE(Call(service, node::PutRequest{{"b", "k"}, "v", "", {}}).status.ok());
  EXPECT_EQ(after_inputs, 1);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (service.tick_count() < 2 && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(static_cast<std::uint64_t>(after_ticks), service.tick_count());

  // Drive: the input runs at once on this node, and the hook follows it.
  node::Node* driven = nullptr;
  service.Drive([&](node::Node& node) { driven = &node; });
  EXPECT_EQ(driven, &node_);
  EXPECT_EQ(after_inputs, 2);

  // Once stopped, a driven input is ignored, as messages are.
  service.Stop();
  driven = nullptr;
  service.Drive([&](node::Node& node) { driven = &node; });
  EXPECT_EQ(driven, nullptr);
  EXPECT_EQ(after_inputs, 2);
}

TEST_F(NodeServiceTest, AHandlerThatHoldsTheLoopIsCountedAsAStall) {
  NodeService service(io_, node_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto run_until_ticks = [&](std::uint64_t count) {
    while (service.tick_count() < count && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    ASSERT_GE(service.tick_count(), count);
  };
  run_until_ticks(2);
  const NodeService::LoopStats before = service.loop_stats();
  const std::uint64_t ticks = service.tick_count();
  // A handler that holds the thread for 120 ms: the tick due meanwhile fires at least
  // 115 ms late.
  boost::asio::post(io_, [] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(120);
    while (std::chrono::steady_clock::now() < until) {
    }
  });
  run_until_ticks(ticks + 2);
  const NodeService::LoopStats after = service.loop_stats();
  EXPECT_GE(after.stalls, before.stalls + 1);
  EXPECT_GE(after.longest_stall_microseconds, 115'000u);
  EXPECT_GE(after.stall_microseconds - before.stall_microseconds, 115'000u);
  service.Stop();
}

// A failed commit reveals nothing it covered: the write's reply is an error that says the
// write may or may not have been applied (InsufficientStorage for a full disk), the failure
// sink hears of it before the reply runs, and the service goes on: the next commit that
// succeeds delivers its replies as usual.
TEST_F(NodeServiceTest, AFailedSyncAnswersItsRepliesAsFailedAndTheServiceGoesOn) {
  std::atomic<bool> fail{true};
  NodeService::CommitHooks hooks{
      .begin = [] { return storage::CommitTicket{.write = true, .sync = true}; },
      .finish =
          [&fail](const storage::CommitTicket&) {
            return fail ? Status::InsufficientStorage("No space left on device") : Status::Ok();
          }};
  NodeService service(io_, node_, hooks);
  std::vector<std::string> sunk;
  service.SetStorageFailureSink([&](const Status& failed) { sunk.push_back(failed.ToString()); });
  std::optional<node::ClientReply> reply;
  std::size_t sunk_at_reply = 0;
  service.Submit(node::PutRequest{{"b", "k"}, "v", "", {}}, [&](node::ClientReply r) {
    sunk_at_reply = sunk.size();
    reply = std::move(r);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!reply && std::chrono::steady_clock::now() < deadline)
    io_.run_one_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(reply.has_value());
  const node::ClientReply& put = *reply;
  EXPECT_EQ(put.status.code(), StatusCode::kInsufficientStorage);
  EXPECT_NE(put.status.message().find("may or may not have been applied"), std::string::npos)
      << put.status.message();
  EXPECT_NE(put.status.message().find("No space left on device"), std::string::npos);
  ASSERT_EQ(sunk.size(), 1u);
  EXPECT_EQ(sunk_at_reply, 1u);  // the sink ran before the reply
  EXPECT_EQ(service.commit_failures(), 1u);

  fail = false;
  node::ClientReply again = Call(service, node::PutRequest{{"b", "k2"}, "v", "", {}});
  EXPECT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(service.commit_failures(), 1u);
  EXPECT_EQ(service.pending_count(), 0u);
  service.Stop();
}

TEST_F(NodeServiceTest, AFailedBeginCommitAnswersAsAnIoErrorAndTheServiceGoesOn) {
  std::atomic<bool> fail{true};
  NodeService::CommitHooks hooks{
      .begin = [&fail]() -> Result<storage::CommitTicket> {
        if (fail) return Status::IoError("bad disk");
        return storage::CommitTicket{.write = true, .sync = true};
      },
      .finish = [](const storage::CommitTicket&) { return Status::Ok(); }};
  NodeService service(io_, node_, hooks);
  int sunk = 0;
  service.SetStorageFailureSink([&](const Status&) { ++sunk; });
  node::ClientReply put = Call(service, node::PutRequest{{"b", "k"}, "v", "", {}});
  EXPECT_EQ(put.status.code(), StatusCode::kIoError);
  EXPECT_NE(put.status.message().find("bad disk"), std::string::npos);
  EXPECT_EQ(sunk, 1);
  fail = false;
  EXPECT_TRUE(Call(service, node::GetRequest{{"b", "k"}}).status.ok());
  service.Stop();
}

class NodeServiceCommitTest : public ::testing::Test {
 protected:
  NodeServiceCommitTest() : node_(Config(), node::Env{&clock_, &random_, &engine_}) {
    EXPECT_TRUE(node_.Open().ok());
    // What Open wrote is committed before the service starts, as the server does.
    EXPECT_TRUE(engine_.BeginCommit().ok());
  }
  static node::NodeConfig Config() {
    node::NodeConfig config;
    config.partition_count = 8;
    config.tick_interval_ms = 3'600'000;  // no tick (which may write) during a test
    return config;
  }

  bool RunUntil(const std::function<bool()>& done) { return RunLoopUntil(io_, done); }

  // dw=1: a write that asks for a sync (the gated commits below).
  static node::ClientRequest Put(const std::string& key, const std::string& value) {
    return node::PutRequest{{"b", key}, value, "", {.dw = QuorumValue::Number(1)}};
  }
  // dw=0: a write committed by a WAL write alone.
  static node::ClientRequest UnsyncedPut(const std::string& key, const std::string& value) {
    return node::PutRequest{{"b", key}, value, "", {}};
  }
  static node::ClientRequest Get(const std::string& key) { return node::GetRequest{{"b", key}}; }

  // A completion recording "<name>@<syncs finished when it ran>", and what a read found.
  NodeService::Completion Record(std::string name) {
    return [this, name = std::move(name)](node::ClientReply reply) {
      EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
      std::string entry = name;
      if (const auto* read = std::get_if<node::GetReply>(&reply.body)) {
        entry += read->found && !read->values.empty() ? "=" + read->values[0].value : "=none";
      }
      delivered_.push_back(entry + "@" + std::to_string(engine_.syncs_finished()));
    };
  }

  boost::asio::io_context io_;
  GatedEngine engine_;
  SystemClock clock_;
  SystemRandom random_{3};
  node::Node node_;
  std::vector<std::string> delivered_;
};

TEST_F(NodeServiceCommitTest, RepliesWaitForOneSyncCoveringTheWholeBatch) {
  NodeService service(io_, node_, NodeService::CommitHooks::ForEngine(engine_));
  OpenGateOnExit open_gate(engine_);
  constexpr int kRequests = 5;
  for (int i = 0; i < kRequests; ++i) {
    service.Submit(Put("k" + std::to_string(i), "v"), Record("put " + std::to_string(i)));
  }
  // Nothing is delivered from inside Submit, nor before the sync finished.
  EXPECT_TRUE(delivered_.empty());
  ASSERT_TRUE(RunUntil([&] { return engine_.syncs_started() == 1; }));
  io_.poll();
  EXPECT_TRUE(delivered_.empty());
  EXPECT_EQ(service.pending_count(), static_cast<std::size_t>(kRequests));
  engine_.Release();
  ASSERT_TRUE(RunUntil([&] { return service.pending_count() == 0; }));
  // One sync, before every reply of the batch, in order.
  ASSERT_EQ(delivered_.size(), static_cast<std::size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(delivered_[i], "put " + std::to_string(i) + "@1");
  EXPECT_EQ(engine_.syncs_started(), 1);
}

TEST_F(NodeServiceCommitTest, ASyncIsTimedFromItsStartToItsRepliesRelease) {
  NodeService service(io_, node_, NodeService::CommitHooks::ForEngine(engine_));
  OpenGateOnExit open_gate(engine_);
  service.Submit(Put("k", "v"), Record("put"));
  ASSERT_TRUE(RunUntil([&] { return engine_.syncs_started() == 1; }));
  // The sync is held at the gate for at least 60 ms (the loop keeps running meanwhile).
  const auto held_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(60);
  while (std::chrono::steady_clock::now() < held_until) io_.run_one_until(held_until);
  EXPECT_EQ(service.loop_stats().syncs, 0u);
  engine_.Release();
  ASSERT_TRUE(RunUntil([&] { return service.pending_count() == 0; }));
  const NodeService::LoopStats stats = service.loop_stats();
  EXPECT_GE(stats.syncs, 1u);
  EXPECT_GE(stats.longest_sync_microseconds, 60'000u);
  EXPECT_GE(stats.sync_microseconds, stats.longest_sync_microseconds);
  EXPECT_GE(stats.slow_syncs, 1u);
}

TEST_F(NodeServiceCommitTest, TheLoopRunsTheNodeWhileASyncIsBlockedAndItsOutputsWaitForTheNext) {
  NodeService service(io_, node_, NodeService::CommitHooks::ForEngine(engine_));
  OpenGateOnExit open_gate(engine_);
  service.Submit(Put("k1", "v1"), Record("put k1"));
  ASSERT_TRUE(RunUntil([&] { return engine_.syncs_started() == 1; }));

  // The first sync is blocked on the commit thread; this thread runs the loop, and the node
  // takes new requests: a write reaches the engine, a read sees the first write.
  const int writes = engine_.writes();
  service.Submit(Put("k2", "v2"), Record("put k2"));
  EXPECT_GT(engine_.writes(), writes);
  service.Submit(Get("k1"), Record("get k1"));
  io_.poll();  // every ready handler, their commit step included
  // Nothing left: the first batch waits for its sync, the rest for a sync not started yet.
  EXPECT_TRUE(delivered_.empty());
  EXPECT_EQ(service.pending_count(), 3u);
  EXPECT_EQ(engine_.syncs_started(), 1);  // never two at once

  engine_.Release();
  ASSERT_TRUE(RunUntil([&] { return !delivered_.empty(); }));
  EXPECT_EQ(delivered_, std::vector<std::string>({"put k1@1"}));
  // A write came during the first sync: its outputs wait for a second sync, started after.
  ASSERT_TRUE(RunUntil([&] { return engine_.syncs_started() == 2; }));
  io_.poll();
  EXPECT_EQ(delivered_.size(), 1u);
  engine_.Release();
  ASSERT_TRUE(RunUntil([&] { return service.pending_count() == 0; }));
  EXPECT_EQ(delivered_, std::vector<std::string>({"put k1@1", "put k2@2", "get k1=v1@2"}));
}

TEST_F(NodeServiceCommitTest, AReadDuringASyncWithNoWriteSinceItStartedLeavesWithThatSync) {
  NodeService service(io_, node_, NodeService::CommitHooks::ForEngine(engine_));
  OpenGateOnExit open_gate(engine_);
  service.Submit(Put("k1", "v1"), Record("put k1"));
  ASSERT_TRUE(RunUntil([&] { return engine_.syncs_started() == 1; }));
  const int writes = engine_.writes();
  service.Submit(Get("k1"), Record("get k1"));
  io_.poll();
  ASSERT_EQ(engine_.writes(), writes);  // the premise: a read writes nothing
  // The read saw the write of the sync in flight, so it waits for that sync too.
  EXPECT_TRUE(delivered_.empty());
  engine_.Release();
  ASSERT_TRUE(RunUntil([&] { return service.pending_count() == 0; }));
  EXPECT_EQ(delivered_, std::vector<std::string>({"put k1@1", "get k1=v1@1"}));
  io_.poll();
  EXPECT_EQ(engine_.syncs_started(), 1);  // and no second sync
}

TEST_F(NodeServiceCommitTest, WithNoWritePendingRepliesLeaveWithoutASync) {
  NodeService service(io_, node_, NodeService::CommitHooks::ForEngine(engine_));
  OpenGateOnExit open_gate(engine_);
  // No sync is ever released here: a reply that waited for one would not come.
  service.Submit(Get("missing"), Record("get missing"));
  service.Submit(Get("other"), Record("get other"));
  ASSERT_TRUE(RunUntil([&] { return service.pending_count() == 0; }));
  EXPECT_EQ(delivered_, std::vector<std::string>({"get missing=none@0", "get other=none@0"}));
  EXPECT_EQ(engine_.syncs_started(), 0);
}

TEST_F(NodeServiceCommitTest, WritesThatAskNoSyncAreCommittedOnTheLoopUnlessASyncIsInFlight) {
  NodeService service(io_, node_, NodeService::CommitHooks::ForEngine(engine_));
  OpenGateOnExit open_gate(engine_);
  // No sync is released: dw=0 writes and their reads are answered without one.
  service.Submit(UnsyncedPut("a", "1"), Record("put a"));
  service.Submit(UnsyncedPut("b", "2"), Record("put b"));
  ASSERT_TRUE(RunUntil([&] { return service.pending_count() == 0; }));
  service.Submit(Get("a"), Record("get a"));
  ASSERT_TRUE(RunUntil([&] { return service.pending_count() == 0; }));
  EXPECT_EQ(delivered_, std::vector<std::string>({"put a@0", "put b@0", "get a=1@0"}));
  EXPECT_EQ(engine_.syncs_started(), 0);
  EXPECT_GE(engine_.unsynced_commits(), 1);
  EXPECT_GE(service.loop_stats().inline_writes, 1u);

  // With a sync in flight, a dw=0 write made after it waits for the next sync: its reply must
  // not leave before the earlier, synced write's.
  delivered_.clear();
  service.Submit(Put("c", "3"), Record("put c"));
  ASSERT_TRUE(RunUntil([&] { return engine_.syncs_started() == 1; }));
  service.Submit(UnsyncedPut("d", "4"), Record("put d"));
  io_.poll();
  EXPECT_TRUE(delivered_.empty());
  engine_.Release();
  ASSERT_TRUE(RunUntil([&] { return engine_.syncs_finished() == 1; }));
  // The next commit holds only the dw=0 write: it needs no sync, so it is made on the loop.
  ASSERT_TRUE(RunUntil([&] { return service.pending_count() == 0; }));
  EXPECT_EQ(delivered_, std::vector<std::string>({"put c@1", "put d@1"}));
  EXPECT_EQ(engine_.syncs_started(), 1);
}

TEST_F(NodeServiceCommitTest, ShutdownWaitsForTheSyncInFlightAndDeliversNothing) {
  NodeService service(io_, node_, NodeService::CommitHooks::ForEngine(engine_));
  OpenGateOnExit open_gate(engine_);
  service.Submit(Put("k1", "v1"), Record("put k1"));
  ASSERT_TRUE(RunUntil([&] { return engine_.syncs_started() == 1; }));
  std::atomic<bool> shutting_down{false};
  std::thread releaser([&] {
    while (!shutting_down.load()) std::this_thread::yield();
    engine_.Release();
  });
  shutting_down.store(true);
  service.Shutdown();
  // Shutdown returned only once the sync in flight had (this thread may commit next).
  EXPECT_EQ(engine_.syncs_finished(), 1);
  releaser.join();
  service.Submit(Get("k1"), Record("get k1"));  // dropped: no completion after Shutdown
  io_.run_for(std::chrono::milliseconds(50));   // the sync's completion, if queued, is ignored
  EXPECT_TRUE(delivered_.empty());
  EXPECT_EQ(service.pending_count(), 0u);
  EXPECT_TRUE(io_.stopped());  // no work is left behind
}

}  // namespace
}  // namespace meridian::runtime
