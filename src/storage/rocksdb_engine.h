// RocksDbEngine: the production Engine on RocksDB, one column family per Column
// ("objects", "hints", "metadata"). Sync writes set WriteOptions::sync (WAL fsync).
// Thread-safe (RocksDB is), though the node uses it from one thread; with group_commit,
// Write, CommitPending and BeginCommit must be called from one thread (they share the
// pending-commit state), and FinishCommit may run on another one (see Engine::FinishCommit;
// rocksdb_engine.cc says why RocksDB allows it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/engine.h"

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace meridian::storage {

struct RocksDbOptions {
  std::size_t block_cache_bytes = 256ull << 20;  // shared LRU block cache
  std::size_t write_buffer_bytes = 64ull << 20;  // per column family memtable
  bool create_if_missing = true;
  // Table files RocksDB keeps open at once (-1: all of them); the server sets it from its
  // file-descriptor budget (runtime/file_descriptor_budget.h).
  int max_open_files = -1;
  // Group commit (see Engine::CommitPending): writes stay in RocksDB's WAL buffer
  // (manual_wal_flush) and sync=true writes do not fsync until CommitPending (or
  // BeginCommit + FinishCommit), which writes the buffer once and fsyncs once if any write
  // since the last commit asked for it.
  bool group_commit = false;
  // How concurrent writers share the database's one write queue (benchmarks only: the server
  // gives each shard its own engine and writes from one thread per engine). kPipelined is
  // RocksDB's enable_pipelined_write, kUnordered its unordered_write.
  enum class WriteQueue { kDefault, kPipelined, kUnordered };
  WriteQueue write_queue = WriteQueue::kDefault;
  // The file system RocksDB runs on. Null (the default, and always in production): the real
  // one. Tests pass a PowerLossFileSystem (storage/power_loss_file_system.h) to cut the power.
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

// Where RocksDB's memory is, in bytes (for /metrics and the memory budget in
// docs/operations.md "Memory").
struct RocksDbMemory {
  std::uint64_t block_cache_capacity = 0;  // RocksDbOptions::block_cache_bytes
  std::uint64_t block_cache_usage = 0;     // data, index and filter blocks cached now
  std::uint64_t memtables = 0;             // every memtable of every column family, incl. flushing
  std::uint64_t table_readers = 0;         // SST reader state outside the block cache
  // Not memory: the SST files of the current version on disk, every column family (shows
  // deleted keys' space returning after compaction).
  std::uint64_t live_sst_bytes = 0;
  // Not memory either: RocksDB's background jobs now (DB-wide) and the compaction work it
  // estimates is owed (every column family).
  std::uint64_t running_flushes = 0;
  std::uint64_t running_compactions = 0;
  std::uint64_t pending_compaction_bytes = 0;
};

class RocksDbEngine final : public Engine {
 public:
  // Opens (creating when allowed) the database in `path`. IoError with RocksDB's message
  // on failure (e.g. the directory is locked by another process).
  static Result<std::unique_ptr<RocksDbEngine>> Open(const std::string& path,
                                                     const RocksDbOptions& options);
  ~RocksDbEngine() override;

  Result<std::optional<std::string>> Get(Column column, std::string_view key) override;
  Status Write(const WriteBatch& batch, const WriteOptions& options) override;
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visitor) override;
  // RocksDB's estimate (files and memtables); compressed sizes on disk for the files.
  Result<std::uint64_t> ApproximateBytes(Column column, std::string_view begin,
                                         std::string_view end) override;
  Status CommitPending() override;
  Result<CommitTicket> BeginCommit() override;
  Status FinishCommit(const CommitTicket& ticket) override;
  Status RequestCompaction() override;
  Status Failure() const override;
  Status Recover() override;
  // Writes a consistent copy of every column into `directory` (an absolute path that must not
  // exist yet; its parent must): the database as of one instant, holding every Write that
  // returned before the call (later ones may be in it too, each batch whole or not at all),
  // openable with Open. May run on any thread, concurrently with every other call — it is
  // meant to run beside the writing thread and the commit thread. InvalidArgument for a
  // relative or existing `directory`; IoError when it cannot be written (RocksDB removes its
  // partial copy). Not part of Engine: only the server's backups (runtime/node_backup.h)
  // copy an engine, and MemoryEngine has nothing on disk to copy.
  Status Checkpoint(const std::string& directory);
  RocksDbMemory Memory() const;

 private:
  struct Impl;
  explicit RocksDbEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::storage
