// Membership gossip: the gossip codec (cluster/gossip_codec.h), bucket-property records
// (core/bucket_props.h) and the membership state machine (cluster/membership.h) that applies
// what peers gossip, on its own (lighter than a whole node, so deeper per second).
//
// Contract: whatever gossip messages arrive, from whom and when, the codec and Membership
// never crash or trip ASan/UBSan; decoded records survive encode -> decode unchanged; every
// message Membership sends has a body; and the cluster state it accepts stays valid: its
// members validate, its partition count never changes, and it survives the persisted record
// (node/cluster_state_record.h) unchanged, so a node that learnt it can restart.
//
// Input: byte 0 bit 0: start from node 1's persisted three-node state (0) or as a fresh node
// joining through node 1 (1). Then records until the input ends:
//   byte  control: bits 0-1 the sender (node 2, node 3, a stranger, node 1 itself),
//                  bits 2-4 Membership ticks (500 ms each) to run first
//   byte  kind:    0 GossipSyn, 1 GossipDigest, 2 GossipDelta, 3 JoinRequest,
//                  4 TransferComplete, 5 a lone BucketPropsEntry (codec only) (modulo 6)
//   2 bytes        payload length, little-endian (cut to what is left)
//   payload        that message's protobuf bytes
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/gossip_codec.h"
#include "cluster/membership.h"
#include "cluster_fixture.h"
#include "core/bucket_props.h"
#include "core/seeded_random.h"
#include "fuzz_support.h"
#include "node/cluster_state_record.h"
#include "proto/peer.pb.h"

namespace meridian::fuzz {
namespace {

const cluster::ClusterState& PersistedState() {
  static const cluster::ClusterState state = [] {
    storage::MemoryEngine engine = Cluster().engine;
    auto bytes = engine.Get(storage::Column::kMetadata, node::kClusterStateKey);
    MERIDIAN_FUZZ_CHECK(bytes.ok() && bytes->has_value());
    auto decoded = node::DecodeClusterStateRecord(**bytes);
    MERIDIAN_FUZZ_CHECK(decoded.ok());
    return std::move(*decoded);
  }();
  return state;
}

void CheckMember(const proto::GossipMember& message) {
  Result<cluster::Member> member = cluster::DecodeMember(message);
  if (!member.ok()) return;
  MERIDIAN_FUZZ_CHECK(cluster::ValidateMember(*member).ok());
  proto::GossipMember encoded;
  cluster::EncodeMember(*member, &encoded);
  Result<cluster::Member> again = cluster::DecodeMember(encoded);
  MERIDIAN_FUZZ_CHECK(again.ok() && *again == *member);
}

void CheckRingVersion(const proto::RingVersion& message) {
  Result<cluster::RingVersionKey> key = cluster::DecodeRingVersion(message);
  if (!key.ok()) return;
  proto::RingVersion encoded;
  cluster::EncodeRingVersion(*key, &encoded);
  Result<cluster::RingVersionKey> again = cluster::DecodeRingVersion(encoded);
  MERIDIAN_FUZZ_CHECK(again.ok() && *again == *key);
}

// Decodes, round-trips and applies a ring delta to a copy of `ring` (Apply checks it).
void CheckRingDelta(const proto::RingDelta& message, const cluster::Ring& ring) {
  CheckRingVersion(message.base());
  CheckRingVersion(message.result());
  Result<cluster::Ring::Delta> delta = cluster::DecodeRingChanges(message);
  if (!delta.ok()) return;
  proto::RingDelta encoded;
  *encoded.mutable_base() = message.base();
  *encoded.mutable_result() = message.result();
  cluster::EncodeRingChanges(*delta, &encoded);
  Result<cluster::Ring::Delta> again = cluster::DecodeRingChanges(encoded);
  MERIDIAN_FUZZ_CHECK(again.ok() && *again == *delta);
  cluster::Ring copy = ring;
  const std::uint64_t version = copy.version();
  if (!copy.Apply(*delta).ok()) {
    MERIDIAN_FUZZ_CHECK(copy == ring);  // refused: unchanged
  } else {
    MERIDIAN_FUZZ_CHECK(copy.version() == delta->version && delta->version >= version);
  }
}

void CheckBucketEntry(const proto::BucketPropsEntry& entry) {
  Result<BucketProps> props = DecodeBucketProps(entry.props());
  if (props.ok()) {
    MERIDIAN_FUZZ_CHECK(ValidateBucketProps(*props).ok());
    Result<BucketProps> again = DecodeBucketProps(EncodeBucketProps(*props));
    MERIDIAN_FUZZ_CHECK(again.ok() && *again == *props);
  }
  Result<cluster::BucketPropsRecord> record = cluster::DecodeBucketPropsEntry(entry);
  if (record.ok()) MERIDIAN_FUZZ_CHECK(props.ok() && record->props == *props);
}

void CheckState(const cluster::Membership& membership, std::uint32_t partition_count) {
  const cluster::ClusterState& state = membership.state();
  MERIDIAN_FUZZ_CHECK(state.partition_count() == partition_count);
  for (const auto& member : state.members()) {
    MERIDIAN_FUZZ_CHECK(cluster::ValidateMember(*member).ok());
  }
  Result<cluster::ClusterState> reloaded =
      node::DecodeClusterStateRecord(node::EncodeClusterStateRecord(state));
  if (!reloaded.ok())
    Fail("accepted cluster state does not reload: " + reloaded.status().ToString());
  MERIDIAN_FUZZ_CHECK(*reloaded == state);
}

template <typename Message>
bool Parse(Message& message, std::string_view payload) {
  return message.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

}  // namespace
}  // namespace meridian::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  meridian::fuzz::PersistedState();  // builds the cluster once
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace meridian;
  using namespace meridian::fuzz;
  if (size == 0) return 0;
  const bool fresh = (data[0] & 1) != 0;
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  const node::NodeConfig config = ClusterNodeConfig(fresh ? 1 : 0);
  cluster::MembershipOptions options;
  options.self = cluster::Member{config.node_id,    config.peer_address, config.http_address,
                                 config.zone,       config.weight,       cluster::MemberStatus::kUp,
                                 /*incarnation=*/7, /*version=*/0};
  options.cluster_name = config.cluster_name;
  options.partition_count = config.partition_count;
  options.gossip_interval_ms = config.gossip_interval_ms;
  std::optional<cluster::ClusterState> persisted;
  if (!fresh) persisted = PersistedState();
  cluster::Membership membership(options, std::move(persisted));
  if (fresh) MERIDIAN_FUZZ_CHECK(membership.Join({AddressOf(0)}).ok());
  SplitMix64Random random(99);
  std::uint64_t now_ms = 1'000'000;
  const std::string senders[] = {AddressOf(1), AddressOf(2), StrangerAddress(), AddressOf(0)};

