// The handshake's protocol version negotiation (runtime/peer_frame.h, docs/format/transport.md
// "Version negotiation"): ranges, handshakes of release 0.1.0 (no range), the highest common
// version, and the refusal that names both sides and who must be upgraded.
#include "runtime/peer_frame.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::runtime {
namespace {

// A handshake as release 0.1.0 sends it: protocol_version only, no range, no release string.
proto::Handshake Release010(std::string_view node_id = "old") {
  proto::Handshake hello;
  hello.set_cluster_name("c");
  hello.set_protocol_version(1);
  hello.set_node_id(std::string(node_id));
  hello.set_listen_address("127.0.0.1:7001");
  return hello;
}

proto::Handshake Speaking(ProtocolRange range, std::string_view meridian_version = "9.9.9",
                          std::string_view node_id = "peer") {
  return MakeHandshake("c", range, node_id, "127.0.0.1:7002", meridian_version);
}

TEST(PeerFrameTest, ThisBuildSpeaksANonEmptyRange) {
  static_assert(kMinPeerProtocolVersion >= 1);
  static_assert(kMinPeerProtocolVersion <= kPeerProtocolVersion);
  const ProtocolRange range;
  EXPECT_EQ(range.min, kMinPeerProtocolVersion);
  EXPECT_EQ(range.max, kPeerProtocolVersion);
  EXPECT_EQ((ProtocolRange{1, 1}).ToString(), "1");
  EXPECT_EQ((ProtocolRange{1, 3}).ToString(), "1..3");
}

// The dialer puts its lowest version in protocol_version: what a node of release 0.1.0 (which
// compares it with its own) needs to accept every node whose range still includes 1.
TEST(PeerFrameTest, HandshakeAnnouncesRangeAndRelease) {
  const proto::Handshake hello = MakeHandshake("c", {1, 3}, "a", "127.0.0.1:1", "0.2.0");
  EXPECT_EQ(hello.protocol_version(), 1u);
  EXPECT_EQ(hello.min_protocol_version(), 1u);
  EXPECT_EQ(hello.max_protocol_version(), 3u);
  EXPECT_EQ(hello.meridian_version(), "0.2.0");
  EXPECT_EQ(MakeHandshake("c", {}, "a", "127.0.0.1:1").meridian_version(), MERIDIAN_VERSION);
  const ProtocolRange range = HandshakeProtocolRange(hello);
  EXPECT_EQ(range.min, 1u);
  EXPECT_EQ(range.max, 3u);
}

TEST(PeerFrameTest, HandshakeWithoutARangeSpeaksOnlyItsVersion) {
  const ProtocolRange range = HandshakeProtocolRange(Release010());
  EXPECT_EQ(range.min, 1u);
  EXPECT_EQ(range.max, 1u);
}

TEST(PeerFrameTest, NegotiatesTheHighestCommonVersion) {
  EXPECT_EQ(*NegotiateProtocolVersion(Speaking({2, 5}), "self", {1, 3}), 3u);
  EXPECT_EQ(*NegotiateProtocolVersion(Speaking({1, 1}), "self", {1, 3}), 1u);
  EXPECT_EQ(*NegotiateProtocolVersion(Speaking({3, 3}), "self", {1, 3}), 3u);
  EXPECT_EQ(*NegotiateProtocolVersion(Release010(), "self", {1, 2}), 1u);
  EXPECT_EQ(*NegotiateProtocolVersion(Release010(), "self", ProtocolRange{}), 1u);
  // This release and 0.1.0 speak version 1 together.
  EXPECT_EQ(*NegotiateProtocolVersion(Speaking(ProtocolRange{}), "self", {1, 1}), 1u);
}

TEST(PeerFrameTest, APeerTooNewNamesThisNodeAsTheOneToUpgrade) {
  Result<std::uint32_t> version =
      NegotiateProtocolVersion(Speaking({3, 4}, "0.4.0", "b"), "a", {1, 2}, "0.2.0");
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(version.status().message(),
            "no common peer protocol version: node 'a' (Meridian 0.2.0) speaks 1..2, node 'b' "
            "(Meridian 0.4.0) speaks 3..4; upgrade node 'a' to a release that speaks protocol "
            "version 3 first: a cluster is upgraded one release at a time (docs/operations.md, "
            "\"Upgrades\")");
}

TEST(PeerFrameTest, APeerTooOldNamesThePeerAsTheOneToUpgrade) {
  Result<std::uint32_t> version = NegotiateProtocolVersion(Release010("b"), "a", {2, 3}, "0.5.0");
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().message(),
            "no common peer protocol version: node 'a' (Meridian 0.5.0) speaks 2..3, node 'b' "
            "(Meridian 0.1.0 or older) speaks 1; upgrade node 'b' to a release that speaks "
            "protocol version 2 first: a cluster is upgraded one release at a time "
            "(docs/operations.md, \"Upgrades\")");
}

TEST(PeerFrameTest, AnEmptyRangeIsRefused) {
  proto::Handshake hello = Speaking({1, 1});
  hello.set_min_protocol_version(3);
  hello.set_max_protocol_version(2);
  Result<std::uint32_t> version = NegotiateProtocolVersion(hello, "a", {1, 3});
  ASSERT_FALSE(version.ok());
  EXPECT_NE(version.status().message().find("an empty range"), std::string::npos);
}

TEST(PeerFrameTest, CheckPeerHandshakeReturnsTheNegotiatedVersion) {
  Result<std::uint32_t> version = CheckPeerHandshake(Speaking({1, 4}), "c", "self", {1, 2});
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, 2u);
  EXPECT_FALSE(CheckPeerHandshake(Speaking({1, 4}), "other", "self", {1, 2}).ok());
  EXPECT_FALSE(CheckPeerHandshake(Speaking({3, 4}), "c", "self", {1, 2}).ok());
  proto::Handshake bad_id = Speaking({1, 1});
  bad_id.set_node_id("bad id!");
  EXPECT_FALSE(CheckPeerHandshake(bad_id, "c", "self", {1, 1}).ok());
  proto::Handshake bad_address = Speaking({1, 1});
  bad_address.set_listen_address("127.0.0.1:0");
  EXPECT_FALSE(CheckPeerHandshake(bad_address, "c", "self", {1, 1}).ok());
}

}  // namespace
}  // namespace meridian::runtime
