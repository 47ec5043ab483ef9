#include "replication/handoff_receiver.h"

#include <algorithm>
#include <utility>

#include "core/object_codec.h"
#include "replication/object_merge.h"
#include "storage/key_encoding.h"

namespace meridian::replication {
namespace {

// A decoded entry's key, checked to be an object key (of `partition` when given).
Status ValidateStorageKey(std::string_view storage_key, std::optional<std::uint32_t> partition) {
  auto decoded = storage::DecodeObjectKey(storage_key);
  if (!decoded.ok()) return decoded.status();
  if (partition.has_value() && decoded->partition != *partition) {
    return Status::Corruption("key of partition " + std::to_string(decoded->partition) +
                              " in a batch of partition " + std::to_string(*partition));
  }
  return Status::Ok();
}

}  // namespace

HandoffReceiver::HandoffReceiver(storage::Engine& engine, std::uint64_t incarnation)
    : engine_(engine), incarnation_(incarnation) {}

void HandoffReceiver::Receive(std::string_view from_address, const proto::HandoffBatch& batch,
                              std::uint64_t now_ms) {
  const std::string reply_address =
      batch.reply_address().empty() ? std::string(from_address) : batch.reply_address();
  IncomingTransfer& transfer = Track(reply_address, batch, now_ms);

  const Result<std::uint64_t> applied = ApplyBatch(batch);
  proto::PeerMessage message;
  proto::HandoffAck& ack = *message.mutable_handoff_ack();
  ack.set_transfer_id(batch.transfer_id());
  ack.set_partition(batch.partition());
  ack.set_sequence(batch.sequence());
  ack.set_receiver_incarnation(incarnation_);
  if (applied.ok()) {
    ++counters_.batches_applied;
    ++transfer.batches_applied;
    counters_.objects_changed += *applied;
    transfer.objects_changed += *applied;
    if (batch.last()) transfer.last_batch_applied = true;
  } else {
    ++counters_.batches_refused;
    ++transfer.batches_refused;
    ack.set_status_code(static_cast<std::uint32_t>(applied.status().code()));
    ack.set_status_message(applied.status().message());
  }
  outbound_.push_back(cluster::Outbound{reply_address, std::move(message)});
}

Status HandoffReceiver::Receive(const proto::HandoffMirror& mirror) {
  Status first_error;
  for (const proto::HandoffEntry& entry : mirror.entries()) {
    Status applied = ApplyMirroredObject(entry.storage_key(), entry.encoded_object());
    if (applied.ok()) continue;
    if (first_error.ok()) first_error = std::move(applied);
  }
  return first_error;
}

Status HandoffReceiver::ApplyMirroredObject(std::string_view storage_key,
                                            std::string_view encoded_object) {
  Status valid = ValidateStorageKey(storage_key, std::nullopt);
  auto incoming = DecodeObject(encoded_object);
  if (valid.ok() && !incoming.ok()) valid = incoming.status();
  if (!valid.ok()) {
    ++counters_.mirrored_objects_refused;
    return Status::Corruption("mirrored object refused: " + valid.message());
  }
  const std::string key(storage_key);
  auto merged = MergedObjectPut(engine_, key, *incoming);
  if (!merged.ok()) {
    ++counters_.mirrored_objects_refused;
    return merged.status();
  }
  if (merged->has_value()) {
    storage::WriteBatch write;
    write.ops.push_back(std::move(**merged));
    Status written = engine_.Write(write, storage::WriteOptions{.sync = false});
    if (!written.ok()) {
      ++counters_.mirrored_objects_refused;
      return written;
    }
  }
  ++counters_.mirrored_objects_applied;
  return Status::Ok();
}

std::vector<cluster::Outbound> HandoffReceiver::TakeOutbound() {
  std::vector<cluster::Outbound> taken;
  taken.swap(outbound_);
  return taken;
}

Result<std::uint64_t> HandoffReceiver::ApplyBatch(const proto::HandoffBatch& batch) {
  // Everything is validated and merged before anything is written, so a refused batch
  // leaves no trace. Entries repeating a key (a sender may) merge with each other first.
  std::map<std::string, DvvSet, std::less<>> incoming;
  for (int index = 0; index < batch.entries_size(); ++index) {
    const proto::HandoffEntry& entry = batch.entries(index);
    Status valid = ValidateStorageKey(entry.storage_key(), batch.partition());
    auto object = DecodeObject(entry.encoded_object());
    if (valid.ok() && !object.ok()) valid = object.status();
    if (!valid.ok()) {
      return Status::Corruption("entry " + std::to_string(index) + " of batch " +
                                std::to_string(batch.sequence()) + ": " + valid.message());
    }
    auto [slot, inserted] = incoming.try_emplace(entry.storage_key());
    if (inserted) {
      slot->second = std::move(object).value();
    } else if (Status merged = slot->second.MergeFrom(*object); !merged.ok()) {
      return merged;
    }
  }

  storage::WriteBatch write;
  for (const auto& [storage_key, object] : incoming) {
    auto merged = MergedObjectPut(engine_, storage_key, object);
    if (!merged.ok()) return merged.status();
    if (merged->has_value()) write.ops.push_back(std::move(**merged));
  }
  const std::uint64_t changed = write.ops.size();
  // The last batch is written (and synced) even when it changes nothing: its ack promises
  // that everything acknowledged before it is durable too.
  if (!write.empty() || batch.last()) {
    MERIDIAN_RETURN_IF_ERROR(engine_.Write(write, storage::WriteOptions{.sync = batch.last()}));
  }
  return changed;
}

IncomingTransfer& HandoffReceiver::Track(const std::string& source_address,
                                         const proto::HandoffBatch& batch, std::uint64_t now_ms) {
  const IncomingTransferKey key{source_address, batch.transfer_id()};
  auto found = transfers_.find(key);
  if (found == transfers_.end()) {
    if (transfers_.size() >= kTransfersRemembered) {
      const auto least_recent =
          std::min_element(transfers_.begin(), transfers_.end(), [](const auto& a, const auto& b) {
            return a.second.last_batch_ms < b.second.last_batch_ms;
          });
      transfers_.erase(least_recent);
    }
    found = transfers_.emplace(key, IncomingTransfer{}).first;
    found->second.partition = batch.partition();
    found->second.source_address = source_address;
  }
  found->second.last_batch_ms = now_ms;
  return found->second;
}

}  // namespace meridian::replication
