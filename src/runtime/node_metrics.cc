#include "runtime/node_metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace meridian::runtime {

namespace {
void Series(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            std::uint64_t value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

// A series in seconds from a count of microseconds.
void SecondsSeries(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, std::uint64_t microseconds) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name,
                     static_cast<double>(microseconds) / 1e6);
}

// One series per kind of background work, labelled kind="...".
template <typename Value>
void PerKindSeries(std::string& out, std::string_view name, std::string_view type,
                   std::string_view help, const replication::BackgroundStats& stats,
                   std::string_view extra_labels, Value value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  for (std::size_t index = 0; index < replication::kWorkKindCount; ++index) {
    const auto kind = static_cast<replication::WorkKind>(index);
    out += fmt::format("{}{{kind=\"{}\"{}}} {}\n", name, replication::WorkKindName(kind),
                       extra_labels, value(stats.of(kind)));
  }
}

void RenderReapMetrics(std::string& out, const replication::ReapCounters& reaping) {
  out += fmt::format(
      "# HELP meridian_reap_rounds_total Tombstone reaping rounds this node ran as reaper, by "
      "result (committed: every member answered; timed_out: some member did not).\n"
      "# TYPE meridian_reap_rounds_total counter\n"
      "meridian_reap_rounds_total{{result=\"committed\"}} {}\n"
      "meridian_reap_rounds_total{{result=\"timed_out\"}} {}\n",
      reaping.rounds_committed, reaping.rounds_timed_out);
  Series(out, "meridian_reap_candidates_proposed_total", "counter",
         "Tombstones this node proposed for reaping as a partition's reaper.",
         reaping.candidates_proposed);
  Series(out, "meridian_reap_candidates_accepted_total", "counter",
         "Proposed tombstones every member accepted (committed to the primaries).",
         reaping.candidates_accepted);
  Series(out, "meridian_reap_tombstones_reaped_total", "counter",
         "Tombstones deleted from this node's objects column by reaping.",
         reaping.tombstones_reaped);
  Series(out, "meridian_reap_deletes_skipped_total", "counter",
         "Committed reaping deletes (and prunes) skipped because the object changed since the "
         "round.",
         reaping.deletes_skipped);
  Series(out, "meridian_reap_objects_pruned_total", "counter",
         "Objects rewritten here without their superseded single-use clock entries (hedged "
         "forwarding's versions), by reaping rounds.",
         reaping.objects_pruned);
  Series(out, "meridian_reap_single_use_entries_pruned_total", "counter",
         "Superseded single-use clock entries those rewrites forgot.",
         reaping.single_use_entries_pruned);
  Series(out, "meridian_reap_prunes_proposed_on_demand_total", "counter",
         "Prune candidates this node proposed in rounds on demand (a key stored with enough "
         "superseded single-use entries, proposed without waiting for the reaping interval).",
         reaping.prunes_proposed_on_demand);
  Series(out, "meridian_reap_prunes_on_demand_undone_total", "counter",
         "Prune candidates of rounds on demand whose previous prune on demand had been undone "
         "(its entries came back, as a client chaining contexts brings them); each such key "
         "waits twice as long before its next round on demand.",
         reaping.prunes_on_demand_undone);
  out +=
      "# HELP meridian_reap_partitions_refused_total Partitions refused in this node's "
      "rounds, by the first reason a member gave.\n"
      "# TYPE meridian_reap_partitions_refused_total counter\n";
  for (const auto& [reason, count] : reaping.partitions_refused) {
    out +=
        fmt::format("meridian_reap_partitions_refused_total{{reason=\"{}\"}} {}\n", reason, count);
  }
  out +=
      "# HELP meridian_reap_keys_rejected_total Candidates rejected in this node's rounds, by "
      "reason.\n"
      "# TYPE meridian_reap_keys_rejected_total counter\n";
  for (const auto& [reason, count] : reaping.keys_rejected) {
    out += fmt::format("meridian_reap_keys_rejected_total{{reason=\"{}\"}} {}\n", reason, count);
  }
}

