#include "storage/segment_ordered_objects.h"

#include <xxhash.h>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "storage/tictac_keys.h"

namespace meridian::storage {
namespace {

// ON-DISK FORMAT (storage format 2): docs/format/storage.md.
constexpr std::size_t kPartitionBytes = 4;
constexpr std::size_t kHashBytes = 4;
constexpr std::size_t kHeaderBytes = kPartitionBytes + kHashBytes;
constexpr std::size_t kVersionHashBytes = 8;

std::uint32_t KeyHash32(std::string_view logical) {
  return static_cast<std::uint32_t>(XXH3_64bits(logical.data(), logical.size()) >> 32);
}

void AppendPhysical(std::string& out, std::string_view logical) {
  MERIDIAN_CHECK(logical.size() >= kPartitionBytes);
  out.reserve(out.size() + logical.size() + kHashBytes);
  out.append(logical.substr(0, kPartitionBytes));
  PutBigEndian32(out, KeyHash32(logical));
  out.append(logical.substr(kPartitionBytes));
}

// The logical key of `physical` into `out` (reused between calls of one scan).
bool ToLogical(std::string_view physical, std::string& out) {
  if (physical.size() < kHeaderBytes) return false;
  out.assign(physical.substr(0, kPartitionBytes));
  out.append(physical.substr(kHeaderBytes));
  return true;
}

Status ShortKey(std::string_view physical) {
  return Status::Corruption("objects column key of " + std::to_string(physical.size()) +
                            " bytes is shorter than its 8-byte header");
}

Status ShortValue(std::string_view physical) {
  return Status::Corruption("objects column value of " + std::to_string(physical.size()) +
                            " bytes is shorter than its 8-byte version hash");
}

}  // namespace

std::string PhysicalObjectKey(std::string_view logical) {
  std::string out;
  AppendPhysical(out, logical);
  return out;
}

Result<std::string> LogicalObjectKey(std::string_view physical) {
  std::string out;
  if (!ToLogical(physical, out)) return ShortKey(physical);
  return out;
}

std::string PhysicalScanBoundary(std::string_view logical_boundary) {
  if (logical_boundary.size() <= kPartitionBytes) return std::string(logical_boundary);
  return PhysicalObjectKey(logical_boundary);
}

bool ObjectKeyPhysicallyBefore(std::string_view a, std::string_view b) {
  return PhysicalScanBoundary(a) < PhysicalScanBoundary(b);
}

Result<std::string> PhysicalObjectValue(std::string_view record) {
  auto hash = EncodedObjectVersionHash(record);
  if (!hash.ok()) {
    return Status::Corruption("refusing to store an object that does not decode: " +
                              hash.status().message());
  }
  return PhysicalObjectValue(record, *hash);
}

std::string PhysicalObjectValue(std::string_view record, std::uint64_t hash) {
  std::string value;
  value.reserve(kVersionHashBytes + record.size());
  PutFixed64(value, hash);
  value.append(record);
  return value;
}

KeyRange PhysicalSegmentRange(std::uint32_t partition, std::uint32_t segment, int segment_bits) {
  MERIDIAN_CHECK(segment_bits >= 0 && segment_bits <= 32);
  const int shift = 32 - segment_bits;
  const std::uint64_t first = static_cast<std::uint64_t>(segment) << shift;
  const std::uint64_t next = (static_cast<std::uint64_t>(segment) + 1) << shift;
  MERIDIAN_CHECK(first <= 0xffffffffu);
  KeyRange range;
  PutBigEndian32(range.begin, partition);
  PutBigEndian32(range.begin, static_cast<std::uint32_t>(first));
  if (next <= 0xffffffffu) {
    PutBigEndian32(range.end, partition);
    PutBigEndian32(range.end, static_cast<std::uint32_t>(next));
  } else {
    range.end = PartitionRange(partition).end;  // the last segment runs to the next partition
  }
  return range;
}

Result<std::optional<std::string>> SegmentOrderedObjects::Get(Column column, std::string_view key) {
  MERIDIAN_CHECK(column != Column::kObjectsBySegment);
  if (column != Column::kObjects) return inner_.Get(column, key);
  auto stored = inner_.Get(Column::kObjectsBySegment, PhysicalObjectKey(key));
  if (!stored.ok() || !stored->has_value()) return stored;
  if ((*stored)->size() < kVersionHashBytes) return ShortValue(**stored);
  (*stored)->erase(0, kVersionHashBytes);
  return stored;
}

Result<std::optional<std::uint64_t>> SegmentOrderedObjects::GetObjectVersionHash(
    std::string_view key) {
  auto stored = inner_.Get(Column::kObjectsBySegment, PhysicalObjectKey(key));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<std::uint64_t>();
  ByteReader reader(**stored);
  std::uint64_t hash = 0;
  if (!reader.ReadFixed64(hash)) return ShortValue(**stored);
  return std::optional<std::uint64_t>(hash);
}

Status SegmentOrderedObjects::Write(const WriteBatch& batch, const WriteOptions& options) {
  WriteBatch physical;
  physical.ops.reserve(batch.ops.size());
  for (const WriteBatch::Op& op : batch.ops) {
    MERIDIAN_CHECK(op.column != Column::kObjectsBySegment);
    if (op.column != Column::kObjects) {
      physical.ops.push_back(op);
      continue;
    }
    if (!op.value.has_value()) {
      physical.Delete(Column::kObjectsBySegment, PhysicalObjectKey(op.key));
      continue;
    }
    auto hash = PutObjectVersionHash(op);
    if (!hash.ok()) {
      return Status::Corruption("refusing to store an object that does not decode: " +
                                hash.status().message());
    }
    physical.Put(Column::kObjectsBySegment, PhysicalObjectKey(op.key),
                 PhysicalObjectValue(*op.value, *hash));
  }
  return inner_.Write(physical, options);
}

Status SegmentOrderedObjects::ScanPhysical(std::string_view begin, std::string_view end,
                                           const VersionHashVisitor* hashes,
                                           const ScanVisitor* records) {
  Status bad = Status::Ok();
  std::string logical;
  MERIDIAN_RETURN_IF_ERROR(inner_.Scan(
      Column::kObjectsBySegment, begin, end, [&](std::string_view key, std::string_view value) {
        if (!ToLogical(key, logical)) {
          bad = ShortKey(key);
          return false;
        }
        if (value.size() < kVersionHashBytes) {
          bad = ShortValue(value);
          return false;
        }
        if (records != nullptr) return (*records)(logical, value.substr(kVersionHashBytes));
        ByteReader reader(value.substr(0, kVersionHashBytes));
        std::uint64_t hash = 0;
        const bool read = reader.ReadFixed64(hash);
        MERIDIAN_CHECK(read);  // the size was checked above
        return (*hashes)(logical, hash);
      }));
  return bad;
}

Status SegmentOrderedObjects::Scan(Column column, std::string_view begin, std::string_view end,
                                   const ScanVisitor& visitor) {
  MERIDIAN_CHECK(column != Column::kObjectsBySegment);
  if (column != Column::kObjects) return inner_.Scan(column, begin, end, visitor);
  return ScanPhysical(PhysicalScanBoundary(begin), PhysicalScanBoundary(end), nullptr, &visitor);
}

Result<std::uint64_t> SegmentOrderedObjects::ApproximateBytes(Column column, std::string_view begin,
                                                              std::string_view end) {
  MERIDIAN_CHECK(column != Column::kObjectsBySegment);
  if (column != Column::kObjects) return inner_.ApproximateBytes(column, begin, end);
  return inner_.ApproximateBytes(Column::kObjectsBySegment, PhysicalScanBoundary(begin),
                                 PhysicalScanBoundary(end));
}

Status SegmentOrderedObjects::ScanObjectVersionHashes(std::uint32_t partition,
                                                      std::optional<std::uint32_t> segment,
                                                      int segment_bits,
                                                      const VersionHashVisitor& visit) {
  const KeyRange range = segment.has_value()
                             ? PhysicalSegmentRange(partition, *segment, segment_bits)
                             : PartitionRange(partition);
  return ScanPhysical(range.begin, range.end, &visit, nullptr);
}

}  // namespace meridian::storage
