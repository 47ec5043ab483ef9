// NodeService: requests reach the node, each completion runs once with its reply, ticks run.
#include "runtime/node_service.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "runtime/system_env.h"
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

TEST_F(NodeServiceTest, RepliesWaitForOneCommitCoveringTheWholeBatch) {
  std::vector<std::string> events;
  NodeService service(io_, node_, [&] {
    events.push_back("commit");
    return Status::Ok();
  });
  constexpr int kRequests = 5;
  for (int i = 0; i < kRequests; ++i) {
    service.Submit(node::PutRequest{{"b", "k" + std::to_string(i)}, "v", "", {}},
                   [&events, i](node::ClientReply reply) {
                     EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
                     events.push_back("reply " + std::to_string(i));
                   });
  }
  // Nothing is delivered from inside Submit: the replies wait for the commit.
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(service.pending_count(), static_cast<std::size_t>(kRequests));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (service.pending_count() > 0 && std::chrono::steady_clock::now() < deadline) {
    io_.run_one_for(std::chrono::milliseconds(50));
  }
  // One commit, before every reply of the batch.
  ASSERT_EQ(events.size(), static_cast<std::size_t>(kRequests + 1));
  EXPECT_EQ(events[0], "commit");
  for (int i = 0; i < kRequests; ++i) EXPECT_EQ(events[i + 1], "reply " + std::to_string(i));
}

TEST_F(NodeServiceTest, AFailedCommitStopsTheProcessBeforeAnyReply) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        NodeService service(io_, node_, [] { return Status::IoError("disk full"); });
        service.Submit(node::PutRequest{{"b", "k"}, "v", "", {}}, [](node::ClientReply) {
          std::fprintf(stderr, "a reply was delivered\n");
          std::_Exit(3);
        });
        io_.run_for(std::chrono::seconds(5));
      },
      "group commit failed, stopping: .*disk full");
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

}  // namespace
}  // namespace meridian::runtime
