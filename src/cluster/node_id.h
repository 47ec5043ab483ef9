// NodeId: the stable name of a cluster member (unlike the actor id, it survives crashes).
// 1..64 bytes of [A-Za-z0-9_.:-]; by default derived from the node's peer address.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace meridian::cluster {

using NodeId = std::string;

inline constexpr std::size_t kNodeIdBytesMax = 64;

// InvalidArgument naming the rule broken.
Status ValidateNodeId(std::string_view id);

}  // namespace meridian::cluster
