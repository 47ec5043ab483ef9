// Byte codecs that peers and clients reach: objects (core/object_codec.h, in replica writes,
// handoff, hints and repairs), causal contexts (core/causal_context.h, from clients), the
// forwarding messages (node/kv_codec.h), storage keys (storage/key_encoding.h, named in peer
// messages), quorum values (core/quorum.h) and the base64url/varint primitives under them.
//
// Contract: decoders never crash, trip ASan/UBSan or over-allocate on any bytes; whatever
// decodes satisfies its type's invariants and survives encode -> decode unchanged, and the
// encoding of a decoded value is canonical (encoding it again gives the same bytes).
//
// Input: byte 0 picks the codec (modulo 7); the rest is its input. For contexts, byte 1 picks
// the object (bucket "b", key "k" or "k<byte 1>") and bit 0 of byte 2 whether the rest is the
// token as sent or a token body to which a valid tag and checksum are added (so mutations
// reach the entry parser instead of stopping at the checksum).
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/byte_codec.h"
#include "core/causal_context.h"
#include "core/dvv_set.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "core/quorum.h"
#include "fuzz_support.h"
#include "node/kv_codec.h"
#include "storage/key_encoding.h"

namespace meridian::fuzz {
namespace {

void FuzzObject(std::string_view bytes) {
  Result<DvvSet> decoded = DecodeObject(bytes);
  if (!decoded.ok()) {
    MERIDIAN_FUZZ_CHECK(decoded.status().code() == StatusCode::kCorruption);
    return;
  }
  MERIDIAN_FUZZ_CHECK(decoded->CheckInvariants());
  MERIDIAN_FUZZ_CHECK(decoded->LiveCount() <= decoded->siblings().size());
  const std::string encoded = EncodeObject(*decoded);
  Result<DvvSet> again = DecodeObject(encoded);
  MERIDIAN_FUZZ_CHECK(again.ok() && *again == *decoded);
  MERIDIAN_FUZZ_CHECK(EncodeObject(*again) == encoded);
  // Merging a state with itself changes nothing (idempotence), as replicas rely on.
  Result<DvvSet> merged = DvvSet::Merge(*decoded, *decoded);
  MERIDIAN_FUZZ_CHECK(merged.ok() && *merged == *decoded);
}

void CheckContextRoundTrip(const VersionVector& clock, std::string_view bucket,
                           std::string_view key) {
  const std::string token = EncodeContext(clock, bucket, key);
  Result<VersionVector> again = DecodeContext(token, bucket, key);
  if (token.size() > kContextBytesMax) {
    MERIDIAN_FUZZ_CHECK(!again.ok());  // too many entries to hand out
    return;
  }
  MERIDIAN_FUZZ_CHECK(again.ok() && *again == clock);
  MERIDIAN_FUZZ_CHECK(EncodeContext(*again, bucket, key) == token);
}

void FuzzContext(std::string_view input) {
  if (input.size() < 2) return;
  const std::string bucket = "b";
  const std::string key = input[0] == 0 ? std::string("k") : "k" + std::string(1, input[0]);
  const bool seal = (input[1] & 1) != 0;
  input.remove_prefix(2);
  std::string token(input);
  if (seal) {
    // version 1, the object's tag, the fuzzed entries, then the checksum over all of it.
    std::string raw(1, '\x01');
    PutFixed32(raw, static_cast<std::uint32_t>(ObjectHash(bucket, key)));
    raw.append(input);
    PutFixed32(raw, static_cast<std::uint32_t>(XXH3_64bits(raw.data(), raw.size())));
    token = Base64UrlEncode(raw);
  }
  Result<VersionVector> decoded = DecodeContext(token, bucket, key);
  if (!decoded.ok()) {
    MERIDIAN_FUZZ_CHECK(decoded.status().code() == StatusCode::kInvalidArgument);
    return;
  }
  CheckContextRoundTrip(*decoded, bucket, key);
}

void FuzzBase64(std::string_view text) {
  const std::string encoded = Base64UrlEncode(text);
  const std::optional<std::string> back = Base64UrlDecode(encoded);
  MERIDIAN_FUZZ_CHECK(back.has_value() && *back == text);
  // The decoder accepts canonical text only (no padding, zero leftover bits).
  if (const std::optional<std::string> decoded = Base64UrlDecode(text)) {
    MERIDIAN_FUZZ_CHECK(Base64UrlEncode(*decoded) == text);
  }
  // Varints: whatever a reader accepts re-encodes to a value it reads back the same.
  ByteReader reader(text);
  std::uint64_t value = 0;
  while (reader.ReadVarint64(value)) {
    std::string out;
    PutVarint64(out, value);
    ByteReader again(out);
    std::uint64_t back_value = 0;
    MERIDIAN_FUZZ_CHECK(again.ReadVarint64(back_value) && back_value == value && again.empty());
  }
}

void FuzzKvCodec(std::string_view bytes, bool reply) {
  if (bytes.empty()) return;
  const auto op = static_cast<proto::KvRequest::Op>(static_cast<std::uint8_t>(bytes[0]) % 4);
  bytes.remove_prefix(1);
  if (reply) {
    proto::KvReply message;
    if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
    const node::ClientReply decoded = node::DecodeKvReply(7, op, message);
    MERIDIAN_FUZZ_CHECK(decoded.id == 7);
    const node::ClientReply again = node::DecodeKvReply(7, op, node::EncodeKvReply(9, decoded));
    MERIDIAN_FUZZ_CHECK(again.status.code() == decoded.status.code());
    MERIDIAN_FUZZ_CHECK(again.status.message() == decoded.status.message());
    if (!decoded.status.ok()) return;
    if (const auto* get = std::get_if<node::GetReply>(&decoded.body)) {
      const auto& get_again = std::get<node::GetReply>(again.body);
      MERIDIAN_FUZZ_CHECK(get_again.found == get->found && get_again.context == get->context &&
                          get_again.receipt == get->receipt &&
                          get_again.values.size() == get->values.size());
    } else {
      const auto& write = std::get<node::WriteReply>(decoded.body);
      const auto& write_again = std::get<node::WriteReply>(again.body);
      MERIDIAN_FUZZ_CHECK(write_again.context == write.context &&
                          write_again.durable == write.durable &&
                          write_again.receipt == write.receipt);
    }
    return;
  }
  proto::KvRequest message;
  if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  Result<node::ClientRequest> decoded = node::DecodeKvRequest(message);
  if (!decoded.ok()) return;
  Result<node::ClientRequest> again =
      node::DecodeKvRequest(node::EncodeKvRequest(message.request_id(), *decoded, message.hops()));
  MERIDIAN_FUZZ_CHECK(again.ok() && again->index() == decoded->index());
  if (const auto* get = std::get_if<node::GetRequest>(&*decoded)) {
    const auto& get_again = std::get<node::GetRequest>(*again);
    MERIDIAN_FUZZ_CHECK(get_again.id == get->id && get_again.options == get->options);
  } else if (const auto* put = std::get_if<node::PutRequest>(&*decoded)) {
    const auto& put_again = std::get<node::PutRequest>(*again);
    MERIDIAN_FUZZ_CHECK(put_again.id == put->id && put_again.options == put->options &&
                        put_again.value == put->value && put_again.context == put->context &&
                        put_again.overwrite == put->overwrite);
  } else {
    const auto& del = std::get<node::DeleteRequest>(*decoded);
    const auto& del_again = std::get<node::DeleteRequest>(*again);
    MERIDIAN_FUZZ_CHECK(del_again.id == del.id && del_again.options == del.options &&
                        del_again.context == del.context);
  }
}

void FuzzStorageKey(std::string_view bytes) {
  Result<storage::DecodedObjectKey> key = storage::DecodeObjectKey(bytes);
  if (key.ok()) {
    MERIDIAN_FUZZ_CHECK(storage::EncodeObjectKey(key->partition, key->id.bucket, key->id.key) ==
                        bytes);
  }
  Result<std::string_view> inner = storage::AaeIndexStorageKey(bytes);
  if (inner.ok()) MERIDIAN_FUZZ_CHECK(inner->size() <= bytes.size());
}

void FuzzQuorum(std::string_view text) {
  Result<QuorumValue> value = ParseQuorumValue("w", text);
  if (!value.ok()) return;
  Result<QuorumValue> again = ParseQuorumValue("w", FormatQuorumValue(*value));
  MERIDIAN_FUZZ_CHECK(again.ok() && *again == *value);
}

}  // namespace
}  // namespace meridian::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace meridian::fuzz;
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 7) {
    case 0:
      FuzzObject(input);
      break;
    case 1:
      FuzzContext(input);
      break;
    case 2:
      FuzzKvCodec(input, /*reply=*/false);
      break;
    case 3:
      FuzzKvCodec(input, /*reply=*/true);
      break;
    case 4:
      FuzzStorageKey(input);
      break;
    case 5:
      FuzzQuorum(input);
      break;
    default:
      FuzzBase64(input);
      break;
  }
  return 0;
}
