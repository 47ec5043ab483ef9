#include "replication/tombstone_reaper.h"

#include <algorithm>
#include <utility>

#include "core/assert.h"
#include "core/object_codec.h"
#include "storage/key_encoding.h"
#include "storage/tictac_keys.h"

namespace meridian::replication {
TombstoneReaper::TombstoneReaper(std::uint32_t partition, const ReapConfig& config,
                                 storage::Engine& engine, BackgroundBudget& budget,
                                 ReapCounters& counters)
    : partition_(partition),
      config_(config),
      engine_(engine),
      budget_(budget),
      counters_(counters) {}

bool TombstoneReaper::Due(std::uint64_t now_ms) const {
  return config_.interval_ms > 0 && !in_round_ && (now_ms >= next_round_ms_ || DueOnDemand(now_ms));
}

bool TombstoneReaper::DueOnDemand(std::uint64_t now_ms) const {
  return !wanted_.empty() && config_.prune_soon_after_ms > 0 &&
         now_ms >= ended_ms_ + config_.prune_soon_after_ms;
}

void TombstoneReaper::OnStored(std::string_view storage_key, std::uint32_t superseded_single_use) {
  if (config_.prune_soon_after_ms == 0 || config_.prune_single_use_from == 0 ||
      superseded_single_use < config_.prune_single_use_from || queued_.contains(storage_key)) {
    return;
  }
  if (wanted_.size() >= config_.prune_soon_keys_max && !wanted_.contains(storage_key)) return;
  if (proposes_ && !proposes_(storage_key)) return;
  wanted_.emplace(storage_key);
}

std::optional<ReapKey> TombstoneReaper::CandidateOf(std::string_view key, const DvvSet& object,
                                                    std::string_view encoded, bool prunes_only,
                                                    Status& bad) const {
  // A key whose committed delete is still queued here is not proposed again (it would be
  // queued twice and charged twice: the 1,000,000-key bench proposed 7.5 million). A tombstone
  // goes; a live object whose clock holds enough superseded single-use entries is pruned of
  // them.
  const bool prune = !object.IsDeleted() && config_.prune_single_use_from > 0 &&
                     object.SupersededSingleUseEntries() >= config_.prune_single_use_from;
  if ((!object.IsDeleted() && !prune) || (prunes_only && !prune) || queued_.contains(key) ||
      (proposes_ && !proposes_(key))) {
    return std::nullopt;
  }
  auto hash = storage::EncodedObjectVersionHash(encoded);
  if (!hash.ok()) {
    bad = hash.status();
    return std::nullopt;
  }
  return ReapKey{std::string(key), *hash, prune,
                 prune && config_.prune_by_actors ? object.SupersededSingleUseActors()
                                                  : std::vector<ActorId>{}};
}

Result<std::vector<ReapKey>> TombstoneReaper::ProposeWanted(std::uint32_t max, std::uint64_t now_ms,
                                                            std::uint32_t scan_max) {
  std::vector<ReapKey> candidates;
  std::uint32_t read = 0;
  Status bad = Status::Ok();
  std::map<std::string, PrunedOnDemand, std::less<>> proposed;
  while (!wanted_.empty() && candidates.size() < max && read < scan_max && bad.ok()) {
    const std::string key = std::move(wanted_.extract(wanted_.begin()).value());
    PrunedOnDemand* before = nullptr;
    if (auto pruned = pruned_on_demand_.find(key); pruned != pruned_on_demand_.end()) {
      if (now_ms < pruned->second.hold_until_ms) continue;  // asked again too soon
      before = &pruned->second;
    }
    ++read;
    auto value = engine_.Get(storage::Column::kObjects, key);
    if (!value.ok()) {
      bad = value.status();
      break;
    }
    if (!value->has_value()) continue;  // gone since
    auto object = DecodeObject(**value);
    if (!object.ok()) {
      bad = object.status();
      break;
    }
    auto candidate = CandidateOf(key, *object, **value, /*prunes_only=*/true, bad);
    if (!candidate) continue;
    // Entries the last prune on demand forgot are back: pruned again (a primary that applied
    // that prune late brought them back once), but held back twice as long each time this
    // repeats (a client that chains contexts brings them back with every write).
    std::uint32_t undone = 0;
    if (before != nullptr &&
        std::any_of(candidate->actors.begin(), candidate->actors.end(), [&](ActorId actor) {
          return std::binary_search(before->actors.begin(), before->actors.end(), actor);
        })) {
      undone = before->undone + 1;
      ++counters_.prunes_on_demand_undone;
    }
    // The first prune_soon_undone_grace undone prunes in a row wait the usual time (a hot key's
    // primaries undo prunes now and then: writes in flight while the commit is carried out).
    const std::uint32_t doublings =
        undone > config_.prune_soon_undone_grace ? undone - config_.prune_soon_undone_grace : 0;
    const std::uint64_t hold_ms =
        std::min(config_.interval_ms, config_.prune_soon_after_ms << std::min(doublings, 20u));
    proposed[key] = PrunedOnDemand{candidate->actors, undone, now_ms + hold_ms};
    candidates.push_back(std::move(*candidate));
  }
  proposed_on_demand_ = std::move(proposed);
  scanned_last_ = read;
  MERIDIAN_RETURN_IF_ERROR(bad);
  on_demand_ = true;
  if (candidates.empty()) {
    OnRoundEnded(0, now_ms);
    return candidates;
  }
  in_round_ = true;
  counters_.candidates_proposed += candidates.size();
  counters_.prunes_proposed_on_demand += candidates.size();
  return candidates;
}

Result<std::vector<ReapKey>> TombstoneReaper::ProposeCandidates(std::uint32_t max,
                                                                std::uint64_t now_ms,
                                                                bool prunes_only,
                                                                std::uint32_t scan_max) {
  MERIDIAN_CHECK(!in_round_);
  scan_max = std::min(scan_max, config_.scan_keys_per_partition_max);
  scanned_last_ = 0;
  // Due on demand only: the keys that asked, and the interval's schedule stays as it was.
  if (now_ms < next_round_ms_) return ProposeWanted(max, now_ms, scan_max);
  on_demand_ = false;
  std::vector<ReapKey> candidates;
  if (clean_) {
    capped_ = false;
    OnRoundEnded(0, now_ms);  // nothing can have become a candidate: rest
    return candidates;
  }
  if (cursor_.empty()) {  // a new pass
    pass_proposed_ = false;
    pass_changed_ = false;
  }
  const storage::KeyRange range = storage::PartitionRange(partition_);
  const std::string begin = cursor_.empty() ? range.begin : cursor_;
  std::uint32_t scanned = 0;
  std::uint64_t scanned_bytes = 0;
  std::string stopped_at;  // the first key not looked at
  bool stopped = false;
  Status bad = Status::Ok();
  MERIDIAN_RETURN_IF_ERROR(
      engine_.Scan(storage::Column::kObjects, begin, range.end,
                   [&](std::string_view key, std::string_view value) {
                     if (candidates.size() >= max || scanned >= scan_max) {
                       stopped = true;
                       stopped_at = std::string(key);
                       return false;
                     }
                     ++scanned;
                     scanned_bytes += key.size() + value.size();
                     auto object = DecodeObject(value);
                     if (!object.ok()) {
                       bad = object.status();
                       return false;
                     }
                     auto candidate = CandidateOf(key, *object, value, prunes_only, bad);
                     if (!bad.ok()) return false;
                     if (candidate) {
                       // The scan proposes it: it need not wait for a round on demand as well.
                       if (auto wanted = wanted_.find(key); wanted != wanted_.end())
                         wanted_.erase(wanted);
                       candidates.push_back(std::move(*candidate));
                     }
                     return true;
                   }));
  scanned_last_ = scanned;
  if (scanned > 0 && config_.scan_key_cost_bytes > 0) {
    budget_.Charge(
        WorkKind::kTombstoneReaping,
        WorkSize{.bytes = scanned_bytes + std::uint64_t{scanned} * config_.scan_key_cost_bytes,
                 .objects = 0},
        now_ms);
  }
  MERIDIAN_RETURN_IF_ERROR(bad);
  capped_ = stopped;
  // The next proposal continues at the first key not looked at (a key, not "the last one plus
  // a zero byte": the objects column is in segment order, storage/segment_ordered_objects.h),
  // or from the start once the whole partition was seen.
  cursor_ = stopped ? std::move(stopped_at) : std::string();
  // A pass that left tombstones out (prunes only) proves nothing about them.
  pass_proposed_ = pass_proposed_ || !candidates.empty() || prunes_only;
  if (!stopped) clean_ = !pass_proposed_ && !pass_changed_;
  if (candidates.empty()) {
    OnRoundEnded(0, now_ms);  // nothing to do: rest (or continue soon, when capped)
    return candidates;
  }
  in_round_ = true;
  counters_.candidates_proposed += candidates.size();
  return candidates;
}

void TombstoneReaper::OnRoundEnded(std::size_t accepted, std::uint64_t now_ms) {
  in_round_ = false;
  ended_ms_ = now_ms;
  if (on_demand_) return;  // the interval's schedule and cursor are not the round's
  // Capped (more of the partition left to look at): soon; otherwise rest an interval.
  next_round_ms_ = now_ms + (capped_ ? config_.continue_after_ms : config_.interval_ms);
  if (accepted == 0 && !capped_) cursor_.clear();
}

void TombstoneReaper::OnCommit(const std::vector<ReapKey>& keys) {
  for (const ReapKey& key : keys) {
    if (auto proposed = proposed_on_demand_.find(key.storage_key);
        proposed != proposed_on_demand_.end()) {
      // Pruned on demand: remembered, to tell should these entries come back.
      if (!pruned_on_demand_.contains(key.storage_key)) {
        pruned_on_demand_order_.push_back(key.storage_key);
      }
      pruned_on_demand_[key.storage_key] = std::move(proposed->second);
      proposed_on_demand_.erase(proposed);
      while (pruned_on_demand_order_.size() > config_.prune_soon_keys_max) {
        pruned_on_demand_.erase(pruned_on_demand_order_.front());
        pruned_on_demand_order_.pop_front();
      }
    }
    // Queued already (a repeated commit): once is enough. Should its version differ, the
    // conditional delete keeps the object and a later round proposes it again.
    if (!queued_.try_emplace(key.storage_key, key.version_hash).second) continue;
    pending_.push_back(key);
  }
}

bool TombstoneReaper::DeletePending(const std::string& storage_key,
                                    std::uint64_t version_hash) const {
  auto it = queued_.find(storage_key);
  return it != queued_.end() && it->second == version_hash;
}

Result<std::size_t> TombstoneReaper::TakeDeletes(storage::WriteBatch& batch, std::uint64_t now_ms) {
  MERIDIAN_CHECK(writing_.empty());
  if (pending_.empty()) return std::size_t{0};
  const std::size_t count = std::min<std::size_t>(pending_.size(), config_.deletes_per_batch_max);
  WorkSize size;
  size.objects = count;
  for (std::size_t index = 0; index < count; ++index)
    size.bytes += pending_[index].storage_key.size();
  if (!budget_.TrySpend(WorkKind::kTombstoneReaping, size, now_ms)) return std::size_t{0};
  std::size_t added = 0;
  for (std::size_t index = 0; index < count; ++index) {
    ReapKey key = std::move(pending_.front());
    pending_.pop_front();
    // Conditional: only the object the round accepted goes. Anything written since (a new
    // write, a merge) changed the hash and is kept; the next round looks at it again.
    auto stored = engine_.Get(storage::Column::kObjects, key.storage_key);
    if (!stored.ok()) {
      pending_.push_front(std::move(key));  // this one and the rest stay pending
      return stored.status();
    }
    if (!stored->has_value()) {  // gone already (a drop)
      queued_.erase(key.storage_key);
      continue;
    }
    if (key.prune && !key.actors.empty()) {
      // By actor: the round found no copy of those writes anywhere, and copies are made only
      // from copies, so the entries may go from whatever version is stored now (writes since
      // the round leave them superseded).
      auto object = DecodeObject(**stored);
      const std::size_t forgotten =
          object.ok() ? object->ForgetSupersededSingleUse(key.actors) : std::size_t{0};
      if (forgotten == 0) {
        ++counters_.deletes_skipped;
        queued_.erase(key.storage_key);
        continue;
      }
      writing_entries_ += forgotten;
      batch.Put(storage::Column::kObjects, key.storage_key, EncodeObject(*object));
      writing_.push_back(std::move(key));
      ++added;
      continue;
    }
    auto hash = storage::EncodedObjectVersionHash(**stored);
    if (!hash.ok() || *hash != key.version_hash) {
      ++counters_.deletes_skipped;
      queued_.erase(key.storage_key);
      continue;
    }
    if (key.prune) {
      // The hash matched, so the object decodes; every primary holding this version rewrites it
      // to the same pruned object (and so the same new hash).
      auto object = DecodeObject(**stored);
      MERIDIAN_CHECK(object.ok());
      writing_entries_ += object->PruneSingleUse();
      batch.Put(storage::Column::kObjects, key.storage_key, EncodeObject(*object));
    } else {
      batch.Delete(storage::Column::kObjects, key.storage_key);
    }
    writing_.push_back(std::move(key));
    ++added;
  }
  return added;
}

void TombstoneReaper::OnDeletesWritten(bool ok) {
  if (!ok) {
    // Not deleted: tried again (still conditional) on a later tick.
    for (ReapKey& key : writing_) pending_.push_back(std::move(key));
    writing_.clear();
    writing_entries_ = 0;
    return;
  }
  for (const ReapKey& key : writing_) {
    ++(key.prune ? counters_.objects_pruned : counters_.tombstones_reaped);
    queued_.erase(key.storage_key);
  }
  counters_.single_use_entries_pruned += writing_entries_;
  writing_.clear();
  writing_entries_ = 0;
}

}  // namespace meridian::replication