void RenderBackgroundMetrics(std::string& out, const replication::BackgroundStats& stats) {
  using Kind = replication::BackgroundKindStats;
  PerKindSeries(out, "meridian_background_bytes_total", "counter",
                "Bytes (keys plus encoded objects) background work was granted, by kind.", stats,
                "", [](const Kind& kind) { return kind.bytes_granted; });
  PerKindSeries(out, "meridian_background_objects_total", "counter",
                "Objects background work was granted, by kind.", stats, "",
                [](const Kind& kind) { return kind.objects_granted; });
  // Two label sets of one metric: the byte budget's refusals and the stream limit's.
  out += fmt::format(
      "# HELP meridian_background_throttled_total Requests of background work the governor "
      "refused (asked again later), by kind and by the limit that refused them.\n"
      "# TYPE meridian_background_throttled_total counter\n");
  for (std::size_t index = 0; index < replication::kWorkKindCount; ++index) {
    const auto kind = static_cast<replication::WorkKind>(index);
    const Kind& counts = stats.of(kind);
    const std::string_view name = replication::WorkKindName(kind);
    out += fmt::format(
        "meridian_background_throttled_total{{kind=\"{}\",limit=\"bytes\"}} {}\n"
        "meridian_background_throttled_total{{kind=\"{}\",limit=\"streams\"}} {}\n",
        name, counts.spend_refused, name, counts.streams_refused);
  }
  PerKindSeries(out, "meridian_background_streams", "gauge",
                "Background streams (partition transfers) holding a slot now, by kind.", stats, "",
                [](const Kind& kind) { return kind.streams_held; });
  Series(out, "meridian_background_bytes_per_second_limit", "gauge",
         "The background budget (background_bytes_per_second); 0: unlimited.",
         stats.bytes_per_second);
  Series(out, "meridian_background_streams_limit", "gauge",
         "Background streams allowed at once (background_streams_max); 0: unlimited.",
         stats.streams_max);
  Series(out, "meridian_background_paused", "gauge",
         "1 while an operator has paused background work (POST /v1/cluster/background).",
         stats.paused ? 1 : 0);
}
}  // namespace

