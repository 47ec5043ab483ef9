#include "core/object_id.h"

#include <string>

namespace meridian {

Status ValidateBucketName(std::string_view bucket) {
  if (bucket.empty()) return Status::InvalidArgument("bucket name is empty");
  if (bucket.size() > kBucketNameBytesMax) {
    return Status::InvalidArgument("bucket name is " + std::to_string(bucket.size()) +
                                   " bytes; the limit is " + std::to_string(kBucketNameBytesMax));
  }
  for (char c : bucket) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!allowed) {
      return Status::InvalidArgument("bucket name may contain only A-Z, a-z, 0-9, '_', '.', '-'");
    }
  }
  return Status::Ok();
}

Status ValidateKey(std::string_view key, std::size_t key_bytes_max) {
  if (key.empty()) return Status::InvalidArgument("key is empty");
  if (key.size() > key_bytes_max) {
    return Status::TooLarge("key is " + std::to_string(key.size()) + " bytes; the limit is " +
                            std::to_string(key_bytes_max));
  }
  return Status::Ok();
}

}  // namespace meridian
