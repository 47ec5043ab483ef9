#include "core/bucket_props.h"

#include <algorithm>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "core/format_version.h"

namespace meridian {

namespace {
// 1: conflict policy and dw (a number 0..1). 2: adds n, r, w, pr, pw, symbolic quorum values
// and sloppy_quorum.
constexpr std::uint8_t kFormatVersion1 = 1;
constexpr std::uint8_t kFormatVersion2 = 2;
// Version 2 plus the consistency byte; written only for strong buckets, so that a bucket
// that does not use it stays readable by nodes that know version 2 only.
constexpr std::uint8_t kFormatVersion3 = 3;
// Version 3 plus the sealed byte (always 1); written only while a bucket is sealed.
constexpr std::uint8_t kFormatVersion4 = 4;

std::string Named(std::string_view property, const QuorumValue& value, std::uint32_t resolved) {
  std::string text = std::string(property) + "=" + FormatQuorumValue(value);
  if (value.kind != QuorumValue::Kind::kNumber) text += " (" + std::to_string(resolved) + ")";
  return text;
}

// r, w in 1..n; pr <= r; pw <= w; dw <= w. `n_text` explains n in messages.
Status CheckResolved(const ResolvedQuorum& q, const BucketProps& props,
                     const QuorumOverrides& overrides, const std::string& n_text) {
  const QuorumValue r = overrides.r.value_or(props.r);
  const QuorumValue w = overrides.w.value_or(props.w);
  const QuorumValue pr = overrides.pr.value_or(props.pr);
  const QuorumValue pw = overrides.pw.value_or(props.pw);
  const QuorumValue dw = overrides.dw.value_or(props.dw);
  if (q.r < 1) return Status::InvalidArgument("r must be at least 1");
  if (q.w < 1) return Status::InvalidArgument("w must be at least 1");
  if (q.r > q.n) return Status::InvalidArgument(Named("r", r, q.r) + " exceeds " + n_text);
  if (q.w > q.n) return Status::InvalidArgument(Named("w", w, q.w) + " exceeds " + n_text);
  if (q.pr > q.r) {
    return Status::InvalidArgument(Named("pr", pr, q.pr) + " exceeds " + Named("r", r, q.r));
  }
  if (q.pw > q.w) {
    return Status::InvalidArgument(Named("pw", pw, q.pw) + " exceeds " + Named("w", w, q.w));
  }
  if (q.dw > q.w) {
    return Status::InvalidArgument(Named("dw", dw, q.dw) + " exceeds " + Named("w", w, q.w));
  }
  return Status::Ok();
}

void PutQuorumValue(std::string& out, const QuorumValue& value) {
  out.push_back(static_cast<char>(value.kind));
  PutVarint64(out, value.number);
}

bool ReadQuorumValue(ByteReader& reader, QuorumValue& value) {
  std::uint8_t kind = 0;
  std::uint64_t number = 0;
  if (!reader.ReadByte(kind) || !reader.ReadVarint64(number)) return false;
  if (kind > static_cast<std::uint8_t>(QuorumValue::Kind::kAll) || number > kReplicasMax) {
    return false;
  }
  value.kind = static_cast<QuorumValue::Kind>(kind);
  value.number = value.kind == QuorumValue::Kind::kNumber ? static_cast<std::uint32_t>(number) : 0;
  return true;
}
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

std::string_view ConsistencyName(Consistency consistency) {
  return consistency == Consistency::kStrong ? "strong" : "eventual";
}

Result<Consistency> ParseConsistency(std::string_view name) {
  if (name == "eventual") return Consistency::kEventual;
  if (name == "strong") return Consistency::kStrong;
  return Status::InvalidArgument("consistency must be \"eventual\" or \"strong\", not \"" +
                                 std::string(name.substr(0, 64)) + "\"");
}

Status ValidateBucketProps(const BucketProps& props) {
  if (props.n < 1 || props.n > kReplicasMax) {
    return Status::InvalidArgument("n=" + std::to_string(props.n) + " is outside 1.." +
                                   std::to_string(kReplicasMax));
  }
  ResolvedQuorum q;
  q.n = props.n;
  q.r = props.r.Resolve(props.n);
  q.w = props.w.Resolve(props.n);
  q.pr = props.pr.Resolve(props.n);
  q.pw = props.pw.Resolve(props.n);
  q.dw = props.dw.Resolve(props.n);
  return CheckResolved(q, props, QuorumOverrides{}, "n=" + std::to_string(props.n));
}

Result<ResolvedQuorum> ResolveQuorum(const BucketProps& props, const QuorumOverrides& overrides,
                                     std::uint32_t nodes) {
  MERIDIAN_CHECK(nodes >= 1);
  ResolvedQuorum q;
  q.n = std::min(props.n, nodes);
  q.r = overrides.r.value_or(props.r).Resolve(q.n);
  q.w = overrides.w.value_or(props.w).Resolve(q.n);
  q.pr = overrides.pr.value_or(props.pr).Resolve(q.n);
  q.pw = overrides.pw.value_or(props.pw).Resolve(q.n);
  q.dw = overrides.dw.value_or(props.dw).Resolve(q.n);
  q.sloppy_quorum = overrides.sloppy_quorum.value_or(props.sloppy_quorum);
  std::string n_text = "the key's " + std::to_string(q.n) + " replica(s)";
  if (q.n < props.n) {
    n_text += " (n=" + std::to_string(props.n) + ", but the cluster has " + std::to_string(nodes) +
              " node(s))";
  }
  MERIDIAN_RETURN_IF_ERROR(CheckResolved(q, props, overrides, n_text));
  return q;
}

std::string EncodeBucketProps(const BucketProps& props) {
  std::string out;
  const bool strong = props.consistency == Consistency::kStrong;
  out.push_back(static_cast<char>(props.sealed ? kFormatVersion4
                                  : strong     ? kFormatVersion3
                                               : kFormatVersion2));
  out.push_back(static_cast<char>(props.conflict_policy == ConflictPolicy::kLastWriteWins ? 1 : 0));
  PutVarint64(out, props.n);
  PutQuorumValue(out, props.r);
  PutQuorumValue(out, props.w);
  PutQuorumValue(out, props.pr);
  PutQuorumValue(out, props.pw);
  PutQuorumValue(out, props.dw);
  out.push_back(static_cast<char>(props.sloppy_quorum ? 1 : 0));
  if (strong || props.sealed) out.push_back(static_cast<char>(strong ? 1 : 0));
  if (props.sealed) out.push_back(static_cast<char>(1));
  return out;
}

Result<BucketProps> DecodeBucketProps(std::string_view bytes) {
  ByteReader reader(bytes);
  std::uint8_t version = 0;
  std::uint8_t policy = 0;
  if (!reader.ReadByte(version)) return Status::Corruption("bucket properties record is empty");
  if (version != kFormatVersion1 && version != kFormatVersion2 && version != kFormatVersion3 &&
      version != kFormatVersion4) {
    return UnknownFormatVersion("bucket properties record", version, kFormatVersion4);
  }
  BucketProps props;
  bool ok = reader.ReadByte(policy) && policy <= 1;
  if (ok && version == kFormatVersion1) {
    std::uint64_t dw = 0;
    ok = reader.ReadVarint64(dw) && dw <= 1;
    props.dw = QuorumValue::Number(static_cast<std::uint32_t>(dw));
  } else if (ok) {
    std::uint64_t n = 0;
    std::uint8_t sloppy = 0;
    ok = reader.ReadVarint64(n) && n >= 1 && n <= kReplicasMax &&
         ReadQuorumValue(reader, props.r) && ReadQuorumValue(reader, props.w) &&
         ReadQuorumValue(reader, props.pr) && ReadQuorumValue(reader, props.pw) &&
         ReadQuorumValue(reader, props.dw) && reader.ReadByte(sloppy) && sloppy <= 1;
    props.n = static_cast<std::uint32_t>(n);
    props.sloppy_quorum = sloppy == 1;
    if (ok && version >= kFormatVersion3) {
      std::uint8_t consistency = 0;
      ok = reader.ReadByte(consistency) && consistency <= 1;
      props.consistency = consistency == 1 ? Consistency::kStrong : Consistency::kEventual;
    }
    if (ok && version == kFormatVersion4) {
      std::uint8_t sealed = 0;
      ok = reader.ReadByte(sealed) && sealed == 1;
      props.sealed = true;
    }
  }
  if (!ok || !reader.empty()) return Status::Corruption("bucket properties record is malformed");
  props.conflict_policy = policy == 1 ? ConflictPolicy::kLastWriteWins : ConflictPolicy::kSiblings;
  if (!ValidateBucketProps(props).ok()) {
    return Status::Corruption("bucket properties record has out-of-range values");
  }
  return props;
}

Result<BucketProps> ApplyBucketPropsPatch(const BucketProps& current,
                                          const BucketPropsPatch& patch) {
  BucketProps next = current;
  if (patch.consistency) next.consistency = *patch.consistency;
  if (patch.conflict_policy) next.conflict_policy = *patch.conflict_policy;
  if (patch.n) next.n = *patch.n;
  if (patch.r) next.r = *patch.r;
  if (patch.w) next.w = *patch.w;
  if (patch.pr) next.pr = *patch.pr;
  if (patch.pw) next.pw = *patch.pw;
  if (patch.dw) next.dw = *patch.dw;
  if (patch.sloppy_quorum) next.sloppy_quorum = *patch.sloppy_quorum;
  MERIDIAN_RETURN_IF_ERROR(ValidateBucketProps(next));
  return next;
}

}  // namespace meridian