std::string RenderNodeMetrics(const node::NodeStats& stats) {
  std::string out;
  Series(out, "meridian_hints_pending", "gauge",
         "Objects this node holds for unreachable primaries, counted once per primary owed.",
         stats.hints_pending);
  Series(out, "meridian_hint_records", "gauge", "Objects stored as hints.", stats.hint_records);
  Series(out, "meridian_hint_bytes", "gauge",
         "Bytes of stored hints (keys plus encoded records), bounded by hint_bytes_max.",
         stats.hint_bytes);
  Series(out, "meridian_hints_stored_total", "counter", "Hinted writes stored since start.",
         stats.hints_stored);
  Series(out, "meridian_hints_refused_total", "counter",
         "Hinted writes refused because hint storage was full (hints_max or hint_bytes_max).",
         stats.hints_refused);
  Series(out, "meridian_writes_refused_storage_total", "counter",
         "Client writes this node refused (507/503) because its disk was below the reserve or "
         "its storage had failed, and no other primary could take them",
         stats.writes_refused_storage);
  Series(out, "meridian_hints_delivered_total", "counter",
         "Hints handed off to their primaries since start.", stats.hints_delivered);
  Series(out, "meridian_read_repairs_total", "counter",
         "Replica copies repaired after a get found them behind.", stats.read_repairs);
  Series(out, "meridian_slow_requests_total", "counter",
         "Gets and writes coordinated or forwarded here that took slow_request_ms or more (each "
         "logged with where its time went, at most 10 lines per second).",
         stats.slow_requests);
  RenderReapMetrics(out, stats.reaping);
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
  Series(out, "meridian_forwards_fixed_total", "counter",
         "Writes this node forwarded to a primary with a version it fixed (hedged forwarding).",
         stats.forwards_fixed);
  Series(out, "meridian_forwards_hedged_total", "counter",
         "Forwarded writes routed again under their fixed version: the primary went silent or did "
         "not answer in time.",
         stats.forwards_hedged);
  Series(out, "meridian_forwards_hedged_unanswered_total", "counter",
         "Of the forwarded writes routed again, those whose primary still answered other traffic "
         "but not this write within forward_hedge_after_ms.",
         stats.forwards_hedged_unanswered);
  Series(out, "meridian_fixed_versions_refused_total", "counter",
         "Forwarded writes refused here because the key's clock held single_use_entries_max "
         "single-use entries (sent again with an ordinary dot).",
         stats.fixed_versions_refused);
  Series(out, "meridian_coordinators_in_flight", "gauge",
         "Gets and writes this node is coordinating.", stats.coordinators);
  Series(out, "meridian_partition_transfers", "gauge",
         "Partition streams running: ownership transfers and replica copies.", stats.transfers);
  Series(out, "meridian_replica_copies_queued", "gauge",
         "Partitions waiting to be handed off or copied to a new replica.", stats.copies_queued);
  Series(out, "meridian_strong_operations_total", "counter",
         "Strong-bucket gets, puts and deletes this node coordinated to the end.",
         stats.strong_operations);
  Series(out, "meridian_strong_one_round_trip_total", "counter",
         "Of those, operations done in one round trip (agreeing reads, fast-path writes).",
         stats.strong_one_round_trip);
  Series(out, "meridian_strong_round_trips_total", "counter",
         "Consensus phases (round trips to the acceptors) those operations took.",
         stats.strong_round_trips);
  Series(out, "meridian_strong_in_flight", "gauge",
         "Strong-bucket operations this node is coordinating now.", stats.strong_in_flight);
  out += fmt::format(
      "# HELP meridian_strong_moves_total Moves of partitions' strong configurations this node "
      "ran, by outcome (started, succeeded, failed).\n"
      "# TYPE meridian_strong_moves_total counter\n"
      "meridian_strong_moves_total{{outcome=\"started\"}} {}\n"
      "meridian_strong_moves_total{{outcome=\"succeeded\"}} {}\n"
      "meridian_strong_moves_total{{outcome=\"failed\"}} {}\n",
      stats.strong_moves_started, stats.strong_moves_succeeded, stats.strong_moves_failed);
  Series(out, "meridian_strong_operations_restarted_total", "counter",
         "Strong operations run again under a newer configuration of their partition.",
         stats.strong_operations_restarted);
  out += fmt::format(
      "# HELP meridian_strong_refused_total Requests this node's acceptor did not serve because "
      "of their configuration epoch, by reason.\n"
      "# TYPE meridian_strong_refused_total counter\n"
      "meridian_strong_refused_total{{reason=\"moved\"}} {}\n"
      "meridian_strong_refused_total{{reason=\"not_ready\"}} {}\n"
      "meridian_strong_refused_total{{reason=\"not_member\"}} {}\n",
      stats.strong_refused_moved, stats.strong_refused_not_ready, stats.strong_refused_not_member);
  RenderBackgroundMetrics(out, stats.background);
  Series(out, "meridian_background_acks_waiting", "gauge",
         "Acks of hint and handoff batches this node applied, held while its background budget "
         "is in debt.",
         stats.background_acks_waiting);
  Series(out, "meridian_background_acks_held_total", "counter",
         "Acks of applied background batches that were held back by the budget.",
         stats.ack_pacing.acks_held);
  out += fmt::format(
      "# HELP meridian_background_acks_held_seconds_total Time those acks were held, summed.\n"
      "# TYPE meridian_background_acks_held_seconds_total counter\n"
      "meridian_background_acks_held_seconds_total {:.3f}\n",
      static_cast<double>(stats.ack_pacing.held_ms_total) / 1000.0);
  return out;
}

