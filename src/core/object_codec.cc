#include "core/object_codec.h"

#include "core/byte_codec.h"
#include "core/format_version.h"

namespace meridian {

namespace {
constexpr std::uint8_t kObjectFormatVersion = 1;
constexpr std::uint8_t kFlagTombstone = 0x01;

void PutClock(std::string& out, const VersionVector& clock) {
  PutVarint64(out, clock.entries().size());
  for (const auto& [actor, counter] : clock.entries()) {
    PutFixed64(out, actor);
    PutVarint64(out, counter);
  }
}
}  // namespace

std::string EncodeObject(const DvvSet& object) {
  std::string out;
  out.push_back(static_cast<char>(kObjectFormatVersion));
  PutClock(out, object.clock());
  PutVarint64(out, object.siblings().size());
  for (const Sibling& sibling : object.siblings()) {
    PutFixed64(out, sibling.dot.actor);
    PutVarint64(out, sibling.dot.counter);
    PutFixed64(out, sibling.timestamp.value);
    out.push_back(static_cast<char>(sibling.tombstone ? kFlagTombstone : 0));
    PutLengthPrefixed(out, sibling.value);
  }
  return out;
}

Result<DvvSet> DecodeObject(std::string_view bytes) {
  ByteReader reader(bytes);
  std::uint8_t version = 0;
  if (!reader.ReadByte(version)) return Status::Corruption("object record is empty");
  if (version != kObjectFormatVersion) {
    return UnknownFormatVersion("object record", version, kObjectFormatVersion);
  }
  std::uint64_t clock_size = 0;
  if (!reader.ReadVarint64(clock_size) || clock_size > reader.remaining()) {
    return Status::Corruption("object record clock is truncated");
  }
  VersionVector clock;
  ActorId previous_actor = 0;
  for (std::uint64_t i = 0; i < clock_size; ++i) {
    std::uint64_t actor = 0;
    std::uint64_t counter = 0;
    if (!reader.ReadFixed64(actor) || !reader.ReadVarint64(counter)) {
      return Status::Corruption("object record clock is truncated");
    }
    if (counter == 0 || (i > 0 && actor <= previous_actor)) {
      return Status::Corruption("object record clock is not canonical");
    }
    previous_actor = actor;
    clock.Advance(actor, counter);
  }
  std::uint64_t sibling_count = 0;
  if (!reader.ReadVarint64(sibling_count) || sibling_count > reader.remaining()) {
    return Status::Corruption("object record siblings are truncated");
  }
  std::vector<Sibling> siblings;
  siblings.reserve(static_cast<std::size_t>(sibling_count));
  for (std::uint64_t i = 0; i < sibling_count; ++i) {
    Sibling sibling;
    std::uint8_t flags = 0;
    std::string_view value;
    if (!reader.ReadFixed64(sibling.dot.actor) || !reader.ReadVarint64(sibling.dot.counter) ||
        !reader.ReadFixed64(sibling.timestamp.value) || !reader.ReadByte(flags) ||
        !reader.ReadLengthPrefixed(value)) {
      return Status::Corruption("object record sibling is truncated");
    }
    if ((flags & ~kFlagTombstone) != 0)
      return Status::Corruption("object record has unknown flags");
    sibling.tombstone = (flags & kFlagTombstone) != 0;
    sibling.value.assign(value);
    siblings.push_back(std::move(sibling));
  }
  if (!reader.empty()) return Status::Corruption("object record has trailing bytes");
  auto object = DvvSet::FromParts(std::move(clock), std::move(siblings));
  if (!object) return Status::Corruption("object record violates version invariants");
  return std::move(*object);
}

}  // namespace meridian
