// ObjectId: the (bucket, key) pair that names an object, and the rules for valid names.
//
// Buckets are namespaces: 1..64 bytes of [A-Za-z0-9_.-]. Keys are arbitrary bytes,
// 1..max_key_bytes long (the node's configured limit).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace meridian {

// The bucket used by APIs that take a bare key.
inline constexpr std::string_view kDefaultBucket = "default";
inline constexpr std::size_t kBucketNameBytesMax = 64;

struct ObjectId {
  std::string bucket;
  std::string key;
  friend bool operator==(const ObjectId&, const ObjectId&) = default;
};

// InvalidArgument (with a message naming the rule broken) unless `bucket` is a valid name.
Status ValidateBucketName(std::string_view bucket);
// InvalidArgument for an empty key, TooLarge for a key longer than `key_bytes_max`.
Status ValidateKey(std::string_view key, std::size_t key_bytes_max);

}  // namespace meridian
