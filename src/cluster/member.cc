#include "cluster/member.h"

#include <xxhash.h>

#include <algorithm>
#include <tuple>

#include "core/assert.h"

namespace meridian::cluster {

std::string_view MemberStatusName(MemberStatus status) {
  switch (status) {
    case MemberStatus::kJoining:
      return "joining";
    case MemberStatus::kUp:
      return "up";
    case MemberStatus::kLeaving:
      return "leaving";
    case MemberStatus::kRemoved:
      return "removed";
  }
  return "unknown";
}

Status ValidateMember(const Member& member) {
  MERIDIAN_RETURN_IF_ERROR(ValidateNodeId(member.id));
  if (member.weight == 0) return Status::InvalidArgument("member weight must be positive");
  if (member.shards == 0 || member.shards > kMemberShardsMax) {
    return Status::InvalidArgument("member shard count must be between 1 and " +
                                   std::to_string(kMemberShardsMax));
  }
  const auto status = static_cast<int>(member.status);
  if (status < static_cast<int>(MemberStatus::kJoining) ||
      status > static_cast<int>(MemberStatus::kRemoved)) {
    return Status::InvalidArgument("member status is unknown");
  }
  return Status::Ok();
}

namespace {

void AppendField(std::string& out, std::string_view field) {
  const auto length = static_cast<std::uint32_t>(field.size());
  out.append(reinterpret_cast<const char*>(&length), sizeof length);
  out.append(field);
}

template <typename Integer>
void AppendInteger(std::string& out, Integer value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

}  // namespace

std::uint64_t MemberContentHash(const Member& member) {
  std::string encoded;
  encoded.reserve(64 + member.id.size() + member.peer_address.size() + member.http_address.size() +
                  member.zone.size());
  AppendField(encoded, member.id);
  AppendField(encoded, member.peer_address);
  AppendField(encoded, member.http_address);
  AppendField(encoded, member.zone);
  AppendInteger(encoded, member.weight);
  AppendInteger(encoded, static_cast<std::uint8_t>(member.status));
  AppendInteger(encoded, member.incarnation);
  AppendInteger(encoded, member.version);
  // Absent from the hash at 0, so records of nodes that predate generations hash the same.
  if (member.generation != 0) AppendInteger(encoded, member.generation);
  // Likewise at 1: unsharded records hash as before shard counts were gossiped.
  if (member.shards != 1) AppendInteger(encoded, member.shards);
  // And at 0, tagged so that it never hashes like a shard count.
  if (member.features != 0) {
    AppendInteger(encoded, static_cast<std::uint8_t>('f'));
    AppendInteger(encoded, member.features);
  }
  return XXH3_64bits(encoded.data(), encoded.size());
}

namespace {

// The hash of every field but the status (which merges on its own).
std::uint64_t HashWithoutStatus(const Member& member) {
  Member without = member;
  without.status = MemberStatus::kJoining;
  return MemberContentHash(without);
}

// True when `a`'s fields other than the status win over `b`'s (same generation).
bool FieldsWin(const Member& a, const Member& b) {
  const auto a_key = std::tie(a.version, a.incarnation);
  const auto b_key = std::tie(b.version, b.incarnation);
  if (a_key != b_key) return a_key > b_key;
  const std::uint64_t a_hash = HashWithoutStatus(a);
  const std::uint64_t b_hash = HashWithoutStatus(b);
  if (a_hash != b_hash) return a_hash > b_hash;
  // A hash collision: fall back to comparing the fields themselves.
  return std::tie(a.peer_address, a.http_address, a.zone, a.weight) >
         std::tie(b.peer_address, b.http_address, b.zone, b.weight);
}

}  // namespace

Member MergeMembers(const Member& a, const Member& b) {
  MERIDIAN_DCHECK(a.id == b.id);
  if (a.generation != b.generation) return a.generation > b.generation ? a : b;
  Member merged = FieldsWin(a, b) ? a : b;
  merged.status = std::max(a.status, b.status);
  return merged;
}

bool MemberSupersedes(const Member& candidate, const Member& current) {
  return MergeMembers(candidate, current) != current;
}

}  // namespace meridian::cluster
