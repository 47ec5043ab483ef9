#include "runtime/node_metrics.h"

#include <fmt/format.h>

#include <cstdint>
#include <string_view>

namespace meridian::runtime {

namespace {
void Series(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}
}  // namespace

std::string RenderNodeMetrics(const node::NodeStats& stats) {
  std::string out;
  Series(out, "meridian_hints_pending", "gauge",
         "Objects this node holds for unreachable primaries, counted once per primary owed.",
         stats.hints_pending);
  Series(out, "meridian_hint_records", "gauge", "Objects stored as hints.", stats.hint_records);
  Series(out, "meridian_hints_stored_total", "counter", "Hinted writes stored since start.",
         stats.hints_stored);
  Series(out, "meridian_hints_refused_total", "counter",
         "Hinted writes refused because hint storage was full.", stats.hints_refused);
  Series(out, "meridian_hints_delivered_total", "counter",
         "Hints handed off to their primaries since start.", stats.hints_delivered);
  Series(out, "meridian_read_repairs_total", "counter",
         "Replica copies repaired after a get found them behind.", stats.read_repairs);
  Series(out, "meridian_aae_exchanges_total", "counter",
         "Anti-entropy exchanges this node completed as initiator.", stats.aae_exchanges);
  Series(out, "meridian_aae_exchanges_in_sync_total", "counter",
         "Of those, exchanges whose trees were equal (nothing to repair).",
         stats.aae_exchanges_in_sync);
  Series(out, "meridian_aae_exchanges_failed_total", "counter",
         "Anti-entropy exchanges refused or timed out.", stats.aae_exchanges_failed);
  Series(out, "meridian_aae_keys_sent_total", "counter",
         "Object copies this node sent to another replica for anti-entropy repair.",
         stats.aae_keys_sent);
  Series(out, "meridian_aae_keys_received_total", "counter",
         "Object copies this node received for anti-entropy repair (merged).",
         stats.aae_keys_received);
  Series(out, "meridian_peers_suspected", "gauge",
         "Peers routed around now: sent a request and silent for peer_suspect_after_ms.",
         stats.peers_suspected);
  Series(out, "meridian_coordinators_in_flight", "gauge",
         "Gets and writes this node is coordinating.", stats.coordinators);
  Series(out, "meridian_partition_transfers", "gauge",
         "Partition streams running: ownership transfers and replica copies.", stats.transfers);
  Series(out, "meridian_replica_copies_queued", "gauge",
         "Partitions waiting to be handed off or copied to a new replica.", stats.copies_queued);
  return out;
}

std::string RenderStorageMemoryMetrics(const storage::RocksDbMemory& memory) {
  std::string out;
  Series(out, "meridian_rocksdb_block_cache_capacity_bytes", "gauge",
         "Configured RocksDB block cache size (block_cache_bytes).", memory.block_cache_capacity);
  Series(out, "meridian_rocksdb_block_cache_usage_bytes", "gauge",
         "Data, index and filter blocks in the RocksDB block cache.", memory.block_cache_usage);
  Series(out, "meridian_rocksdb_memtable_bytes", "gauge",
         "RocksDB memtables of every column family, including those being flushed.",
         memory.memtables);
  Series(out, "meridian_rocksdb_table_readers_bytes", "gauge",
         "RocksDB SST reader memory outside the block cache.", memory.table_readers);
  return out;
}

}  // namespace meridian::runtime
