#include "storage/engine.h"

#include "storage/key_encoding.h"
#include "storage/tictac_keys.h"
#include "storage/tictac_tree.h"

namespace meridian::storage {

Status Engine::ScanObjectVersionHashes(std::uint32_t partition,
                                       std::optional<std::uint32_t> segment, int segment_bits,
                                       const VersionHashVisitor& visit) {
  const KeyRange range = PartitionRange(partition);
  Status bad = Status::Ok();
  MERIDIAN_RETURN_IF_ERROR(Scan(
      Column::kObjects, range.begin, range.end, [&](std::string_view key, std::string_view value) {
        if (segment.has_value() && TictacSegmentOf(key, segment_bits) != *segment) {
          return true;
        }
        auto hash = EncodedObjectVersionHash(value);
        if (!hash.ok()) {
          bad = Status::Corruption("object record of partition " + std::to_string(partition) +
                                   " does not decode: " + hash.status().message());
          return false;
        }
        return visit(key, *hash);
      }));
  return bad;
}

Result<std::optional<std::uint64_t>> Engine::GetObjectVersionHash(std::string_view key) {
  auto stored = Get(Column::kObjects, key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<std::uint64_t>();
  auto hash = EncodedObjectVersionHash(**stored);
  if (!hash.ok()) return hash.status();
  return std::optional<std::uint64_t>(*hash);
}

}  // namespace meridian::storage
