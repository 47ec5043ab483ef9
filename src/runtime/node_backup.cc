#include "runtime/node_backup.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <utility>

#include "runtime/commit_worker.h"

namespace meridian::runtime {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct NodeBackup::Impl {
  Impl(asio::io_context& io_context, CheckpointFunction copy, ManifestSource source)
      : io(io_context), checkpoint(std::move(copy)), manifest(std::move(source)) {}

  asio::io_context& io;
  CheckpointFunction checkpoint;
  ManifestSource manifest;
  bool running = false;    // loop only: a backup was handed to the worker and not reported
  bool shut_down = false;  // loop only
  CommitWorker worker;     // last: its thread ends first
};

NodeBackup::NodeBackup(asio::io_context& io, CheckpointFunction checkpoint, ManifestSource manifest)
    : impl_(std::make_shared<Impl>(io, std::move(checkpoint), std::move(manifest))) {}

NodeBackup::~NodeBackup() {
  Shutdown();
}

void NodeBackup::Shutdown() {
  impl_->shut_down = true;
  impl_->worker.Join();
}

void NodeBackup::Backup(api::BackupRequest request, Done done) {
  Impl& impl = *impl_;
  if (impl.shut_down) {
    return asio::post(
        impl.io, [done = std::move(done)] { done(Status::Unavailable("the node is stopping")); });
  }
  if (impl.running) {
    return asio::post(impl.io, [done = std::move(done)] {
      done(Status::Unavailable("a backup of this node is already running; retry when it ends"));
    });
  }
  impl.running = true;
  BackupManifest manifest = impl.manifest();
  manifest.created_unix_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  std::weak_ptr<Impl> weak = impl_;
  impl.worker.Run([&checkpoint = impl.checkpoint, &io = impl.io, weak,
                   manifest = std::move(manifest), directory = std::move(request.directory),
                   done = std::move(done)]() mutable {
    Result<api::BackupReport> report = WriteBackup(checkpoint, directory, manifest);
    asio::post(io, [weak, report = std::move(report), done = std::move(done)]() mutable {
      std::shared_ptr<Impl> alive = weak.lock();
      if (!alive || alive->shut_down) return;
      alive->running = false;
      done(std::move(report));
    });
  });
}

Result<api::BackupReport> WriteBackup(const CheckpointFunction& checkpoint,
                                      const std::string& directory,
                                      const BackupManifest& manifest) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path path(directory);
  if (!path.is_absolute()) {
    return Status::InvalidArgument("backup directory '" + directory + "' is not absolute");
  }
  std::error_code error;
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), error);
    if (error) {
      return Status::IoError("cannot create " + path.parent_path().string() + ": " +
                             error.message());
    }
  }
  // create_directory is false for a directory that exists: refused, never written into.
  const bool created = fs::create_directory(path, error);
  if (error) return Status::IoError("cannot create " + directory + ": " + error.message());
  if (!created) {
    return Status::InvalidArgument("backup directory '" + directory +
                                   "' already exists; a backup goes into a new directory");
  }
  const auto remove_partial = [&path] {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  };
  for (std::uint32_t shard = 0; shard < manifest.shards; ++shard) {
    if (Status copied = checkpoint(shard, (path / ShardDatabaseDirectory(shard)).string());
        !copied.ok()) {
      remove_partial();
      return copied;
    }
  }
  if (Status written = WriteBackupManifest(directory, manifest); !written.ok()) {
    remove_partial();
    return written;
  }
  api::BackupReport report;
  report.directory = directory;
  report.node_id = manifest.node_id;
  report.cluster_name = manifest.cluster_name;
  report.ring_version = manifest.ring_version;
  for (auto it = fs::recursive_directory_iterator(path, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (!it->is_regular_file(error)) continue;
    report.bytes += it->file_size(error);
    ++report.files;
  }
  report.milliseconds =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - start)
                                     .count());
  return report;
}

}  // namespace meridian::runtime
