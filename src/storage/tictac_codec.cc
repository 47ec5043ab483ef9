#include "storage/tictac_codec.h"

#include <xxhash.h>

#include <string>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "core/format_version.h"

namespace meridian::storage {
namespace {

// ON-WIRE/ON-DISK CONSTANTS: docs/format/tictac.md. Never change without a version bump.
constexpr std::uint8_t kTictacFormatVersion = 1;
enum class Kind : std::uint8_t {
  kBranchLevel = 1,
  kSegmentHashes = 2,
  kKeyHashes = 3,
  kTree = 4,
};
constexpr std::size_t kHeaderBytes = 2;    // version, kind
constexpr std::size_t kChecksumBytes = 8;  // xxh3-64 of header and body, little-endian
constexpr std::size_t kHashBytes = 8;

std::string StartMessage(Kind kind) {
  std::string out;
  out.push_back(static_cast<char>(kTictacFormatVersion));
  out.push_back(static_cast<char>(kind));
  return out;
}

std::string FinishMessage(std::string out) {
  PutFixed64(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

void PutShape(std::string& out, const TictacShape& shape) {
  MERIDIAN_CHECK(shape.valid());
  out.push_back(static_cast<char>(shape.segment_bits));
  out.push_back(static_cast<char>(shape.branch_bits));
}

// Checks version, checksum and kind; returns the body.
Result<std::string_view> OpenMessage(std::string_view bytes, Kind kind, const char* what) {
  const std::string name(what);
  if (bytes.size() < kHeaderBytes + kChecksumBytes) {
    return Status::Corruption(name + " is truncated");
  }
  const auto version = static_cast<std::uint8_t>(bytes[0]);
  if (version != kTictacFormatVersion) {
    return UnknownFormatVersion(name, version, kTictacFormatVersion);
  }
  const std::string_view covered = bytes.substr(0, bytes.size() - kChecksumBytes);
  ByteReader checksum_reader(bytes.substr(covered.size()));
  std::uint64_t checksum = 0;
  const bool checksum_read = checksum_reader.ReadFixed64(checksum);
  MERIDIAN_CHECK(checksum_read);
  if (checksum != XXH3_64bits(covered.data(), covered.size())) {
    return Status::Corruption(name + " fails its checksum");
  }
  if (static_cast<std::uint8_t>(bytes[1]) != static_cast<std::uint8_t>(kind)) {
    return Status::Corruption(name + " has kind " +
                              std::to_string(static_cast<std::uint8_t>(bytes[1])) + ", expected " +
                              std::to_string(static_cast<std::uint8_t>(kind)));
  }
  return covered.substr(kHeaderBytes);
}

Result<TictacShape> ReadShape(ByteReader& reader, const std::string& name) {
  std::uint8_t segment_bits = 0;
  std::uint8_t branch_bits = 0;
  if (!reader.ReadByte(segment_bits) || !reader.ReadByte(branch_bits)) {
    return Status::Corruption(name + " shape is truncated");
  }
  const TictacShape shape{segment_bits, branch_bits};
  if (!shape.valid()) {
    return Status::Corruption(name + " has an invalid shape (" + std::to_string(segment_bits) +
                              " segment bits, " + std::to_string(branch_bits) + " branch bits)");
  }
  return shape;
}

// Reads exactly `count` fixed64 hashes, after checking the body has room for them (so a
// forged count never causes a large allocation).
bool ReadHashes(ByteReader& reader, std::uint64_t count, std::vector<std::uint64_t>& out) {
  if (reader.remaining() / kHashBytes < count) return false;
  out.resize(static_cast<std::size_t>(count));
  for (std::uint64_t& hash : out) {
    if (!reader.ReadFixed64(hash)) return false;
  }
  return true;
}

}  // namespace

std::string EncodeTictacBranchLevel(const TictacBranchLevel& level) {
  MERIDIAN_CHECK(level.branches.size() == level.shape.branch_count());
  std::string out = StartMessage(Kind::kBranchLevel);
  PutShape(out, level.shape);
  PutFixed64(out, level.root);
  for (std::uint64_t hash : level.branches) PutFixed64(out, hash);
  return FinishMessage(std::move(out));
}

Result<TictacBranchLevel> DecodeTictacBranchLevel(std::string_view bytes) {
  const std::string name = "tictac branch level";
  auto body = OpenMessage(bytes, Kind::kBranchLevel, name.c_str());
  if (!body.ok()) return body.status();
  ByteReader reader(*body);
  auto shape = ReadShape(reader, name);
  if (!shape.ok()) return shape.status();
  TictacBranchLevel level;
  level.shape = *shape;
  if (!reader.ReadFixed64(level.root) ||
      !ReadHashes(reader, level.shape.branch_count(), level.branches)) {
    return Status::Corruption(name + " is truncated");
  }
  if (!reader.empty()) return Status::Corruption(name + " has trailing bytes");
  std::uint64_t root = 0;
  for (std::uint64_t hash : level.branches) root ^= hash;
  if (root != level.root) return Status::Corruption(name + " root is not the XOR of its branches");
  return level;
}

std::string EncodeTictacSegmentHashes(const TictacSegmentHashes& hashes) {
  std::string out = StartMessage(Kind::kSegmentHashes);
  PutShape(out, hashes.shape);
  PutVarint64(out, hashes.segments.size());
  std::uint32_t next = 0;  // the smallest index the next entry may have
  for (const TictacSegmentHash& entry : hashes.segments) {
    MERIDIAN_CHECK(entry.segment >= next);
    MERIDIAN_CHECK(entry.segment < hashes.shape.segment_count());
    PutVarint64(out, entry.segment - next);
    PutFixed64(out, entry.hash);
    next = entry.segment + 1;
  }
  return FinishMessage(std::move(out));
}

Result<TictacSegmentHashes> DecodeTictacSegmentHashes(std::string_view bytes) {
  const std::string name = "tictac segment hashes";
  auto body = OpenMessage(bytes, Kind::kSegmentHashes, name.c_str());
  if (!body.ok()) return body.status();
  ByteReader reader(*body);
  auto shape = ReadShape(reader, name);
  if (!shape.ok()) return shape.status();
  TictacSegmentHashes hashes;
  hashes.shape = *shape;
  std::uint64_t count = 0;
  // Every entry takes at least 9 bytes (a gap byte and a hash).
  if (!reader.ReadVarint64(count) || count > reader.remaining() / (1 + kHashBytes)) {
    return Status::Corruption(name + " count is truncated or too large");
  }
  hashes.segments.reserve(static_cast<std::size_t>(count));
  std::uint64_t next = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t gap = 0;
    std::uint64_t hash = 0;
    if (!reader.ReadVarint64(gap) || !reader.ReadFixed64(hash)) {
      return Status::Corruption(name + " entry is truncated");
    }
    // Compared before adding so that a huge gap cannot wrap around.
    if (gap >= hashes.shape.segment_count() - next) {
      return Status::Corruption(name + " segment index is out of range");
    }
    const auto segment = static_cast<std::uint32_t>(next + gap);
    hashes.segments.push_back({segment, hash});
    next = std::uint64_t{segment} + 1;
  }
  if (!reader.empty()) return Status::Corruption(name + " has trailing bytes");
  return hashes;
}

std::string EncodeTictacKeyHashes(std::span<const KeyVersionHash> keys) {
  std::string out = StartMessage(Kind::kKeyHashes);
  PutVarint64(out, keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    MERIDIAN_CHECK(!keys[i].key.empty());
    MERIDIAN_CHECK(i == 0 || keys[i - 1].key < keys[i].key);
    PutLengthPrefixed(out, keys[i].key);
    PutFixed64(out, keys[i].version_hash);
  }
  return FinishMessage(std::move(out));
}

Result<std::vector<KeyVersionHash>> DecodeTictacKeyHashes(std::string_view bytes) {
  const std::string name = "tictac key hashes";
  auto body = OpenMessage(bytes, Kind::kKeyHashes, name.c_str());
  if (!body.ok()) return body.status();
  ByteReader reader(*body);
  std::uint64_t count = 0;
  // Every entry takes at least 10 bytes (a length byte, one key byte, a hash).
  if (!reader.ReadVarint64(count) || count > reader.remaining() / (2 + kHashBytes)) {
    return Status::Corruption(name + " count is truncated or too large");
  }
  std::vector<KeyVersionHash> keys;
  keys.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string_view key;
    std::uint64_t hash = 0;
    if (!reader.ReadLengthPrefixed(key) || !reader.ReadFixed64(hash)) {
      return Status::Corruption(name + " entry is truncated");
    }
    if (key.empty()) return Status::Corruption(name + " has an empty key");
    if (!keys.empty() && !(keys.back().key < key)) {
      return Status::Corruption(name + " keys are not strictly ascending");
    }
    keys.push_back({std::string(key), hash});
  }
  if (!reader.empty()) return Status::Corruption(name + " has trailing bytes");
  return keys;
}

std::string EncodeTictacTree(const TictacTree& tree) {
  std::string out = StartMessage(Kind::kTree);
  out.reserve(kHeaderBytes + 2 + tree.segments().size() * kHashBytes + kChecksumBytes);
  PutShape(out, tree.shape());
  for (std::uint64_t hash : tree.segments()) PutFixed64(out, hash);
  return FinishMessage(std::move(out));
}

Result<TictacTree> DecodeTictacTree(std::string_view bytes) {
  const std::string name = "tictac tree";
  auto body = OpenMessage(bytes, Kind::kTree, name.c_str());
  if (!body.ok()) return body.status();
  ByteReader reader(*body);
  auto shape = ReadShape(reader, name);
  if (!shape.ok()) return shape.status();
  std::vector<std::uint64_t> segments;
  if (!ReadHashes(reader, shape->segment_count(), segments)) {
    return Status::Corruption(name + " is truncated");
  }
  if (!reader.empty()) return Status::Corruption(name + " has trailing bytes");
  return TictacTree::FromSegments(*shape, std::move(segments));
}

}  // namespace meridian::storage
