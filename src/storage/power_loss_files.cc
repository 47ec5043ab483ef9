#include "storage/power_loss_files.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <shared_mutex>
#include <system_error>
#include <utility>

namespace meridian::storage {
namespace {

rocksdb::IOStatus PowerLost(const std::string& path) {
  return rocksdb::IOStatus::IOError(path, "simulated power loss: the disk is gone");
}

// Pre-images wholly below `size` are durable now; one that straddles it keeps its tail.
void DropPreImagesBelow(std::vector<PowerLossFileSystem::PreImage>& pre_images,
                        std::uint64_t size) {
  std::vector<PowerLossFileSystem::PreImage> kept;
  for (PowerLossFileSystem::PreImage& image : pre_images) {
    const std::uint64_t end = image.offset + image.bytes.size();
    if (end <= size) continue;
    if (image.offset < size) {
      image.bytes.erase(0, size - image.offset);
      image.offset = size;
    }
    kept.push_back(std::move(image));
  }
  pre_images = std::move(kept);
}

}  // namespace

std::string NormalizePath(const std::string& path) {
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error) absolute = path;
  std::string normal = absolute.lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

std::string ParentDirectory(const std::string& normalized_path) {
  const std::size_t slash = normalized_path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return normalized_path.substr(0, slash);
}

PowerLossFileSystem::TrackedFile::TrackedFile(PowerLossFileSystem* file_system, std::string path,
                                              std::shared_ptr<FileState> state,
                                              std::unique_ptr<rocksdb::FSWritableFile> target)
    : rocksdb::FSWritableFileWrapper(target.get()),
      file_system_(file_system),
      path_(std::move(path)),
      generation_(file_system->generation()),
      state_(std::move(state)),
      owned_(std::move(target)) {
  file_system_->Register(this);
}

PowerLossFileSystem::TrackedFile::~TrackedFile() {
  // The real file's destructor closes it if RocksDB did not (and may trim it): that is a
  // change to the disk, so it happens under the gate, or not at all after a power cut
  // (CloseAtPowerLoss closed it already).
  std::shared_lock gate(file_system_->gate());
  file_system_->Forget(this);
  owned_.reset();
  reader_.reset();
}

void PowerLossFileSystem::TrackedFile::CloseAtPowerLoss() {
  if (!closed_) owned_->Close(rocksdb::IOOptions(), nullptr).PermitUncheckedError();
  closed_ = true;
  reader_.reset();
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::KeepPreImage(std::uint64_t offset,
                                                                 std::uint64_t length) {
  std::uint64_t end = 0;
  {
    std::lock_guard lock(file_system_->state_mutex());
    end = std::min(offset + length, state_->DurableSize());
  }
  if (offset >= end) return rocksdb::IOStatus::OK();
  if (reader_ == nullptr) {
    rocksdb::IOStatus opened = file_system_->target()->NewRandomAccessFile(
        path_, rocksdb::FileOptions(), &reader_, nullptr);
    if (!opened.ok()) return opened;
  }
  std::string bytes(end - offset, '\0');
  rocksdb::Slice read;
  rocksdb::IOStatus status =
      reader_->Read(offset, bytes.size(), rocksdb::IOOptions(), &read, bytes.data(), nullptr);
  if (!status.ok()) return status;
  // Bytes past the end of the file are not there to keep (a short read at end of file).
  std::string kept(read.data(), read.size());
  std::lock_guard lock(file_system_->state_mutex());
  state_->pre_images.push_back(PreImage{offset, std::move(kept)});
  return rocksdb::IOStatus::OK();
}

void PowerLossFileSystem::TrackedFile::Written(std::uint64_t offset, std::uint64_t length) {
  std::lock_guard lock(file_system_->state_mutex());
  state_->size = std::max(state_->size, offset + length);
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::WriteAt(
    std::uint64_t offset, const rocksdb::Slice& data,
    const std::function<rocksdb::IOStatus()>& write) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return PowerLost(path_);
  if (rocksdb::IOStatus kept = KeepPreImage(offset, data.size()); !kept.ok()) return kept;
  rocksdb::IOStatus status = write();
  if (status.ok()) Written(offset, data.size());
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::Append(const rocksdb::Slice& data,
                                                           const rocksdb::IOOptions& options,
                                                           rocksdb::IODebugContext* debug) {
  std::uint64_t offset = 0;
  {
    std::lock_guard lock(file_system_->state_mutex());
    offset = state_->size;
  }
  return WriteAt(offset, data, [&] { return owned_->Append(data, options, debug); });
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::Append(
    const rocksdb::Slice& data, const rocksdb::IOOptions& options,
    const rocksdb::DataVerificationInfo& verification, rocksdb::IODebugContext* debug) {
  std::uint64_t offset = 0;
  {
    std::lock_guard lock(file_system_->state_mutex());
    offset = state_->size;
  }
  return WriteAt(offset, data, [&] { return owned_->Append(data, options, verification, debug); });
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::PositionedAppend(
    const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& options,
    rocksdb::IODebugContext* debug) {
  return WriteAt(offset, data,
                 [&] { return owned_->PositionedAppend(data, offset, options, debug); });
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::PositionedAppend(
    const rocksdb::Slice& data, uint64_t offset, const rocksdb::IOOptions& options,
    const rocksdb::DataVerificationInfo& verification, rocksdb::IODebugContext* debug) {
  return WriteAt(offset, data, [&] {
    return owned_->PositionedAppend(data, offset, options, verification, debug);
  });
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::Truncate(uint64_t size,
                                                             const rocksdb::IOOptions& options,
                                                             rocksdb::IODebugContext* debug) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return PowerLost(path_);
  rocksdb::IOStatus status = owned_->Truncate(size, options, debug);
  if (!status.ok()) return status;
  // A shrink is kept as it is (see the header): what lies past `size` is gone either way.
  std::lock_guard lock(file_system_->state_mutex());
  state_->size = size;
  state_->synced_size = std::min<std::uint64_t>(state_->synced_size, size);
  state_->kept_size = std::min<std::uint64_t>(state_->kept_size, size);
  std::erase_if(state_->pre_images, [size](const PreImage& image) { return image.offset >= size; });
  for (PreImage& image : state_->pre_images) {
    if (image.offset + image.bytes.size() > size) image.bytes.resize(size - image.offset);
  }
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::Close(const rocksdb::IOOptions& options,
                                                          rocksdb::IODebugContext* debug) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return PowerLost(path_);
  if (closed_) return rocksdb::IOStatus::OK();
  closed_ = true;
  reader_.reset();
  // Closing writes nothing durable; Close may trim preallocated space (a kept shrink).
  return owned_->Close(options, debug);
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::Flush(const rocksdb::IOOptions& options,
                                                          rocksdb::IODebugContext* debug) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return PowerLost(path_);
  return owned_->Flush(options, debug);
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::SyncWith(bool full,
                                                             const rocksdb::IOOptions& options,
                                                             rocksdb::IODebugContext* debug) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return PowerLost(path_);
  // Only what was written before the sync started is covered by it (an Append may race
  // with a Sync when the real file allows that).
  std::uint64_t covered = 0;
  {
    std::lock_guard lock(file_system_->state_mutex());
    covered = state_->size;
  }
  rocksdb::IOStatus status = full ? owned_->Fsync(options, debug) : owned_->Sync(options, debug);
  if (!status.ok()) return status;
  file_system_->CountFileSync();
  std::lock_guard lock(file_system_->state_mutex());
  // A Truncate racing with the sync may have shrunk the file below `covered`.
  covered = std::min(covered, state_->size);
  state_->synced_size = std::max(state_->synced_size, covered);
  DropPreImagesBelow(state_->pre_images, covered);
  return status;
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::Sync(const rocksdb::IOOptions& options,
                                                         rocksdb::IODebugContext* debug) {
  return SyncWith(/*full=*/false, options, debug);
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::Fsync(const rocksdb::IOOptions& options,
                                                          rocksdb::IODebugContext* debug) {
  return SyncWith(/*full=*/true, options, debug);
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::RangeSync(uint64_t offset, uint64_t bytes,
                                                              const rocksdb::IOOptions& options,
                                                              rocksdb::IODebugContext* debug) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return PowerLost(path_);
  return owned_->RangeSync(offset, bytes, options, debug);
}

void PowerLossFileSystem::TrackedFile::PrepareWrite(size_t offset, size_t length,
                                                    const rocksdb::IOOptions& options,
                                                    rocksdb::IODebugContext* debug) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return;
  owned_->PrepareWrite(offset, length, options, debug);
}

rocksdb::IOStatus PowerLossFileSystem::TrackedFile::Allocate(uint64_t offset, uint64_t length,
                                                             const rocksdb::IOOptions& options,
                                                             rocksdb::IODebugContext* debug) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return PowerLost(path_);
  return owned_->Allocate(offset, length, options, debug);
}

TrackedDirectory::TrackedDirectory(PowerLossFileSystem* file_system, std::string path,
                                   std::unique_ptr<rocksdb::FSDirectory> target)
    : file_system_(file_system),
      path_(std::move(path)),
      generation_(file_system->generation()),
      target_(std::move(target)) {}

rocksdb::IOStatus TrackedDirectory::FsyncThen(const std::function<rocksdb::IOStatus()>& fsync) {
  std::shared_lock gate(file_system_->gate());
  if (!file_system_->AliveFor(generation_)) return PowerLost(path_);
  // Entries made while the fsync runs may or may not be covered: count them as not.
  const std::uint64_t covered = file_system_->LastEntrySerial();
  rocksdb::IOStatus status = fsync();
  if (status.ok()) file_system_->CommitDirectory(path_, covered);
  return status;
}

rocksdb::IOStatus TrackedDirectory::Fsync(const rocksdb::IOOptions& options,
                                          rocksdb::IODebugContext* debug) {
  return FsyncThen([&] { return target_->Fsync(options, debug); });
}

rocksdb::IOStatus TrackedDirectory::FsyncWithDirOptions(
    const rocksdb::IOOptions& options, rocksdb::IODebugContext* debug,
    const rocksdb::DirFsyncOptions& fsync_options) {
  return FsyncThen([&] { return target_->FsyncWithDirOptions(options, debug, fsync_options); });
}

rocksdb::IOStatus TrackedDirectory::Close(const rocksdb::IOOptions& options,
                                          rocksdb::IODebugContext* debug) {
  return target_->Close(options, debug);
}

}  // namespace meridian::storage
