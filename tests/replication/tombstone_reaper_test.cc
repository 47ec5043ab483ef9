// TombstoneReaper on its own: candidates from a partition scan, and the conditional deletes of
// a committed round, charged to the background budget.
#include "replication/tombstone_reaper.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/object_codec.h"
#include "replication/background_governor.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/tictac_keys.h"

namespace meridian::replication {
namespace {

constexpr std::uint32_t kPartition = 3;

std::string Key(int i) {
  return storage::EncodeObjectKey(kPartition, "b", "k" + std::to_string(i));
}

DvvSet Written(std::uint64_t actor, bool tombstone) {
  DvvSet object;
  object.Update({}, actor, HlcTimestamp::FromParts(1, 0), tombstone, tombstone ? "" : "v",
                ConflictPolicy::kSiblings);
  return object;
}

class TombstoneReaperTest : public ::testing::Test {
 protected:
  void Store(const std::string& key, const DvvSet& object) {
    storage::WriteBatch batch;
    batch.Put(storage::Column::kObjects, key, EncodeObject(object));
    ASSERT_TRUE(engine_.Write(batch, {}).ok());
  }
  bool Stored(const std::string& key) {
    auto stored = engine_.Get(storage::Column::kObjects, key);
    return stored.ok() && stored->has_value();
  }
  // Takes and writes one batch of deletes; how many it held.
  std::size_t ApplyDeletes(std::uint64_t now_ms) {
    storage::WriteBatch batch;
    auto added = reaper_.TakeDeletes(batch, now_ms);
    EXPECT_TRUE(added.ok());
    reaper_.OnDeletesWritten(engine_.Write(batch, {}).ok());
    return added.ok() ? *added : 0;
  }

