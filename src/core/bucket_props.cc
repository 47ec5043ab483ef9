#include "core/bucket_props.h"

#include "core/byte_codec.h"

namespace meridian {

namespace {
constexpr std::uint8_t kBucketPropsFormatVersion = 1;
// A single node has one replica; replication raises this to the bucket's n.
constexpr std::uint32_t kDwMax = 1;
}  // namespace

std::string_view ConflictPolicyName(ConflictPolicy policy) {
  switch (policy) {
    case ConflictPolicy::kSiblings:
      return "siblings";
    case ConflictPolicy::kLastWriteWins:
      return "lww";
  }
  return "siblings";
}

Result<ConflictPolicy> ParseConflictPolicy(std::string_view name) {
  if (name == "siblings") return ConflictPolicy::kSiblings;
  if (name == "lww") return ConflictPolicy::kLastWriteWins;
  return Status::InvalidArgument("conflict_policy must be \"siblings\" or \"lww\", not \"" +
                                 std::string(name.substr(0, 64)) + "\"");
}

Status ValidateBucketProps(const BucketProps& props) {
  if (props.dw > kDwMax) {
    return Status::InvalidArgument("dw=" + std::to_string(props.dw) + " exceeds the " +
                                   std::to_string(kDwMax) + " replica(s) of a single node");
  }
  return Status::Ok();
}

std::string EncodeBucketProps(const BucketProps& props) {
  std::string out;
  out.push_back(static_cast<char>(kBucketPropsFormatVersion));
  out.push_back(static_cast<char>(props.conflict_policy == ConflictPolicy::kLastWriteWins ? 1 : 0));
  PutVarint64(out, props.dw);
  return out;
}

Result<BucketProps> DecodeBucketProps(std::string_view bytes) {
  ByteReader reader(bytes);
  std::uint8_t version = 0;
  std::uint8_t policy = 0;
  std::uint64_t dw = 0;
  if (!reader.ReadByte(version)) return Status::Corruption("bucket properties record is empty");
  if (version != kBucketPropsFormatVersion) {
    return Status::Corruption("bucket properties record has unknown format version " +
                              std::to_string(version));
  }
  if (!reader.ReadByte(policy) || !reader.ReadVarint64(dw) || !reader.empty()) {
    return Status::Corruption("bucket properties record is malformed");
  }
  if (policy > 1 || dw > kDwMax) {
    return Status::Corruption("bucket properties record has out-of-range values");
  }
  BucketProps props;
  props.conflict_policy = policy == 1 ? ConflictPolicy::kLastWriteWins : ConflictPolicy::kSiblings;
  props.dw = static_cast<std::uint32_t>(dw);
  return props;
}

Result<BucketProps> ApplyBucketPropsPatch(const BucketProps& current,
                                          const BucketPropsPatch& patch) {
  BucketProps next = current;
  if (patch.conflict_policy) next.conflict_policy = *patch.conflict_policy;
  if (patch.dw) next.dw = *patch.dw;
  MERIDIAN_RETURN_IF_ERROR(ValidateBucketProps(next));
  return next;
}

}  // namespace meridian