  const auto check_outbound = [&] {
    for (const cluster::Outbound& out : membership.TakeOutbound()) {
      MERIDIAN_FUZZ_CHECK(out.message.body_case() != proto::PeerMessage::BODY_NOT_SET);
    }
  };
  while (input.size() >= 4) {
    const auto control = static_cast<std::uint8_t>(input[0]);
    const auto kind = static_cast<std::uint8_t>(input[1]) % 6;
    const std::size_t length = static_cast<std::uint8_t>(input[2]) |
                               (static_cast<std::size_t>(static_cast<std::uint8_t>(input[3])) << 8);
    input.remove_prefix(4);
    const std::string_view payload = input.substr(0, length);
    input.remove_prefix(payload.size());
    for (int tick = 0; tick < ((control >> 2) & 7); ++tick) {
      now_ms += 500;
      membership.Tick(now_ms, random);
      check_outbound();
    }

    proto::PeerMessage message;
    bool parsed = false;
    switch (kind) {
      case 0:
        parsed = Parse(*message.mutable_gossip_syn(), payload);
        break;
      case 1:
        parsed = Parse(*message.mutable_gossip_digest(), payload);
        if (parsed) {
          CheckRingVersion(message.gossip_digest().ring());
          for (const auto& entry : message.gossip_digest().buckets()) CheckBucketEntry(entry);
        }
        break;
      case 2:
        parsed = Parse(*message.mutable_gossip_delta(), payload);
        if (parsed) {
          const proto::GossipDelta& delta = message.gossip_delta();
          for (const auto& member : delta.members()) CheckMember(member);
          CheckRingDelta(delta.ring_delta(), membership.state().ring());
          CheckRingVersion(delta.sender_ring());
          for (const auto& entry : delta.buckets()) CheckBucketEntry(entry);
        }
        break;
      case 3:
        parsed = Parse(*message.mutable_join_request(), payload);
        if (parsed) CheckMember(message.join_request().member());
        break;
      case 4:
        parsed = Parse(*message.mutable_transfer_complete(), payload);
        break;
      default: {
        proto::BucketPropsEntry entry;
        if (Parse(entry, payload)) CheckBucketEntry(entry);
        continue;
      }
    }
    if (!parsed) continue;
    membership.Receive(senders[control & 3], message, now_ms);
    check_outbound();
    CheckState(membership, config.partition_count);
  }
  return 0;
}
