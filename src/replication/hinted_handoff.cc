// Hinted handoff. Record format: docs/format/hints.md.
//
// Per-tick cost is bounded. Records live in one column keyed by object (not by target), so
// finding a target's records means scanning; no scan reads more than ScanLimit() =
// 4 * batch_objects_max records:
//   * one sweep from maintenance_cursor_ replaces targets that are no longer primaries of the
//     record's partition (needed for targets that are never reachable again, whose records
//     the delivery scans below never visit). The sweeps of all the node's partitions share one
//     budget of ScanLimit() records per tick (NodeHintState::sweep_records_left): a sweep of
//     every partition with hints on every tick cost a node with hints in 250 partitions
//     ~64,000 record reads per tick, and raised the p99 of the requests it coordinated
//     4-fold while it delivered hints (bench/background_p99.py, docs/replication.md);
//   * for each target that is due (no batch in flight, backoff over, reachable), one delivery
//     scan from the target's own cursor fills its batch (and replaces stale targets of the
//     records it reads), stopping early when the batch is full. Once the background budget
//     holds a batch back, no further batch is built in that Tick.
// So one Tick reads at most ScanLimit() * (1 + targets due) records, and the targets with
// pending hints are the nodes the fallback stood in for (bounded by the cluster size). Cursors
// wrap around the column, so every record is revisited: one that changed after it was sent
// (and so kept its target on the ack) goes out again when the target's cursor comes back
// round. A lost or refused batch rewinds the target's cursor to where the batch's scan began.
#include "replication/hinted_handoff.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "core/format_version.h"
#include "core/object_codec.h"
#include "replication/object_merge.h"
#include "storage/key_encoding.h"

