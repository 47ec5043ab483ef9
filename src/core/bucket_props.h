// BucketProps: per-bucket settings, and their validation and storage encoding.
// Buckets exist implicitly; a bucket never configured has the defaults below.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/dvv_set.h"
#include "core/status.h"

namespace meridian {

struct BucketProps {
  // How concurrent writes are reconciled.
  ConflictPolicy conflict_policy = ConflictPolicy::kSiblings;
  // Number of replicas that must have synced the write to disk before it is acknowledged.
  // On a single node: 0 (acknowledge after the write reaches the OS) or 1 (fsync first).
  std::uint32_t dw = 0;

  friend bool operator==(const BucketProps&, const BucketProps&) = default;
};

std::string_view ConflictPolicyName(ConflictPolicy policy);  // "siblings" | "lww"
// InvalidArgument naming the accepted values for anything else.
Result<ConflictPolicy> ParseConflictPolicy(std::string_view name);

// InvalidArgument naming the offending property when a value is out of range.
Status ValidateBucketProps(const BucketProps& props);

// Storage encoding (metadata column family). ON-DISK FORMAT: see docs/format/bucket_props.md.
std::string EncodeBucketProps(const BucketProps& props);
Result<BucketProps> DecodeBucketProps(std::string_view bytes);

}  // namespace meridian

namespace meridian {

// A partial update of bucket properties: only the fields set are changed.
struct BucketPropsPatch {
  std::optional<ConflictPolicy> conflict_policy;
  std::optional<std::uint32_t> dw;
};
// Applies `patch` to `current`; InvalidArgument (and no change) when the result is invalid.
Result<BucketProps> ApplyBucketPropsPatch(const BucketProps& current,
                                          const BucketPropsPatch& patch);

}  // namespace meridian
