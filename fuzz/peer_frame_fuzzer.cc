// Peer connection bytes: frames as runtime/peer_transport.cc reads them, the handshake, and
// every PeerMessage after it delivered to node 1 of a real cluster (fuzz/cluster_fixture.h).
//
// Contract: whatever a connection carries, frame decoding (DecodeFrameHeader,
// CheckFrameLength with the transport's limits: kHandshakeFrameBytesMax for the handshake,
// the default frame_bytes_max after it), the handshake checks (CheckPeerHandshake) and the
// node's handling of the messages never crash or trip ASan/UBSan; an accepted message
// survives EncodeFrame and parsing again unchanged; and the node keeps the promises checked
// by FuzzedNode (sendable output, restartable state).
//
// Input: byte 0 bit 0 picks the side: 0 = the accepting node (the first frame is the dialer's
// Handshake), 1 = the dialing node (the first frame is the acceptor's HandshakeReply). The
// rest is the byte stream. As in the transport, a bad length, an unparseable frame or a
// refused handshake ends the connection; LinkHeartbeat frames stop at the transport.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cluster_fixture.h"
#include "fuzz_support.h"
#include "proto/peer.pb.h"
#include "proto/transport.pb.h"
#include "runtime/peer_frame.h"
#include "runtime/peer_transport_config.h"

namespace meridian::fuzz {
namespace {

// The next frame's payload, as ReadFrame cuts it; nullopt when the connection ends here (too
// few bytes, or a length CheckFrameLength refuses).
std::optional<std::string_view> NextFrame(std::string_view& stream, std::size_t payload_bytes_max) {
  if (stream.size() < runtime::kFrameHeaderBytes) return std::nullopt;
  runtime::FrameHeader header;
  for (std::size_t i = 0; i < header.size(); ++i) header[i] = static_cast<unsigned char>(stream[i]);
  const std::uint32_t length = runtime::DecodeFrameHeader(header);
  MERIDIAN_FUZZ_CHECK(runtime::EncodeFrameHeader(length) == header);
  if (!runtime::CheckFrameLength(length, payload_bytes_max).ok()) return std::nullopt;
  if (stream.size() - runtime::kFrameHeaderBytes < length) return std::nullopt;
  std::string_view payload = stream.substr(runtime::kFrameHeaderBytes, length);
  stream.remove_prefix(runtime::kFrameHeaderBytes + length);
  return payload;
}

// EncodeFrame of a parsed message gives a frame that decodes to the same message.
template <typename Message>
void CheckFrameRoundTrip(const Message& message) {
  if (message.ByteSizeLong() == 0) return;  // EncodeFrame's precondition (never sent empty)
  const std::string frame = runtime::EncodeFrame(message);
  std::string_view rest = frame;
  const std::optional<std::string_view> payload = NextFrame(rest, frame.size());
  MERIDIAN_FUZZ_CHECK(payload.has_value() && rest.empty());
  Message again;
  MERIDIAN_FUZZ_CHECK(again.ParseFromArray(payload->data(), static_cast<int>(payload->size())));
  MERIDIAN_FUZZ_CHECK(again.SerializeAsString() == message.SerializeAsString());
}

// The peer's handshake, checked as this node checks it; nullopt when the connection ends.
std::optional<proto::Handshake> ReadHandshake(std::string_view& stream, bool dialer) {
  const std::optional<std::string_view> payload =
      NextFrame(stream, runtime::kHandshakeFrameBytesMax);
  if (!payload) return std::nullopt;
  proto::Handshake hello;
  if (dialer) {
    proto::HandshakeReply reply;
    if (!reply.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
      return std::nullopt;
    }
    CheckFrameRoundTrip(reply);
    if (!reply.has_accepted()) return std::nullopt;  // refused, or no result
    hello = reply.accepted();
  } else if (!hello.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) {
    return std::nullopt;
  }
  CheckFrameRoundTrip(hello);
  const Result<std::uint32_t> acceptable =
      runtime::CheckPeerHandshake(hello, kClusterName, "fuzz", runtime::ProtocolRange{});
  if (!acceptable.ok()) {
    MERIDIAN_FUZZ_CHECK(acceptable.status().code() == StatusCode::kInvalidArgument);
    return std::nullopt;
  }
  // The negotiated version is one this node speaks.
  MERIDIAN_FUZZ_CHECK(runtime::ProtocolRange{}.Contains(*acceptable));
  // What this node would answer with is a handshake it would accept itself.
  const proto::Handshake own = runtime::MakeHandshake(kClusterName, runtime::ProtocolRange{},
                                                      hello.node_id(), hello.listen_address());
  MERIDIAN_FUZZ_CHECK(
      runtime::CheckPeerHandshake(own, kClusterName, "fuzz", runtime::ProtocolRange{}).ok());
  return hello;
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
  if (size == 0) return 0;
  const bool dialer = (data[0] & 1) != 0;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  const std::optional<proto::Handshake> hello = ReadHandshake(stream, dialer);
  if (!hello) return 0;
  // Messages are attributed to the address the peer announced (link.remote_address).
  const std::string& from_address = hello->listen_address();
  const std::size_t frame_bytes_max = runtime::PeerTransportConfig{}.frame_bytes_max;
  std::unique_ptr<FuzzedNode> fuzzed;  // opened at the first message (it costs a node start)
  while (const std::optional<std::string_view> payload = NextFrame(stream, frame_bytes_max)) {
    proto::PeerMessage message;
    if (!message.ParseFromArray(payload->data(), static_cast<int>(payload->size()))) break;
    CheckFrameRoundTrip(message);
    if (message.has_link_heartbeat()) continue;
    if (!fuzzed) fuzzed = std::make_unique<FuzzedNode>();
    fuzzed->Receive(from_address, message);
  }
  if (fuzzed) fuzzed->Restart();
  return 0;
}
