// A fixture for Node scenario tests: one node over a MemoryEngine with a manual clock and a
// seeded random source, plus one-line helpers that submit a request and return its reply.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "node/node.h"
#include "node/test_env.h"
#include "storage/memory_engine.h"

namespace meridian::node::test_support {

// Every key/value of every column, for "nothing changed" assertions.
using EngineSnapshot = std::vector<std::map<std::string, std::string>>;

inline EngineSnapshot Snapshot(storage::Engine& engine) {
  EngineSnapshot snapshot(storage::kColumnCount);
  for (int column = 0; column < storage::kColumnCount; ++column) {
    const Status status = engine.Scan(static_cast<storage::Column>(column), "", "",
                                      [&](std::string_view key, std::string_view value) {
                                        snapshot[column].emplace(key, value);
                                        return true;
                                      });
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  return snapshot;
}

inline std::vector<std::string> Values(const GetReply& reply) {
  std::vector<std::string> values;
  for (const SiblingValue& sibling : reply.values) values.push_back(sibling.value);
  return values;
}

class NodeFixture : public ::testing::Test {
 protected:
  NodeFixture() { Restart(); }

  // A clean stop (Close) and a new Node over the same engine: a restart that kept its data.
  void Restart() { Restart(config_); }
  void Restart(const NodeConfig& config) {
    if (node_) {
      ASSERT_TRUE(node_->Close().ok());
    }
    Reopen(config);
  }
  // A machine crash: unsynced writes are lost and the node is reopened without Close.
  void Crash() {
    engine_.DropUnsyncedWrites();
    Reopen(config_);
  }
  void Reopen(const NodeConfig& config) {
    config_ = config;
    node_ = std::make_unique<Node>(config_, Env{&clock_, &random_, node_engine_});
    const Status status = node_->Open();
    ASSERT_TRUE(status.ok()) << status.ToString();
  }

  // Submits one request and returns its reply, checking that exactly one came back.
  ClientReply Call(ClientRequest request) {
    clock_.Advance(1);
    const RequestId id = next_id_++;
    node_->Submit(id, std::move(request));
    std::vector<ClientReply> replies = node_->TakeReplies();
    EXPECT_EQ(replies.size(), 1u);
    if (replies.empty()) return ClientReply{id, Status::Internal("no reply"), GetReply{}};
    EXPECT_EQ(replies[0].id, id);
    return std::move(replies[0]);
  }

  GetReply Get(const std::string& key, const std::string& bucket = "b") {
    ClientReply reply = Call(GetRequest{{bucket, key}});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return std::get<GetReply>(reply.body);
  }
  ClientReply PutReply(const std::string& key, const std::string& value,
                       const std::string& context = "", std::optional<std::uint32_t> dw = {},
                       const std::string& bucket = "b") {
    RequestOptions options;
    if (dw) options.dw = QuorumValue::Number(*dw);
    return Call(PutRequest{{bucket, key}, value, context, options});
  }
  WriteReply Put(const std::string& key, const std::string& value, const std::string& context = "",
                 std::optional<std::uint32_t> dw = {}) {
    ClientReply reply = PutReply(key, value, context, dw);
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return std::get<WriteReply>(reply.body);
  }
  WriteReply Delete(const std::string& key, const std::string& context = "") {
    ClientReply reply = Call(DeleteRequest{{"b", key}, context, RequestOptions{}});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return std::get<WriteReply>(reply.body);
  }
  BucketProps SetBucket(const std::string& bucket, BucketPropsPatch patch) {
    ClientReply reply = Call(SetBucketRequest{bucket, patch});
    EXPECT_TRUE(reply.status.ok()) << reply.status.ToString();
    return std::get<BucketReply>(reply.body).props;
  }

  NodeConfig config_;
  ManualClock clock_;
  SplitMix64 random_{20261126};
  storage::MemoryEngine engine_;
  storage::Engine* node_engine_ = &engine_;  // what Restart() hands the node
  std::unique_ptr<Node> node_;
  RequestId next_id_ = 1;
};

// Forwards to another engine, failing reads or writes with IoError when told to.
class FailingEngine final : public storage::Engine {
 public:
  explicit FailingEngine(storage::Engine& inner) : inner_(inner) {}
  bool fail_reads = false;
  bool fail_writes = false;

  Result<std::optional<std::string>> Get(storage::Column column, std::string_view key) override {
    if (fail_reads) return Status::IoError("injected read failure");
    return inner_.Get(column, key);
  }
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override {
    if (fail_writes) return Status::IoError("injected write failure");
    return inner_.Write(batch, options);
  }
  Status Scan(storage::Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override {
    if (fail_reads) return Status::IoError("injected read failure");
    return inner_.Scan(column, begin, end, visitor);
  }

 private:
  storage::Engine& inner_;
};

}  // namespace meridian::node::test_support
