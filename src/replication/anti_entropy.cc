#include "replication/anti_entropy.h"

#include <algorithm>
#include <set>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "storage/key_encoding.h"
#include "storage/tictac_codec.h"
#include "storage/tictac_keys.h"

namespace meridian::replication {
namespace {
// Spreads the first exchange of each partition over the interval (a deterministic offset):
// a node that starts does not build every tree and exchange every partition at once.
std::uint64_t FirstExchangeOffsetMs(std::uint32_t partition, std::uint64_t interval_ms) {
  return (static_cast<std::uint64_t>(partition) * 7'919) % std::max<std::uint64_t>(interval_ms, 1);
}
}  // namespace

AntiEntropy::AntiEntropy(std::uint32_t partition, std::uint32_t replica_count, KeyFilter in_tree,
                         const AntiEntropyConfig& config, storage::Engine& engine,
                         std::string self_address, AntiEntropyCounters& counters,
                         BackgroundBudget& budget)
    : partition_(partition),
      replica_count_(replica_count),
      in_tree_(std::move(in_tree)),
      config_(config),
      engine_(engine),
      self_address_(std::move(self_address)),
      counters_(counters),
      budget_(budget) {
  MERIDIAN_CHECK(config_.shape.valid());
}

AntiEntropy::~AntiEntropy() {
  if (exchange_ && exchange_->slot) budget_.ReleaseStream(std::move(*exchange_->slot));
}

bool AntiEntropy::InTree(std::string_view storage_key) const {
  auto key = storage::DecodeObjectKey(storage_key);
  return key.ok() && key->partition == partition_ && (!in_tree_ || in_tree_(storage_key));
}

void AntiEntropy::OnObjectChanged(std::string_view storage_key,
                                  std::optional<std::uint64_t> old_hash,
                                  std::optional<std::uint64_t> new_hash) {
  if (tree_) tree_->Update(storage_key, old_hash, new_hash);
}

Status AntiEntropy::EnsureTree() {
  if (tree_) return Status::Ok();
  storage::TictacTree tree(config_.shape);
  MERIDIAN_RETURN_IF_ERROR(
      engine_.ScanObjectVersionHashes(partition_, std::nullopt, config_.shape.segment_bits,
                                      [&](std::string_view storage_key, std::uint64_t hash) {
                                        if (!in_tree_ || in_tree_(storage_key))
                                          tree.Update(storage_key, std::nullopt, hash);
                                        return true;
                                      }));
  tree_ = std::move(tree);
  ++counters_.tree_rebuilds;
  return Status::Ok();
}

Result<const storage::TictacTree*> AntiEntropy::Tree() {
  MERIDIAN_RETURN_IF_ERROR(EnsureTree());
  return &*tree_;
}

Status AntiEntropy::AppendKeysOf(std::uint32_t segment,
                                 std::vector<storage::KeyVersionHash>& keys) {
  return engine_.ScanObjectVersionHashes(
      partition_, segment, config_.shape.segment_bits,
      [&](std::string_view storage_key, std::uint64_t hash) {
        if (!in_tree_ || in_tree_(storage_key)) {
          keys.push_back(storage::KeyVersionHash{std::string(storage_key), hash});
        }
        return true;
      });
}

Result<std::vector<storage::KeyVersionHash>> AntiEntropy::KeysOf(
    const std::vector<std::uint32_t>& segments) {
  std::vector<storage::KeyVersionHash> keys;
  for (std::uint32_t segment : segments) MERIDIAN_RETURN_IF_ERROR(AppendKeysOf(segment, keys));
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  return keys;
}

void AntiEntropy::Tick(std::uint64_t now_ms, const std::vector<std::string>& peers) {
  if (config_.exchange_interval_ms == 0) return;
  if (exchange_ && exchange_->held_key_hashes) TrySendKeyHashes(now_ms);
  if (exchange_ && !exchange_->held_key_hashes && now_ms >= exchange_->deadline_ms) {
    Finish(now_ms, /*failed=*/true, false);
  }
  if (next_exchange_ms_ == 0) {
    next_exchange_ms_ = now_ms + FirstExchangeOffsetMs(partition_, config_.exchange_interval_ms);
  }
  if (exchange_ || peers.empty() || now_ms < next_exchange_ms_) return;
  Start(now_ms, peers[next_peer_++ % peers.size()]);
  // Each peer once per interval (the next start is rescheduled when this one ends).
  next_exchange_ms_ = now_ms + config_.exchange_interval_ms / peers.size();
}

void AntiEntropy::Start(std::uint64_t now_ms, const std::string& peer) {
  if (Status built = EnsureTree(); !built.ok()) {
    ++counters_.exchanges_failed;
    return;
  }
  exchange_ = Exchange{
      next_exchange_id_++, peer,        false, false, now_ms + config_.exchange_timeout_ms, {},
      std::nullopt,        std::nullopt};
  cluster::Outbound& out = outbound_.emplace_back();
  out.to_address = peer;
  proto::AaeExchangeStart* start = out.message.mutable_aae_exchange_start();
  start->set_exchange_id(exchange_->id);
  start->set_partition(partition_);
  start->set_replica_count(replica_count_);
  start->set_branch_level(storage::EncodeTictacBranchLevel(tree_->BranchLevel()));
  start->set_reply_address(self_address_);
}

void AntiEntropy::Finish(std::uint64_t now_ms, bool failed, bool repaired) {
  if (failed) {
    ++counters_.exchanges_failed;
  } else {
    ++counters_.exchanges;
    if (!repaired) ++counters_.exchanges_in_sync;
  }
  if (!failed && !repaired) {
    in_sync_peers_.insert(exchange_->peer);
  } else {
    in_sync_peers_.erase(exchange_->peer);
  }
  // More to repair than one round took: carry on soon rather than after the interval.
  if (!failed && exchange_->capped) next_exchange_ms_ = now_ms + config_.continue_after_ms;
  if (exchange_->slot) budget_.ReleaseStream(std::move(*exchange_->slot));
  exchange_.reset();
}

void AntiEntropy::Receive(const std::string& from_address, const proto::PeerMessage& message,
                          std::uint64_t now_ms, bool replica) {
  switch (message.body_case()) {
    case proto::PeerMessage::kAaeExchangeStart:
      OnStart(from_address, message.aae_exchange_start(), replica);
      break;
    case proto::PeerMessage::kAaeSegmentHashes:
      OnSegmentHashes(message.aae_segment_hashes(), now_ms);
      break;
    case proto::PeerMessage::kAaeKeyHashes:
      OnKeyHashes(from_address, message.aae_key_hashes(), replica, now_ms);
      break;
    case proto::PeerMessage::kAaeRepair:
      OnRepair(message.aae_repair(), now_ms);
      break;
    default:
      break;
  }
}

void AntiEntropy::OnStart(const std::string& from_address, const proto::AaeExchangeStart& start,
                          bool replica) {
  const std::string reply_to = start.reply_address().empty() ? from_address : start.reply_address();
  cluster::Outbound& out = outbound_.emplace_back();
  out.to_address = reply_to;
  proto::AaeSegmentHashes* reply = out.message.mutable_aae_segment_hashes();
  reply->set_exchange_id(start.exchange_id());
  reply->set_partition(partition_);
  reply->set_replica_count(replica_count_);
  Status status =
      replica ? EnsureTree()
              : Status::InvalidArgument("not a replica of partition " + std::to_string(partition_));
  if (status.ok()) {
    auto level = storage::DecodeTictacBranchLevel(start.branch_level());
    auto dirty = level.ok() ? tree_->DirtyBranches(*level)
                            : Result<std::vector<std::uint32_t>>(level.status());
    if (!dirty.ok()) {
      status = dirty.status();
    } else if (dirty->empty()) {
      reply->set_in_sync(true);
    } else {
      reply->set_segment_hashes(
          storage::EncodeTictacSegmentHashes(tree_->SegmentsOfBranches(*dirty)));
    }
  }
  reply->set_status_code(static_cast<std::uint32_t>(status.code()));
  reply->set_status_message(status.message());
}

void AntiEntropy::OnSegmentHashes(const proto::AaeSegmentHashes& hashes, std::uint64_t now_ms) {
  if (!exchange_ || exchange_->awaiting_repair || hashes.exchange_id() != exchange_->id) return;
  if (hashes.status_code() != 0) {
    Finish(now_ms, /*failed=*/true, false);
    return;
  }
  if (hashes.in_sync()) {
    Finish(now_ms, /*failed=*/false, /*repaired=*/false);
    return;
  }
  auto remote = storage::DecodeTictacSegmentHashes(hashes.segment_hashes());
  auto differing = remote.ok() ? tree_->DifferingSegments(*remote)
                               : Result<std::vector<std::uint32_t>>(remote.status());
  if (!differing.ok()) {
    Finish(now_ms, /*failed=*/true, false);
    return;
  }
  // Segments in order until the round's caps: its segment count, or this side's keys there.
  std::vector<std::uint32_t> chosen;
  std::vector<storage::KeyVersionHash> keys;
  for (std::uint32_t segment : *differing) {
    if (chosen.size() >= config_.segments_per_round_max ||
        keys.size() >= config_.keys_per_round_max) {
      exchange_->capped = true;
      break;
    }
    if (Status read = AppendKeysOf(segment, keys); !read.ok()) {
      Finish(now_ms, /*failed=*/true, false);
      return;
    }
    chosen.push_back(segment);
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  exchange_->awaiting_repair = true;
  cluster::Outbound out;
  out.to_address = exchange_->peer;
  proto::AaeKeyHashes* message = out.message.mutable_aae_key_hashes();
  message->set_exchange_id(exchange_->id);
  message->set_partition(partition_);
  message->set_replica_count(replica_count_);
  for (std::uint32_t segment : chosen) message->add_segments(segment);
  if (!keys.empty()) message->set_key_hashes(storage::EncodeTictacKeyHashes(keys));
  exchange_->held_key_hashes = std::move(out);
  TrySendKeyHashes(now_ms);
}

void AntiEntropy::TrySendKeyHashes(std::uint64_t now_ms) {
  MERIDIAN_DCHECK(exchange_ && exchange_->held_key_hashes);
  // Comparing trees moves no data and needs no stream; a repair does: it waits for a slot
  // (kept until the exchange ends), then while the budget is in debt (the last round's copies)
  // or other kinds go first.
  if (!exchange_->slot) {
    exchange_->slot = budget_.TryAcquireStream(WorkKind::kAntiEntropyRepair, now_ms);
    if (!exchange_->slot) return;
  }
  const WorkSize size{exchange_->held_key_hashes->message.aae_key_hashes().key_hashes().size(), 0};
  if (!budget_.TrySpend(WorkKind::kAntiEntropyRepair, size, now_ms)) return;
  outbound_.push_back(std::move(*exchange_->held_key_hashes));
  exchange_->held_key_hashes.reset();
  exchange_->deadline_ms = now_ms + config_.exchange_timeout_ms;
}

void AntiEntropy::OnKeyHashes(const std::string& from_address, const proto::AaeKeyHashes& keys,
                              bool replica, std::uint64_t now_ms) {
  if (!replica) return;  // refused at the start already; the initiator times out
  std::vector<std::uint32_t> segments(keys.segments().begin(), keys.segments().end());
  for (std::uint32_t segment : segments) {
    if (segment >= config_.shape.segment_count()) return;  // malformed: ignored
  }
  auto local = KeysOf(segments);
  if (!local.ok()) return;
  std::vector<storage::KeyVersionHash> remote;
  if (!keys.key_hashes().empty()) {
    auto decoded = storage::DecodeTictacKeyHashes(keys.key_hashes());
    if (!decoded.ok()) return;
    remote = std::move(decoded).value();
  }
  auto differences = storage::DiffSegmentKeys(*local, remote);
  if (!differences.ok()) return;
  std::vector<std::string> send;
  std::vector<std::string> wanted;
  for (const storage::KeyDifference& difference : *differences) {
    if (!InTree(difference.key)) continue;
    if (difference.local_version_hash) send.push_back(difference.key);
    if (difference.remote_version_hash) wanted.push_back(difference.key);
  }
  const bool truncated = send.size() > config_.keys_per_round_max;
  if (truncated) send.resize(config_.keys_per_round_max);
  SendRepairs(from_address, keys.exchange_id(), send, wanted, /*from_initiator=*/false, truncated,
              now_ms);
}

void AntiEntropy::OnRepair(const proto::AaeRepair& repair, std::uint64_t now_ms) {
  if (!repair.from_initiator()) {
    // As initiator: only the current exchange's replies count.
    if (!exchange_ || !exchange_->awaiting_repair || repair.exchange_id() != exchange_->id) {
      return;
    }
    for (const std::string& key : repair.wanted_keys()) {
      if (InTree(key)) exchange_->wanted.push_back(key);
    }
    if (repair.truncated()) exchange_->capped = true;
  }
  WorkSize received;
  for (const proto::HandoffEntry& entry : repair.objects()) {
    if (!InTree(entry.storage_key())) continue;
    repairs_.emplace_back(entry.storage_key(), entry.encoded_object());
    ++counters_.keys_received;
    received.bytes += entry.storage_key().size() + entry.encoded_object().size();
    ++received.objects;
  }
  // The merges this node is about to apply.
  if (received.objects > 0) budget_.Charge(WorkKind::kAntiEntropyRepair, received, now_ms);
  if (repair.from_initiator() || !repair.last()) return;
  SendRepairs(exchange_->peer, exchange_->id, exchange_->wanted, {}, /*from_initiator=*/true,
              /*truncated=*/false, now_ms);
  Finish(now_ms, /*failed=*/false, /*repaired=*/true);
}

void AntiEntropy::SendRepairs(const std::string& to_address, std::uint64_t exchange_id,
                              const std::vector<std::string>& keys,
                              const std::vector<std::string>& wanted, bool from_initiator,
                              bool truncated, std::uint64_t now_ms) {
  proto::AaeRepair* message = nullptr;
  std::size_t bytes = 0;
  const auto next_message = [&] {
    cluster::Outbound& out = outbound_.emplace_back();
    out.to_address = to_address;
    message = out.message.mutable_aae_repair();
    message->set_exchange_id(exchange_id);
    message->set_partition(partition_);
    message->set_replica_count(replica_count_);
    message->set_from_initiator(from_initiator);
    bytes = 0;
  };
  next_message();
  WorkSize sent;
  for (const std::string& key : keys) {
    auto object = engine_.Get(storage::Column::kObjects, key);
    if (!object.ok() || !object->has_value()) continue;  // gone meanwhile: nothing to send
    if (bytes > 0 && bytes + key.size() + (*object)->size() > config_.repair_message_bytes_max) {
      next_message();
    }
    proto::HandoffEntry* entry = message->add_objects();
    entry->set_storage_key(key);
    entry->set_encoded_object(std::move(**object));
    bytes += key.size() + entry->encoded_object().size();
    ++counters_.keys_sent;
    sent.bytes += key.size() + entry->encoded_object().size();
    ++sent.objects;
  }
  for (const std::string& key : wanted) message->add_wanted_keys(key);
  message->set_truncated(truncated);
  message->set_last(true);
  if (sent.objects > 0) budget_.Charge(WorkKind::kAntiEntropyRepair, sent, now_ms);
}

std::vector<std::pair<std::string, std::string>> AntiEntropy::TakeRepairs() {
  return std::exchange(repairs_, {});
}

std::vector<cluster::Outbound> AntiEntropy::TakeOutbound() {
  return std::exchange(outbound_, {});
}

}  // namespace meridian::replication
