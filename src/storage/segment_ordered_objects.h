// SegmentOrderedObjects: the objects column kept in anti-entropy segment order, with each
// object's version hash in front of its record — storage format 2's layout (option (e) of
// docs/design/write_path.md). Everything above it keeps using Column::kObjects with *logical*
// object keys (storage::EncodeObjectKey); underneath, the records live in
// Column::kObjectsBySegment under *physical* keys and values:
//
//   physical key   = partition (4, BE) | top 32 bits of xxh3-64(logical key) (4, BE)
//                    | the logical key after its partition (bucket length | bucket | key)
//   physical value = ObjectVersionHash of the record (8, LE) | the record (docs/format/object.md)
//
// The 32 hash bits are TictacSegmentOf(logical key, 32), so the keys of one tictac segment at
// any segment_bits ≤ 32 are one physical range (PhysicalSegmentRange), and a tree build or an
// exchange reads (key, hash) pairs without decoding objects (ScanObjectVersionHashes). That
// makes a separate anti-entropy index unnecessary.
//
// What changes meaning for callers of the wrapped engine:
//   * a Scan of the objects column visits keys in physical order: partition by partition, and
//     inside a partition by hash (ObjectKeyPhysicallyBefore), not by logical key;
//   * a Scan boundary must be "", a partition boundary (4 bytes or fewer: PartitionRange), or
//     an object key (typically one a Scan returned, to resume at it: the scan goes on exactly
//     where the physical order puts it; "the key after k" is not k + '\0' any more). A
//     boundary inside a partition that is not an object key — a bucket prefix — has no
//     physical equivalent: such a scan must cover the whole partition and filter;
//   * a Put of a record that does not decode fails with Corruption and writes nothing (its
//     hash cannot be taken).
// Other columns pass through unchanged; Column::kObjectsBySegment is not for callers (a
// checked error). Not thread-safe, like the engines it wraps; `inner` must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/engine.h"
#include "storage/key_encoding.h"

namespace meridian::storage {

// The physical key of the logical object key `logical` (at least the 4 partition bytes).
std::string PhysicalObjectKey(std::string_view logical);
// The logical key of a physical one; Corruption when shorter than its 8-byte header.
Result<std::string> LogicalObjectKey(std::string_view physical);
// A scan boundary in physical terms ("" and partition boundaries unchanged; see above).
std::string PhysicalScanBoundary(std::string_view logical_boundary);
// Whether object key or scan boundary `a` comes before `b` in the physical order (a scan's
// order): what a scan cursor is compared with.
bool ObjectKeyPhysicallyBefore(std::string_view a, std::string_view b);
// The physical value of object record `record` (its version hash in front); Corruption when
// the record does not decode.
Result<std::string> PhysicalObjectValue(std::string_view record);
// The physical value of record `record` whose ObjectVersionHash is `hash`.
std::string PhysicalObjectValue(std::string_view record, std::uint64_t hash);
// [begin, end) of the physical keys of `segment` at `segment_bits` (0..32) of `partition`;
// `end` is empty only for the last segment of the last partition.
KeyRange PhysicalSegmentRange(std::uint32_t partition, std::uint32_t segment, int segment_bits);

class SegmentOrderedObjects : public Engine {
 public:
  explicit SegmentOrderedObjects(Engine& inner) : inner_(inner) {}

  Result<std::optional<std::string>> Get(Column column, std::string_view key) override;
  Status Write(const WriteBatch& batch, const WriteOptions& options) override;
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visitor) override;
  Result<std::uint64_t> ApproximateBytes(Column column, std::string_view begin,
                                         std::string_view end) override;
  Status CommitPending() override { return inner_.CommitPending(); }
  Result<CommitTicket> BeginCommit() override { return inner_.BeginCommit(); }
  Status FinishCommit(const CommitTicket& ticket) override { return inner_.FinishCommit(ticket); }
  Status RequestCompaction() override { return inner_.RequestCompaction(); }
  Status Failure() const override { return inner_.Failure(); }
  Status Recover() override { return inner_.Recover(); }

  // One segment (or partition) as one range of physical keys, hashes read from the values.
  Status ScanObjectVersionHashes(std::uint32_t partition, std::optional<std::uint32_t> segment,
                                 int segment_bits, const VersionHashVisitor& visit) override;
  // The hash stored in front of the record, without decoding it.
  Result<std::optional<std::uint64_t>> GetObjectVersionHash(std::string_view key) override;

 private:
  Status ScanPhysical(std::string_view begin, std::string_view end,
                      const VersionHashVisitor* hashes, const ScanVisitor* records);

  Engine& inner_;
};

}  // namespace meridian::storage
