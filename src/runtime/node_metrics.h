// The node's replication gauges and counters (node::NodeStats) and its storage memory in the
// Prometheus text format,
// appended to the HTTP front end's /metrics (docs/operations.md lists every series).
#pragma once

#include <string>

#include "node/node.h"
#include "runtime/node_service.h"
#include "runtime/peer_transport.h"
#include "runtime/storage_monitor.h"
#include "storage/rocksdb_engine.h"

namespace meridian::runtime {

std::string RenderNodeMetrics(const node::NodeStats& stats);
// The event loop's stalls and the time spent in node ticks (NodeService::LoopStats).
std::string RenderEventLoopMetrics(const NodeService::LoopStats& stats);
// The peer listener: connections accepted and refused, handshakes (TLS and Meridian's).
std::string RenderPeerListenerMetrics(const TransportStats& stats, bool tls);
// A clustered node of several shards: peer messages its router dropped (ClusteredShards).
std::string RenderShardRouterMetrics(std::uint64_t queue_full, std::uint64_t unroutable);
// RocksDB's memory: block cache capacity and usage, memtables, table readers.
std::string RenderStorageMemoryMetrics(const storage::RocksDbMemory& memory);
// The data directory's file system, the free-space reserve and whether the node takes new
// data (StorageMonitor), with the group commits that failed (NodeService).
std::string RenderStorageConditionMetrics(const StorageMonitor::Stats& stats, bool writable,
                                          std::uint64_t commit_failures);
// The bytes held for input still arriving (partial bodies, commands, frames) and its bound.
std::string RenderInputBudgetMetrics(const ByteBudget& budget);

// A node of several shards shows their sum: counters, gauges and configured limits add up
// (each shard has its share of a limit); the longest stall and sync are the longest of any.
void Accumulate(node::NodeStats& total, const node::NodeStats& shard);
void Accumulate(NodeService::LoopStats& total, const NodeService::LoopStats& shard);
void Accumulate(storage::RocksDbMemory& total, const storage::RocksDbMemory& shard);

}  // namespace meridian::runtime
