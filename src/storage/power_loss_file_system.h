// PowerLossFileSystem: a RocksDB FileSystem wrapper, for tests, that can cut the power.
//
// Every call goes straight to the file system underneath (written bytes really reach the
// files, as they reach the page cache), and the wrapper remembers what is not durable yet:
//   * per file opened for writing through it: the bytes written since its last Sync or Fsync,
//     and, for a file written over older contents (a recycled WAL, ReuseWritableFile), the
//     older bytes that unsynced writes replaced;
//   * per directory: the entries created, renamed, hard-linked or deleted in it since its
//     last fsync (FSDirectory::Fsync / FsyncWithDirOptions).
// SimulatePowerLoss() then leaves the disk as a power cut that lost all of that would:
// files cut back to their synced size (overwritten bytes restored), files and directories
// created since their directory's last fsync removed, renames and deletions undone.
//
// The rule it models (docs/design/power_loss.md has the reasons):
//   * bytes written to a file are durable once a Sync or Fsync of that file returned OK;
//     RangeSync (sync_file_range) is not a durability barrier and counts for nothing;
//   * a directory entry is durable once an fsync of its directory returned OK (a rename
//     counts as an entry of the target's directory);
//   * a change that only shrinks a file (ftruncate, e.g. Close trimming preallocated space)
//     is kept as it is: a file system may journal it at any moment, so that is one of the
//     states a real disk can be found in.
// Not modelled: torn or reordered sector writes, disks that lie about fsync, fsync errors,
// and anything done to the disk without this wrapper (those files count as durable).
//
// Deleted files and files replaced by a rename wait, as hard links, in `graveyard_dir` until
// their directory is fsynced, so that a power loss can bring them back; the graveyard must be
// on the same file system as the data and outside RocksDB's directory.
//
// Thread-safety: thread-safe (RocksDB calls it from its own threads). SimulatePowerLoss()
// waits for the calls in progress; from then on every call that would change the disk fails
// with IOError ("simulated power loss") — including calls on files opened before — until
// PowerOn(). Files opened before a power loss stay dead after PowerOn(). Reads always work.
// Invariants: every pending directory entry and every tracked file lives under the state
// mutex; a file's synced size never exceeds what was written through it.
#pragma once

#include <rocksdb/file_system.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/status.h"

namespace meridian::storage {

// What SimulatePowerLoss() undid.
struct PowerLossReport {
  std::uint64_t files_cut = 0;         // files cut back to their durable size or contents
  std::uint64_t bytes_dropped = 0;     // unsynced bytes cut off or reverted to older contents
  std::uint64_t entries_reverted = 0;  // directory entries undone (creations, renames, deletions)
  // "dropped 123 unsynced bytes in 2 files, reverted 3 directory entries"
  std::string ToString() const;
};

// How often the durability barriers were used, since Create (tests assert that the case
// they mean to cover happened).
struct PowerLossCounts {
  std::uint64_t file_syncs = 0;       // Sync or Fsync of a file that returned OK
  std::uint64_t directory_syncs = 0;  // directory fsyncs that returned OK
  std::uint64_t files_reused = 0;     // ReuseWritableFile (recycled WAL files)
};

class PowerLossFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  // Wraps `base` (rocksdb::FileSystem::Default() in practice). Creates `graveyard_dir` and
  // empties it. IoError when it cannot.
  static Result<std::shared_ptr<PowerLossFileSystem>> Create(
      std::shared_ptr<rocksdb::FileSystem> base, const std::string& graveyard_dir);
  ~PowerLossFileSystem() override;

  // The power cut: waits for the calls in progress, then reverts the disk to its durable
  // state and refuses every later change. IoError when reverting failed (the disk is then in
  // an unknown state). Calling it twice without PowerOn() reverts nothing more.
  Result<PowerLossReport> SimulatePowerLoss();
  // Power is back: whatever is on disk now counts as durable, and new calls work again.
  void PowerOn();
  bool powered() const;
  PowerLossCounts counts() const;

  const char* Name() const override { return "MeridianPowerLossFileSystem"; }

