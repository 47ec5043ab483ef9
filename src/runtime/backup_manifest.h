// BackupManifest: "backup.json", the small file beside a backup's copy of the database that
// says whose data it is. A backup directory holds:
//   db/          a checkpoint of the node's <data_dir>/db (RocksDbEngine::Checkpoint)
//   db-shard-1/, ...  of a node of several shards: a checkpoint of each other shard's database
//   backup.json  this manifest, written last: a directory without it is not a backup
// FORMAT: docs/format/backup.md; `format` is raised on any incompatible
// change, and a reader refuses formats it does not know.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace meridian::runtime {

// Format 1: one database. Format 2 (written only for a node of several shards, so that a
// release that knows only format 1 refuses it rather than restore one shard of it): `shards`
// databases. This release reads both.
inline constexpr std::uint32_t kBackupFormat = 1;
inline constexpr std::uint32_t kShardedBackupFormat = 2;
inline constexpr std::string_view kBackupManifestFile = "backup.json";
inline constexpr std::string_view kBackupDatabaseDirectory = "db";

// The directory of shard `shard`'s database, in a data directory and in a backup alike:
// "db" for shard 0, "db-shard-<s>" for the others.
std::string ShardDatabaseDirectory(std::uint32_t shard);

struct BackupManifest {
  std::uint32_t format = kBackupFormat;
  std::string node_id;
  std::string cluster_name;
  std::uint32_t partition_count = 0;
  std::uint32_t storage_format_version = 0;  // node/metadata_keys.h kStorageFormatVersion
  std::uint64_t ring_version = 0;            // of the node's ring when the backup started
  std::uint64_t incarnation = 0;             // the node's incarnation then
  std::uint64_t created_unix_ms = 0;         // wall clock when the backup started
  std::string meridian_version;              // of the server that wrote it
  std::uint32_t shards = 1;                  // databases: 1 in format 1, more in format 2
};

std::string EncodeBackupManifest(const BackupManifest& manifest);
// InvalidArgument naming what is wrong (not JSON, a missing or mistyped field, an unknown
// format).
Result<BackupManifest> DecodeBackupManifest(std::string_view text);

// Writes `<directory>/backup.json` durably (a temporary file, fsync, rename, fsync of the
// directory). IoError on failure.
Status WriteBackupManifest(const std::string& directory, const BackupManifest& manifest);
// Reads `<directory>/backup.json`. NotFound when absent (the directory is not a finished
// backup), IoError when unreadable, else as DecodeBackupManifest.
Result<BackupManifest> ReadBackupManifest(const std::string& directory);

}  // namespace meridian::runtime
