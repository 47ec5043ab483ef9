#include "storage/rocksdb_engine.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/experimental.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <filesystem>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "core/assert.h"
#include "storage/rocksdb_info_log.h"

namespace meridian::storage {
namespace {

// Column family names, indexed by Column. ON-DISK FORMAT: docs/format/storage.md.
constexpr std::array<const char*, kColumnCount> kColumnFamilyNames = {
    "objects", "hints", "metadata", "aae_index", "strong", "objects_by_segment"};

// Bloom filter bits per key: ~1% false positives, so a Get of a missing key rarely reads a
// data block.
constexpr double kBloomBitsPerKey = 10;
// Memtable bloom size as a fraction of write_buffer_bytes (1.3 MB per 64 MB memtable).
constexpr double kMemtableBloomRatio = 0.02;
// RocksDB's info LOG file becomes LOG.old at this size.
constexpr std::size_t kInfoLogBytesMax = 16u << 20;
// An SST file with at least kDeletionTrigger deletions among any kDeletionWindow consecutive
// entries is marked for compaction, so the space of deleted keys (reaped tombstones, dropped
// partitions, delivered hints) returns without waiting for the level above to fill up.
constexpr std::size_t kDeletionWindow = 1024;
constexpr std::size_t kDeletionTrigger = 256;

// Corruption stays Corruption (the caller must not trust or retry the bytes); a full disk is
// InsufficientStorage; every other RocksDB failure is an IoError. The last two are
// retryable. The message keeps RocksDB's text.
Status FromRocks(const rocksdb::Status& status, std::string_view what) {
  std::string message = "rocksdb ";
  message += what;
  message += ": ";
  message += status.ToString();
  if (status.IsCorruption()) return Status::Corruption(std::move(message));
  if (status.IsNoSpace()) return Status::InsufficientStorage(std::move(message));
  return Status::IoError(std::move(message));
}

// The error the engine is stopped on, shared by the engine (WAL writes, Recover) and RocksDB's
// background threads (the listener). Thread-safe.
class FailureState {
 public:
  void Set(Status failure) {
    std::lock_guard lock(mutex_);
    if (!failure_) failure_ = std::move(failure);  // the first error is the cause
  }
  void Clear() {
    std::lock_guard lock(mutex_);
    failure_.reset();
  }
  Status Get() const {
    std::lock_guard lock(mutex_);
    return failure_.value_or(Status::Ok());
  }

 private:
  mutable std::mutex mutex_;
  std::optional<Status> failure_;
};

// Records RocksDB's background errors (a flush or compaction that failed stops writes) and
// its own recoveries from them (with an SstFileManager RocksDB retries a no-space error by
// itself once space returns).
class FailureListener final : public rocksdb::EventListener {
 public:
  explicit FailureListener(std::shared_ptr<FailureState> state) : state_(std::move(state)) {}
  void OnBackgroundError(rocksdb::BackgroundErrorReason, rocksdb::Status* error) override {
    if (error != nullptr && !error->ok()) state_->Set(FromRocks(*error, "background error"));
  }
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (info.new_bg_error.ok()) state_->Clear();
  }

 private:
  std::shared_ptr<FailureState> state_;
};

rocksdb::Slice ToSlice(std::string_view bytes) {
  return {bytes.data(), bytes.size()};
}

// Creates the database directory when it is missing and makes its entry durable. RocksDB
// creates the directory itself but never fsyncs the parent, and a directory entry is durable
// only once its parent directory is fsynced: a power cut soon after the first start could
// otherwise take the whole database, synced writes included (found by
// RocksDbPowerLossTest.SyncedWritesOfAFreshDatabaseSurvive).
Status CreateDurableDirectory(rocksdb::FileSystem& file_system, const std::string& path) {
  const rocksdb::IOOptions options;
  if (file_system.FileExists(path, options, nullptr).ok()) return Status::Ok();
  rocksdb::IOStatus made = file_system.CreateDirIfMissing(path, options, nullptr);
  if (!made.ok()) return FromRocks(made, "create " + path);
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (parent.empty()) parent = ".";
  std::unique_ptr<rocksdb::FSDirectory> directory;
  rocksdb::IOStatus opened = file_system.NewDirectory(parent, options, &directory, nullptr);
  if (!opened.ok()) return FromRocks(opened, "open directory " + parent);
  rocksdb::IOStatus synced = directory->Fsync(options, nullptr);
  if (!synced.ok()) return FromRocks(synced, "fsync directory " + parent);
  rocksdb::IOStatus closed = directory->Close(options, nullptr);
  if (!closed.ok()) return FromRocks(closed, "close directory " + parent);
  return Status::Ok();
}

}  // namespace

