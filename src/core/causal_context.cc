#include "core/causal_context.h"

#include <xxhash.h>

#include "core/byte_codec.h"
#include "core/hash.h"

namespace meridian {

namespace {
constexpr std::uint8_t kContextFormatVersion = 1;
// version (1) + tag (4) + count (>= 1) + checksum (4)
constexpr std::size_t kContextBytesMin = 10;

std::uint32_t ObjectTag(std::string_view bucket, std::string_view key) {
  return static_cast<std::uint32_t>(ObjectHash(bucket, key));
}

std::uint32_t Checksum(std::string_view bytes) {
  return static_cast<std::uint32_t>(XXH3_64bits(bytes.data(), bytes.size()));
}
}  // namespace

std::string EncodeContext(const VersionVector& clock, std::string_view bucket,
                          std::string_view key) {
  std::string raw;
  raw.push_back(static_cast<char>(kContextFormatVersion));
  PutFixed32(raw, ObjectTag(bucket, key));
  PutVarint64(raw, clock.entries().size());
  for (const auto& [actor, counter] : clock.entries()) {
    PutFixed64(raw, actor);
    PutVarint64(raw, counter);
  }
  PutFixed32(raw, Checksum(raw));
  return Base64UrlEncode(raw);
}

Result<VersionVector> DecodeContext(std::string_view token, std::string_view bucket,
                                    std::string_view key) {
  if (token.empty()) return VersionVector();
  if (token.size() > kContextBytesMax) {
    return Status::InvalidArgument("context is " + std::to_string(token.size()) +
                                   " bytes; the limit is " + std::to_string(kContextBytesMax));
  }
  const std::optional<std::string> raw = Base64UrlDecode(token);
  if (!raw) return Status::InvalidArgument("context is not valid base64url");
  if (raw->size() < kContextBytesMin) return Status::InvalidArgument("context is truncated");
  if (static_cast<std::uint8_t>((*raw)[0]) != kContextFormatVersion) {
    return Status::InvalidArgument("context has unsupported format version " +
                                   std::to_string(static_cast<std::uint8_t>((*raw)[0])));
  }
  const std::string_view body(raw->data(), raw->size() - 4);
  ByteReader trailer(std::string_view(*raw).substr(raw->size() - 4));
  std::uint32_t checksum = 0;
  if (!trailer.ReadFixed32(checksum) || checksum != Checksum(body)) {
    return Status::InvalidArgument("context is corrupted (checksum mismatch)");
  }
  ByteReader reader(body.substr(1));
  std::uint32_t tag = 0;
  std::uint64_t count = 0;
  if (!reader.ReadFixed32(tag) || !reader.ReadVarint64(count)) {
    return Status::InvalidArgument("context is truncated");
  }
  if (tag != ObjectTag(bucket, key)) {
    return Status::InvalidArgument("context was issued for another object, not this bucket/key");
  }
  if (count > reader.remaining()) return Status::InvalidArgument("context is truncated");
  VersionVector clock;
  ActorId previous_actor = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t actor = 0;
    std::uint64_t counter = 0;
    if (!reader.ReadFixed64(actor) || !reader.ReadVarint64(counter)) {
      return Status::InvalidArgument("context is truncated");
    }
    if (counter == 0 || (i > 0 && actor <= previous_actor)) {
      return Status::InvalidArgument("context is not canonical");
    }
    previous_actor = actor;
    clock.Advance(actor, counter);
  }
  if (!reader.empty()) return Status::InvalidArgument("context has trailing bytes");
  return clock;
}

}  // namespace meridian
