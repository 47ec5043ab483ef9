// The wire form of a strong proposer's request (shared by coordinations and moves).
#pragma once

#include <cstdint>
#include <string>

#include "proto/strong.pb.h"
#include "replication/strong_proposer.h"

namespace meridian::node {

// `epoch`: the configuration the proposer uses (0 for a partition's configuration register).
proto::StrongRequest StrongRequestToWire(const replication::StrongRequest& request,
                                         const std::string& storage_key, std::uint64_t request_id,
                                         std::uint64_t epoch);

}  // namespace meridian::node
