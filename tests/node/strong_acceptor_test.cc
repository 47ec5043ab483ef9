// The acceptor side of strong buckets in a Node: requests answered from the key's acceptor
// record, changed records synced before the answer, bad requests refused without a change.
#include <gtest/gtest.h>

#include "node/node_test_util.h"
#include "proto/peer.pb.h"
#include "replication/strong_codec.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

using replication::Ballot;
using replication::RegisterValue;
using test_support::NodeFixture;

class StrongAcceptorTest : public NodeFixture {
 protected:
  const std::string key_ = storage::EncodeObjectKey(3, "b", "k");

  // `epoch` 1: the configuration a node that created its cluster starts every partition with.
  proto::StrongReply Send(proto::StrongRequest::Kind kind, Ballot ballot,
                          const RegisterValue* value = nullptr, std::string key = "",
                          std::uint64_t epoch = 1) {
    proto::PeerMessage message;
    proto::StrongRequest* request = message.mutable_strong_request();
    request->set_request_id(++request_id_);
    request->set_epoch(epoch);
    request->set_storage_key(key.empty() ? key_ : key);
    request->set_kind(kind);
    if (!ballot.IsZero()) replication::ToProto(ballot, request->mutable_ballot());
    if (value != nullptr) replication::ToProto(*value, request->mutable_value());
    node_->Receive("127.0.0.2:7001", message);
    proto::StrongReply reply;
    int replies = 0;
    for (const cluster::Outbound& out : node_->TakeOutbound()) {
      if (!out.message.has_strong_reply()) continue;
      ++replies;
      EXPECT_EQ(out.to_address, "127.0.0.2:7001");
      reply = out.message.strong_reply();
    }
    EXPECT_EQ(replies, 1);
    EXPECT_EQ(reply.request_id(), request_id_);
    return reply;
  }

  std::uint64_t request_id_ = 0;
};

TEST_F(StrongAcceptorTest, PromisesAndAcceptsSurviveACrash) {
  const Ballot b1{1, 7, 1, 0};
  proto::StrongReply reply = Send(proto::StrongRequest::KIND_PREPARE, b1);
  EXPECT_EQ(reply.status_code(), 0u) << reply.status_message();
  EXPECT_TRUE(reply.granted());
  Crash();  // unsynced writes are lost: the promise must not be
  reply = Send(proto::StrongRequest::KIND_PREPARE, b1);
  EXPECT_FALSE(reply.granted());
  EXPECT_EQ(replication::BallotFromProto(reply.ballot()), b1);

  const RegisterValue value = RegisterValue{}.Written(b1, true, "v1");
  reply = Send(proto::StrongRequest::KIND_PROPOSE, b1, &value);
  EXPECT_TRUE(reply.granted());
  Crash();
  reply = Send(proto::StrongRequest::KIND_QUERY, Ballot{});
  EXPECT_TRUE(reply.granted());
  EXPECT_EQ(replication::BallotFromProto(reply.ballot()), b1);
  auto stored = replication::RegisterValueFromProto(reply.value(), 1024);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(*stored, value);

  // A lower proposal is refused and names what outranks it.
  const RegisterValue older = RegisterValue{}.Written(Ballot{0, 0, 0, 1}, true, "x");
  reply = Send(proto::StrongRequest::KIND_PROPOSE, Ballot{0, 9, 1, 1}, &older);
  EXPECT_FALSE(reply.granted());
}

TEST_F(StrongAcceptorTest, MalformedRequestsAreRefusedAndChangeNothing) {
  const Ballot b{2, 7, 1, 0};
  proto::StrongReply reply = Send(proto::StrongRequest::KIND_PREPARE, Ballot{});
  EXPECT_EQ(reply.status_code(), static_cast<std::uint32_t>(StatusCode::kInvalidArgument));
  reply = Send(proto::StrongRequest::KIND_UNSPECIFIED, b);
  EXPECT_EQ(reply.status_code(), static_cast<std::uint32_t>(StatusCode::kInvalidArgument));
  reply = Send(proto::StrongRequest::KIND_PREPARE, b, nullptr, "x");
  EXPECT_EQ(reply.status_code(), static_cast<std::uint32_t>(StatusCode::kCorruption));
  reply = Send(proto::StrongRequest::KIND_PREPARE, b, nullptr,
               storage::EncodeObjectKey(config_.partition_count + 1, "b", "k"));
  EXPECT_EQ(reply.status_code(), static_cast<std::uint32_t>(StatusCode::kInvalidArgument));
  // A value whose version is above the proposal's ballot, and one with bytes but absent.
  const RegisterValue newer = RegisterValue{}.Written(Ballot{9, 7, 1, 0}, true, "v");
  reply = Send(proto::StrongRequest::KIND_PROPOSE, b, &newer);
  EXPECT_EQ(reply.status_code(), static_cast<std::uint32_t>(StatusCode::kInvalidArgument));
  RegisterValue bad = RegisterValue{}.Written(b, false, "");
  bad.bytes = "stray";
  reply = Send(proto::StrongRequest::KIND_PROPOSE, b, &bad);
  EXPECT_EQ(reply.status_code(), static_cast<std::uint32_t>(StatusCode::kCorruption));

  // None of it left a record: the first prepare at b is still granted.
  reply = Send(proto::StrongRequest::KIND_PREPARE, b);
  EXPECT_TRUE(reply.granted());
}

