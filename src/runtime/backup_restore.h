// RestoreBackup: `meridian restore` — puts a backup (runtime/node_backup.h) in place as a
// stopped node's data, so that the next `meridian serve --data-dir <data_dir>` (with the
// backup's node id and cluster name) comes back as that member, with the data it had when
// the backup was taken.
//
// Offline only: refused while a process holds <data_dir>/db (RocksDB's LOCK file), and when
// <data_dir> is not empty unless `force`, which moves the old directory aside (renamed, never
// deleted). The backup is copied, not linked: it stays usable for another restore.
//
// Why the restored node cannot reuse a dot (a write's (actor, counter) name), whatever the
// backup: before the copy is put in place it is prepared (node/restored_data.h) so that its
// first Open behaves as after a crash — a fresh actor id and fresh partition actors — and
// every write it coordinates is named anew, never like one the node minted after the backup.
// A backup of a running node needs no preparing for that (it holds the "node open" marker);
// a copy of a stopped node's directory would (its saved actors would be kept).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "runtime/backup_manifest.h"

namespace meridian::runtime {

struct RestoreOptions {
  std::string backup_directory;  // holds backup.json and db/ (and db-shard-<s>/ for shards)
  std::string data_dir;          // the stopped node's data directory
  bool force = false;            // move a non-empty data_dir aside instead of refusing
  // The highest incarnation of this node its peers know (cluster status), 0 when unknown:
  // the restored data's stored incarnation is raised to it, so that the node's next start
  // is newer than every life it had after the backup (node/restored_data.h).
  std::uint64_t incarnation_floor = 0;
};

struct RestoreReport {
  BackupManifest manifest;
  std::string data_dir;
  std::string moved_aside;  // where the old data_dir went; empty when there was none
  std::uint64_t bytes = 0;
  std::uint64_t files = 0;
  std::uint64_t stored_incarnation = 0;  // afterwards; the next start runs one higher
};

// NotFound: backup_directory is not a finished backup. FailedPrecondition: data_dir is in use
// by a running process, or not empty without `force`. InvalidArgument: a bad manifest.
// IoError: a copy or rename failed (a partial copy is removed; a directory moved aside stays
// where the error names it).
Result<RestoreReport> RestoreBackup(const RestoreOptions& options);

// True when another process holds RocksDB's lock on the database in `db_directory` (its LOCK
// file, an fcntl write lock); false when it is unlocked or absent. Not for a process that has
// that database open: closing the probe's descriptor would drop the process's own lock (POSIX
// record locks are per process and die with any descriptor of the file).
Result<bool> DatabaseLocked(const std::string& db_directory);

}  // namespace meridian::runtime
