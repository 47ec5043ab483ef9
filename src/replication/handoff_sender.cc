#include "replication/handoff_sender.h"

#include <algorithm>
#include <utility>

#include "core/assert.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::replication {
namespace {

// Keys a filtered scan skips before it ends a batch (an empty one, if need be), so one batch
// never reads a whole partition of keys it does not carry.
constexpr std::size_t kSkippedKeysMax = 4096;

std::uint64_t EntryBytes(std::string_view storage_key, std::string_view encoded_object) {
  return storage_key.size() + encoded_object.size();
}

void AddEntry(proto::HandoffBatch& batch, std::string_view storage_key,
              std::string_view encoded_object) {
  proto::HandoffEntry* entry = batch.add_entries();
  entry->set_storage_key(std::string(storage_key));
  entry->set_encoded_object(std::string(encoded_object));
}

// The status a receiver reported; codes this build does not know become kInternal.
Status AckStatus(const proto::HandoffAck& ack, const std::string& target_address) {
  const std::uint32_t code = ack.status_code();
  const auto status_code = code <= static_cast<std::uint32_t>(kLastStatusCode)
                               ? static_cast<StatusCode>(code)
                               : StatusCode::kInternal;
  return Status(status_code, "receiver " + target_address + " refused batch " +
                                 std::to_string(ack.sequence()) + ": " + ack.status_message());
}

}  // namespace

std::string_view HandoffStateName(HandoffState state) {
  switch (state) {
    case HandoffState::kRunning:
      return "running";
    case HandoffState::kDone:
      return "done";
    case HandoffState::kFailed:
      return "failed";
  }
  return "unknown";
}

HandoffSender::HandoffSender(HandoffTransfer transfer, storage::Engine& engine,
                             BackgroundBudget& budget, HandoffSenderConfig config)
    : transfer_(std::move(transfer)),
      engine_(engine),
      budget_(budget),
      kind_(transfer_.replica_copy ? WorkKind::kReplicaCopy : WorkKind::kOwnershipHandoff),
      config_(config),
      range_(storage::PartitionRange(transfer_.partition)),
      cursor_(range_.begin) {
  MERIDIAN_CHECK(config_.batch_bytes_max > 0);
  MERIDIAN_CHECK(config_.batch_objects_max > 0);
  MERIDIAN_CHECK(!transfer_.target_address.empty());
}

HandoffSender::~HandoffSender() {
  ReleaseStream();
}

void HandoffSender::Tick(std::uint64_t now_ms) {
  if (state_ != HandoffState::kRunning) return;
  latest_now_ms_ = std::max(latest_now_ms_, now_ms);
  if (!slot_.has_value()) {
    slot_ = budget_.TryAcquireStream(kind_, now_ms);
    if (!slot_.has_value()) return;  // every stream is busy: asked again next tick
  }
  if (!started_ms_.has_value()) {
    started_ms_ = now_ms;
    // An estimate for progress reports; an error only leaves it unknown.
    auto bytes = engine_.ApproximateBytes(storage::Column::kObjects, range_.begin, range_.end);
    if (bytes.ok()) bytes_estimate_ = *bytes;
  }
  if (in_flight_.has_value() && in_flight_->sent) {
    if (now_ms < in_flight_->deadline_ms) return;
    FailAttempt(
        Status::Timeout("no acknowledgement of batch " + std::to_string(in_flight_->sequence) +
                        " within " + std::to_string(config_.ack_timeout_ms) + " ms"),
        now_ms);
    if (state_ != HandoffState::kRunning) return;
  }
  SendBatch(now_ms);
}

void HandoffSender::Receive(const proto::HandoffAck& ack, std::uint64_t now_ms) {
  if (state_ != HandoffState::kRunning) return;
  if (ack.transfer_id() != transfer_.transfer_id || ack.partition() != transfer_.partition) return;
  // Acks of older transmissions (late, duplicated) say nothing about the current batch.
  if (!in_flight_.has_value() || !in_flight_->sent || ack.sequence() != in_flight_->sequence) {
    return;
  }
  latest_now_ms_ = std::max(latest_now_ms_, now_ms);

  if (ack.status_code() != 0) {
    Status error = AckStatus(ack, transfer_.target_address);
    if (!error.retryable()) {
      Finish(HandoffState::kFailed, std::move(error));
      return;
    }
    FailAttempt(error, now_ms + config_.ack_timeout_ms);
    return;
  }

  if (receiver_incarnation_.has_value() && *receiver_incarnation_ != ack.receiver_incarnation()) {
    // The receiver restarted after a crash and may have lost batches it acknowledged before
    // syncing them: nothing acknowledged so far can be trusted.
    receiver_incarnation_ = ack.receiver_incarnation();
    RestartFromBeginning();
    SendBatch(now_ms);
    return;
  }
  receiver_incarnation_ = ack.receiver_incarnation();

  failed_attempts_ = 0;
  progress_.objects_acknowledged += in_flight_->objects;
  progress_.bytes_acknowledged += in_flight_->bytes;
  cursor_ = std::move(in_flight_->scan_resume_key);
  const bool last = in_flight_->last;
  in_flight_.reset();
  // A last batch completes the transfer unless writes arrived while it was in flight; those
  // go out in one more batch (again marked last, so again synced).
  if (last && dirty_keys_.empty()) {
    Finish(HandoffState::kDone, Status::Ok());
    return;
  }
  SendBatch(now_ms);
}