struct RocksDbEngine::Impl {
  std::string path;
  // RocksDB's Env over RocksDbOptions::file_system (null: the default Env). Declared before
  // `db` so that it outlives the database.
  std::unique_ptr<rocksdb::Env> env;
  std::shared_ptr<rocksdb::Cache> block_cache;
  std::unique_ptr<rocksdb::DB> db;
  // Handles of "default" (index 0, opened because RocksDB requires it) and then one per
  // Column at index column + 1.
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  bool group_commit = false;
  std::shared_ptr<FailureState> failure = std::make_shared<FailureState>();
  // Owned by the writing thread (Write, CommitPending, BeginCommit); FinishCommit, which may
  // run on another thread, never reads them.
  bool commit_pending = false;  // a write since the last BeginCommit (group commit only)
  bool sync_pending = false;    // ...and one of them asked for sync

  rocksdb::ColumnFamilyHandle* Handle(Column column) const {
    const auto index = static_cast<std::size_t>(column) + 1;
    MERIDIAN_CHECK(index < handles.size());
    return handles[index];
  }

  ~Impl() {
    if (!db) return;
    // With group commit the WAL buffer may hold writes nobody was told about; keeping them
    // costs nothing and is what a write-through engine would have done.
    if (group_commit) db->FlushWAL(/*sync=*/true).PermitUncheckedError();
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    handles.clear();
    // Close waits for background work. Its error is ignored deliberately: unsynced writes
    // are allowed to be lost, and synced ones are already in the WAL.
    db->Close().PermitUncheckedError();
  }
};

RocksDbEngine::RocksDbEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RocksDbEngine::~RocksDbEngine() = default;

Result<std::unique_ptr<RocksDbEngine>> RocksDbEngine::Open(const std::string& path,
                                                           const RocksDbOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  rocksdb::BlockBasedTableOptions table_options;
  table_options.block_cache = impl->block_cache;
  // Index and filter blocks live in the cache too, so the cache size bounds read memory.
  table_options.cache_index_and_filter_blocks = true;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(kBloomBitsPerKey));

  rocksdb::ColumnFamilyOptions column_options;
  column_options.write_buffer_size = options.write_buffer_bytes;
  // A whole-key bloom filter over each memtable: a Get for a key the memtable lacks (every
  // first write of a key reads before writing) skips the skip-list search, which otherwise
  // dominates the CPU of writes (docs/benchmarks.md "Profile").
  column_options.memtable_prefix_bloom_size_ratio = kMemtableBloomRatio;
  column_options.memtable_whole_key_filtering = true;
  column_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  column_options.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(kDeletionWindow, kDeletionTrigger));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  // A column family missing from an existing database is one a later release added (a data
  // directory or backup of an earlier release): created empty, as the release expects.
  db_options.create_missing_column_families = true;
  db_options.manual_wal_flush = options.group_commit;
  db_options.enable_pipelined_write = options.write_queue == RocksDbOptions::WriteQueue::kPipelined;
  db_options.unordered_write = options.write_queue == RocksDbOptions::WriteQueue::kUnordered;
  db_options.max_open_files = options.max_open_files;
  // Debian's librocksdb defaults to DEBUG level (its DBOptions constructor is compiled
  // without NDEBUG), which writes a LOG line per WAL flush: a file growing by megabytes a
  // minute and a printf on the write path. INFO keeps flushes, compactions and errors.
  db_options.info_log_level = rocksdb::InfoLogLevel::INFO_LEVEL;
  // Our own LOG writer: RocksDB's aborts the process on the line after a failed write of the
  // LOG (a full disk), from inside its error handling (storage/rocksdb_info_log.h).
  db_options.info_log = NewRocksDbInfoLog(path, kInfoLogBytesMax);
  impl->group_commit = options.group_commit;
  if (options.file_system != nullptr) {
    impl->env = rocksdb::NewCompositeEnv(options.file_system);
    db_options.env = impl->env.get();
  }
  // With an SstFileManager RocksDB postpones a compaction the free space cannot hold and
  // recovers by itself from a no-space error once space returns.
  db_options.sst_file_manager.reset(rocksdb::NewSstFileManager(
      db_options.env != nullptr ? db_options.env : rocksdb::Env::Default()));
  db_options.listeners.push_back(std::make_shared<FailureListener>(impl->failure));
  if (options.create_if_missing) {
    rocksdb::FileSystem& file_system =
        options.file_system != nullptr ? *options.file_system : *rocksdb::FileSystem::Default();
    if (Status created = CreateDurableDirectory(file_system, path); !created.ok()) {
      return created;
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, column_options);
  for (const char* name : kColumnFamilyNames) descriptors.emplace_back(name, column_options);

  rocksdb::DB* db = nullptr;
  const rocksdb::Status status =
      rocksdb::DB::Open(db_options, path, descriptors, &impl->handles, &db);
  if (!status.ok()) {
    // RocksDB's lock message ("lock hold by current process", "While lock file") does not
    // say what to do about it; the usual cause is a second server on the same directory.
    const bool locked = status.IsIOError() && status.ToString().find("/LOCK") != std::string::npos;
    return FromRocks(status, "open " + path +
                                 (locked ? " (is another Meridian process using this data "
                                           "directory?)"
                                         : ""));
  }
  impl->db.reset(db);
  MERIDIAN_CHECK(impl->handles.size() == descriptors.size());
  return std::unique_ptr<RocksDbEngine>(new RocksDbEngine(std::move(impl)));
}

