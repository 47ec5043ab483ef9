// PowerLossFileSystem's power cut: bringing the disk back to its durable state.
#include <fmt/format.h>

#include <utility>

#include "storage/power_loss_file_system.h"
#include "storage/power_loss_files.h"

namespace meridian::storage {
namespace {

Status FromIo(const rocksdb::IOStatus& status, std::string_view what) {
  return Status::IoError(fmt::format("power loss: {}: {}", what, status.ToString()));
}

}  // namespace

Result<PowerLossReport> PowerLossFileSystem::SimulatePowerLoss() {
  // Exclusive: waits for every call in progress, and none starts until we are done.
  std::unique_lock gate(gate_);
  if (!powered_) return PowerLossReport{};
  powered_ = false;
  ++generation_;
  std::lock_guard lock(state_mutex_);
  // Nothing RocksDB still holds may write afterwards, not even a destructor's close.
  for (TrackedFile* file : open_files_) file->CloseAtPowerLoss();
  PowerLossReport report;
  // File contents first, at the names they have now; then the names go back.
  MERIDIAN_RETURN_IF_ERROR(RevertFileData(report));
  MERIDIAN_RETURN_IF_ERROR(RevertEntries(report));
  files_.clear();
  pending_.clear();
  return report;
}

void PowerLossFileSystem::PowerOn() {
  std::unique_lock gate(gate_);
  std::lock_guard lock(state_mutex_);
  powered_ = true;
  files_.clear();
  pending_.clear();
}

Status PowerLossFileSystem::RevertFileData(PowerLossReport& report) {
  for (const auto& [path, state] : files_) {
    MERIDIAN_RETURN_IF_ERROR(CutFile(path, *state, report));
  }
  return Status::Ok();
}

Status PowerLossFileSystem::CutFile(const std::string& path, const FileState& state,
                                    PowerLossReport& report) {
  const rocksdb::IOOptions options;
  std::uint64_t physical = 0;
  rocksdb::IOStatus sized = target()->GetFileSize(path, options, &physical, nullptr);
  if (sized.IsNotFound() || sized.IsPathNotFound()) return Status::Ok();
  if (!sized.ok()) return FromIo(sized, "size of " + path);
  const std::uint64_t durable = std::min(physical, state.DurableSize());
  std::uint64_t reverted = 0;
  if (!state.pre_images.empty()) {
    std::unique_ptr<rocksdb::FSRandomRWFile> file;
    rocksdb::IOStatus opened =
        target()->NewRandomRWFile(path, rocksdb::FileOptions(), &file, nullptr);
    if (!opened.ok()) return FromIo(opened, "open " + path);
    // Newest first, so where several overlap the oldest (the durable) bytes win.
    for (auto image = state.pre_images.rbegin(); image != state.pre_images.rend(); ++image) {
      if (image->offset >= durable) continue;
      const std::size_t length =
          std::min<std::uint64_t>(image->bytes.size(), durable - image->offset);
      rocksdb::IOStatus written =
          file->Write(image->offset, rocksdb::Slice(image->bytes.data(), length), options, nullptr);
      if (!written.ok()) return FromIo(written, "restore old bytes of " + path);
      reverted += length;
    }
    rocksdb::IOStatus closed = file->Close(options, nullptr);
    if (!closed.ok()) return FromIo(closed, "close " + path);
  }
  if (physical > durable) {
    // The real file system has no Truncate by name; a reopened writer can.
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus opened =
        target()->ReopenWritableFile(path, rocksdb::FileOptions(), &file, nullptr);
    if (!opened.ok()) return FromIo(opened, "reopen " + path);
    rocksdb::IOStatus cut = file->Truncate(durable, options, nullptr);
    if (!cut.ok()) return FromIo(cut, "truncate " + path);
    rocksdb::IOStatus closed = file->Close(options, nullptr);
    if (!closed.ok()) return FromIo(closed, "close " + path);
  }
  if (reverted > 0 || physical > durable) {
    ++report.files_cut;
    report.bytes_dropped += reverted + (physical - durable);
  }
  return Status::Ok();
}

Status PowerLossFileSystem::RevertEntries(PowerLossReport& report) {
  const rocksdb::IOOptions options;
  auto gone = [](const rocksdb::IOStatus& status) {
    return status.ok() || status.IsNotFound() || status.IsPathNotFound();
  };
  // Newest first: each entry is undone on the names as they were right after it was made.
  for (auto entry = pending_.rbegin(); entry != pending_.rend(); ++entry) {
    switch (entry->kind) {
      case PendingEntry::Kind::kCreateFile: {
        rocksdb::IOStatus removed = target()->DeleteFile(entry->path, options, nullptr);
        if (!gone(removed)) return FromIo(removed, "remove " + entry->path);
        break;
      }
      case PendingEntry::Kind::kCreateDirectory:
        MERIDIAN_RETURN_IF_ERROR(RemoveTree(entry->path));
        break;
      case PendingEntry::Kind::kRename: {
        rocksdb::IOStatus back = target()->RenameFile(entry->path, entry->from, options, nullptr);
        if (!gone(back)) return FromIo(back, "rename back " + entry->path);
        if (!entry->grave.empty()) {
          rocksdb::IOStatus restored =
              target()->RenameFile(entry->grave, entry->path, options, nullptr);
          if (!restored.ok()) return FromIo(restored, "restore " + entry->path);
        }
        break;
      }
      case PendingEntry::Kind::kDelete: {
        rocksdb::IOStatus restored =
            target()->RenameFile(entry->grave, entry->path, options, nullptr);
        if (!restored.ok()) return FromIo(restored, "restore " + entry->path);
        break;
      }
      case PendingEntry::Kind::kDeleteDirectory: {
        rocksdb::IOStatus made = target()->CreateDirIfMissing(entry->path, options, nullptr);
        if (!made.ok()) return FromIo(made, "recreate " + entry->path);
        break;
      }
    }
    ++report.entries_reverted;
  }
  return Status::Ok();
}

// A directory whose creation was not durable takes its whole contents with it.
Status PowerLossFileSystem::RemoveTree(const std::string& path) {
  const rocksdb::IOOptions options;
  std::vector<std::string> children;
  rocksdb::IOStatus listed = target()->GetChildren(path, options, &children, nullptr);
  if (listed.IsNotFound() || listed.IsPathNotFound()) return Status::Ok();
  if (!listed.ok()) return FromIo(listed, "list " + path);
  for (const std::string& child : children) {
    if (child == "." || child == "..") continue;
    const std::string child_path = path + "/" + child;
    bool is_directory = false;
    rocksdb::IOStatus checked = target()->IsDirectory(child_path, options, &is_directory, nullptr);
    if (!checked.ok()) return FromIo(checked, "stat " + child_path);
    if (is_directory) {
      MERIDIAN_RETURN_IF_ERROR(RemoveTree(child_path));
      continue;
    }
    rocksdb::IOStatus removed = target()->DeleteFile(child_path, options, nullptr);
    if (!removed.ok()) return FromIo(removed, "remove " + child_path);
  }
  rocksdb::IOStatus removed = target()->DeleteDir(path, options, nullptr);
  if (!removed.ok()) return FromIo(removed, "remove directory " + path);
  return Status::Ok();
}

}  // namespace meridian::storage