Status HandoffSender::MirrorWrite(std::string_view storage_key, std::string_view encoded_object) {
  if (storage_key < range_.begin || (!range_.end.empty() && storage_key >= range_.end)) {
    return Status::InvalidArgument("mirrored key is not in partition " +
                                   std::to_string(transfer_.partition));
  }
  if (state_ == HandoffState::kFailed || !Carries(storage_key)) return Status::Ok();
  proto::PeerMessage message;
  proto::HandoffMirror& mirror = *message.mutable_handoff_mirror();
  mirror.set_transfer_id(transfer_.transfer_id);
  mirror.set_partition(transfer_.partition);
  proto::HandoffEntry* entry = mirror.add_entries();
  entry->set_storage_key(std::string(storage_key));
  entry->set_encoded_object(std::string(encoded_object));
  outbound_.push_back(cluster::Outbound{transfer_.target_address, std::move(message)});
  ++progress_.mirrored_writes;
  // A key the scan has not reached yet will be read (with this write) when it gets there.
  if (state_ == HandoffState::kRunning && ScannedPast(storage_key)) {
    dirty_keys_.insert(std::string(storage_key));
  }
  return Status::Ok();
}

void HandoffSender::MarkChanged(std::string_view storage_key) {
  if (state_ != HandoffState::kRunning || storage_key < range_.begin ||
      (!range_.end.empty() && storage_key >= range_.end) || !Carries(storage_key)) {
    return;
  }
  if (ScannedPast(storage_key)) dirty_keys_.insert(std::string(storage_key));
}

std::vector<cluster::Outbound> HandoffSender::TakeOutbound() {
  std::vector<cluster::Outbound> taken;
  taken.swap(outbound_);
  return taken;
}

std::optional<std::uint64_t> HandoffSender::NextTickMs() const {
  if (state_ != HandoffState::kRunning) return std::nullopt;
  if (in_flight_.has_value() && in_flight_->sent) return in_flight_->deadline_ms;
  if (!slot_.has_value()) return latest_now_ms_;  // polls for a stream slot
  if (!in_flight_.has_value()) return std::max(resume_at_ms_, latest_now_ms_);
  // Built, waiting for the budget.
  const std::optional<std::uint64_t> grant_ms = budget_.NextGrantMs(
      kind_, WorkSize{.bytes = in_flight_->bytes, .objects = in_flight_->objects}, latest_now_ms_);
  return grant_ms.value_or(latest_now_ms_);
}

void HandoffSender::SendBatch(std::uint64_t now_ms) {
  MERIDIAN_DCHECK(!in_flight_.has_value() || !in_flight_->sent);
  if (state_ != HandoffState::kRunning || now_ms < resume_at_ms_ || !slot_.has_value()) return;

  if (!in_flight_.has_value()) {
    InFlight flight;
    proto::HandoffBatch& batch = *flight.message.mutable_handoff_batch();
    batch.set_transfer_id(transfer_.transfer_id);
    batch.set_partition(transfer_.partition);
    batch.set_reply_address(transfer_.source_address);
    batch.set_replica_copy(transfer_.replica_copy);
    const Status built = BuildBatch(batch, flight);
    in_flight_ = std::move(flight);
    if (!built.ok()) {
      // Nothing was sent; the attempt still counts, and waits like a lost batch would.
      FailAttempt(Status(built.code(), "reading partition " + std::to_string(transfer_.partition) +
                                           " failed: " + built.message()),
                  now_ms + config_.ack_timeout_ms);
      return;
    }
  }
  // Until the budget allows, the batch waits as built (writes to its keys meanwhile are
  // marked dirty, as for a batch in flight, and re-sent).
  InFlight& flight = *in_flight_;
  if (!budget_.TrySpend(kind_, WorkSize{.bytes = flight.bytes, .objects = flight.objects},
                        now_ms)) {
    return;
  }
  flight.sent = true;
  flight.sequence = next_sequence_++;
  flight.deadline_ms = now_ms + config_.ack_timeout_ms;
  proto::HandoffBatch& batch = *flight.message.mutable_handoff_batch();
  batch.set_sequence(flight.sequence);
  batch.set_last(flight.last);

  ++progress_.batches_sent;
  progress_.objects_sent += flight.objects;
  progress_.bytes_sent += flight.bytes;
  outbound_.push_back(cluster::Outbound{transfer_.target_address, std::move(flight.message)});
  flight.message.Clear();
}

