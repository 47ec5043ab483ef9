// The node's incarnation as stored in its data directory (metadata key "node/incarnation",
// node/metadata_keys.h): the one of its last start. Node::Open starts the next life at the
// stored value + 1. A node restored from a backup (runtime/backup_restore.h) may have run
// lives after the backup that its peers remember; raising the stored value to the highest
// incarnation they know makes its next start newer than all of them, so they do not ignore
// it as a previous life.
//
// Only on an engine no Node has open (not thread-safe; the engine's own rules apply).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "storage/engine.h"

namespace meridian::node {

// 0 when none is stored (the node never started); Corruption for a malformed value.
Result<std::uint64_t> ReadStoredIncarnation(storage::Engine& engine);
// Stores `at_least` (synced) when it is higher than the stored incarnation; returns the
// stored incarnation afterwards.
Result<std::uint64_t> RaiseStoredIncarnation(storage::Engine& engine, std::uint64_t at_least);

}  // namespace meridian::node
