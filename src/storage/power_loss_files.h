// The file and directory wrappers of PowerLossFileSystem (internal to storage/).
//
// TrackedFile forwards every call to the real writable file and records, in its FileState,
// how far it was written and how far synced; before an unsynced write replaces durable bytes
// (a recycled WAL is written over its old contents) it keeps those bytes as a pre-image.
// TrackedDirectory forwards fsyncs and then marks the directory's entries durable.
//
// Thread-safety: as RocksDB requires of files (one writer; Sync may race with Append when
// the target says IsSyncThreadSafe). Every call that changes the disk holds the file system's
// gate shared and fails once the power was lost for the generation the file was opened in.
#pragma once

#include <rocksdb/file_system.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "storage/power_loss_file_system.h"

namespace meridian::storage {

class PowerLossFileSystem::TrackedFile final : public rocksdb::FSWritableFileWrapper {
 public:
  TrackedFile(PowerLossFileSystem* file_system, std::string path, std::shared_ptr<FileState> state,
              std::unique_ptr<rocksdb::FSWritableFile> target);
  ~TrackedFile() override;

  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& options,
                           const rocksdb::DataVerificationInfo& verification,
                           rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, uint64_t offset,
                                     const rocksdb::IOOptions& options,
                                     const rocksdb::DataVerificationInfo& verification,
                                     rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Truncate(uint64_t size, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Flush(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& options,
                         rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* debug) override;
  // Forwarded, but not a durability barrier: sync_file_range neither waits for the device
  // nor writes metadata.
  rocksdb::IOStatus RangeSync(uint64_t offset, uint64_t bytes, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* debug) override;
  void PrepareWrite(size_t offset, size_t length, const rocksdb::IOOptions& options,
                    rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Allocate(uint64_t offset, uint64_t length, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override;

  // At the power cut, under the exclusive gate: closes the real file now, so that nothing
  // (not even its destructor) writes to the disk afterwards.
  void CloseAtPowerLoss();

 private:
  // Requires the shared gate. Keeps the durable bytes that a write of `length` bytes at
  // `offset` is about to replace.
  rocksdb::IOStatus KeepPreImage(std::uint64_t offset, std::uint64_t length);
  // Requires the shared gate. Records a write of `length` bytes at `offset` after it succeeded.
  void Written(std::uint64_t offset, std::uint64_t length);
  rocksdb::IOStatus SyncWith(bool full, const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug);
  rocksdb::IOStatus WriteAt(std::uint64_t offset, const rocksdb::Slice& data,
                            const std::function<rocksdb::IOStatus()>& write);

  PowerLossFileSystem* const file_system_;
  const std::string path_;  // as opened (renames later do not change it)
  const std::uint64_t generation_;
  std::shared_ptr<FileState> state_;                     // fields guarded by the state mutex
  std::unique_ptr<rocksdb::FSWritableFile> owned_;       // the real file
  std::unique_ptr<rocksdb::FSRandomAccessFile> reader_;  // opened on first pre-image
  bool closed_ = false;
};

class TrackedDirectory final : public rocksdb::FSDirectory {
 public:
  TrackedDirectory(PowerLossFileSystem* file_system, std::string path,
                   std::unique_ptr<rocksdb::FSDirectory> target);

  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus FsyncWithDirOptions(const rocksdb::IOOptions& options,
                                        rocksdb::IODebugContext* debug,
                                        const rocksdb::DirFsyncOptions& fsync_options) override;
  rocksdb::IOStatus Close(const rocksdb::IOOptions& options,
                          rocksdb::IODebugContext* debug) override;
  size_t GetUniqueId(char* id, size_t size) const override {
    return target_->GetUniqueId(id, size);
  }

 private:
  rocksdb::IOStatus FsyncThen(const std::function<rocksdb::IOStatus()>& fsync);

  PowerLossFileSystem* const file_system_;
  const std::string path_;  // normalized
  const std::uint64_t generation_;
  std::unique_ptr<rocksdb::FSDirectory> target_;
};

// An absolute, lexically normal path without a trailing '/', so one file has one name.
std::string NormalizePath(const std::string& path);
// "/a/b/c" -> "/a/b"; "/a" -> "/".
std::string ParentDirectory(const std::string& normalized_path);

}  // namespace meridian::storage