TEST_F(StrongAcceptorTest, AFullDiskSitsTheRoundOutButStillAnswersQueries) {
  node_->SetStorageCondition(Status::InsufficientStorage("disk full"));
  proto::StrongReply reply = Send(proto::StrongRequest::KIND_PREPARE, Ballot{1, 7, 1, 0});
  EXPECT_EQ(reply.status_code(), static_cast<std::uint32_t>(StatusCode::kInsufficientStorage));
  EXPECT_FALSE(reply.granted());
  reply = Send(proto::StrongRequest::KIND_QUERY, Ballot{});
  EXPECT_EQ(reply.status_code(), 0u);
  EXPECT_TRUE(reply.granted());
  node_->SetStorageCondition(Status::Ok());
  reply = Send(proto::StrongRequest::KIND_PREPARE, Ballot{1, 7, 1, 0});
  EXPECT_TRUE(reply.granted());
}

TEST_F(StrongAcceptorTest, RequestsOfAnotherEpochAreRedirectedOrRefusedWithoutAChange) {
  const Ballot b1{1, 7, 1, 0};
  // Epoch 0 (a coordinator that knows no configuration): pointed to the one this node serves.
  proto::StrongReply reply = Send(proto::StrongRequest::KIND_PREPARE, b1, nullptr, "", 0);
  EXPECT_EQ(reply.status_code(), 0u);
  EXPECT_EQ(reply.verdict(), proto::StrongReply::VERDICT_MOVED);
  EXPECT_EQ(reply.configuration().epoch(), 1u);
  ASSERT_EQ(reply.configuration().members_size(), 1);
  EXPECT_FALSE(reply.granted());
  // A newer epoch than this node has: not ready.
  reply = Send(proto::StrongRequest::KIND_PREPARE, b1, nullptr, "", 2);
  EXPECT_EQ(reply.verdict(), proto::StrongReply::VERDICT_NOT_READY);
  EXPECT_FALSE(reply.granted());
  auto stored = engine_.Get(storage::Column::kStrong, key_);
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value());
  // The right epoch is served.
  reply = Send(proto::StrongRequest::KIND_PREPARE, b1, nullptr, "", 1);
  EXPECT_EQ(reply.verdict(), proto::StrongReply::VERDICT_SERVED);
  EXPECT_TRUE(reply.granted());
}

// The partition's configuration register answers only for the epoch this node serves: a late
// mover of an older epoch cannot write into a newer epoch's register.
TEST_F(StrongAcceptorTest, TheConfigurationRegisterAnswersOnlyForTheActiveEpoch) {
  const std::string register_key = storage::EncodeStrongConfigKey(3);
  const Ballot b{5, 7, 1, 0};
  proto::StrongReply reply =
      Send(proto::StrongRequest::KIND_PREPARE, b, nullptr, register_key, /*epoch=*/1);
  EXPECT_EQ(reply.verdict(), proto::StrongReply::VERDICT_SERVED);
  EXPECT_TRUE(reply.granted());
  reply = Send(proto::StrongRequest::KIND_QUERY, Ballot{}, nullptr, register_key, /*epoch=*/0);
  EXPECT_EQ(reply.verdict(), proto::StrongReply::VERDICT_MOVED);
  EXPECT_EQ(reply.configuration().epoch(), 1u);
  reply = Send(proto::StrongRequest::KIND_PREPARE, Ballot{9, 7, 1, 0}, nullptr, register_key,
               /*epoch=*/2);
  EXPECT_EQ(reply.verdict(), proto::StrongReply::VERDICT_NOT_READY);
  EXPECT_FALSE(reply.granted());
}

}  // namespace
}  // namespace meridian::node