  ReapConfig config_;
  storage::MemoryEngine engine_;
  BackgroundGovernor governor_{BackgroundGovernorConfig{}};
  ReapCounters counters_;
  TombstoneReaper reaper_{kPartition, config_, engine_, governor_, counters_};
};

TEST_F(TombstoneReaperTest, ProposesOnlyObjectsThatAreAllTombstones) {
  Store(Key(1), Written(1, /*tombstone=*/true));
  Store(Key(2), Written(1, /*tombstone=*/false));
  DvvSet both = Written(1, true);
  ASSERT_TRUE(both.MergeFrom(Written(2, false)).ok());  // a tombstone and a live sibling
  Store(Key(3), both);
  // Another partition's tombstone is not this reaper's.
  storage::WriteBatch other;
  other.Put(storage::Column::kObjects, storage::EncodeObjectKey(kPartition + 1, "b", "x"),
            EncodeObject(Written(1, true)));
  ASSERT_TRUE(engine_.Write(other, {}).ok());

  ASSERT_TRUE(reaper_.Due(0));
  auto candidates = reaper_.ProposeCandidates(100, 0);
  ASSERT_TRUE(candidates.ok());
  ASSERT_EQ(candidates->size(), 1u);
  EXPECT_EQ((*candidates)[0].storage_key, Key(1));
  EXPECT_EQ((*candidates)[0].version_hash, storage::ObjectVersionHash(Written(1, true)));
  EXPECT_TRUE(reaper_.in_round());
  EXPECT_FALSE(reaper_.Due(0));  // one round at a time
}

// A live object whose value was overwritten `superseded` times by forwarded (fixed-dot) writes.
DvvSet WithSingleUseHistory(int superseded) {
  DvvSet object = Written(1, false);
  for (int i = 0; i <= superseded; ++i) {
    const bool applied =
        object.Apply(object.clock(), Dot{100 + std::uint64_t(i), kSingleUseCounter},
                     HlcTimestamp::FromParts(2 + i, 0), false, "v" + std::to_string(i),
                     ConflictPolicy::kSiblings);
    EXPECT_TRUE(applied);
  }
  return object;  // the last write is the one sibling
}

TEST_F(TombstoneReaperTest, ProposesALiveObjectForPruningOnceEnoughSingleUseEntriesAreSuperseded) {
  config_.prune_single_use_from = 3;
  Store(Key(1), WithSingleUseHistory(2));  // 2 superseded: not yet
  Store(Key(2), WithSingleUseHistory(3));
  Store(Key(3), Written(1, true));
  auto candidates = reaper_.ProposeCandidates(100, 0);
  ASSERT_TRUE(candidates.ok());
  ASSERT_EQ(candidates->size(), 2u);
  // The prune names the actors of its superseded entries (the last write's is a sibling).
  EXPECT_EQ((*candidates)[0], (ReapKey{Key(2), storage::ObjectVersionHash(WithSingleUseHistory(3)),
                                       /*prune=*/true, std::vector<ActorId>{100, 101, 102}}));
  EXPECT_EQ((*candidates)[1].storage_key, Key(3));
  EXPECT_FALSE((*candidates)[1].prune);
  EXPECT_TRUE((*candidates)[1].actors.empty());
  // Prunes only (the partition is not known to be in sync): the tombstone waits.
  reaper_.OnRoundEnded(0, 0);
  auto prunes = reaper_.ProposeCandidates(100, config_.interval_ms, /*prunes_only=*/true);
  ASSERT_TRUE(prunes.ok());
  ASSERT_EQ(prunes->size(), 1u);
  EXPECT_EQ((*prunes)[0].storage_key, Key(2));
  // Off: only the tombstone.
  reaper_.OnRoundEnded(0, config_.interval_ms);
  config_.prune_single_use_from = 0;
  auto off = reaper_.ProposeCandidates(100, 2 * config_.interval_ms);
  ASSERT_TRUE(off.ok());
  ASSERT_EQ(off->size(), 1u);
  EXPECT_EQ((*off)[0].storage_key, Key(3));
}

TEST_F(TombstoneReaperTest, ACommittedPruneRewritesTheObjectWithoutItsSupersededEntries) {
  const DvvSet object = WithSingleUseHistory(4);
  Store(Key(1), object);
  Store(Key(2), object);
  const std::uint64_t hash = storage::ObjectVersionHash(object);
  // Key 2 took another write after the round: its prune is skipped.
  DvvSet rewritten = object;
  rewritten.Update(rewritten.clock(), 1, HlcTimestamp::FromParts(50, 0), false, "later",
                   ConflictPolicy::kSiblings);
  Store(Key(2), rewritten);

  reaper_.OnCommit({{Key(1), hash, true}, {Key(2), hash, true}});
  EXPECT_TRUE(reaper_.DeletePending(Key(1), hash));  // its copy is not offered meanwhile
  EXPECT_EQ(ApplyDeletes(0), 1u);
  auto stored = engine_.Get(storage::Column::kObjects, Key(1));
  ASSERT_TRUE(stored.ok() && stored->has_value());
  const DvvSet pruned = DecodeObject(**stored).value();
  EXPECT_EQ(pruned.siblings(), object.siblings());
  EXPECT_EQ(pruned.clock().SingleUseEntries(), 1u);  // the live sibling's own entry
  EXPECT_EQ(pruned.clock().Get(1), 1u);
  EXPECT_EQ(DecodeObject(**engine_.Get(storage::Column::kObjects, Key(2))).value(), rewritten);
  EXPECT_EQ(counters_.objects_pruned, 1u);
  EXPECT_EQ(counters_.single_use_entries_pruned, 4u);
  EXPECT_EQ(counters_.tombstones_reaped, 0u);
  EXPECT_EQ(counters_.deletes_skipped, 1u);
  EXPECT_FALSE(reaper_.deletes_pending());
}

// A prune that names its actors forgets their entries from whatever version is stored at the
// commit (the round found no copy of those writes anywhere): a key written since is pruned
// too, an actor whose write is a sibling again is left alone, and a key none of whose named
// entries is left is skipped.
TEST_F(TombstoneReaperTest, ACommittedPruneByActorsForgetsThemFromTheVersionStoredNow) {
  const DvvSet object = WithSingleUseHistory(4);  // superseded: 100..103; sibling: 104
  const std::uint64_t hash = storage::ObjectVersionHash(object);
  DvvSet rewritten = object;  // written after the round: another version
  rewritten.Update(rewritten.clock(), 1, HlcTimestamp::FromParts(50, 0), false, "later",
                   ConflictPolicy::kSiblings);
  Store(Key(1), rewritten);
  Store(Key(2), object);
  Store(Key(3), object);
  reaper_.OnCommit({{Key(1), hash, true, {100, 101, 103}},
                    {Key(2), hash, true, {104}},  // the live sibling's own entry: kept
                    {Key(3), hash, true, {100, 102}}});
  EXPECT_EQ(ApplyDeletes(0), 2u);
  const DvvSet first = DecodeObject(**engine_.Get(storage::Column::kObjects, Key(1))).value();
  EXPECT_EQ(first.siblings(), rewritten.siblings());
  EXPECT_EQ(first.clock().Get(100), 0u);
  EXPECT_EQ(first.clock().Get(101), 0u);
  EXPECT_EQ(first.clock().Get(102), kSingleUseCounter);  // not named
  EXPECT_EQ(first.clock().Get(103), 0u);
  EXPECT_EQ(DecodeObject(**engine_.Get(storage::Column::kObjects, Key(2))).value(), object);
  const DvvSet third = DecodeObject(**engine_.Get(storage::Column::kObjects, Key(3))).value();
  EXPECT_EQ(third.clock().SingleUseEntries(), 3u);
  EXPECT_EQ(counters_.objects_pruned, 2u);
  EXPECT_EQ(counters_.single_use_entries_pruned, 5u);
  EXPECT_EQ(counters_.deletes_skipped, 1u);
  EXPECT_FALSE(reaper_.deletes_pending());
}

TEST_F(TombstoneReaperTest, ABoundedProposalContinuesFromItsCursorSoon) {
  for (int i = 0; i < 5; ++i) Store(Key(i), Written(1, true));
  auto first = reaper_.ProposeCandidates(3, 0);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->size(), 3u);
  reaper_.OnRoundEnded(3, 1'000);
  EXPECT_FALSE(reaper_.Due(1'000));
  EXPECT_TRUE(reaper_.Due(1'000 + config_.continue_after_ms));  // capped: soon, not an interval
  auto second = reaper_.ProposeCandidates(3, 2'000);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 2u);
  EXPECT_EQ((*second)[0].storage_key, Key(3));
  reaper_.OnRoundEnded(0, 2'000);
  EXPECT_FALSE(reaper_.Due(2'000 + config_.continue_after_ms));
  EXPECT_TRUE(reaper_.Due(2'000 + config_.interval_ms));  // the whole partition seen: rest
}

// A round's scan budget (Node: scan_keys_per_round_max over its partitions) stops the
// proposal like the per-partition cap: the keys examined are reported, and the partition
// continues from its cursor soon.
TEST_F(TombstoneReaperTest, AProposalStopsAtItsScanBudgetAndContinuesFromItsCursorSoon) {
  for (int i = 0; i < 5; ++i) Store(Key(i), Written(1, i % 2 == 0));  // tombstones: 0, 2, 4
  auto first = reaper_.ProposeCandidates(100, 0, /*prunes_only=*/false, /*scan_max=*/2);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(reaper_.scanned_last(), 2u);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].storage_key, Key(0));
  reaper_.OnRoundEnded(1, 1'000);
  EXPECT_TRUE(reaper_.Due(1'000 + config_.continue_after_ms));  // capped: soon
  auto second = reaper_.ProposeCandidates(100, 2'000);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(reaper_.scanned_last(), 3u);
  ASSERT_EQ(second->size(), 2u);
  EXPECT_EQ((*second)[0].storage_key, Key(2));
  EXPECT_EQ((*second)[1].storage_key, Key(4));
}

// The keys a proposal examined are charged to the background budget, tombstones or not:
// their bytes and scan_key_cost_bytes each, even into debt (the scan has happened).
TEST_F(TombstoneReaperTest, AProposalChargesTheKeysItExaminedToTheBudgetWhenAsked) {
  Store(Key(9), Written(1, false));
  ASSERT_TRUE(reaper_.ProposeCandidates(100, 0).ok());  // by default a scan is not charged
  EXPECT_EQ(governor_.stats().of(WorkKind::kTombstoneReaping).bytes_granted, 0u);
  reaper_.OnChanged();
  ASSERT_TRUE(engine_
                  .Write(
                      [] {
                        storage::WriteBatch batch;
                        batch.Delete(storage::Column::kObjects, Key(9));
                        return batch;
                      }(),
                      {})
                  .ok());
  config_.scan_key_cost_bytes = 1'024;
  std::uint64_t bytes = 0;
  for (int i = 0; i < 5; ++i) {
    const DvvSet object = Written(1, i == 3);
    Store(Key(i), object);
    bytes += Key(i).size() + EncodeObject(object).size();
  }
  auto proposed = reaper_.ProposeCandidates(100, config_.interval_ms, /*prunes_only=*/false,
                                            /*scan_max=*/4);
  ASSERT_TRUE(proposed.ok());
  ASSERT_EQ(proposed->size(), 1u);
  const std::uint64_t last = Key(4).size() + EncodeObject(Written(1, false)).size();
  const BackgroundKindStats& charged = governor_.stats().of(WorkKind::kTombstoneReaping);
  EXPECT_EQ(charged.bytes_granted, bytes - last + 4 * config_.scan_key_cost_bytes);
  EXPECT_EQ(charged.objects_granted, 0u);

  BackgroundGovernorConfig tight;
  tight.bytes_per_second = 1'000;
  tight.burst_bytes = 1'000;
  BackgroundGovernor governor(tight);
  TombstoneReaper reaper(kPartition, config_, engine_, governor, counters_);
  ASSERT_TRUE(reaper.ProposeCandidates(100, 0).ok());
  EXPECT_TRUE(governor.InDebt(0));  // 5 keys at 1 KiB each and more: past the 1,000-byte bucket
}

// Pruning on demand: a key stored with enough superseded single-use entries does not wait for
// the interval. Its partition is due again prune_soon_after_ms after its last round, for a round
// that proposes only the keys that asked (read one by one, no scan: the tombstone and the
// unreported key beside it wait for the interval), and the interval's schedule is kept.
TEST_F(TombstoneReaperTest, AKeyStoredWithEnoughSupersededEntriesGetsARoundOfItsOwnSoon) {
  config_.prune_single_use_from = 3;
  config_.prune_soon_after_ms = 200;
  auto first = reaper_.ProposeCandidates(100, 0);  // nothing yet: rests for the interval
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->empty());
  EXPECT_EQ(reaper_.next_round_ms(), config_.interval_ms);

  Store(Key(1), Written(1, /*tombstone=*/true));
  Store(Key(5), WithSingleUseHistory(4));  // its writer did not count: only a scan finds it
  Store(Key(2), WithSingleUseHistory(3));
  Store(Key(3), WithSingleUseHistory(2));  // below prune_single_use_from
  reaper_.OnChanged();
  reaper_.OnStored(Key(5), 0);
  reaper_.OnStored(Key(2), 3);
  reaper_.OnStored(Key(3), 2);
  EXPECT_EQ(reaper_.prunes_wanted(), 1u);
  EXPECT_FALSE(reaper_.Due(199));
  ASSERT_TRUE(reaper_.Due(200));

  auto soon = reaper_.ProposeCandidates(100, 200);
  ASSERT_TRUE(soon.ok());
  ASSERT_EQ(soon->size(), 1u);
  EXPECT_EQ((*soon)[0], (ReapKey{Key(2), storage::ObjectVersionHash(WithSingleUseHistory(3)),
                                 /*prune=*/true, std::vector<ActorId>{100, 101, 102}}));
  EXPECT_EQ(reaper_.scanned_last(), 1u);
  EXPECT_EQ(counters_.prunes_proposed_on_demand, 1u);
  EXPECT_EQ(reaper_.prunes_wanted(), 0u);
  reaper_.OnRoundEnded(1, 250);
  EXPECT_FALSE(reaper_.Due(450));  // nothing waits
  EXPECT_EQ(reaper_.next_round_ms(), config_.interval_ms);

  // Asked again within 200 ms of that round's end: it waits for the 200 ms.
  reaper_.OnStored(Key(2), 3);
  EXPECT_FALSE(reaper_.Due(449));
  EXPECT_TRUE(reaper_.Due(450));

  // The interval's round scans as before, and takes the waiting key with the rest.
  auto scan = reaper_.ProposeCandidates(100, config_.interval_ms);
  ASSERT_TRUE(scan.ok());
  std::set<std::string> scanned;
  for (const ReapKey& key : *scan) scanned.insert(key.storage_key);
  EXPECT_EQ(scanned, (std::set<std::string>{Key(1), Key(2), Key(5)}));
  EXPECT_EQ(reaper_.prunes_wanted(), 0u);
  EXPECT_EQ(counters_.prunes_proposed_on_demand, 1u);
  reaper_.OnRoundEnded(0, config_.interval_ms);
  EXPECT_EQ(reaper_.next_round_ms(), 2 * config_.interval_ms);

  // At most prune_soon_keys_max keys wait; off, none does.
  config_.prune_soon_keys_max = 2;
  for (int i = 10; i < 14; ++i) reaper_.OnStored(Key(i), 5);
  EXPECT_EQ(reaper_.prunes_wanted(), 2u);
  TombstoneReaper off(kPartition, config_, engine_, governor_, counters_);
  config_.prune_soon_after_ms = 0;
  off.OnStored(Key(2), 3);
  EXPECT_EQ(off.prunes_wanted(), 0u);
}

// A prune on demand that is undone (the forgotten entries come back: a client chaining
// contexts brings them with each write) is done again, but past prune_soon_undone_grace undone
// ones in a row the key waits twice as long before its next round on demand each time; a prune
// that holds resets the wait.
TEST_F(TombstoneReaperTest, AKeyWhosePrunesOnDemandAreUndoneWaitsLongerEachTime) {
  config_.prune_single_use_from = 3;
  config_.prune_soon_after_ms = 200;
  config_.prune_soon_undone_grace = 0;  // from the first undone prune (the default forgives 6)
  auto first = reaper_.ProposeCandidates(100, 0);
  ASSERT_TRUE(first.ok());
  std::uint64_t now_ms = 0;
  // Stores the key every 50 ms (each write asks again) and runs each round on demand it is due
  // for, until one proposes it; the candidates (committed) and when.
  const auto round = [&](const DvvSet& stored) {
    std::vector<ReapKey> keys;
    for (int step = 0; step < 1000 && keys.empty(); ++step) {
      now_ms += 50;
      Store(Key(2), stored);
      reaper_.OnChanged();
      reaper_.OnStored(Key(2), static_cast<std::uint32_t>(stored.SupersededSingleUseEntries()));
      if (!reaper_.Due(now_ms)) continue;
      auto proposed = reaper_.ProposeCandidates(100, now_ms);
      EXPECT_TRUE(proposed.ok());
      if (proposed.ok()) keys = *proposed;
    }
    EXPECT_FALSE(keys.empty());
    reaper_.OnRoundEnded(keys.size(), now_ms);
    reaper_.OnCommit(keys);
    storage::WriteBatch batch;  // carried out: pruned here
    EXPECT_TRUE(reaper_.TakeDeletes(batch, now_ms).ok());
    reaper_.OnDeletesWritten(engine_.Write(batch, {}).ok());
    return std::pair{keys.size(), now_ms};
  };
  // Pruned once; the same entries come back (as with a chained context): pruned again, and
  // each next one waits longer: 200, 400, 800, 1,600 ms after the one before.
  std::uint64_t last_ms = round(WithSingleUseHistory(3)).second;
  EXPECT_EQ(counters_.prunes_on_demand_undone, 0u);
  std::vector<std::uint64_t> gaps;
  for (int undone = 1; undone <= 4; ++undone) {
    const auto [proposed, at_ms] = round(WithSingleUseHistory(3));
    EXPECT_EQ(proposed, 1u);
    gaps.push_back(at_ms - last_ms);
    last_ms = at_ms;
  }
  EXPECT_EQ(counters_.prunes_on_demand_undone, 4u);
  EXPECT_GE(gaps[0], 200u);
  for (std::size_t i = 1; i < gaps.size(); ++i) {
    EXPECT_GE(gaps[i], 2 * gaps[i - 1] - 50) << i;  // doubled (to the 50 ms steps above)
  }
  // New entries only (the last prune held): the wait is back to 200 ms.
  DvvSet fresh = Written(1, false);
  for (int i = 0; i <= 3; ++i) {
    EXPECT_TRUE(fresh.Apply(fresh.clock(), Dot{500 + std::uint64_t(i), kSingleUseCounter},
                            HlcTimestamp::FromParts(50 + i, 0), false, "w" + std::to_string(i),
                            ConflictPolicy::kSiblings));
  }
  round(fresh);  // waits out the last hold, then prunes 500..502
  EXPECT_EQ(counters_.prunes_on_demand_undone, 4u);
  DvvSet fresher = fresh;
  for (int i = 4; i <= 7; ++i) {
    EXPECT_TRUE(fresher.Apply(fresher.clock(), Dot{500 + std::uint64_t(i), kSingleUseCounter},
                              HlcTimestamp::FromParts(50 + i, 0), false, "w" + std::to_string(i),
                              ConflictPolicy::kSiblings));
  }
  fresher.PruneSingleUse();  // as pruned here, then written three more times
  for (int i = 8; i <= 11; ++i) {
    EXPECT_TRUE(fresher.Apply(fresher.clock(), Dot{500 + std::uint64_t(i), kSingleUseCounter},
                              HlcTimestamp::FromParts(50 + i, 0), false, "w" + std::to_string(i),
                              ConflictPolicy::kSiblings));
  }
  const std::uint64_t before_ms = now_ms;
  const auto [proposed, at_ms] = round(fresher);
  EXPECT_EQ(proposed, 1u);
  EXPECT_LE(at_ms - before_ms, 250u);
  EXPECT_EQ(counters_.prunes_on_demand_undone, 4u);
}

// A partition whose last whole pass found nothing is not scanned (nor charged) again until an
// object of it changes (PartitionReplica passes every change on): an idle partition costs
// nothing. (The store here bypasses the observer, so only OnChanged tells the reaper.)
TEST_F(TombstoneReaperTest, AnIdlePartitionIsNotScannedAgainUntilSomethingChanges) {
  config_.scan_key_cost_bytes = 1'024;  // so that a scan shows in the budget
  for (int i = 0; i < 3; ++i) Store(Key(i), Written(1, false));
  auto first = reaper_.ProposeCandidates(100, 0);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->empty());
  EXPECT_EQ(reaper_.scanned_last(), 3u);
  EXPECT_TRUE(reaper_.clean());
  const std::uint64_t charged = governor_.stats().of(WorkKind::kTombstoneReaping).bytes_granted;

  Store(Key(3), Written(1, true));
  auto skipped = reaper_.ProposeCandidates(100, config_.interval_ms);
  ASSERT_TRUE(skipped.ok());
  EXPECT_TRUE(skipped->empty());
  EXPECT_EQ(reaper_.scanned_last(), 0u);
  EXPECT_EQ(governor_.stats().of(WorkKind::kTombstoneReaping).bytes_granted, charged);
  EXPECT_FALSE(reaper_.Due(config_.interval_ms));  // it rests an interval as after a scan

  reaper_.OnChanged();
  auto found = reaper_.ProposeCandidates(100, 2 * config_.interval_ms);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(reaper_.scanned_last(), 4u);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].storage_key, Key(3));
  EXPECT_FALSE(reaper_.clean());  // it proposed something
}

// Only a whole pass that could have proposed everything proves the partition clean: not one
// that left tombstones out (prunes only), nor one during which something changed.
TEST_F(TombstoneReaperTest, APassOfPrunesOnlyOrWithAChangeDoesNotMakeThePartitionClean) {
  Store(Key(0), Written(1, true));
  auto prunes = reaper_.ProposeCandidates(100, 0, /*prunes_only=*/true);
  ASSERT_TRUE(prunes.ok());
  EXPECT_TRUE(prunes->empty());
  EXPECT_FALSE(reaper_.clean());
  auto all = reaper_.ProposeCandidates(100, config_.interval_ms);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);  // the tombstone, found by the next pass
  reaper_.OnRoundEnded(0, config_.interval_ms);

  ReapConfig config;
  TombstoneReaper reaper(kPartition + 1, config, engine_, governor_, counters_);
  for (int i = 0; i < 4; ++i) {
    storage::WriteBatch batch;
    batch.Put(storage::Column::kObjects,
              storage::EncodeObjectKey(kPartition + 1, "b", "k" + std::to_string(i)),
              EncodeObject(Written(1, false)));
    ASSERT_TRUE(engine_.Write(batch, {}).ok());
  }
  auto half = reaper.ProposeCandidates(100, 0, false, /*scan_max=*/2);
  ASSERT_TRUE(half.ok());
  reaper.OnChanged();  // between the two halves of the pass
  auto rest = reaper.ProposeCandidates(100, config.continue_after_ms);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(reaper.scanned_last(), 2u);
  EXPECT_FALSE(reaper.clean());
  auto again = reaper.ProposeCandidates(100, config.continue_after_ms + config.interval_ms);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(reaper.scanned_last(), 4u);  // scanned again, and now it is clean
  EXPECT_TRUE(reaper.clean());
}

TEST_F(TombstoneReaperTest, ACommittedDeleteIsSkippedWhenTheObjectChangedSinceTheRound) {
  const DvvSet tombstone = Written(1, true);
  Store(Key(1), tombstone);
  Store(Key(2), tombstone);
  const std::uint64_t hash = storage::ObjectVersionHash(tombstone);
  // Between the round's acceptance and the commit, a new write reached key 2.
  DvvSet rewritten = tombstone;
  ASSERT_TRUE(rewritten.MergeFrom(Written(9, false)).ok());
  Store(Key(2), rewritten);

  reaper_.OnCommit({{Key(1), hash}, {Key(2), hash}});
  EXPECT_TRUE(reaper_.deletes_pending());
  EXPECT_EQ(ApplyDeletes(0), 1u);
  EXPECT_FALSE(Stored(Key(1)));
  EXPECT_TRUE(Stored(Key(2)));  // kept: the round never saw this version
  EXPECT_EQ(counters_.tombstones_reaped, 1u);
  EXPECT_EQ(counters_.deletes_skipped, 1u);
  EXPECT_FALSE(reaper_.deletes_pending());
}

TEST_F(TombstoneReaperTest, DeletesWaitForTheBudget) {
  BackgroundGovernorConfig tight;
  tight.bytes_per_second = 1'000;
  tight.burst_bytes = 5'000;  // one batch of a single delete (4 KiB object cost) at a time
  BackgroundGovernor governor(tight);
  ReapConfig config;
  config.deletes_per_batch_max = 1;
  TombstoneReaper reaper(kPartition, config, engine_, governor, counters_);
  const DvvSet tombstone = Written(1, true);
  Store(Key(1), tombstone);
  Store(Key(2), tombstone);
  const std::uint64_t hash = storage::ObjectVersionHash(tombstone);
  reaper.OnCommit({{Key(1), hash}, {Key(2), hash}});
  storage::WriteBatch first;
  ASSERT_EQ(*reaper.TakeDeletes(first, 0), 1u);
  reaper.OnDeletesWritten(engine_.Write(first, {}).ok());
  storage::WriteBatch refused;
  EXPECT_EQ(*reaper.TakeDeletes(refused, 0), 0u);  // the bucket is empty
  EXPECT_TRUE(refused.empty());
  EXPECT_TRUE(reaper.deletes_pending());
  EXPECT_EQ(governor.stats().of(WorkKind::kTombstoneReaping).objects_granted, 1u);
  storage::WriteBatch later;
  ASSERT_EQ(*reaper.TakeDeletes(later, 10'000), 1u);
  reaper.OnDeletesWritten(engine_.Write(later, {}).ok());
  EXPECT_FALSE(Stored(Key(2)));
  EXPECT_FALSE(reaper.deletes_pending());
}

TEST_F(TombstoneReaperTest, AKeyWhoseDeleteIsQueuedIsNeitherProposedNorQueuedTwice) {
  const DvvSet tombstone = Written(1, true);
  Store(Key(1), tombstone);
  Store(Key(2), tombstone);
  const std::uint64_t hash = storage::ObjectVersionHash(tombstone);
  reaper_.OnCommit({{Key(1), hash}});
  reaper_.OnCommit({{Key(1), hash}});  // a repeated commit
  EXPECT_TRUE(reaper_.DeletePending(Key(1), hash));
  EXPECT_FALSE(reaper_.DeletePending(Key(1), hash + 1));
  auto candidates = reaper_.ProposeCandidates(100, 0);
  ASSERT_TRUE(candidates.ok());
  ASSERT_EQ(candidates->size(), 1u);  // key 1 is queued already
  EXPECT_EQ((*candidates)[0].storage_key, Key(2));
  EXPECT_EQ(ApplyDeletes(0), 1u);  // one delete, not two
  EXPECT_FALSE(reaper_.deletes_pending());
  EXPECT_FALSE(reaper_.DeletePending(Key(1), hash));
}

TEST_F(TombstoneReaperTest, AFailedWriteKeepsTheDeletesPending) {
  const DvvSet tombstone = Written(1, true);
  Store(Key(1), tombstone);
  reaper_.OnCommit({{Key(1), storage::ObjectVersionHash(tombstone)}});
  storage::WriteBatch batch;
  ASSERT_EQ(*reaper_.TakeDeletes(batch, 0), 1u);
  reaper_.OnDeletesWritten(false);
  EXPECT_TRUE(reaper_.deletes_pending());
  EXPECT_EQ(ApplyDeletes(1'000), 1u);
  EXPECT_FALSE(Stored(Key(1)));
}

}  // namespace
}  // namespace meridian::replication
