#include "storage/power_loss_file_system.h"

#include <fmt/format.h>

#include <utility>

#include "core/assert.h"
#include "storage/power_loss_files.h"

namespace meridian::storage {
namespace {

Status FromIo(const rocksdb::IOStatus& status, std::string_view what) {
  return Status::IoError(fmt::format("power loss: {}: {}", what, status.ToString()));
}

bool Exists(rocksdb::FileSystem& file_system, const std::string& path) {
  return file_system.FileExists(path, rocksdb::IOOptions(), nullptr).ok();
}

}  // namespace

std::string PowerLossReport::ToString() const {
  return fmt::format("dropped {} unsynced bytes in {} files, reverted {} directory entries",
                     bytes_dropped, files_cut, entries_reverted);
}

Result<std::shared_ptr<PowerLossFileSystem>> PowerLossFileSystem::Create(
    std::shared_ptr<rocksdb::FileSystem> base, const std::string& graveyard_dir) {
  MERIDIAN_CHECK(base != nullptr);
  const std::string graveyard = NormalizePath(graveyard_dir);
  const rocksdb::IOOptions options;
  rocksdb::IOStatus made = base->CreateDirIfMissing(graveyard, options, nullptr);
  if (!made.ok()) return FromIo(made, "create the graveyard " + graveyard);
  // Leftovers of an earlier process are not pending for this one.
  std::vector<std::string> children;
  rocksdb::IOStatus listed = base->GetChildren(graveyard, options, &children, nullptr);
  if (!listed.ok()) return FromIo(listed, "list the graveyard " + graveyard);
  for (const std::string& child : children) {
    if (child == "." || child == "..") continue;
    rocksdb::IOStatus removed = base->DeleteFile(graveyard + "/" + child, options, nullptr);
    if (!removed.ok()) return FromIo(removed, "empty the graveyard " + graveyard);
  }
  return std::shared_ptr<PowerLossFileSystem>(new PowerLossFileSystem(std::move(base), graveyard));
}

PowerLossFileSystem::PowerLossFileSystem(std::shared_ptr<rocksdb::FileSystem> base,
                                         std::string graveyard_dir)
    : rocksdb::FileSystemWrapper(base), graveyard_dir_(std::move(graveyard_dir)) {}

PowerLossFileSystem::~PowerLossFileSystem() {
  // Files must not outlive their file system (RocksDB closes them before its Env goes).
  std::lock_guard lock(state_mutex_);
  MERIDIAN_CHECK(open_files_.empty());
}

bool PowerLossFileSystem::powered() const {
  std::shared_lock gate(gate_);
  return powered_;
}

PowerLossCounts PowerLossFileSystem::counts() const {
  return PowerLossCounts{file_syncs_.load(), directory_syncs_.load(), files_reused_.load()};
}

rocksdb::IOStatus PowerLossFileSystem::Refused(const std::string& path) const {
  return rocksdb::IOStatus::IOError(path, "simulated power loss: the disk is gone");
}

void PowerLossFileSystem::Register(TrackedFile* file) {
  std::lock_guard lock(state_mutex_);
  open_files_.insert(file);
}

void PowerLossFileSystem::Forget(TrackedFile* file) {
  std::lock_guard lock(state_mutex_);
  open_files_.erase(file);
}

std::uint64_t PowerLossFileSystem::LastEntrySerial() {
  std::lock_guard lock(state_mutex_);
  return next_serial_ - 1;
}

void PowerLossFileSystem::AddEntry(PendingEntry entry) {
  entry.serial = next_serial_++;
  pending_.push_back(std::move(entry));
}

std::string PowerLossFileSystem::NextGrave() {
  return fmt::format("{}/{:08}", graveyard_dir_, next_grave_++);
}

void PowerLossFileSystem::MoveState(const std::string& from, const std::string& to) {
  auto found = files_.find(from);
  if (found == files_.end()) {
    files_.erase(to);
    return;
  }
  std::shared_ptr<FileState> state = std::move(found->second);
  files_.erase(found);
  files_[to] = std::move(state);
}

void PowerLossFileSystem::CommitDirectory(const std::string& directory, std::uint64_t serial) {
  ++directory_syncs_;
  std::lock_guard lock(state_mutex_);
  std::vector<std::string> graves;
  std::erase_if(pending_, [&](const PendingEntry& entry) {
    if (entry.directory != directory || entry.serial > serial) return false;
    if (!entry.grave.empty()) graves.push_back(entry.grave);
    return true;
  });
  // The deletion (or replacement) is durable: the old file can never come back.
  for (const std::string& grave : graves) {
    files_.erase(grave);
    target()->DeleteFile(grave, rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  }
}

rocksdb::IOStatus PowerLossFileSystem::Bury(const std::string& path, std::string* grave) {
  {
    std::lock_guard lock(state_mutex_);
    *grave = NextGrave();
  }
  rocksdb::IOStatus linked = target()->LinkFile(path, *grave, rocksdb::IOOptions(), nullptr);
  if (!linked.ok()) {
    return rocksdb::IOStatus::IOError(
        path, "power-loss file system cannot keep the old file in its graveyard " + graveyard_dir_ +
                  " (same file system?): " + linked.ToString());
  }
  return linked;
}

rocksdb::IOStatus PowerLossFileSystem::Wrap(const std::string& path,
                                            std::shared_ptr<FileState> state,
                                            std::unique_ptr<rocksdb::FSWritableFile> file,
                                            std::unique_ptr<rocksdb::FSWritableFile>* result) {
  *result = std::make_unique<TrackedFile>(this, path, std::move(state), std::move(file));
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus PowerLossFileSystem::NewWritableFile(
    const std::string& path, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(path);
  const std::string name = NormalizePath(path);
  const bool existed = Exists(*target(), path);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus status = target()->NewWritableFile(path, options, &file, debug);
  if (!status.ok()) return status;
  // An existing file is truncated: that shrink is kept (see the header).
  auto state = std::make_shared<FileState>();
  {
    std::lock_guard lock(state_mutex_);
    files_[name] = state;
    if (!existed) AddEntry({PendingEntry::Kind::kCreateFile, 0, ParentDirectory(name), name});
  }
  return Wrap(path, std::move(state), std::move(file), result);
}

rocksdb::IOStatus PowerLossFileSystem::ReopenWritableFile(
    const std::string& path, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(path);
  const std::string name = NormalizePath(path);
  const bool existed = Exists(*target(), path);
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus status = target()->ReopenWritableFile(path, options, &file, debug);
  if (!status.ok()) return status;
  std::uint64_t physical = 0;
  target()->GetFileSize(path, options.io_options, &physical, debug).PermitUncheckedError();
  std::shared_ptr<FileState> state;
  {
    std::lock_guard lock(state_mutex_);
    std::shared_ptr<FileState>& slot = files_[name];
    if (slot == nullptr) {
      // Not written through this wrapper before: what is there is durable.
      slot = std::make_shared<FileState>();
      slot->synced_size = physical;
      if (!existed) AddEntry({PendingEntry::Kind::kCreateFile, 0, ParentDirectory(name), name});
    }
    slot->size = physical;
    state = slot;
  }
  return Wrap(path, std::move(state), std::move(file), result);
}

rocksdb::IOStatus PowerLossFileSystem::ReuseWritableFile(
    const std::string& path, const std::string& old_path, const rocksdb::FileOptions& options,
    std::unique_ptr<rocksdb::FSWritableFile>* result, rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(path);
  const std::string to = NormalizePath(path);
  const std::string from = NormalizePath(old_path);
  std::uint64_t physical = 0;
  rocksdb::IOStatus sized = target()->GetFileSize(old_path, options.io_options, &physical, debug);
  if (!sized.ok()) return sized;
  std::string grave;
  if (Exists(*target(), path)) {
    if (rocksdb::IOStatus buried = Bury(to, &grave); !buried.ok()) return buried;
  }
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus status = target()->ReuseWritableFile(path, old_path, options, &file, debug);
  if (!status.ok()) {
    if (!grave.empty())
      target()->DeleteFile(grave, options.io_options, debug).PermitUncheckedError();
    return status;
  }
  // The writer starts at offset 0 over the old contents: those stay durable until unsynced
  // writes replace them, and then come back at a power loss (pre-images).
  auto state = std::make_shared<FileState>();
  {
    std::lock_guard lock(state_mutex_);
    state->kept_size = physical;
    if (auto old = files_.find(from); old != files_.end()) {
      state->kept_size = std::min(physical, old->second->DurableSize());
      state->pre_images = old->second->pre_images;
      files_.erase(old);
    }
    if (!grave.empty()) MoveState(to, grave);
    files_[to] = state;
    AddEntry({PendingEntry::Kind::kRename, 0, ParentDirectory(to), to, from, grave});
  }
  ++files_reused_;
  return Wrap(path, std::move(state), std::move(file), result);
}

rocksdb::IOStatus PowerLossFileSystem::NewRandomRWFile(const std::string& path,
                                                       const rocksdb::FileOptions&,
                                                       std::unique_ptr<rocksdb::FSRandomRWFile>*,
                                                       rocksdb::IODebugContext*) {
  return rocksdb::IOStatus::NotSupported(path,
                                         "random read-write files are not modelled by "
                                         "the power-loss file system");
}

rocksdb::IOStatus PowerLossFileSystem::NewMemoryMappedFileBuffer(
    const std::string& path, std::unique_ptr<rocksdb::MemoryMappedFileBuffer>*) {
  return rocksdb::IOStatus::NotSupported(path,
                                         "memory-mapped writes are not modelled by the "
                                         "power-loss file system");
}

rocksdb::IOStatus PowerLossFileSystem::NewDirectory(const std::string& path,
                                                    const rocksdb::IOOptions& options,
                                                    std::unique_ptr<rocksdb::FSDirectory>* result,
                                                    rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  std::unique_ptr<rocksdb::FSDirectory> directory;
  rocksdb::IOStatus status = target()->NewDirectory(path, options, &directory, debug);
  if (!status.ok()) return status;
  *result = std::make_unique<TrackedDirectory>(this, NormalizePath(path), std::move(directory));
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::DeleteFile(const std::string& path,
                                                  const rocksdb::IOOptions& options,
                                                  rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(path);
  // A missing file: let the real file system say so.
  if (!Exists(*target(), path)) return target()->DeleteFile(path, options, debug);
  const std::string name = NormalizePath(path);
  std::string grave;
  if (rocksdb::IOStatus buried = Bury(name, &grave); !buried.ok()) return buried;
  rocksdb::IOStatus status = target()->DeleteFile(path, options, debug);
  if (!status.ok()) {
    target()->DeleteFile(grave, options, debug).PermitUncheckedError();
    return status;
  }
  std::lock_guard lock(state_mutex_);
  MoveState(name, grave);
  AddEntry({PendingEntry::Kind::kDelete, 0, ParentDirectory(name), name, "", grave});
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::Truncate(const std::string& path, size_t size,
                                                const rocksdb::IOOptions& options,
                                                rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(path);
  rocksdb::IOStatus status = target()->Truncate(path, size, options, debug);
  if (!status.ok()) return status;
  std::lock_guard lock(state_mutex_);
  if (auto found = files_.find(NormalizePath(path)); found != files_.end()) {
    FileState& state = *found->second;
    state.size = std::min<std::uint64_t>(state.size, size);
    state.synced_size = std::min<std::uint64_t>(state.synced_size, size);
    state.kept_size = std::min<std::uint64_t>(state.kept_size, size);
  }
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::CreateDir(const std::string& path,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(path);
  rocksdb::IOStatus status = target()->CreateDir(path, options, debug);
  if (!status.ok()) return status;
  const std::string name = NormalizePath(path);
  std::lock_guard lock(state_mutex_);
  AddEntry({PendingEntry::Kind::kCreateDirectory, 0, ParentDirectory(name), name});
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::CreateDirIfMissing(const std::string& path,
                                                          const rocksdb::IOOptions& options,
                                                          rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(path);
  const bool existed = Exists(*target(), path);
  rocksdb::IOStatus status = target()->CreateDirIfMissing(path, options, debug);
  if (!status.ok() || existed) return status;
  const std::string name = NormalizePath(path);
  std::lock_guard lock(state_mutex_);
  AddEntry({PendingEntry::Kind::kCreateDirectory, 0, ParentDirectory(name), name});
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::DeleteDir(const std::string& path,
                                                 const rocksdb::IOOptions& options,
                                                 rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(path);
  rocksdb::IOStatus status = target()->DeleteDir(path, options, debug);
  if (!status.ok()) return status;
  const std::string name = NormalizePath(path);
  std::lock_guard lock(state_mutex_);
  AddEntry({PendingEntry::Kind::kDeleteDirectory, 0, ParentDirectory(name), name});
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::RenameFile(const std::string& from, const std::string& to,
                                                  const rocksdb::IOOptions& options,
                                                  rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(from);
  const std::string source = NormalizePath(from);
  const std::string destination = NormalizePath(to);
  std::string grave;
  if (Exists(*target(), to)) {
    if (rocksdb::IOStatus buried = Bury(destination, &grave); !buried.ok()) return buried;
  }
  rocksdb::IOStatus status = target()->RenameFile(from, to, options, debug);
  if (!status.ok()) {
    if (!grave.empty()) target()->DeleteFile(grave, options, debug).PermitUncheckedError();
    return status;
  }
  std::lock_guard lock(state_mutex_);
  if (!grave.empty()) MoveState(destination, grave);
  MoveState(source, destination);
  AddEntry(
      {PendingEntry::Kind::kRename, 0, ParentDirectory(destination), destination, source, grave});
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::LinkFile(const std::string& from, const std::string& to,
                                                const rocksdb::IOOptions& options,
                                                rocksdb::IODebugContext* debug) {
  std::shared_lock gate(gate_);
  if (!powered_) return Refused(to);
  rocksdb::IOStatus status = target()->LinkFile(from, to, options, debug);
  if (!status.ok()) return status;
  // The new name is a new entry; the data is the old file's (reverted through its own name).
  const std::string name = NormalizePath(to);
  std::lock_guard lock(state_mutex_);
  AddEntry({PendingEntry::Kind::kCreateFile, 0, ParentDirectory(name), name});
  return status;
}

}  // namespace meridian::storage
