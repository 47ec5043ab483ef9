// Merging an incoming object state into the local copy: the one write rule every replica
// path uses (coordinator writes to replicas, read repair, hinted handoff, ownership handoff).
// DvvSet::Merge is commutative, associative and idempotent, so duplicates and reordering
// converge.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/dvv_set.h"
#include "core/status.h"
#include "storage/engine.h"

namespace meridian::replication {

// The encoded merge of `incoming` with the copy stored at (column, storage_key); nullopt when
// the stored copy already includes it (nothing to write). Corruption when the stored copy does
// not decode (overwriting it could drop writes only this replica has); Internal when the two
// hold different writes under one dot (DvvSet::Merge): nothing is merged.
Result<std::optional<std::string>> MergeWithStored(storage::Engine& engine, storage::Column column,
                                                   std::string_view storage_key,
                                                   const DvvSet& incoming);

// MergeWithStored in Column::kObjects, as the put a batch must make (with its object_hash, so
// the engines below need not decode the record again); nullopt when nothing is to be written.
Result<std::optional<storage::WriteBatch::Op>> MergedObjectPut(storage::Engine& engine,
                                                               std::string_view storage_key,
                                                               const DvvSet& incoming);

}  // namespace meridian::replication
