// The migration of a data directory from storage format 1 (0.1.0) to format 2 (0.2.0), run by
// Node::Open on the bare engine once LocalStore::Open accepted the directory.
//
// Format 2 keeps the objects in Column::kObjectsBySegment (storage::SegmentOrderedObjects:
// anti-entropy segment order, each version hash in front of its record) and has no
// anti-entropy index. The migration moves the objects over in batches, each of which puts
// some objects under their new keys and deletes them from the old column atomically, so a
// crash at any point leaves every object in exactly one of the two columns and the next start
// goes on with what is left. Then it empties the old index, deletes its metadata key and
// records format 2 (synced). Object records themselves are not rewritten.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/status.h"
#include "storage/engine.h"

namespace meridian::node {

struct StorageMigrationReport {
  bool migrated = false;  // the directory was format 1 (now 2)
  std::uint64_t objects_moved = 0;
  std::uint64_t index_entries_dropped = 0;
};

// Does nothing (migrated = false) when the directory is already format 2. Corruption, with
// the key, when an object record does not decode (its hash cannot be taken): nothing of that
// batch is written, and the directory stays format 1.
Result<StorageMigrationReport> MigrateToSegmentOrderedObjects(
    storage::Engine& bare, std::size_t batch_objects_max = 1'000);

}  // namespace meridian::node
