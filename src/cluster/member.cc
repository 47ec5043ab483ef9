#include "cluster/member.h"

#include <xxhash.h>

#include <tuple>

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
  return XXH3_64bits(encoded.data(), encoded.size());
}

bool MemberSupersedes(const Member& candidate, const Member& current) {
  // Version first: an administrative change (leave, remove, weight) raises the version and
  // must win over the record a restarting member announces with only a higher incarnation,
  // or a restart would silently undo it (found by the simulator, cluster-kv seed 9).
  const auto candidate_key = std::tie(candidate.version, candidate.incarnation);
  const auto current_key = std::tie(current.version, current.incarnation);
  if (candidate_key != current_key) return candidate_key > current_key;
  if (candidate == current) return false;
  const std::uint64_t candidate_hash = MemberContentHash(candidate);
  const std::uint64_t current_hash = MemberContentHash(current);
  if (candidate_hash != current_hash) return candidate_hash > current_hash;
  // A hash collision: fall back to comparing the fields themselves.
  return std::tie(candidate.peer_address, candidate.http_address, candidate.zone, candidate.weight,
                  candidate.status) > std::tie(current.peer_address, current.http_address,
                                               current.zone, current.weight, current.status);
}

}  // namespace meridian::cluster
