// The condition of a conditional write in an eventual bucket (docs/api.md "Conditional
// writes"), checked against one replica's copy: the primary that coordinates the write checks
// it and mints the new version in the same step, so the check is atomic against every write
// that replica coordinates, but not against writes coordinated at the same time by another
// primary (those may still become siblings). Strong buckets check conditions atomically
// (node_strong.cc); this is the eventual counterpart.
#pragma once

#include <optional>
#include <string_view>

#include "core/dvv_set.h"
#include "core/object_id.h"
#include "core/status.h"
#include "node/client_request.h"

namespace meridian::node {

// OK when `current` (this replica's copy; nullopt = never written) satisfies `condition`:
// kIfMatch — its version is exactly `context` (a token from a get of this object; siblings and
// tombstones included); kIfAbsent — no live value; kIfPresent — a live value. A bad context is
// InvalidArgument; an unmet condition FailedPrecondition naming what the key holds.
Status CheckWriteCondition(WriteCondition condition, std::string_view context, const ObjectId& id,
                           const std::optional<DvvSet>& current);

}  // namespace meridian::node
