// Peer messages the fuzzers (fuzz/, docs/fuzzing.md "Findings") found to crash or mislead a
// node, kept as regressions: a node must survive any message a peer can send.
#include <gtest/gtest.h>

#include "node/node_test_util.h"
#include "proto/peer.pb.h"

namespace meridian::node {
namespace {

using test_support::NodeFixture;

class PeerInputTest : public NodeFixture {};

// F1 (fuzz/corpus/node_message/crash_f1_handoff_batch_beyond_ring): a HandoffBatch marked last
// for a partition beyond the ring passed HandoffReceiver, which does not know the partition
// count, and Node::OnBatchApplied asked Ring::PendingOwner about it: MERIDIAN_CHECK abort, so
// one message from any peer stopped the node. Now refused with an ack that says why.
TEST_F(PeerInputTest, HandoffBatchBeyondTheRingIsRefusedAndTheNodeGoesOn) {
  proto::PeerMessage message;
  proto::HandoffBatch* batch = message.mutable_handoff_batch();
  batch->set_transfer_id(2);
  batch->set_partition(config_.partition_count + 17);
  batch->set_sequence(1);
  batch->set_last(true);
  batch->set_reply_address("127.0.0.1:7001");
  node_->Receive("127.0.0.2:7001", message);
  bool refused = false;
  for (const cluster::Outbound& out : node_->TakeOutbound()) {
    if (!out.message.has_handoff_ack()) continue;
    refused = true;
    EXPECT_EQ(out.message.handoff_ack().status_code(),
              static_cast<std::uint32_t>(StatusCode::kInvalidArgument));
    EXPECT_NE(out.message.handoff_ack().status_message().find("outside the ring"),
              std::string::npos);
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(Put("k", "v").context.size() > 0);
  EXPECT_TRUE(Get("k").found);
}

// A newer release may send a message of a kind this one does not know (a rolling upgrade mixes
// releases): it parses with no body set and is ignored, without any reply or effect.
TEST_F(PeerInputTest, MessageOfAnUnknownKindIsIgnored) {
  // Field 1000 (not a member of PeerMessage's body), length-delimited, empty: tag varint
  // (1000 << 3 | 2 = 8002 = 0xC2 0x3E), then the length 0.
  proto::PeerMessage message;
  ASSERT_TRUE(message.ParseFromString(std::string("\xC2\x3E\x00", 3)));
  ASSERT_EQ(message.body_case(), proto::PeerMessage::BODY_NOT_SET);
  node_->TakeOutbound();
  node_->Receive("127.0.0.2:7001", message);
  EXPECT_TRUE(node_->TakeOutbound().empty());
  EXPECT_TRUE(Put("k", "v").context.size() > 0);
  EXPECT_TRUE(Get("k").found);
}

}  // namespace
}  // namespace meridian::node
