#include "runtime/backup_restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>

#include "node/metadata_keys.h"
#include "node/restored_data.h"
#include "runtime/file_sync.h"
#include "storage/rocksdb_engine.h"

namespace meridian::runtime {
namespace {

namespace fs = std::filesystem;

// Copies the regular files and directories under `from` into the new directory `to`, each
// file synced, then every directory synced. Anything else (a symlink, a socket) is refused:
// a checkpoint holds none.
Status CopyTree(const fs::path& from, const fs::path& to, RestoreReport& report) {
  std::error_code error;
  if (!fs::create_directory(to, error) || error) {
    return Status::IoError("cannot create " + to.string() +
                           (error ? ": " + error.message() : ": it exists"));
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(from, error)) {
    const fs::path target = to / entry.path().filename();
    const fs::file_status status = entry.symlink_status(error);
    if (error) return Status::IoError("cannot stat " + entry.path().string());
    if (fs::is_directory(status)) {
      MERIDIAN_RETURN_IF_ERROR(CopyTree(entry.path(), target, report));
    } else if (fs::is_regular_file(status)) {
      if (!fs::copy_file(entry.path(), target, fs::copy_options::none, error) || error) {
        return Status::IoError("cannot copy " + entry.path().string() + " to " + target.string() +
                               ": " + error.message());
      }
      MERIDIAN_RETURN_IF_ERROR(SyncPath(target.string(), O_RDONLY));
      report.bytes += entry.file_size(error);
      ++report.files;
    } else {
      return Status::InvalidArgument(entry.path().string() +
                                     " is neither a file nor a directory; a backup holds none");
    }
  }
  if (error) return Status::IoError("cannot list " + from.string() + ": " + error.message());
  return SyncPath(to.string(), O_RDONLY | O_DIRECTORY);
}

std::uint64_t UnixMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// Opens the copied database (not yet where the server looks) and prepares it for its first
// start (node/restored_data.h: fresh actors, the incarnation raised to `floor`).
Status RaiseIncarnation(const std::string& db_directory, std::uint64_t floor,
                        RestoreReport& report) {
  storage::RocksDbOptions options;
  options.create_if_missing = false;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  auto engine = storage::RocksDbEngine::Open(db_directory, options);
  if (!engine.ok()) return engine.status();
  Result<std::uint64_t> stored = node::PrepareRestoredData(**engine, floor);
  if (!stored.ok()) return stored.status();
  report.stored_incarnation = *stored;
  return Status::Ok();
}

}  // namespace

Result<bool> DatabaseLocked(const std::string& db_directory) {
  const std::string lock_path = (fs::path(db_directory) / "LOCK").string();
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return ErrnoStatus("open " + lock_path);
  }
  // RocksDB locks the whole LOCK file for writing (PosixEnv LockFile, a traditional F_SETLK
  // record lock). F_OFD_GETLK reports such a lock without taking one.
  struct flock probe {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  probe.l_start = 0;
  probe.l_len = 0;
  probe.l_pid = 0;  // required by the OFD commands
  const int got = ::fcntl(fd, F_OFD_GETLK, &probe);
  const int saved = errno;
  ::close(fd);
  if (got != 0) {
    errno = saved;
    return ErrnoStatus("fcntl F_OFD_GETLK " + lock_path);
  }
  return probe.l_type != F_UNLCK;
}

Result<RestoreReport> RestoreBackup(const RestoreOptions& options) {
  if (options.backup_directory.empty()) return Status::InvalidArgument("--from is empty");
  if (options.data_dir.empty()) return Status::InvalidArgument("--data-dir is empty");
  std::error_code error;
  const fs::path backup = fs::absolute(options.backup_directory, error);
  if (error) return Status::InvalidArgument("bad backup path: " + error.message());
  Result<std::string> absolute_data_dir = AbsoluteDirectoryPath(options.data_dir, "data directory");
  if (!absolute_data_dir.ok()) return absolute_data_dir.status();
  const fs::path data_dir(*absolute_data_dir);

  Result<BackupManifest> manifest = ReadBackupManifest(backup.string());
  if (!manifest.ok()) return manifest.status();
  // Refused before anything is copied: the node would refuse the data at start.
  if (manifest->storage_format_version > node::kStorageFormatVersion ||
      manifest->storage_format_version < node::kMinStorageFormatVersion) {
    return Status::FailedPrecondition(
        "the backup holds storage format version " +
        std::to_string(manifest->storage_format_version) + " (made by Meridian " +
        manifest->meridian_version +
        "); this release (Meridian " MERIDIAN_VERSION ") reads formats " +
        std::to_string(node::kMinStorageFormatVersion) + " to " +
        std::to_string(node::kStorageFormatVersion) +
        ": restore it with the release that made it or a newer one (docs/operations.md, "
        "\"Upgrades\")");
  }
  for (std::uint32_t shard = 0; shard < manifest->shards; ++shard) {
    const fs::path backup_db = backup / ShardDatabaseDirectory(shard);
    if (!fs::is_directory(backup_db, error)) {
      return Status::NotFound(backup_db.string() + " is missing: " + backup.string() +
                              " is not a complete backup");
    }
    Result<bool> locked = DatabaseLocked((data_dir / ShardDatabaseDirectory(shard)).string());
    if (!locked.ok()) return locked.status();
    if (*locked) {
      return Status::FailedPrecondition(data_dir.string() +
                                        " is in use by a running node; stop it before restoring");
    }
  }

  RestoreReport report;
  report.manifest = std::move(*manifest);
  report.data_dir = data_dir.string();
  if (fs::exists(fs::symlink_status(data_dir, error))) {
    if (!fs::is_directory(data_dir, error)) {
      return Status::FailedPrecondition(data_dir.string() + " exists and is not a directory");
    }
    const bool empty = fs::is_empty(data_dir, error);
    if (error) return Status::IoError("cannot list " + data_dir.string() + ": " + error.message());
    if (!empty) {
      if (!options.force) {
        return Status::FailedPrecondition(
            data_dir.string() +
            " is not empty; pass --force to move it aside (it is renamed, not deleted)");
      }
      const std::string aside =
          data_dir.string() + ".before-restore-" + std::to_string(UnixMillis());
      fs::rename(data_dir, aside, error);
      if (error) {
        return Status::IoError("cannot move " + data_dir.string() + " aside to " + aside + ": " +
                               error.message());
      }
      report.moved_aside = aside;
    }
  }
  fs::create_directories(data_dir, error);
  if (error) return Status::IoError("cannot create " + data_dir.string() + ": " + error.message());

  // Each database is copied under a temporary name and renamed into place, so that a data
  // directory never holds half a database under the name the server opens; shard 0's last, so
  // that an interrupted restore of several shards leaves no db/ (the server would refuse the
  // missing shards, and a new restore with --force moves the rest aside).
  for (std::uint32_t step = 0; step < report.manifest.shards; ++step) {
    const std::uint32_t shard = report.manifest.shards - 1 - step;
    const std::string name = ShardDatabaseDirectory(shard);
    const fs::path staging = data_dir / (name + ".restoring");
    fs::remove_all(staging, error);
    if (Status copied = CopyTree(backup / name, staging, report); !copied.ok()) {
      std::error_code ignored;
      fs::remove_all(staging, ignored);
      return copied;
    }
    if (Status raised = RaiseIncarnation(staging.string(), options.incarnation_floor, report);
        !raised.ok()) {
      std::error_code ignored;
      fs::remove_all(staging, ignored);
      return raised;
    }
    fs::rename(staging, data_dir / name, error);
    if (error) {
      return Status::IoError("cannot rename " + staging.string() + ": " + error.message());
    }
  }
  MERIDIAN_RETURN_IF_ERROR(SyncPath(data_dir.string(), O_RDONLY | O_DIRECTORY));
  return report;
}

}  // namespace meridian::runtime
