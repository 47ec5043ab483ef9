#include "storage/key_encoding.h"

#include <limits>

#include "core/assert.h"
#include "core/byte_codec.h"

namespace meridian::storage {
namespace {

// Width of the partition prefix. ON-DISK FORMAT: docs/format/storage.md.
constexpr std::size_t kPartitionBytes = 4;

std::uint32_t ReadBigEndian32(std::string_view bytes) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < kPartitionBytes; ++i) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

}  // namespace

std::string EncodeObjectKey(std::uint32_t partition, std::string_view bucket,
                            std::string_view key) {
  // Callers validate names first (ValidateBucketName, ValidateKey); a name that does not fit
  // the layout here would make the key ambiguous, so this is an always-on check.
  MERIDIAN_CHECK(!bucket.empty());
  MERIDIAN_CHECK(bucket.size() <= kBucketNameBytesMax);
  MERIDIAN_CHECK(!key.empty());
  std::string out;
  out.reserve(kPartitionBytes + 1 + bucket.size() + key.size());
  PutBigEndian32(out, partition);
  out.push_back(static_cast<char>(bucket.size()));
  out.append(bucket);
  out.append(key);
  return out;
}

Result<DecodedObjectKey> DecodeObjectKey(std::string_view encoded) {
  if (encoded.size() < kPartitionBytes + 1) {
    return Status::Corruption("object key is " + std::to_string(encoded.size()) +
                              " bytes, shorter than its 5-byte header");
  }
  DecodedObjectKey decoded;
  decoded.partition = ReadBigEndian32(encoded);
  const std::size_t bucket_bytes = static_cast<unsigned char>(encoded[kPartitionBytes]);
  if (bucket_bytes == 0 || bucket_bytes > kBucketNameBytesMax) {
    return Status::Corruption("object key has bucket length " + std::to_string(bucket_bytes) +
                              ", outside 1.." + std::to_string(kBucketNameBytesMax));
  }
  const std::string_view rest = encoded.substr(kPartitionBytes + 1);
  if (rest.size() <= bucket_bytes) {
    return Status::Corruption("object key is truncated: bucket length " +
                              std::to_string(bucket_bytes) + " leaves no key bytes");
  }
  decoded.id.bucket = std::string(rest.substr(0, bucket_bytes));
  decoded.id.key = std::string(rest.substr(bucket_bytes));
  return decoded;
}

std::optional<std::string_view> BucketOfObjectKey(std::string_view encoded) {
  if (encoded.size() < kPartitionBytes + 1) return std::nullopt;
  const std::size_t bucket_bytes = static_cast<unsigned char>(encoded[kPartitionBytes]);
  if (bucket_bytes == 0 || bucket_bytes > kBucketNameBytesMax ||
      encoded.size() <= kPartitionBytes + 1 + bucket_bytes) {
    return std::nullopt;
  }
  return encoded.substr(kPartitionBytes + 1, bucket_bytes);
}

std::string EncodeStrongConfigKey(std::uint32_t partition) {
  std::string out;
  PutBigEndian32(out, partition);
  out.push_back('\0');
  return out;
}

bool IsStrongConfigKey(std::string_view encoded) {
  return encoded.size() == kPartitionBytes + 1 && encoded[kPartitionBytes] == '\0';
}

std::uint32_t PartitionOfKey(std::string_view encoded) {
  MERIDIAN_CHECK(encoded.size() >= kPartitionBytes);
  return ReadBigEndian32(encoded);
}

std::string PrefixScanEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

KeyRange PartitionRange(std::uint32_t partition) {
  KeyRange range;
  PutBigEndian32(range.begin, partition);
  if (partition != std::numeric_limits<std::uint32_t>::max()) {
    PutBigEndian32(range.end, partition + 1);
  }
  return range;
}

std::string EncodeAaeIndexKey(std::uint32_t partition, std::uint32_t segment,
                              std::string_view storage_key) {
  std::string out;
  out.reserve(2 * kPartitionBytes + storage_key.size());
  PutBigEndian32(out, partition);
  PutBigEndian32(out, segment);
  out.append(storage_key);
  return out;
}

Result<std::string_view> AaeIndexStorageKey(std::string_view index_key) {
  if (index_key.size() <= 2 * kPartitionBytes) {
    return Status::Corruption("anti-entropy index key is " + std::to_string(index_key.size()) +
                              " bytes, no longer than its 8-byte header");
  }
  return index_key.substr(2 * kPartitionBytes);
}

KeyRange AaeSegmentRange(std::uint32_t partition, std::uint32_t segment) {
  KeyRange range;
  PutBigEndian32(range.begin, partition);
  PutBigEndian32(range.begin, segment);
  if (segment != std::numeric_limits<std::uint32_t>::max()) {
    PutBigEndian32(range.end, partition);
    PutBigEndian32(range.end, segment + 1);
  } else {
    range.end = PartitionRange(partition).end;
  }
  return range;
}

KeyRange AaePartitionRange(std::uint32_t partition) {
  return PartitionRange(partition);
}

}  // namespace meridian::storage
