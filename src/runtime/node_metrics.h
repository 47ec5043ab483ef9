// The node's replication gauges and counters (node::NodeStats) and its storage memory in the
// Prometheus text format,
// appended to the HTTP front end's /metrics (docs/operations.md lists every series).
#pragma once

#include <string>

#include "node/node.h"
#include "runtime/node_service.h"
#include "runtime/peer_transport.h"
#include "storage/rocksdb_engine.h"

namespace meridian::runtime {

std::string RenderNodeMetrics(const node::NodeStats& stats);
// The event loop's stalls and the time spent in node ticks (NodeService::LoopStats).
std::string RenderEventLoopMetrics(const NodeService::LoopStats& stats);
// The peer listener: connections accepted and refused, handshakes (TLS and Meridian's).
std::string RenderPeerListenerMetrics(const TransportStats& stats, bool tls);
// RocksDB's memory: block cache capacity and usage, memtables, table readers.
std::string RenderStorageMemoryMetrics(const storage::RocksDbMemory& memory);

}  // namespace meridian::runtime
