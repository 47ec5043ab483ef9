#include "runtime/reshard.h"

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "node/resharded_data.h"
#include "runtime/backup_manifest.h"
#include "runtime/backup_restore.h"
#include "runtime/file_sync.h"
#include "storage/rocksdb_engine.h"

namespace meridian::runtime {
namespace {

namespace fs = std::filesystem;

std::uint64_t UnixMillis() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// The shard count of the databases in `directory`: db/ and every db-shard-<s>/ after it,
// counted up to the first missing one (0 without db/).
std::uint32_t CountShardDatabases(const fs::path& directory) {
  std::error_code error;
  std::uint32_t count = 0;
  while (fs::is_directory(directory / ShardDatabaseDirectory(count), error)) ++count;
  return count;
}

Result<std::unique_ptr<storage::RocksDbEngine>> OpenDatabase(const fs::path& path, bool create) {
  storage::RocksDbOptions options;
  options.create_if_missing = create;
  options.block_cache_bytes = 32u << 20;
  options.write_buffer_bytes = 32u << 20;
  return storage::RocksDbEngine::Open(path.string(), options);
}

Status RenameDirectory(const fs::path& from, const fs::path& to) {
  std::error_code error;
  if (fs::exists(to, error)) {
    return Status::IoError("cannot move " + from.string() + " to " + to.string() + ": it exists");
  }
  fs::rename(from, to, error);
  if (error) {
    return Status::IoError("cannot move " + from.string() + " to " + to.string() + ": " +
                           error.message());
  }
  return Status::Ok();
}

struct ReadyMarker {
  std::uint32_t shards = 0;
  std::string aside;
};

Status WriteReadyMarker(const fs::path& staging, const ReadyMarker& marker) {
  const fs::path path = staging / kReshardReadyFile;
  {
    std::ofstream out(path, std::ios::trunc);
    out << marker.shards << "\n" << marker.aside << "\n";
    if (!out.flush()) return Status::IoError("cannot write " + path.string());
  }
  MERIDIAN_RETURN_IF_ERROR(SyncPath(path.string(), O_RDONLY));
  return SyncPath(staging.string(), O_RDONLY | O_DIRECTORY);
}

Result<ReadyMarker> ReadReadyMarker(const fs::path& staging) {
  const fs::path path = staging / kReshardReadyFile;
  std::ifstream in(path);
  ReadyMarker marker;
  std::string count;
  if (!std::getline(in, count) || !std::getline(in, marker.aside) || marker.aside.empty()) {
    return Status::IoError(path.string() + " is malformed; move " + staging.string() +
                           " away and check the data directory by hand");
  }
  try {
    marker.shards = static_cast<std::uint32_t>(std::stoul(count));
  } catch (const std::exception&) {
    return Status::IoError(path.string() + " is malformed");
  }
  if (marker.shards == 0) return Status::IoError(path.string() + " is malformed");
  return marker;
}

// The swap after READY (see reshard.h); idempotent, so a second run finishes an interrupted one.
Status SwapIn(const fs::path& data_dir, const fs::path& staging, const ReadyMarker& marker) {
  std::error_code error;
  const fs::path aside(marker.aside);
  fs::create_directories(aside, error);
  if (error) return Status::IoError("cannot create " + aside.string() + ": " + error.message());
  // The old databases leave first: a name still in staging, or beyond the new count, is old.
  std::vector<std::string> old_names;
  for (const fs::directory_entry& entry : fs::directory_iterator(data_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name != "db" && !name.starts_with("db-shard-")) continue;
    bool in_new_layout = false;
    for (std::uint32_t shard = 0; shard < marker.shards; ++shard) {
      in_new_layout = in_new_layout || name == ShardDatabaseDirectory(shard);
    }
    if (!in_new_layout || fs::exists(staging / name)) old_names.push_back(name);
  }
  if (error) return Status::IoError("cannot list " + data_dir.string() + ": " + error.message());
  for (const std::string& name : old_names) {
    MERIDIAN_RETURN_IF_ERROR(RenameDirectory(data_dir / name, aside / name));
  }
  MERIDIAN_RETURN_IF_ERROR(SyncPath(aside.string(), O_RDONLY | O_DIRECTORY));
  for (std::uint32_t step = 0; step < marker.shards; ++step) {
    const std::string name = ShardDatabaseDirectory(marker.shards - 1 - step);
    if (fs::exists(staging / name)) {
      MERIDIAN_RETURN_IF_ERROR(RenameDirectory(staging / name, data_dir / name));
    }
  }
  MERIDIAN_RETURN_IF_ERROR(SyncPath(data_dir.string(), O_RDONLY | O_DIRECTORY));
  fs::remove(staging / kReshardReadyFile, error);
  if (error) return Status::IoError("cannot remove the marker in " + staging.string());
  fs::remove_all(staging, error);
  if (error) return Status::IoError("cannot remove " + staging.string() + ": " + error.message());
  return SyncPath(data_dir.string(), O_RDONLY | O_DIRECTORY);
}

}  // namespace

Status CheckNoReshardPending(const std::string& data_dir) {
  std::error_code error;
  const fs::path ready = fs::path(data_dir) / kReshardStagingDirectory / kReshardReadyFile;
  if (!fs::exists(ready, error)) return Status::Ok();
  return Status::FailedPrecondition("an interrupted reshard waits in " + data_dir + " (" +
                                    ready.string() + "); run `meridian reshard --data-dir " +
                                    data_dir + "` to finish it before starting the node");
}

Result<ReshardReport> ReshardDataDirectory(const ReshardOptions& options) {
  Result<std::string> absolute = AbsoluteDirectoryPath(options.data_dir, "--data-dir");
  if (!absolute.ok()) return absolute.status();
  std::error_code error;
  const fs::path data_dir(*absolute);
  const fs::path staging = data_dir / kReshardStagingDirectory;
  ReshardReport report;
  report.data_dir = data_dir.string();

  // Every database the directory has, old or new, must be closed.
  for (const fs::path& base : {data_dir, staging}) {
    for (std::uint32_t shard = 0; shard < CountShardDatabases(base) + 1; ++shard) {
      Result<bool> locked = DatabaseLocked((base / ShardDatabaseDirectory(shard)).string());
      if (!locked.ok()) return locked.status();
      if (*locked) {
        return Status::FailedPrecondition(data_dir.string() +
                                          " is in use by a running node; stop it before "
                                          "resharding");
      }
    }
  }

  if (fs::exists(staging / kReshardReadyFile, error)) {
    Result<ReadyMarker> marker = ReadReadyMarker(staging);
    if (!marker.ok()) return marker.status();
    if (options.shards != 0 && options.shards != marker->shards) {
      return Status::FailedPrecondition(
          "an interrupted reshard to " + std::to_string(marker->shards) + " shards waits in " +
          data_dir.string() + "; finish it first (`meridian reshard --data-dir " +
          data_dir.string() + "`), then reshard again");
    }
    MERIDIAN_RETURN_IF_ERROR(SwapIn(data_dir, staging, *marker));
    report.to_shards = marker->shards;
    report.moved_aside = marker->aside;
    report.finished_interrupted = true;
    return report;
  }
  if (options.shards == 0) return Status::InvalidArgument("--shards must be at least 1");

  const std::uint32_t old_count = CountShardDatabases(data_dir);
  if (old_count == 0) {
    return Status::FailedPrecondition(data_dir.string() + " holds no node data (no db/ directory)");
  }
  if (old_count == options.shards) {
    return Status::FailedPrecondition(data_dir.string() + " already has " +
                                      std::to_string(old_count) + " shard" +
                                      (old_count == 1 ? "" : "s") + "; nothing to do");
  }
  // A staging directory without READY is a build that did not finish: start again.
  fs::remove_all(staging, error);
  if (error) return Status::IoError("cannot remove " + staging.string() + ": " + error.message());
  fs::create_directory(staging, error);
  if (error) return Status::IoError("cannot create " + staging.string() + ": " + error.message());

  {
    std::vector<std::unique_ptr<storage::RocksDbEngine>> owned;
    std::vector<storage::Engine*> from;
    std::vector<storage::Engine*> to;
    for (std::uint32_t shard = 0; shard < old_count; ++shard) {
      auto engine = OpenDatabase(data_dir / ShardDatabaseDirectory(shard), /*create=*/false);
      if (!engine.ok()) return engine.status();
      from.push_back(engine->get());
      owned.push_back(std::move(engine).value());
    }
    for (std::uint32_t shard = 0; shard < options.shards; ++shard) {
      auto engine = OpenDatabase(staging / ShardDatabaseDirectory(shard), /*create=*/true);
      if (!engine.ok()) return engine.status();
      to.push_back(engine->get());
      owned.push_back(std::move(engine).value());
    }
    Result<node::ReshardCounts> counts = node::ReshardData(from, to);
    if (!counts.ok()) {
      owned.clear();
      fs::remove_all(staging, error);
      return counts.status();
    }
    report.objects = counts->objects;
    report.hints = counts->hints;
    report.strong_records = counts->strong_records;
    report.bytes = counts->bytes;
  }  // every database closed here
  for (std::uint32_t shard = 0; shard < options.shards; ++shard) {
    MERIDIAN_RETURN_IF_ERROR(
        SyncPath((staging / ShardDatabaseDirectory(shard)).string(), O_RDONLY | O_DIRECTORY));
  }
  MERIDIAN_RETURN_IF_ERROR(SyncPath(staging.string(), O_RDONLY | O_DIRECTORY));

  const ReadyMarker marker{options.shards,
                           data_dir.string() + ".before-reshard-" + std::to_string(UnixMillis())};
  MERIDIAN_RETURN_IF_ERROR(WriteReadyMarker(staging, marker));
  MERIDIAN_RETURN_IF_ERROR(SwapIn(data_dir, staging, marker));
  report.from_shards = old_count;
  report.to_shards = options.shards;
  report.moved_aside = marker.aside;
  return report;
}

}  // namespace meridian::runtime
