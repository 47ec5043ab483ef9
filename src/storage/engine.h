// Engine: the storage seam. A small ordered key-value store with three column families
// and atomic, optionally synced, write batches. Implementations: RocksDbEngine (production)
// and MemoryEngine (tests and the deterministic simulator).
//
// Contract shared by every implementation (tests/storage/engine_conformance_test.cc):
//   * a Write applies the whole batch or nothing;
//   * a Write with sync=true returns only after the batch, and every write before it, is
//     durable (survives a crash of the process or the machine); without sync it survives a
//     process crash of the real engine only if the OS had it, and a power cut only once a
//     later sync covered it (MemoryEngine::DropUnsyncedWrites and PowerLossFileSystem model
//     the cut: docs/design/power_loss.md);
//   * Get and Scan see every Write that returned OK before them (read-your-writes);
//   * Scan visits keys of one column in ascending bytewise order;
//   * an engine opened for group commit (RocksDbOptions::group_commit) keeps writes, even
//     sync=true ones, in memory until CommitPending(): a write is only as durable as
//     described above once CommitPending() returned OK after it, so the caller must not
//     reveal a write to anyone (reply, message) before that. Otherwise CommitPending() is a
//     no-op. CommitPending() may also be split into BeginCommit() on the writing thread and
//     FinishCommit() on another one (see below), so that the slow fsync leaves the writer
//     free.
// Engines are not thread-safe unless they say so; the node calls them from one thread (the
// server's commit thread calls FinishCommit only).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::storage {

enum class Column {
  // Encoded DvvSets, keyed by EncodeObjectKey (partition-prefixed). Above a node's
  // SegmentOrderedObjects (storage format 2) this is the objects column under its logical
  // keys, stored in kObjectsBySegment; on the bare engine it is format 1's objects column,
  // which only the migration to format 2 reads (and empties).
  kObjects,
  kHints,        // hinted-handoff records (replication step), partition-prefixed
  kMetadata,     // node identity, bucket properties, format version
  kAntiEntropy,  // format 1's anti-entropy index (EncodeAaeIndexKey): emptied by the migration
  kStrong,       // strong buckets' acceptor records, keyed like objects (proto AcceptorRecord)
  // Format 2's objects column: physical keys and values written only by SegmentOrderedObjects
  // (storage/segment_ordered_objects.h).
  kObjectsBySegment,
};
inline constexpr int kColumnCount = 6;

struct WriteBatch {
  struct Op {
    Column column;
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
    // A put of Column::kObjects only: the ObjectVersionHash of `value`, when the writer has it
    // (saves the engines below decoding the record to take it). Must be right: debug builds
    // check it; nullopt: computed from `value`.
    std::optional<std::uint64_t> object_hash = std::nullopt;
    // A put of Column::kObjects only: the superseded single-use clock entries of `value`
    // (DvvSet::SupersededSingleUseEntries), when the writer counted them; 0 otherwise. Passed
    // to the node's observers, so a key that may be pruned is known without decoding it again.
    std::uint32_t superseded_single_use = 0;
  };
  std::vector<Op> ops;

  void Put(Column column, std::string key, std::string value) {
    ops.push_back(Op{column, std::move(key), std::move(value)});
  }
  // A put of object record `value` (Column::kObjects) whose ObjectVersionHash is `hash` (and
  // which holds `superseded_single_use` superseded single-use entries, when counted).
  void PutObject(std::string key, std::string value, std::uint64_t hash,
                 std::uint32_t superseded_single_use = 0) {
    ops.push_back(
        Op{Column::kObjects, std::move(key), std::move(value), hash, superseded_single_use});
  }
  void Delete(Column column, std::string key) {
    ops.push_back(Op{column, std::move(key), std::nullopt});
  }
  bool empty() const { return ops.empty(); }
};

struct WriteOptions {
  bool sync = false;  // durable before return (fsync / WAL sync)
};

// What Engine::BeginCommit took from the engine: the writes one FinishCommit must make durable.
struct CommitTicket {
  bool write = false;  // some write is to be committed (false: FinishCommit has nothing to do)
  bool sync = false;   // ...and one of them asked for sync: FinishCommit syncs

  bool empty() const { return !write; }
  // One FinishCommit of the merged ticket does the work of both (it covers every write up to
  // the later BeginCommit).
  void Merge(const CommitTicket& other) {
    write = write || other.write;
    sync = sync || other.sync;
  }
};

// Return false from a visitor to stop the scan early. The views are valid only during the
// call, and the visitor must not write to the engine it is scanning.
using ScanVisitor = std::function<bool(std::string_view key, std::string_view value)>;
// An object's key (EncodeObjectKey) and version hash (ObjectVersionHash); false stops.
using VersionHashVisitor = std::function<bool(std::string_view storage_key, std::uint64_t hash)>;