Status HandoffSender::BuildBatch(proto::HandoffBatch& batch, InFlight& flight) {
  // A batch always carries at least one entry if there is one, so an object larger than
  // batch_bytes_max still moves (alone).
  const auto fits = [&](std::uint64_t entry_bytes) {
    if (batch.entries_size() == 0) return true;
    return flight.bytes + entry_bytes <= config_.batch_bytes_max &&
           static_cast<std::size_t>(batch.entries_size()) < config_.batch_objects_max;
  };

  // Re-sent writes first: they are below the cursor, so no later scan would carry them.
  bool full = false;
  for (auto it = dirty_keys_.begin(); it != dirty_keys_.end();) {
    if (cursor_.has_value() && !storage::ObjectKeyPhysicallyBefore(*it, *cursor_)) {
      it = dirty_keys_.erase(it);  // the scan has yet to reach it and will read it then
      continue;
    }
    auto value = engine_.Get(storage::Column::kObjects, *it);
    if (!value.ok()) return value.status();
    if (value->has_value() && Carries(*it)) {
      const std::uint64_t entry_bytes = EntryBytes(*it, **value);
      if (!fits(entry_bytes)) {
        full = true;
        break;
      }
      AddEntry(batch, *it, **value);
      flight.bytes += entry_bytes;
      ++flight.objects;
    }
    flight.dirty_keys.push_back(*it);
    it = dirty_keys_.erase(it);
  }

  flight.scan_resume_key = cursor_;
  if (!full && cursor_.has_value()) {
    std::optional<std::string> stopped_at;
    std::size_t skipped = 0;
    const Status scanned = engine_.Scan(storage::Column::kObjects, *cursor_, range_.end,
                                        [&](std::string_view key, std::string_view value) {
                                          if (!Carries(key)) {
                                            // Skipped keys bound the scan too.
                                            if (++skipped < kSkippedKeysMax) return true;
                                            stopped_at = std::string(key);
                                            return false;
                                          }
                                          const std::uint64_t entry_bytes = EntryBytes(key, value);
                                          if (!fits(entry_bytes)) {
                                            stopped_at = std::string(key);
                                            return false;
                                          }
                                          AddEntry(batch, key, value);
                                          flight.bytes += entry_bytes;
                                          ++flight.objects;
                                          return true;
                                        });
    if (!scanned.ok()) return scanned;
    flight.scan_resume_key = std::move(stopped_at);
  }
  flight.last = !flight.scan_resume_key.has_value() && dirty_keys_.empty();
  return Status::Ok();
}

void HandoffSender::FailAttempt(const Status& reason, std::uint64_t resume_at_ms) {
  if (in_flight_.has_value()) {
    for (std::string& key : in_flight_->dirty_keys) dirty_keys_.insert(std::move(key));
    in_flight_.reset();
  }
  ++failed_attempts_;
  if (failed_attempts_ > config_.retries_max) {
    Finish(HandoffState::kFailed,
           Status::Unavailable("handoff of partition " + std::to_string(transfer_.partition) +
                               " to " + transfer_.target_address + " gave up after " +
                               std::to_string(failed_attempts_) +
                               " failed attempts; last: " + reason.ToString()));
    return;
  }
  ++progress_.retransmissions;
  resume_at_ms_ = resume_at_ms;
}

void HandoffSender::Finish(HandoffState state, Status failure) {
  state_ = state;
  failure_ = std::move(failure);
  in_flight_.reset();
  dirty_keys_.clear();
  ReleaseStream();
}

void HandoffSender::ReleaseStream() {
  if (!slot_.has_value()) return;
  budget_.ReleaseStream(std::move(*slot_));
  slot_.reset();
}

bool HandoffSender::Carries(std::string_view storage_key) const {
  return !transfer_.carries || transfer_.carries(storage_key);
}

bool HandoffSender::ScannedPast(std::string_view storage_key) const {
  const std::optional<std::string>& scanned_until =
      in_flight_.has_value() ? in_flight_->scan_resume_key : cursor_;
  // In the objects column's scan order (segment order, storage/segment_ordered_objects.h).
  return !scanned_until.has_value() ||
         storage::ObjectKeyPhysicallyBefore(storage_key, *scanned_until);
}

void HandoffSender::RestartFromBeginning() {
  ++progress_.restarts;
  cursor_ = range_.begin;
  dirty_keys_.clear();  // everything is below the scan position again
  in_flight_.reset();
  failed_attempts_ = 0;
}

}  // namespace meridian::replication