Result<std::optional<std::string>> RocksDbEngine::Get(Column column, std::string_view key) {
  std::string value;
  const rocksdb::Status status =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->Handle(column), ToSlice(key), &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return FromRocks(status, "get");
  return std::optional<std::string>(std::move(value));
}

Status RocksDbEngine::Write(const WriteBatch& batch, const WriteOptions& options) {
  if (Status failed = impl_->failure->Get(); !failed.ok()) return failed;  // see FinishCommit
  rocksdb::WriteBatch rocks_batch;
  for (const WriteBatch::Op& op : batch.ops) {
    rocksdb::ColumnFamilyHandle* handle = impl_->Handle(op.column);
    const rocksdb::Status status = op.value.has_value() ? rocks_batch.Put(handle, op.key, *op.value)
                                                        : rocks_batch.Delete(handle, op.key);
    if (!status.ok()) return FromRocks(status, "batch");
  }
  rocksdb::WriteOptions rocks_options;
  rocks_options.sync = options.sync && !impl_->group_commit;
  const rocksdb::Status status = impl_->db->Write(rocks_options, &rocks_batch);
  if (!status.ok()) return FromRocks(status, "write");
  if (impl_->group_commit) {
    impl_->commit_pending = true;
    impl_->sync_pending = impl_->sync_pending || options.sync;
  }
  return Status::Ok();
}

RocksDbMemory RocksDbEngine::Memory() const {
  RocksDbMemory memory;
  memory.block_cache_capacity = impl_->block_cache->GetCapacity();
  memory.block_cache_usage = impl_->block_cache->GetUsage();
  for (rocksdb::ColumnFamilyHandle* handle : impl_->handles) {
    std::uint64_t value = 0;
    if (impl_->db->GetIntProperty(handle, rocksdb::DB::Properties::kSizeAllMemTables, &value)) {
      memory.memtables += value;
    }
    if (impl_->db->GetIntProperty(handle, rocksdb::DB::Properties::kEstimateTableReadersMem,
                                  &value)) {
      memory.table_readers += value;
    }
    if (impl_->db->GetIntProperty(handle, rocksdb::DB::Properties::kLiveSstFilesSize, &value)) {
      memory.live_sst_bytes += value;
    }
    if (impl_->db->GetIntProperty(handle, rocksdb::DB::Properties::kEstimatePendingCompactionBytes,
                                  &value)) {
      memory.pending_compaction_bytes += value;
    }
  }
  std::uint64_t value = 0;
  if (impl_->db->GetIntProperty(rocksdb::DB::Properties::kNumRunningFlushes, &value)) {
    memory.running_flushes = value;
  }
  if (impl_->db->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &value)) {
    memory.running_compactions = value;
  }
  return memory;
}