std::string RenderEventLoopMetrics(const NodeService::LoopStats& stats) {
  std::string out;
  Series(out, "meridian_event_loop_stalls_total", "counter",
         "Times the node's event-loop thread was held 50 ms or more (a tick fired that late).",
         stats.stalls);
  SecondsSeries(out, "meridian_event_loop_stall_seconds_total", "counter",
                "How late those ticks fired, summed.", stats.stall_microseconds);
  SecondsSeries(out, "meridian_event_loop_longest_stall_seconds", "gauge",
                "The longest stall since the start.", stats.longest_stall_microseconds);
  SecondsSeries(out, "meridian_node_tick_seconds_total", "counter",
                "Time the node spent in its periodic ticks.", stats.tick_microseconds);
  Series(out, "meridian_node_slow_ticks_total", "counter", "Node ticks that took 50 ms or more.",
         stats.slow_ticks);
  Series(out, "meridian_commit_syncs_total", "counter",
         "Group commits synced (each makes a batch of writes durable before their replies).",
         stats.syncs);
  SecondsSeries(out, "meridian_commit_sync_seconds_total", "counter",
                "Time from each sync's start to its replies' release, summed.",
                stats.sync_microseconds);
  SecondsSeries(out, "meridian_commit_longest_sync_seconds", "gauge",
                "The longest sync since the start.", stats.longest_sync_microseconds);
  Series(out, "meridian_commit_slow_syncs_total", "counter", "Syncs that took 50 ms or more.",
         stats.slow_syncs);
  Series(out, "meridian_commit_early_messages_total", "counter",
         "Messages sent without waiting for the writes of the input that produced them (strong "
         "coordinators' requests to other acceptors).",
         stats.early_messages);
  Series(out, "meridian_commit_inline_writes_total", "counter",
         "Commits made on the event loop itself: no write asked for sync and no sync was in "
         "flight, so the WAL write (no fsync) was done there and their replies left at once.",
         stats.inline_writes);
  SecondsSeries(out, "meridian_commit_inline_write_seconds_total", "counter",
                "Time the event loop spent in those WAL writes.", stats.inline_write_microseconds);
  return out;
}

std::string RenderShardRouterMetrics(std::uint64_t queue_full, std::uint64_t unroutable) {
  std::string out;
  Series(out, "meridian_shard_peer_messages_dropped_total", "counter",
         "Peer messages dropped because their shard's queue was full (a shard slower than its "
         "peers' traffic; every protocol retries what matters).",
         queue_full);
  Series(out, "meridian_shard_peer_messages_unroutable_total", "counter",
         "Peer messages dropped because no shard of this node could take them (an answer to no "
         "request of this node).",
         unroutable);
  return out;
}

std::string RenderPeerListenerMetrics(const TransportStats& stats, bool tls) {
  std::string out;
  Series(out, "meridian_peer_tls_enabled", "gauge",
         "1 when peer connections use mutual TLS, 0 when they are plaintext (insecure).",
         tls ? 1 : 0);
  Series(out, "meridian_peer_connections_accepted_total", "counter",
         "Peer connections accepted by the listener.", stats.connections_accepted);
  Series(out, "meridian_peer_connections_refused_total", "counter",
         "Peer connections closed at once: over the inbound connection limit.",
         stats.connections_refused);
  Series(out, "meridian_peer_tls_handshakes_failed_total", "counter",
         "Inbound peer connections refused in the TLS handshake (no certificate of the cluster's "
         "CA, not a node certificate, or not TLS at all).",
         stats.tls_handshakes_failed);
  Series(out, "meridian_peer_handshakes_completed_total", "counter",
         "Inbound peer handshakes accepted.", stats.handshakes_completed);
  Series(out, "meridian_peer_handshakes_rejected_total", "counter",
         "Inbound peer handshakes refused (other cluster or protocol version, a node claiming a "
         "name its certificate does not carry).",
         stats.handshakes_rejected);
  Series(out, "meridian_peer_pending_handshakes", "gauge",
         "Inbound peer connections still in their handshakes (not yet authenticated).",
         stats.pending_handshakes);
  Series(out, "meridian_peer_pending_evicted_total", "counter",
         "Unauthenticated peer connections closed to make room for newer ones (over 64).",
         stats.pending_evicted);
  Series(out, "meridian_peer_handshake_timeouts_total", "counter",
         "Inbound peer connections closed for sending no handshake in time.",
         stats.handshake_timeouts);
  Series(out, "meridian_peer_messages_unknown_total", "counter",
         "Peer messages of a kind this release does not know (from a newer release during an "
         "upgrade); ignored.",
         stats.messages_unknown);
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
  Series(out, "meridian_rocksdb_live_sst_bytes", "gauge",
         "Bytes of the live RocksDB SST files on disk, every column family.",
         memory.live_sst_bytes);
  Series(out, "meridian_rocksdb_running_flushes", "gauge", "RocksDB memtable flushes running now.",
         memory.running_flushes);
  Series(out, "meridian_rocksdb_running_compactions", "gauge", "RocksDB compactions running now.",
         memory.running_compactions);
  Series(out, "meridian_rocksdb_pending_compaction_bytes", "gauge",
         "Bytes RocksDB estimates its compactions still have to rewrite, every column family.",
         memory.pending_compaction_bytes);
  return out;
}