namespace meridian::replication {
namespace {

constexpr std::uint8_t kHintFormatVersion = 1;
constexpr std::size_t kScanRecordsPerBatchObject = 4;

bool Names(const std::vector<cluster::NodeId>& targets, const cluster::NodeId& node) {
  return std::binary_search(targets.begin(), targets.end(), node);
}

// The sorted, distinct union of two sorted, distinct lists.
std::vector<cluster::NodeId> Union(const std::vector<cluster::NodeId>& a,
                                   const std::vector<cluster::NodeId>& b) {
  std::vector<cluster::NodeId> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

std::vector<cluster::NodeId> SortedDistinct(std::vector<cluster::NodeId> nodes) {
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  return nodes;
}

// What one stored record counts against hint_bytes_max.
std::uint64_t RecordBytes(std::string_view key, std::string_view encoded_record) {
  return key.size() + encoded_record.size();
}

}  // namespace

std::string EncodeHintRecord(const HintRecord& record) {
  // A record that would not decode must never reach the disk.
  MERIDIAN_CHECK(!record.targets.empty());
  std::string out;
  out.push_back(static_cast<char>(kHintFormatVersion));
  PutVarint64(out, record.targets.size());
  for (std::size_t i = 0; i < record.targets.size(); ++i) {
    MERIDIAN_CHECK(!record.targets[i].empty());
    MERIDIAN_CHECK(i == 0 || record.targets[i - 1] < record.targets[i]);
    PutLengthPrefixed(out, record.targets[i]);
  }
  PutLengthPrefixed(out, EncodeObject(record.object));
  return out;
}

Result<HintRecord> DecodeHintRecord(std::string_view bytes) {
  ByteReader reader(bytes);
  std::uint8_t version = 0;
  if (!reader.ReadByte(version)) return Status::Corruption("hint record is empty");
  if (version != kHintFormatVersion) {
    return UnknownFormatVersion("hint record", version, kHintFormatVersion);
  }
  std::uint64_t target_count = 0;
  // Every target takes at least two bytes, which bounds the count by what is left.
  if (!reader.ReadVarint64(target_count) || target_count > reader.remaining() / 2) {
    return Status::Corruption("hint record targets are truncated");
  }
  if (target_count == 0) return Status::Corruption("hint record has no target");
  HintRecord record;
  record.targets.reserve(static_cast<std::size_t>(target_count));
  for (std::uint64_t i = 0; i < target_count; ++i) {
    std::string_view target;
    if (!reader.ReadLengthPrefixed(target)) {
      return Status::Corruption("hint record targets are truncated");
    }
    if (target.empty()) return Status::Corruption("hint record has an empty target");
    if (!record.targets.empty() && !(record.targets.back() < target)) {
      return Status::Corruption("hint record targets are not sorted and distinct");
    }
    record.targets.emplace_back(target);
  }
  std::string_view object_bytes;
  if (!reader.ReadLengthPrefixed(object_bytes)) {
    return Status::Corruption("hint record object is truncated");
  }
  if (!reader.empty()) return Status::Corruption("hint record has trailing bytes");
  auto object = DecodeObject(object_bytes);
  if (!object.ok()) return Status::Corruption("hint record object: " + object.status().message());
  record.object = std::move(object).value();
  return record;
}

NodeHintState::NodeHintState(HintedHandoffConfig config) : config(config) {
  MERIDIAN_CHECK(config.batch_objects_max > 0);
  MERIDIAN_CHECK(config.batch_bytes_max > 0);
  MERIDIAN_CHECK(config.retry_initial_ms > 0);
  MERIDIAN_CHECK(config.retry_initial_ms <= config.retry_max_ms);
  MERIDIAN_CHECK(config.batches_held_max > 0);
}

Result<std::optional<HintRecord>> FindHintRecord(storage::Engine& engine,
                                                 std::string_view storage_key) {
  auto stored = engine.Get(storage::Column::kHints, storage_key);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::optional<HintRecord>();
  auto record = DecodeHintRecord(**stored);
  if (!record.ok()) {
    return Status::Corruption("the stored hint is unreadable: " + record.status().message());
  }
  return std::optional<HintRecord>(std::move(record).value());
}

HintedHandoff::HintedHandoff(std::uint32_t partition, storage::Engine& engine,
                             BackgroundBudget& budget, NodeHintState& node)
    : partition_(partition),
      range_(storage::PartitionRange(partition)),
      engine_(engine),
      budget_(budget),
      node_(node),
      config_(node.config) {}

HintedHandoff::~HintedHandoff() {
  MERIDIAN_CHECK(node_.records >= records_ && node_.bytes >= bytes_ && node_.pending >= pending_ &&
                 node_.batches_held >= held_);
  node_.records -= records_;
  node_.bytes -= bytes_;
  node_.pending -= pending_;
  node_.batches_held -= held_;
}

Status HintedHandoff::Open() {
  // Whatever was counted before is forgotten first (Open may run again).
  node_.records -= records_;
  node_.bytes -= bytes_;
  node_.pending -= pending_;
  node_.batches_held -= held_;
  records_ = 0;
  bytes_ = 0;
  pending_ = 0;
  held_ = 0;
  targets_.clear();
  maintenance_cursor_.clear();
  Status corrupt;
  MERIDIAN_RETURN_IF_ERROR(engine_.Scan(
      storage::Column::kHints, range_.begin, range_.end,
      [&](std::string_view key, std::string_view value) {
        auto record = DecodeHintRecord(value);
        if (!record.ok()) {
          corrupt = Status::Corruption("a stored hint is unreadable: " + record.status().message());
          return false;
        }
        Account({}, record->targets, 0, RecordBytes(key, value));
        return true;
      }));
  return corrupt;
}

Status HintedHandoff::StoreHint(std::string_view storage_key, const DvvSet& object,
                                const std::vector<cluster::NodeId>& targets, bool sync) {
  // Tick needs the partition of every record to check its targets.
  auto decoded_key = storage::DecodeObjectKey(storage_key);
  if (!decoded_key.ok()) {
    return Status::InvalidArgument("hint key: " + decoded_key.status().message());
  }
  if (decoded_key->partition != partition_) {
    return Status::InvalidArgument(
        "hint key of partition " + std::to_string(decoded_key->partition) +
        " stored with the hints of partition " + std::to_string(partition_));
  }
  if (targets.empty()) return Status::InvalidArgument("a hint needs at least one target");
  for (const cluster::NodeId& target : targets) {
    MERIDIAN_RETURN_IF_ERROR(cluster::ValidateNodeId(target));
  }

  auto stored = engine_.Get(storage::Column::kHints, storage_key);
  if (!stored.ok()) return stored.status();
  HintRecord record;
  std::uint64_t bytes_before = 0;
  if (stored->has_value()) {
    auto decoded = DecodeHintRecord(**stored);
    if (!decoded.ok()) {
      return Status::Corruption("the stored hint is unreadable: " + decoded.status().message());
    }
    record = std::move(decoded).value();
    bytes_before = RecordBytes(storage_key, **stored);
    MERIDIAN_RETURN_IF_ERROR(record.object.MergeFrom(object));
  } else {
    if (node_.records >= config_.hints_max) {
      ++node_.counters.hints_refused;
      return Status::Unavailable("hint storage is full (" + std::to_string(config_.hints_max) +
                                 " records); the write needs a reachable primary");
    }
    record.object = object;
  }
  const std::vector<cluster::NodeId> before = record.targets;
  record.targets = Union(before, SortedDistinct(targets));

  std::string encoded = EncodeHintRecord(record);
  const std::uint64_t bytes_after = RecordBytes(storage_key, encoded);
  if (bytes_after > bytes_before) {
    const std::uint64_t growth = bytes_after - bytes_before;
    MERIDIAN_CHECK(node_.bytes >= bytes_before);
    if (node_.bytes + growth > config_.hint_bytes_max) {
      ++node_.counters.hints_refused;
      return Status::Unavailable(
          "hint storage is full: " + std::to_string(node_.bytes) + " bytes of " +
          std::to_string(config_.hint_bytes_max) + " (hint_bytes_max) are held and this hint " +
          (bytes_before == 0 ? "needs " : "would grow its record by ") + std::to_string(growth) +
          " bytes; the write needs a reachable primary");
    }
  }

  storage::WriteBatch write;
  write.Put(storage::Column::kHints, std::string(storage_key), std::move(encoded));
  MERIDIAN_RETURN_IF_ERROR(engine_.Write(write, storage::WriteOptions{.sync = sync}));
  Account(before, record.targets, bytes_before, bytes_after);
  ++node_.counters.hints_stored;
  return Status::Ok();
}

bool HintedHandoff::idle() const {
  return records_ == 0 && pending_ == 0 && held_ == 0 && targets_.empty() && outbound_.empty();
}

void HintedHandoff::ReleaseHeld() {
  MERIDIAN_CHECK(held_ > 0 && node_.batches_held > 0);
  --held_;
  --node_.batches_held;
}

void HintedHandoff::Tick(std::uint64_t now_ms, const HintRouting& routing) {
  PrimariesCache primaries;

  // Unanswered batches are lost: their records go out again, in a new batch.
  for (auto& [node, state] : targets_) {
    if (state.in_flight.has_value() &&
        now_ms >= state.in_flight->sent_ms + config_.ack_timeout_ms) {
      state.cursor = state.in_flight->scan_from;
      state.in_flight.reset();
      ReleaseHeld();
    }
  }

  // The stale-target sweep, within the node's sweep budget for this tick (shared by every
  // partition ticked at the same now_ms). An engine error leaves everything for the next tick.
  if (node_.sweep_tick_ms != now_ms) {
    node_.sweep_tick_ms = now_ms;
    node_.sweep_records_left = ScanLimit();
  }
  std::vector<Rewrite> rewrites;
  auto resume =
      node_.sweep_records_left == 0
          ? Result<std::string>(maintenance_cursor_)
          : ScanHints(maintenance_cursor_, [&](std::string_view key, std::string_view value) {
              if (node_.sweep_records_left == 0) return false;  // the rest of this round next tick
              --node_.sweep_records_left;
              auto record = DecodeHintRecord(value);
              if (!record.ok()) return true;  // left for an operator; Open reports it
              std::vector<cluster::NodeId> before = record->targets;
              if (ReplaceStaleTargets(key, *record, routing, primaries)) {
                rewrites.push_back(Rewrite{std::string(key), std::move(before),
                                           RecordBytes(key, value), std::move(record).value()});
              }
              return true;
            });
  if (resume.ok() && WriteRewrites(rewrites).ok()) maintenance_cursor_ = std::move(resume).value();

  // Delivery. The names are copied first: rewrites may add targets. A batch the budget held
  // back goes first.
  std::vector<cluster::NodeId> due;
  for (const auto& [node, state] : targets_) {
    if (state.pending > 0 && !state.in_flight.has_value() && state.next_attempt_ms <= now_ms) {
      due.push_back(node);
    }
  }
  std::stable_partition(due.begin(), due.end(), [&](const cluster::NodeId& node) {
    return targets_.at(node).prepared.has_value();
  });
  for (const cluster::NodeId& node : due) {
    if (!routing.reachable_address) break;
    auto found = targets_.find(node);
    if (found == targets_.end() || found->second.pending == 0) continue;
    TargetState& state = found->second;
    const std::optional<std::string> address = routing.reachable_address(node);
    if (!address.has_value()) {
      // Waits; nothing else does. Its held-back batch is dropped and rescanned later.
      if (state.prepared.has_value()) {
        state.cursor = state.prepared->scan_from;
        state.prepared.reset();
        ReleaseHeld();
      }
      continue;
    }
    if (!state.prepared.has_value()) {
      if (node_.batches_held >= config_.batches_held_max) break;  // memory: the rest wait
      BuildBatch(node, state, routing, primaries);
    }
    if (!state.prepared.has_value()) continue;          // nothing for it in this scan
    if (!SendPrepared(state, *address, now_ms)) break;  // the budget said no: the rest wait
  }
  ForgetIdleTargets();
}

void HintedHandoff::Receive(const std::string& /*from_address*/, const proto::HintAck& ack,
                            std::uint64_t now_ms) {
  auto found = std::find_if(targets_.begin(), targets_.end(), [&](const auto& entry) {
    return entry.second.in_flight.has_value() && entry.second.in_flight->batch_id == ack.batch_id();
  });
  if (found == targets_.end()) return;  // unknown, duplicate or timed out: ignored
  const cluster::NodeId target = found->first;
  TargetState& state = found->second;
  InFlight sent = std::move(*state.in_flight);
  state.in_flight.reset();
  ReleaseHeld();

  if (ack.status_code() != 0) {
    ++node_.counters.batches_refused;
    state.cursor = sent.scan_from;
    state.backoff_ms = state.backoff_ms == 0 ? config_.retry_initial_ms
                                             : std::min(state.backoff_ms * 2, config_.retry_max_ms);
    state.next_attempt_ms = now_ms + state.backoff_ms;
    return;
  }
  state.backoff_ms = 0;
  state.next_attempt_ms = 0;

  // The target holds each entry as sent; a record whose object changed since still owes it the
  // change and keeps the target.
  std::vector<Rewrite> delivered;
  for (const auto& [key, encoded] : sent.entries) {
    auto stored = engine_.Get(storage::Column::kHints, key);
    if (!stored.ok() || !stored->has_value()) continue;
    auto record = DecodeHintRecord(**stored);
    if (!record.ok()) continue;
    auto position = std::lower_bound(record->targets.begin(), record->targets.end(), target);
    if (position == record->targets.end() || *position != target) continue;
    if (EncodeObject(record->object) != encoded) continue;
    std::vector<cluster::NodeId> before = record->targets;
    record->targets.erase(position);
    delivered.push_back(
        Rewrite{key, std::move(before), RecordBytes(key, **stored), std::move(record).value()});
  }
  // Unsynced: a lost removal only delivers the hint once more, and merging is idempotent.
  if (!WriteRewrites(delivered).ok()) {
    state.cursor = sent.scan_from;
    return;
  }
  node_.counters.hints_delivered += delivered.size();
  ForgetIdleTargets();
}

std::vector<cluster::Outbound> HintedHandoff::TakeOutbound() {
  std::vector<cluster::Outbound> taken;
  taken.swap(outbound_);
  return taken;
}

std::size_t HintedHandoff::ScanLimit() const {
  return std::max<std::size_t>(1, kScanRecordsPerBatchObject * config_.batch_objects_max);
}

Result<std::string> HintedHandoff::ScanHints(
    const std::string& from,
    const std::function<bool(std::string_view key, std::string_view value)>& visit) {
  const std::size_t limit = ScanLimit();
  std::size_t visited = 0;
  std::optional<std::string> resume;
  const storage::ScanVisitor visitor = [&](std::string_view key, std::string_view value) {
    if (visited == limit || !visit(key, value)) {
      resume = std::string(key);
      return false;
    }
    ++visited;
    return true;
  };
  // A cursor outside the partition's range (none yet: "") starts at its first key.
  const bool in_range = from >= range_.begin && (range_.end.empty() || from < range_.end);
  const std::string start = in_range ? from : range_.begin;
  MERIDIAN_RETURN_IF_ERROR(engine_.Scan(storage::Column::kHints, start, range_.end, visitor));
  if (resume.has_value()) return std::move(*resume);
  if (start == range_.begin) return std::string();  // the whole range
  MERIDIAN_RETURN_IF_ERROR(engine_.Scan(storage::Column::kHints, range_.begin, start, visitor));
  if (resume.has_value()) return std::move(*resume);
  return start;  // a full round
}

bool HintedHandoff::ReplaceStaleTargets(std::string_view key, HintRecord& record,
                                        const HintRouting& routing, PrimariesCache& primaries) {
  if (!routing.primaries) return false;
  auto decoded = storage::DecodeObjectKey(key);
  if (!decoded.ok()) return false;  // StoreHint admits object keys only
  auto cached = primaries.find(decoded->partition);
  if (cached == primaries.end()) {
    cached =
        primaries.emplace(decoded->partition, SortedDistinct(routing.primaries(decoded->partition)))
            .first;
  }
  const std::vector<cluster::NodeId>& current = cached->second;
  // No primaries known (routing not ready): dropping targets now could lose the hint.
  if (current.empty()) return false;
  std::vector<cluster::NodeId> kept;
  std::set_intersection(record.targets.begin(), record.targets.end(), current.begin(),
                        current.end(), std::back_inserter(kept));
  if (kept.size() == record.targets.size()) return false;
  record.targets = Union(kept, current);
  return true;
}

Status HintedHandoff::WriteRewrites(const std::vector<Rewrite>& rewrites) {
  if (rewrites.empty()) return Status::Ok();
  storage::WriteBatch write;
  std::vector<std::uint64_t> bytes_after;
  bytes_after.reserve(rewrites.size());
  for (const Rewrite& rewrite : rewrites) {
    if (rewrite.record.targets.empty()) {
      write.Delete(storage::Column::kHints, rewrite.key);
      bytes_after.push_back(0);
    } else {
      std::string encoded = EncodeHintRecord(rewrite.record);
      bytes_after.push_back(RecordBytes(rewrite.key, encoded));
      write.Put(storage::Column::kHints, rewrite.key, std::move(encoded));
    }
  }
  MERIDIAN_RETURN_IF_ERROR(engine_.Write(write, storage::WriteOptions{.sync = false}));
  for (std::size_t i = 0; i < rewrites.size(); ++i) {
    const Rewrite& rewrite = rewrites[i];
    Account(rewrite.before, rewrite.record.targets, rewrite.bytes_before, bytes_after[i]);
  }
  return Status::Ok();
}

void HintedHandoff::BuildBatch(const cluster::NodeId& target, TargetState& state,
                               const HintRouting& routing, PrimariesCache& primaries) {
  MERIDIAN_DCHECK(!state.prepared.has_value());
  MERIDIAN_DCHECK(!state.in_flight.has_value());
  InFlight batch;
  batch.scan_from = state.cursor;
  std::vector<Rewrite> rewrites;
  auto resume = ScanHints(state.cursor, [&](std::string_view key, std::string_view value) {
    auto record = DecodeHintRecord(value);
    if (!record.ok()) return true;  // left for an operator; Open reports it
    std::vector<cluster::NodeId> before = record->targets;
    const bool stale = ReplaceStaleTargets(key, *record, routing, primaries);
    const bool named = Names(record->targets, target);
    std::string encoded = named ? EncodeObject(record->object) : std::string();
    if (stale) {
      rewrites.push_back(Rewrite{std::string(key), std::move(before), RecordBytes(key, value),
                                 std::move(record).value()});
    }
    if (!named) return true;
    // At least one entry goes, however large, or an oversized object could never be sent.
    const std::size_t size = key.size() + encoded.size();
    if (!batch.entries.empty() && (batch.entries.size() >= config_.batch_objects_max ||
                                   batch.bytes + size > config_.batch_bytes_max)) {
      return false;  // the next batch starts here
    }
    batch.bytes += size;
    batch.entries.emplace(std::string(key), std::move(encoded));
    return true;
  });
  if (!resume.ok()) return;
  // The batch is built from the rewritten records; it goes only if they are stored so.
  if (!WriteRewrites(rewrites).ok()) return;
  state.cursor = std::move(resume).value();
  if (batch.entries.empty()) return;
  state.prepared = std::move(batch);
  ++held_;
  ++node_.batches_held;
}

bool HintedHandoff::SendPrepared(TargetState& state, const std::string& address,
                                 std::uint64_t now_ms) {
  MERIDIAN_CHECK(state.prepared.has_value());
  InFlight& batch = *state.prepared;
  if (!budget_.TrySpend(WorkKind::kHintReplay,
                        WorkSize{.bytes = batch.bytes, .objects = batch.entries.size()}, now_ms)) {
    return false;
  }
  batch.batch_id = node_.next_batch_id++;
  batch.address = address;
  batch.sent_ms = now_ms;
  proto::PeerMessage message;
  proto::HintBatch& hints = *message.mutable_hint_batch();
  hints.set_batch_id(batch.batch_id);
  hints.set_partition(partition_);
  for (const auto& [key, encoded] : batch.entries) {
    proto::HandoffEntry& entry = *hints.add_entries();
    entry.set_storage_key(key);
    entry.set_encoded_object(encoded);
  }
  outbound_.push_back(cluster::Outbound{address, std::move(message)});
  state.in_flight = std::move(state.prepared);
  state.prepared.reset();
  ++node_.counters.batches_sent;
  return true;
}

void HintedHandoff::Account(const std::vector<cluster::NodeId>& before,
                            const std::vector<cluster::NodeId>& after, std::uint64_t bytes_before,
                            std::uint64_t bytes_after) {
  // A record exists exactly when it names a target, and then it has bytes.
  MERIDIAN_CHECK(before.empty() == (bytes_before == 0));
  MERIDIAN_CHECK(after.empty() == (bytes_after == 0));
  MERIDIAN_CHECK(bytes_ >= bytes_before && node_.bytes >= bytes_before);
  bytes_ = bytes_ - bytes_before + bytes_after;
  node_.bytes = node_.bytes - bytes_before + bytes_after;
  if (before.empty() && !after.empty()) {
    ++records_;
    ++node_.records;
  }
  if (!before.empty() && after.empty()) {
    MERIDIAN_CHECK(records_ > 0 && node_.records > 0);
    --records_;
    --node_.records;
  }
  for (const cluster::NodeId& node : before) {
    TargetState& state = targets_[node];
    MERIDIAN_CHECK(state.pending > 0);
    MERIDIAN_CHECK(pending_ > 0 && node_.pending > 0);
    --state.pending;
    --pending_;
    --node_.pending;
  }
  for (const cluster::NodeId& node : after) {
    ++targets_[node].pending;
    ++pending_;
    ++node_.pending;
  }
}

void HintedHandoff::ForgetIdleTargets() {
  std::erase_if(targets_, [this](const auto& entry) {
    const TargetState& state = entry.second;
    if (state.pending != 0 || state.in_flight.has_value()) return false;
    if (state.prepared.has_value()) ReleaseHeld();  // nothing left to deliver to it
    return true;
  });
}

proto::HintAck ApplyHintBatch(storage::Engine& engine, const proto::HintBatch& batch) {
  proto::HintAck ack;
  ack.set_batch_id(batch.batch_id());
  ack.set_partition(batch.partition());
  auto refuse = [&](const Status& status) {
    ack.set_status_code(static_cast<std::uint32_t>(status.code()));
    ack.set_status_message(status.message());
    return ack;
  };

  // Everything is validated and merged before anything is written. Entries repeating a key
  // merge with each other first.
  std::map<std::string, DvvSet, std::less<>> incoming;
  for (int index = 0; index < batch.entries_size(); ++index) {
    const proto::HandoffEntry& entry = batch.entries(index);
    auto key = storage::DecodeObjectKey(entry.storage_key());
    Status valid = key.status();
    if (valid.ok() && key->partition != batch.partition()) {
      valid = Status::Corruption("its key is of partition " + std::to_string(key->partition) +
                                 ", the batch's is " + std::to_string(batch.partition()));
    }
    auto object = DecodeObject(entry.encoded_object());
    if (valid.ok() && !object.ok()) valid = object.status();
    if (!valid.ok()) {
      return refuse(Status::Corruption("entry " + std::to_string(index) + " of hint batch " +
                                       std::to_string(batch.batch_id()) + ": " + valid.message()));
    }
    auto [slot, inserted] = incoming.try_emplace(entry.storage_key());
    if (inserted) {
      slot->second = std::move(object).value();
    } else if (Status merged = slot->second.MergeFrom(*object); !merged.ok()) {
      return refuse(merged);
    }
  }

  storage::WriteBatch write;
  for (const auto& [storage_key, object] : incoming) {
    auto merged = MergedObjectPut(engine, storage_key, object);
    if (!merged.ok()) return refuse(merged.status());
    if (merged->has_value()) write.ops.push_back(std::move(**merged));
  }
  // Synced even when nothing changed: the ack promises the entries are durable here, and a
  // synced write makes every earlier write durable too.
  const Status written = engine.Write(write, storage::WriteOptions{.sync = true});
  if (!written.ok()) return refuse(written);
  return ack;
}

}  // namespace meridian::replication