  rocksdb::IOStatus NewWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& path, const rocksdb::FileOptions& options,
                                       std::unique_ptr<rocksdb::FSWritableFile>* result,
                                       rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& path, const std::string& old_path,
                                      const rocksdb::FileOptions& options,
                                      std::unique_ptr<rocksdb::FSWritableFile>* result,
                                      rocksdb::IODebugContext* debug) override;
  // Not modelled (RocksDB's DB core does not use them): refused with NotSupported, so a change
  // that would escape the model fails loudly instead.
  rocksdb::IOStatus NewRandomRWFile(const std::string& path, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* result,
                                    rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus NewMemoryMappedFileBuffer(
      const std::string& path, std::unique_ptr<rocksdb::MemoryMappedFileBuffer>* result) override;
  rocksdb::IOStatus NewDirectory(const std::string& path, const rocksdb::IOOptions& options,
                                 std::unique_ptr<rocksdb::FSDirectory>* result,
                                 rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus DeleteFile(const std::string& path, const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus Truncate(const std::string& path, size_t size,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus CreateDir(const std::string& path, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& path, const rocksdb::IOOptions& options,
                                       rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus DeleteDir(const std::string& path, const rocksdb::IOOptions& options,
                              rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& options,
                               rocksdb::IODebugContext* debug) override;
  rocksdb::IOStatus LinkFile(const std::string& from, const std::string& to,
                             const rocksdb::IOOptions& options,
                             rocksdb::IODebugContext* debug) override;

  // What the file and directory wrappers (power_loss_files.cc) share with the file system.
  // Not for other callers.
  struct PreImage {
    std::uint64_t offset = 0;
    std::string bytes;  // the durable bytes at `offset` before an unsynced write replaced them
  };
  struct FileState {
    std::uint64_t size = 0;            // bytes written through the wrapper (the write position)
    std::uint64_t synced_size = 0;     // [0, synced_size) is durable with its current contents
    std::uint64_t kept_size = 0;       // [0, kept_size) held durable older contents when opened
    std::vector<PreImage> pre_images;  // oldest first; only for bytes below the durable size
    std::uint64_t DurableSize() const { return std::max(synced_size, kept_size); }
  };
  class TrackedFile;
  std::shared_mutex& gate() { return gate_; }
  std::mutex& state_mutex() { return state_mutex_; }
  // Requires the gate (shared or exclusive). False once the power was lost for a file opened
  // in `generation`.
  bool AliveFor(std::uint64_t generation) const { return powered_ && generation == generation_; }
  std::uint64_t generation() const { return generation_; }
  void Register(TrackedFile* file);
  void Forget(TrackedFile* file);
  void CountFileSync() { ++file_syncs_; }
  // The newest pending entry now (so a directory fsync commits only entries made before it).
  std::uint64_t LastEntrySerial();
  // A directory fsync that started after entry `serial` returned OK.
  void CommitDirectory(const std::string& directory, std::uint64_t serial);

 private:
  struct PendingEntry {
    enum class Kind { kCreateFile, kCreateDirectory, kRename, kDelete, kDeleteDirectory };
    Kind kind;
    std::uint64_t serial = 0;
    std::string directory;  // the directory whose fsync makes it durable
    std::string path;       // created, deleted or renamed-to path
    std::string from;       // kRename: the old name
    std::string grave;      // kDelete, kRename over a file: where the old file waits
  };

  PowerLossFileSystem(std::shared_ptr<rocksdb::FileSystem> base, std::string graveyard_dir);

  rocksdb::IOStatus Refused(const std::string& path) const;
  // Requires state_mutex_.
  void AddEntry(PendingEntry entry);
  std::string NextGrave();
  void MoveState(const std::string& from, const std::string& to);
  // Hard-links `path` into the graveyard; the grave's name, or an error.
  rocksdb::IOStatus Bury(const std::string& path, std::string* grave);
  rocksdb::IOStatus Wrap(const std::string& path, std::shared_ptr<FileState> state,
                         std::unique_ptr<rocksdb::FSWritableFile> file,
                         std::unique_ptr<rocksdb::FSWritableFile>* result);
  // SimulatePowerLoss's steps, under the exclusive gate.
  Status RevertFileData(PowerLossReport& report);
  Status RevertEntries(PowerLossReport& report);
  Status RemoveTree(const std::string& path);
  Status CutFile(const std::string& path, const FileState& state, PowerLossReport& report);

  const std::string graveyard_dir_;
  // Shared by every call that changes the disk, exclusive for the power cut.
  mutable std::shared_mutex gate_;
  bool powered_ = true;                                      // GUARDED_BY(gate_)
  std::uint64_t generation_ = 0;                             // GUARDED_BY(gate_): +1 per power loss
  std::mutex state_mutex_;                                   // guards everything below
  std::map<std::string, std::shared_ptr<FileState>> files_;  // by normalized path
  std::vector<PendingEntry> pending_;                        // oldest first
  std::set<TrackedFile*> open_files_;
  std::uint64_t next_serial_ = 1;
  std::uint64_t next_grave_ = 1;
  std::atomic<std::uint64_t> file_syncs_{0};
  std::atomic<std::uint64_t> directory_syncs_{0};
  std::atomic<std::uint64_t> files_reused_{0};
};

}  // namespace meridian::storage
