// PrepareRestoredData: what `meridian restore` does to a node's data copied back from a backup
// (runtime/backup_restore.h), on the database before any Node opens it, so that the restored
// node can never mint a dot it already used and is not taken for a previous life by its peers:
//   * the "node open" marker (node/metadata_keys.h kOpenMarkerKey) is set, so the next
//     LocalStore::Open behaves as after a crash: a fresh actor id and fresh partition actors,
//     and any partition actors a clean stop saved are dropped. A backup of a running node has
//     the marker already; a copy of a stopped node's directory would not, and keeping its
//     actors would mint again the counters the node used after the copy (partition_actors.h);
//   * the stored incarnation is raised to `incarnation_floor` (node/stored_incarnation.h).
// Only on an engine no Node has open. Returns the stored incarnation afterwards.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "storage/engine.h"

namespace meridian::node {

Result<std::uint64_t> PrepareRestoredData(storage::Engine& engine, std::uint64_t incarnation_floor);

}  // namespace meridian::node
