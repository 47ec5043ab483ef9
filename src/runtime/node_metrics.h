// The node's replication gauges and counters (node::NodeStats) in the Prometheus text format,
// appended to the HTTP front end's /metrics (docs/operations.md lists every series).
#pragma once

#include <string>

#include "node/node.h"

namespace meridian::runtime {

std::string RenderNodeMetrics(const node::NodeStats& stats);

}  // namespace meridian::runtime
