// Rebuilding a partition's TictacTree from the objects it stores: at startup, after a crash,
// or whenever the owner chooses to rebuild rather than persist the tree. A full scan, so
// meant for those occasions only; in steady state the owner updates the tree on every write
// (TictacTree::Update).
//
// The scan itself is the caller's: anything that can visit (storage key, encoded object)
// pairs in any order (the tree is order independent) — Engine::Scan over the partition's
// key range, a snapshot iterator, a handoff stream. Nothing here knows about nodes.
// Stateless functions; thread-safe as far as the source is.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "core/status.h"
#include "storage/engine.h"
#include "storage/tictac_tree.h"

namespace meridian::storage {

// Calls `visit(storage_key, encoded_object)` for every stored object until `visit` returns
// false, and returns the status of the scan (Engine::Scan's shape).
using StoredObjectSource = std::function<Status(const ScanVisitor& visit)>;

// Adds one stored object (decoded to compute its ObjectVersionHash) to `tree` as a new key.
// Corruption (tree unchanged) when the record does not decode.
Status AddStoredObject(TictacTree& tree, std::string_view storage_key,
                       std::string_view encoded_object);

// The tree of every object `source` visits. Fails with the source's error, or Corruption
// naming the first object that does not decode (the owner decides whether to repair it).
Result<TictacTree> RebuildTictacTree(TictacShape shape, const StoredObjectSource& source);

// The tree of `partition` as stored in `engine` (Column::kObjects, PartitionRange).
Result<TictacTree> RebuildTictacTree(TictacShape shape, Engine& engine, std::uint32_t partition);

}  // namespace meridian::storage