std::string RenderStorageConditionMetrics(const StorageMonitor::Stats& stats, bool writable,
                                          std::uint64_t commit_failures) {
  std::string out;
  Series(out, "meridian_storage_free_bytes", "gauge",
         "Bytes free to the server on the file system of the data directory",
         stats.space.free_bytes);
  Series(out, "meridian_storage_size_bytes", "gauge",
         "Size of the file system of the data directory in bytes", stats.space.total_bytes);
  Series(out, "meridian_storage_reserve_bytes", "gauge",
         "Free-space reserve: below it the node takes no new data (storage_reserve_bytes)",
         stats.reserve_bytes);
  Series(out, "meridian_storage_writable", "gauge",
         "1 when the node takes new data; 0 while its disk is below the reserve or its storage "
         "failed (writes answer 507 or 503, reads go on)",
         writable ? 1 : 0);
  Series(out, "meridian_storage_below_reserve", "gauge",
         "1 while the free space is below the reserve", stats.below_reserve ? 1 : 0);
  Series(out, "meridian_storage_failed", "gauge",
         "1 while the storage engine is stopped on an error (a WAL write, flush or compaction "
         "failed) and not recovered yet",
         stats.engine_failed ? 1 : 0);
  Series(out, "meridian_storage_recoveries_total", "counter",
         "Recoveries of the storage engine from a failure, without a restart", stats.recoveries);
  Series(out, "meridian_storage_commit_failures_total", "counter",
         "Group commits (WAL write and sync) that failed; their replies were errors",
         commit_failures);
  return out;
}

std::string RenderInputBudgetMetrics(const ByteBudget& budget) {
  std::string out;
  Series(out, "meridian_input_budget_bytes", "gauge",
         "Bound on the bytes held for input still arriving, over every connection "
         "(input_bytes_max)",
         budget.capacity());
  Series(out, "meridian_input_budget_used_bytes", "gauge",
         "Bytes held now for partial HTTP bodies, RESP commands and peer frames", budget.used());
  Series(out, "meridian_input_budget_refused_total", "counter",
         "Reservations the input budget refused (HTTP 503, RESP -BUSY, or a peer link waiting)",
         budget.refused());
  return out;
}