class Engine {
 public:
  virtual ~Engine() = default;

  // nullopt when the key is absent. IoError/Corruption on storage failure.
  virtual Result<std::optional<std::string>> Get(Column column, std::string_view key) = 0;
  // Applies the batch atomically. IoError on failure (then nothing was applied).
  virtual Status Write(const WriteBatch& batch, const WriteOptions& options) = 0;
  // Visits keys in [begin, end) in ascending order; an empty `end` means "to the last key".
  virtual Status Scan(Column column, std::string_view begin, std::string_view end,
                      const ScanVisitor& visitor) = 0;
  // About how many bytes of keys and values [begin, end) holds (an empty `end`: to the last
  // key), memtables included; for progress estimates only. 0 when the engine cannot tell.
  virtual Result<std::uint64_t> ApproximateBytes(Column /*column*/, std::string_view /*begin*/,
                                                 std::string_view /*end*/) {
    return std::uint64_t{0};
  }
  // Group commit: makes every write so far as durable as its WriteOptions asked (one WAL
  // write and at most one fsync for all of them). IoError on failure: the pending writes may
  // then be lost on a crash, so none of them may be acknowledged.
  virtual Status CommitPending() { return Status::Ok(); }
  // CommitPending in two steps, so that its slow part (the WAL write and fsync) can run on
  // another thread while the writing thread goes on:
  //   * BeginCommit runs on the thread that writes. It takes every write so far into the
  //     ticket and forgets them: a write after it needs a later commit. An empty ticket means
  //     nothing is left to make durable. This default commits synchronously here
  //     (CommitPending) and returns an empty ticket: right for every engine, just not async.
  //   * FinishCommit(ticket) makes at least the ticket's writes as durable as they asked (it
  //     may cover later ones too). It may run on any thread, concurrently with Get, Write,
  //     Scan, RequestCompaction and BeginCommit on the writing thread, but never concurrently
  //     with another FinishCommit or with CommitPending. Until it returned OK the ticket's
  //     writes must not be revealed. IoError (InsufficientStorage when the disk is full): as
  //     CommitPending's, and the ticket's writes are not pending again — the caller must not
  //     acknowledge them, ever; the engine is then failed (Failure) until Recover. A failed
  //     BeginCommit (the engine failed before the writes could be committed) likewise forgets
  //     them: the next BeginCommit takes only writes made after it.
  virtual Result<CommitTicket> BeginCommit() {
    MERIDIAN_RETURN_IF_ERROR(CommitPending());
    return CommitTicket{};
  }
  virtual Status FinishCommit(const CommitTicket& /*ticket*/) { return Status::Ok(); }
  // Many keys were just deleted: asks the engine to return their space soon (RocksDB: flush
  // the memtables and mark every file for compaction, in the background; never blocks).
  // A hint only; engines without deferred space reclamation ignore it.
  virtual Status RequestCompaction() { return Status::Ok(); }

  // A failed engine (a WAL write or sync, or a background flush or compaction, failed — e.g.
  // the disk filled up) refuses writes until it recovers. Failure() is OK, or the error the
  // engine is stopped on now (InsufficientStorage for a full disk). Recover() tries to leave
  // that state (RocksDB: DB::Resume, which writes the memtables to new files, so the writes
  // the failed WAL write held become durable, never lost); OK when the engine takes writes
  // again, and OK at once when it is not failed. Writes that failed were never durable and
  // must not be acknowledged; reads keep working while failed. Both may be called on the
  // writing thread while FinishCommit runs on another one.
  virtual Status Failure() const { return Status::Ok(); }
  virtual Status Recover() { return Status::Ok(); }

  // Every object of `partition` in Column::kObjects — only those of tictac segment `segment`
  // at `segment_bits` when `segment` is given — as (key, ObjectVersionHash), in scan order.
  // Corruption when a record does not decode. This default scans the whole partition and
  // decodes every record; SegmentOrderedObjects reads a segment as one range, without
  // decoding (the hash is stored in front of each record).
  virtual Status ScanObjectVersionHashes(std::uint32_t partition,
                                         std::optional<std::uint32_t> segment, int segment_bits,
                                         const VersionHashVisitor& visit);
  // The ObjectVersionHash of the object at `key` in Column::kObjects (nullopt: absent). This
  // default reads and decodes the record (Corruption when it does not decode);
  // SegmentOrderedObjects reads the hash stored in front of it.
  virtual Result<std::optional<std::uint64_t>> GetObjectVersionHash(std::string_view key);
};

}  // namespace meridian::storage
