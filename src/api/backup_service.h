// BackupService: what POST /v1/cluster/backup needs from the server — a consistent copy of
// this node's data written into a directory on its machine (docs/operations.md "Backup and
// restore"). The runtime implements it (runtime/node_backup.h); the HTTP layer only validates
// the request and renders the report.
//
// Thread-safety: Backup is called on the event-loop thread, and `done` runs there exactly
// once, later (the copy itself is made elsewhere, so the loop keeps serving meanwhile).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"

namespace meridian::api {

struct BackupRequest {
  std::string directory;  // absolute; must not exist yet
};

// What a finished backup wrote.
struct BackupReport {
  std::string directory;
  std::string node_id;
  std::string cluster_name;
  std::uint64_t ring_version = 0;
  std::uint64_t bytes = 0;  // every file of the backup, summed
  std::uint64_t files = 0;
  std::uint64_t milliseconds = 0;  // from the request to the copy's last sync
};

class BackupService {
 public:
  using Done = std::function<void(Result<BackupReport>)>;
  virtual ~BackupService() = default;
  // InvalidArgument for a directory that is relative or exists; Unavailable while another
  // backup of this node runs (one at a time); IoError when the copy cannot be written.
  virtual void Backup(BackupRequest request, Done done) = 0;
};

}  // namespace meridian::api