Status RocksDbEngine::RequestCompaction() {
  // Background only: the flush is not waited for, and SuggestCompactRange marks the files for
  // the compaction threads. Deleted keys (and their deletion markers, at the last level) then
  // leave the SST files.
  rocksdb::FlushOptions flush;
  flush.wait = false;
  for (rocksdb::ColumnFamilyHandle* handle : impl_->handles) {
    // TryAgain: writes are stalled right now (too many memtables or L0 files); the flush
    // RocksDB already runs then does the same.
    if (rocksdb::Status flushed = impl_->db->Flush(flush, handle);
        !flushed.ok() && !flushed.IsTryAgain()) {
      return FromRocks(flushed, "flush");
    }
    if (rocksdb::Status suggested =
            rocksdb::experimental::SuggestCompactRange(impl_->db.get(), handle, nullptr, nullptr);
        !suggested.ok()) {
      return FromRocks(suggested, "suggest compaction");
    }
  }
  return Status::Ok();
}

Status RocksDbEngine::CommitPending() {
  const bool write = impl_->commit_pending;
  const bool sync = impl_->sync_pending;
  Result<CommitTicket> ticket = BeginCommit();
  if (!ticket.ok()) {
    // Still pending: a later CommitPending tries again (the caller stops anyway).
    impl_->commit_pending = impl_->commit_pending || write;
    impl_->sync_pending = impl_->sync_pending || sync;
    return ticket.status();
  }
  Status finished = FinishCommit(*ticket);
  if (!finished.ok()) {
    // Still pending: a later CommitPending tries again (the caller stops anyway).
    impl_->commit_pending = impl_->commit_pending || ticket->write;
    impl_->sync_pending = impl_->sync_pending || ticket->sync;
  }
  return finished;
}

Result<CommitTicket> RocksDbEngine::BeginCommit() {
  // Failed (see FinishCommit): writes pending cannot be made durable, and this commit says so,
  // once, as a failed FinishCommit does; later ones hold no write (every Write is refused
  // meanwhile), so there is nothing to commit and reads go on. (Kept pending, the writes made
  // every later commit fail, reads of long-durable keys included, until recovery.)
  if (impl_->commit_pending) {
    if (Status failed = impl_->failure->Get(); !failed.ok()) {
      impl_->commit_pending = false;
      impl_->sync_pending = false;
      return failed;
    }
  }
  CommitTicket ticket{.write = impl_->commit_pending, .sync = impl_->sync_pending};
  impl_->commit_pending = false;
  impl_->sync_pending = false;
  return ticket;
}

// Why FinishCommit may run on another thread while the writing thread goes on (checked in
// RocksDB 7.8.3, the version Debian 12 ships, db/db_impl/db_impl.cc and db_impl_write.cc):
//   * with manual_wal_flush, DBImpl::WriteToWAL appends each record to the WAL writer's
//     buffer under log_write_mutex_ ("if manual_wal_flush_ is enabled we need to protect
//     log_writer->AddRecord from possible concurrent calls via the FlushWAL by the
//     application"), and DBImpl::FlushWAL writes that buffer out (log::Writer::WriteBuffer)
//     under the same mutex, so a record is written whole, by one of them, never torn;
//   * FlushWAL(true) then calls SyncWAL, which, under log_write_mutex_, picks every WAL file
//     up to the current one (waiting for a sync already running on them) and fsyncs them
//     outside the mutex with WritableFileWriter::SyncWithoutFlush ("Sync only the data that
//     was already Flush()ed. Safe to call concurrently with Append() and Flush()"; for a file
//     whose IsSyncThreadSafe() is false it returns NotSupported rather than race — POSIX
//     files and PowerLossFileSystem's say true);
//   * a memtable switch (SwitchMemtable, on the writing thread, e.g. for RequestCompaction)
//     writes the old WAL's buffer out under log_write_mutex_ before a new WAL takes the
//     writes, and the old file stays in DBImpl::logs_ until a sync covered it.
// So every record appended before FinishCommit took log_write_mutex_ — every write before
// the BeginCommit that made the ticket — is written, and with sync fsynced, when FinishCommit
// returns OK; later writes may be covered or not, and stay pending for the next commit.
Status RocksDbEngine::FinishCommit(const CommitTicket& ticket) {
  if (ticket.empty()) return Status::Ok();
  // After a failed WAL write the WAL's writer must not be touched again until Resume replaced
  // it (Debian's librocksdb asserts "Writer has previous error" and aborts).
  if (Status failed = impl_->failure->Get(); !failed.ok()) return failed;
  const rocksdb::Status status = impl_->db->FlushWAL(ticket.sync);
  if (!status.ok()) {
    Status failed =
        FromRocks(status, ticket.sync ? "commit (WAL write and sync)" : "commit (WAL write)");
    impl_->failure->Set(failed);
    return failed;
  }
  return Status::Ok();
}

