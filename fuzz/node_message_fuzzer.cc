// Every peer message handler of a Node: typed protobuf payloads into node 1 of a real
// three-node cluster (fuzz/cluster_fixture.h), interleaved with ticks and client requests.
//
// Contract: whatever peers send — any message type with any field values, from a member, a
// stranger or the node's own address, at any time — the node never crashes or trips
// ASan/UBSan; every message it sends has a body and a destination and fits a frame; it
// answers exactly the client requests it was given; and after a clean stop it opens again
// on what it persisted.
//
// Input: records until the input ends:
//   byte  control: bits 0-1 the sender (node 2, node 3, a stranger, node 1 itself),
//                  bits 2-4 ticks (100 ms each) to run first, bit 5: a client request instead
//   byte  kind:    which PeerMessage body (index into the oneof, modulo its size); for a
//                  client request: get, put or delete of bucket "b" or "one"
//   2 bytes        payload length, little-endian (cut to what is left)
//   payload        the body message's protobuf bytes; for a client request: the key
// The body is parsed as its own message type, so random bytes reach each handler instead of
// mostly failing to select one; the peer_frame fuzzer covers whole PeerMessage frames.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster_fixture.h"
#include "fuzz_support.h"
#include "proto/peer.pb.h"

namespace meridian::fuzz {
namespace {

const std::vector<const google::protobuf::FieldDescriptor*>& BodyFields() {
  static const std::vector<const google::protobuf::FieldDescriptor*> fields = [] {
    std::vector<const google::protobuf::FieldDescriptor*> out;
    const google::protobuf::OneofDescriptor* body =
        proto::PeerMessage::descriptor()->FindOneofByName("body");
    MERIDIAN_FUZZ_CHECK(body != nullptr);
    for (int i = 0; i < body->field_count(); ++i) out.push_back(body->field(i));
    return out;
  }();
  return fields;
}

}  // namespace
}  // namespace meridian::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  meridian::fuzz::Cluster();  // once, before the first input (not timed as one)
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace meridian;
  using namespace meridian::fuzz;
  FuzzedNode fuzzed;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string senders[] = {AddressOf(1), AddressOf(2), StrangerAddress(), AddressOf(0)};
  while (input.size() >= 4) {
    const auto control = static_cast<std::uint8_t>(input[0]);
    const auto kind = static_cast<std::uint8_t>(input[1]);
    const std::size_t length = static_cast<std::uint8_t>(input[2]) |
                               (static_cast<std::size_t>(static_cast<std::uint8_t>(input[3])) << 8);
    input.remove_prefix(4);
    const std::string_view payload = input.substr(0, length);
    input.remove_prefix(payload.size());

    for (int tick = 0; tick < ((control >> 2) & 7); ++tick) fuzzed.Tick();
    if ((control & 0x20) != 0) {
      ObjectId id{(kind & 4) != 0 ? "one" : "b", std::string(payload)};
      switch (kind % 3) {
        case 0:
          fuzzed.Submit(node::GetRequest{std::move(id), {}});
          break;
        case 1:
          fuzzed.Submit(node::PutRequest{std::move(id), "v", "", {}});
          break;
        default:
          fuzzed.Submit(node::DeleteRequest{std::move(id), "", {}});
          break;
      }
      continue;
    }
    const auto& fields = BodyFields();
    const google::protobuf::FieldDescriptor* field = fields[kind % fields.size()];
    proto::PeerMessage message;
    google::protobuf::Message* body = message.GetReflection()->MutableMessage(&message, field);
    if (!body->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) continue;
    fuzzed.Receive(senders[control & 3], message);
  }
  fuzzed.Restart();
  return 0;
}
