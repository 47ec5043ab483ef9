// WriteObservingEngine: the engine as the node's components reach it. Every write batch passes
// through it, whichever component makes it (coordinators, replica writes, hints, handoff,
// anti-entropy repair, drops, tombstone reaping), so nothing can forget to:
//   * retire the partition actor of every deleted object or hint record (PartitionActors: an
//     actor mints only while nothing it minted into can have been deleted);
//   * tell the observer (the partitions' tictac trees) how each object's version hash changed,
//     once the write succeeded;
//   * record a bucket as stored here (StoredBuckets) before the first data of it is written.
// The hashes themselves are stored with the objects (storage::SegmentOrderedObjects, the
// engine this one wraps in a node), so exchanges and tree builds read them from there.
// Reads pass through unchanged, but the engine remembers the objects read since the last
// write (a write path reads a key, then writes it): since every write passes through here,
// they are what the engine still holds, so the write takes the old hash from them instead of
// reading the object again (docs/design/write_path.md, option d). Debug builds read it again
// and check. Not thread-safe, like the engines it wraps; the referents must outlive it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "node/partition_actors.h"
#include "node/stored_buckets.h"
#include "storage/engine.h"

namespace meridian::node {

class ObjectChangeObserver {
 public:
  virtual ~ObjectChangeObserver() = default;
  // The object at `storage_key` of `partition` changed from `old_hash` (nullopt: absent) to
  // `new_hash` (nullopt: deleted); called after the write returned OK. `superseded_single_use`:
  // what the put's writer counted of the object's superseded single-use clock entries
  // (WriteBatch::Op), 0 when it did not.
  virtual void OnObjectChanged(std::uint32_t partition, std::string_view storage_key,
                               std::optional<std::uint64_t> old_hash,
                               std::optional<std::uint64_t> new_hash,
                               std::uint32_t superseded_single_use) = 0;
};

class WriteObservingEngine final : public storage::Engine {
 public:
  WriteObservingEngine(storage::Engine& inner, PartitionActors& actors)
      : inner_(inner), actors_(actors) {}

  void SetObserver(ObjectChangeObserver* observer) { observer_ = observer; }
  // The set whose records every write of a bucket's first data is preceded by (see there).
  void SetStoredBuckets(StoredBuckets* buckets) { stored_buckets_ = buckets; }

  Result<std::optional<std::string>> Get(storage::Column column, std::string_view key) override;
  // Corruption (nothing written) when an object put does not decode: a record every replica
  // would have to trust must at least parse. The refusal (RefuseNewData) when it puts new data.
  // Retires actors before writing: a failed write may still have deleted (conservative).
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override;
  Status Scan(storage::Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override {
    return inner_.Scan(column, begin, end, visitor);
  }
  Result<std::uint64_t> ApproximateBytes(storage::Column column, std::string_view begin,
                                         std::string_view end) override {
    return inner_.ApproximateBytes(column, begin, end);
  }
  Status CommitPending() override { return inner_.CommitPending(); }
  Result<storage::CommitTicket> BeginCommit() override { return inner_.BeginCommit(); }
  Status FinishCommit(const storage::CommitTicket& ticket) override {
    return inner_.FinishCommit(ticket);
  }
  Status RequestCompaction() override { return inner_.RequestCompaction(); }
  Status Failure() const override { return inner_.Failure(); }
  Status Recover() override { return inner_.Recover(); }
  Status ScanObjectVersionHashes(std::uint32_t partition, std::optional<std::uint32_t> segment,
                                 int segment_bits,
                                 const storage::VersionHashVisitor& visit) override {
    return inner_.ScanObjectVersionHashes(partition, segment, segment_bits, visit);
  }
  Result<std::optional<std::uint64_t>> GetObjectVersionHash(std::string_view key) override {
    return inner_.GetObjectVersionHash(key);
  }

  // While set, a batch that puts anything into the objects or hints column (new data: client
  // writes, replica writes, hints, handoff, repair) fails with `refusal` and changes nothing;
  // deletes and metadata writes still pass (they free space or are small and vital).
  void RefuseNewData(std::optional<Status> refusal) { refusal_ = std::move(refusal); }
  // Write calls so far (successful or not): lets the node tell whether it wrote since a point.
  std::uint64_t writes() const { return writes_; }
  const std::optional<Status>& refusal() const { return refusal_; }

  // Debug builds check every remembered old hash against the stored object (one read each).
#ifdef NDEBUG
  static constexpr bool kChecksRememberedHashes = false;
#else
  static constexpr bool kChecksRememberedHashes = true;
#endif

 private:
  storage::Engine& inner_;
  PartitionActors& actors_;
  // The old version hash of an object about to be written: from `read_memo` when the key was
  // read since the last write, else from the stored object.
  Result<std::optional<std::uint64_t>> OldHash(
      std::string_view storage_key,
      const std::map<std::string, std::optional<std::string>, std::less<>>& read_memo);

  // Objects read since the last Write: each key's stored record (nullopt: absent). Bounded:
  // past kReadMemoMax keys it starts again, and larger records are not kept (a miss only
  // costs a read).
  static constexpr std::size_t kReadMemoMax = 64;
  static constexpr std::size_t kReadMemoValueBytesMax = 16 << 10;
  std::map<std::string, std::optional<std::string>, std::less<>> read_memo_;
  ObjectChangeObserver* observer_ = nullptr;
  StoredBuckets* stored_buckets_ = nullptr;
  std::optional<Status> refusal_;
  std::uint64_t writes_ = 0;
};

}  // namespace meridian::node
