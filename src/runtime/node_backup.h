// NodeBackup: the server's BackupService. A backup of a running node is a checkpoint of its
// engine (storage::RocksDbEngine::Checkpoint) written into <directory>/db, then <directory>/
// backup.json (runtime/backup_manifest.h). Everything the node persists is in the engine:
// objects, hints, metadata (identity, incarnation, cluster state, bucket properties),
// the anti-entropy index and strong acceptor records; the rest of <data_dir> is RocksDB's own
// or test-only, and certificates and the users file are configured by path, not kept there.
//
// The copy runs on a thread of its own (one backup at a time), so the event loop keeps
// serving while RocksDB flushes and links files; the report is delivered on the loop.
//
// Thread-safety: Backup and Shutdown on the event-loop thread. What `checkpoint` copies and the
// io_context must outlive the NodeBackup; Shutdown (or the destructor) waits for a backup in
// flight, whose `done` then never runs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/backup_service.h"
#include "core/status.h"
#include "runtime/backup_manifest.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace meridian::runtime {

// Writes a consistent copy of shard `shard`'s database (0 for a node of one shard) into a new
// directory; called on the backup thread while the node runs (RocksDbEngine::Checkpoint). The
// shards of a node are copied one after the other: each copy is consistent, and since every
// partition lives in one shard, so is every partition's data.
using CheckpointFunction = std::function<Status(std::uint32_t shard, const std::string& directory)>;

class NodeBackup final : public api::BackupService {
 public:
  // What backup.json says about the node, read on the loop when a backup starts (node id,
  // cluster, ring version, incarnation; `created_unix_ms` is filled in here).
  using ManifestSource = std::function<BackupManifest()>;

  NodeBackup(boost::asio::io_context& io, CheckpointFunction checkpoint, ManifestSource manifest);
  ~NodeBackup() override;
  NodeBackup(const NodeBackup&) = delete;
  NodeBackup& operator=(const NodeBackup&) = delete;

  void Backup(api::BackupRequest request, Done done) override;
  // Waits for the backup in flight; later Backup calls answer Unavailable. Idempotent.
  void Shutdown();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the completion posted to the loop
};

// The backup itself, synchronously on the calling thread: creates `directory` (and missing
// parents; InvalidArgument when it exists or is relative), checkpoints each of the
// manifest's `shards` databases into <directory>/<ShardDatabaseDirectory(s)>, writes
// backup.json. On failure the directory it created is removed.
Result<api::BackupReport> WriteBackup(const CheckpointFunction& checkpoint,
                                      const std::string& directory, const BackupManifest& manifest);

}  // namespace meridian::runtime