void Accumulate(node::NodeStats& total, const node::NodeStats& shard) {
  total.hints_pending += shard.hints_pending;
  total.hint_records += shard.hint_records;
  total.hints_stored += shard.hints_stored;
  total.hints_refused += shard.hints_refused;
  total.writes_refused_storage += shard.writes_refused_storage;
  total.hints_delivered += shard.hints_delivered;
  total.read_repairs += shard.read_repairs;
  total.slow_requests += shard.slow_requests;
  total.forwards_fixed += shard.forwards_fixed;
  total.forwards_hedged += shard.forwards_hedged;
  total.forwards_hedged_unanswered += shard.forwards_hedged_unanswered;
  total.fixed_versions_refused += shard.fixed_versions_refused;
  // Peers, not shard-owned things: a silent peer is suspected by the shell and (through its
  // view) by every follower, so the node's figure is the most any shard suspects, not the sum.
  total.peers_suspected = std::max(total.peers_suspected, shard.peers_suspected);
  total.aae_exchanges += shard.aae_exchanges;
  total.aae_exchanges_in_sync += shard.aae_exchanges_in_sync;
  total.aae_exchanges_failed += shard.aae_exchanges_failed;
  total.aae_keys_sent += shard.aae_keys_sent;
  total.aae_keys_received += shard.aae_keys_received;
  total.coordinators += shard.coordinators;
  total.transfers += shard.transfers;
  total.copies_queued += shard.copies_queued;
  total.hint_bytes += shard.hint_bytes;
  total.background_acks_waiting += shard.background_acks_waiting;
  total.strong_operations += shard.strong_operations;
  total.strong_one_round_trip += shard.strong_one_round_trip;
  total.strong_round_trips += shard.strong_round_trips;
  total.strong_in_flight += shard.strong_in_flight;
  total.strong_moves_started += shard.strong_moves_started;
  total.strong_moves_succeeded += shard.strong_moves_succeeded;
  total.strong_moves_failed += shard.strong_moves_failed;
  total.strong_operations_restarted += shard.strong_operations_restarted;
  total.strong_refused_moved += shard.strong_refused_moved;
  total.strong_refused_not_ready += shard.strong_refused_not_ready;
  total.strong_refused_not_member += shard.strong_refused_not_member;
  total.ack_pacing.acks_held += shard.ack_pacing.acks_held;
  total.ack_pacing.acks_expired += shard.ack_pacing.acks_expired;
  total.ack_pacing.held_ms_total += shard.ack_pacing.held_ms_total;
  for (std::size_t kind = 0; kind < total.background.kinds.size(); ++kind) {
    replication::BackgroundKindStats& sum = total.background.kinds[kind];
    const replication::BackgroundKindStats& add = shard.background.kinds[kind];
    sum.bytes_granted += add.bytes_granted;
    sum.objects_granted += add.objects_granted;
    sum.requests_granted += add.requests_granted;
    sum.spend_refused += add.spend_refused;
    sum.streams_refused += add.streams_refused;
    sum.streams_held += add.streams_held;
  }
  total.background.bytes_per_second += shard.background.bytes_per_second;
  total.background.streams_max += shard.background.streams_max;
  total.background.paused = total.background.paused || shard.background.paused;
  replication::ReapCounters& reaping = total.reaping;
  reaping.rounds_started += shard.reaping.rounds_started;
  reaping.rounds_committed += shard.reaping.rounds_committed;
  reaping.rounds_timed_out += shard.reaping.rounds_timed_out;
  reaping.rounds_skipped += shard.reaping.rounds_skipped;
  reaping.candidates_proposed += shard.reaping.candidates_proposed;
  reaping.candidates_accepted += shard.reaping.candidates_accepted;
  reaping.tombstones_reaped += shard.reaping.tombstones_reaped;
  reaping.deletes_skipped += shard.reaping.deletes_skipped;
  reaping.objects_pruned += shard.reaping.objects_pruned;
  reaping.single_use_entries_pruned += shard.reaping.single_use_entries_pruned;
  reaping.prunes_proposed_on_demand += shard.reaping.prunes_proposed_on_demand;
  reaping.prunes_on_demand_undone += shard.reaping.prunes_on_demand_undone;
  for (const auto& [reason, count] : shard.reaping.partitions_refused) {
    reaping.partitions_refused[reason] += count;
  }
  for (const auto& [reason, count] : shard.reaping.keys_rejected) {
    reaping.keys_rejected[reason] += count;
  }
}

void Accumulate(NodeService::LoopStats& total, const NodeService::LoopStats& shard) {
  total.stalls += shard.stalls;
  total.stall_microseconds += shard.stall_microseconds;
  total.longest_stall_microseconds =
      std::max(total.longest_stall_microseconds, shard.longest_stall_microseconds);
  total.slow_ticks += shard.slow_ticks;
  total.tick_microseconds += shard.tick_microseconds;
  total.syncs += shard.syncs;
  total.sync_microseconds += shard.sync_microseconds;
  total.longest_sync_microseconds =
      std::max(total.longest_sync_microseconds, shard.longest_sync_microseconds);
  total.slow_syncs += shard.slow_syncs;
  total.early_messages += shard.early_messages;
  total.inline_writes += shard.inline_writes;
  total.inline_write_microseconds += shard.inline_write_microseconds;
}

void Accumulate(storage::RocksDbMemory& total, const storage::RocksDbMemory& shard) {
  total.block_cache_capacity += shard.block_cache_capacity;
  total.block_cache_usage += shard.block_cache_usage;
  total.memtables += shard.memtables;
  total.table_readers += shard.table_readers;
  total.live_sst_bytes += shard.live_sst_bytes;
  total.running_flushes += shard.running_flushes;
  total.running_compactions += shard.running_compactions;
  total.pending_compaction_bytes += shard.pending_compaction_bytes;
}

}  // namespace meridian::runtime