Status RocksDbEngine::Failure() const {
  return impl_->failure->Get();
}

Status RocksDbEngine::Recover() {
  if (impl_->failure->Get().ok()) return Status::Ok();
  // Resume flushes every memtable to a new file and starts a new WAL: the writes a failed WAL
  // write held become durable (they were never acknowledged, and are not lost either).
  if (const rocksdb::Status resumed = impl_->db->Resume(); !resumed.ok()) {
    if (resumed.IsBusy()) {
      return Status::Unavailable("RocksDB is recovering by itself (it retries once space returns)");
    }
    return FromRocks(resumed, "recover");
  }
  impl_->failure->Clear();
  return Status::Ok();
}

Result<std::uint64_t> RocksDbEngine::ApproximateBytes(Column column, std::string_view begin,
                                                      std::string_view end) {
  rocksdb::SizeApproximationOptions options;
  options.include_memtables = true;
  options.include_files = true;
  // An empty `end` means "to the last key": 256 bytes of 0xff are above every stored key
  // (each starts with a short prefix of its kind and partition, docs/format/storage.md).
  const std::string last = end.empty() ? std::string(256, '\xff') : std::string();
  const rocksdb::Range range(ToSlice(begin), end.empty() ? rocksdb::Slice(last) : ToSlice(end));
  std::uint64_t bytes = 0;
  rocksdb::Status status =
      impl_->db->GetApproximateSizes(options, impl_->Handle(column), &range, 1, &bytes);
  if (!status.ok()) return FromRocks(status, "approximate sizes");
  return bytes;
}

// RocksDB's checkpoint (utilities/checkpoint/checkpoint_impl.cc, 7.8.3): with
// log_size_for_flush 0 it flushes every column family's memtable first (the write-ahead log
// is then not needed for what the copy holds; it copies the live WAL files too, so the copy
// is consistent across column families even without atomic flush), hard-links the table
// files into "<directory>.tmp", copies MANIFEST, CURRENT and OPTIONS, syncs, and renames the
// directory into place. It runs beside writes (it holds the DB mutex only briefly) and
// writes the WAL buffer out (FlushWAL without sync) under log_write_mutex_, like
// FinishCommit, so it may also run while a commit does. Writes that were not committed yet
// may be in the copy: they were never acknowledged, and a copy that holds more is allowed.
Status RocksDbEngine::Checkpoint(const std::string& directory) {
  const std::filesystem::path path(directory);
  if (!path.is_absolute()) {
    return Status::InvalidArgument("checkpoint directory '" + directory + "' is not absolute");
  }
  std::error_code error;
  if (std::filesystem::exists(std::filesystem::symlink_status(path, error))) {
    return Status::InvalidArgument("checkpoint directory '" + directory + "' already exists");
  }
  rocksdb::Checkpoint* raw = nullptr;
  if (rocksdb::Status created = rocksdb::Checkpoint::Create(impl_->db.get(), &raw); !created.ok()) {
    return FromRocks(created, "checkpoint");
  }
  const std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  const rocksdb::Status written = checkpoint->CreateCheckpoint(directory, /*log_size_for_flush=*/0);
  if (!written.ok()) return FromRocks(written, "checkpoint into " + directory);
  return Status::Ok();
}

Status RocksDbEngine::Scan(Column column, std::string_view begin, std::string_view end,
                           const ScanVisitor& visitor) {
  rocksdb::ReadOptions read_options;
  // The bound must outlive the iterator; it lets RocksDB stop at `end` without reading the
  // next key range (and skip SST files entirely past it).
  const rocksdb::Slice upper_bound = ToSlice(end);
  if (!end.empty()) read_options.iterate_upper_bound = &upper_bound;
  std::unique_ptr<rocksdb::Iterator> it(
      impl_->db->NewIterator(read_options, impl_->Handle(column)));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    const rocksdb::Slice value = it->value();
    if (!visitor(std::string_view(key.data(), key.size()),
                 std::string_view(value.data(), value.size()))) {
      return Status::Ok();
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan");
  return Status::Ok();
}

}  // namespace meridian::storage
