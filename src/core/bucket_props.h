// BucketProps: per-bucket settings, and their validation and storage encoding.
// Buckets exist implicitly; a bucket never configured has the defaults below.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/dvv_set.h"
#include "core/quorum.h"
#include "core/status.h"

namespace meridian {

// What a bucket guarantees (docs/design/strong.md): eventual (N/R/W quorums, sloppy quorum,
// siblings) or strong (every get, put and delete linearizable per key, by per-key consensus
// among the key's n primaries; r, w, pr, pw, dw and sloppy_quorum do not apply).
enum class Consistency : std::uint8_t { kEventual, kStrong };

struct BucketProps {
  Consistency consistency = Consistency::kEventual;
  // How concurrent writes are reconciled.
  ConflictPolicy conflict_policy = ConflictPolicy::kSiblings;
  // Replicas of every key (distinct nodes), 1..kReplicasMax.
  std::uint32_t n = 3;
  // Replies a get waits for / acknowledgements a write waits for.
  QuorumValue r = QuorumValue::Quorum();
  QuorumValue w = QuorumValue::Quorum();
  // Of those, how many must come from primaries (not fallbacks standing in for them).
  QuorumValue pr = QuorumValue::Number(0);
  QuorumValue pw = QuorumValue::Number(0);
  // Of the write's acknowledgements, how many must be synced to disk.
  QuorumValue dw = QuorumValue::Number(0);
  // Unreachable primaries are replaced by fallbacks that keep a hint (always writable).
  bool sloppy_quorum = true;
  // Sealed while a change of `consistency` or `n` checks that no member holds the bucket's data
  // (node/bucket_change.h): every node refuses the bucket's reads and writes, eventual and
  // strong, so nothing can land between the check and the change. Not settable by clients.
  bool sealed = false;

  friend bool operator==(const BucketProps&, const BucketProps&) = default;
};

std::string_view ConflictPolicyName(ConflictPolicy policy);  // "siblings" | "lww"
// InvalidArgument naming the accepted values for anything else.
Result<ConflictPolicy> ParseConflictPolicy(std::string_view name);
std::string_view ConsistencyName(Consistency consistency);  // "eventual" | "strong"
Result<Consistency> ParseConsistency(std::string_view name);

// InvalidArgument naming the offending property when a value is out of range: n outside
// 1..kReplicasMax; r or w (resolved against n) outside 1..n; pr above r; pw above w; dw above w.
Status ValidateBucketProps(const BucketProps& props);

// The numbers for one request: the bucket's settings with `overrides` applied, symbols
// resolved against min(props.n, nodes) where `nodes` is how many distinct nodes hold
// partitions (a key cannot have more replicas than that). InvalidArgument, naming the value,
// when a resolved r or w is 0 or above that n (e.g. "w=3 but the key has only 2 replicas
// (n=3, 2 nodes)"), pr above r, pw above w, or dw above w. Requires nodes >= 1.
Result<ResolvedQuorum> ResolveQuorum(const BucketProps& props, const QuorumOverrides& overrides,
                                     std::uint32_t nodes);

// Storage encoding (metadata column family and gossip). ON-DISK FORMAT: see
// docs/format/bucket_props.md. Decoding accepts every earlier format version.
std::string EncodeBucketProps(const BucketProps& props);
Result<BucketProps> DecodeBucketProps(std::string_view bytes);

}  // namespace meridian

namespace meridian {

// A partial update of bucket properties: only the fields set are changed.
struct BucketPropsPatch {
  std::optional<Consistency> consistency;
  std::optional<ConflictPolicy> conflict_policy;
  std::optional<std::uint32_t> n;
  std::optional<QuorumValue> r;
  std::optional<QuorumValue> w;
  std::optional<QuorumValue> pr;
  std::optional<QuorumValue> pw;
  std::optional<QuorumValue> dw;
  std::optional<bool> sloppy_quorum;
};
// Applies `patch` to `current`; InvalidArgument (and no change) when the result is invalid.
Result<BucketProps> ApplyBucketPropsPatch(const BucketProps& current,
                                          const BucketPropsPatch& patch);

}  // namespace meridian
