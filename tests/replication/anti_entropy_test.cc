// AntiEntropy on its own: two (or three) replicas of one partition over MemoryEngines (objects in
// segment order, as a node keeps them), their messages shuttled by the test, their repairs merged
// as the node merges them. Checked: equal trees end an exchange after one round trip; differing
// keys — on one side, on both, deleted (tombstones), a wiped replica — are repaired both ways
// through the normal merge until both engines hold the same objects; a cap on segments per round
// carries on in later rounds; a responder that is not a replica refuses; an unanswered exchange is
// given up; the background budget paces it (a stream slot per exchange, key hashes held while it
// has no credit, every copy sent or received charged, at most keys_per_round_max copies a round
// each way).
#include "replication/anti_entropy.h"

#include <gtest/gtest.h>

#include <map>

#include "core/byte_codec.h"
#include "core/object_codec.h"
#include "replication/fake_budget.h"
#include "replication/object_merge.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/segment_ordered_memory_engine.h"
#include "storage/tictac_keys.h"

namespace meridian::replication {
namespace {

constexpr std::uint32_t kPartition = 9;

DvvSet Written(ActorId actor, const std::string& value, std::uint64_t ms = 1) {
  DvvSet object;
  object.Update({}, actor, HlcTimestamp::FromParts(ms, 0), false, value, ConflictPolicy::kSiblings);
  return object;
}

std::string Key(int i) {
  return storage::EncodeObjectKey(kPartition, "b", "k" + std::to_string(i));
}

// One replica: an engine whose object writes keep the anti-entropy index (as the node's
// WriteObservingEngine does) and tell the tree.
class Replica {
 public:
  Replica(std::string address, const AntiEntropyConfig& config, std::uint32_t replica_count = 3,
          AntiEntropy::KeyFilter in_tree = nullptr)
      : address(std::move(address)),
        anti_entropy(kPartition, replica_count, std::move(in_tree), config, engine, this->address,
                     counters, budget) {}

  // Merges `object` into the stored copy (the node's normal merge) and tells the tree.
  void Merge(const std::string& key, const DvvSet& object) {
    auto merged = MergeWithStored(engine, storage::Column::kObjects, key, object);
    ASSERT_TRUE(merged.ok()) << merged.status().ToString();
    if (merged->has_value()) Store(key, **merged);
  }
  void Store(const std::string& key, const std::string& encoded) {
    const std::uint64_t hash = *storage::EncodedObjectVersionHash(encoded);
    const std::optional<std::uint64_t> old = *engine.GetObjectVersionHash(key);
    storage::WriteBatch batch;
    batch.Put(storage::Column::kObjects, key, encoded);
    ASSERT_TRUE(engine.Write(batch, {}).ok());
    anti_entropy.OnObjectChanged(key, old, hash);
  }
  void Wipe() {
    std::vector<std::string> keys;
    ASSERT_TRUE(engine
                    .Scan(storage::Column::kObjects, "", "",
                          [&](std::string_view key, std::string_view) {
                            keys.emplace_back(key);
                            return true;
                          })
                    .ok());
    for (const std::string& key : keys) {
      const std::optional<std::uint64_t> old = *engine.GetObjectVersionHash(key);
      storage::WriteBatch batch;
      batch.Delete(storage::Column::kObjects, key);
      ASSERT_TRUE(engine.Write(batch, {}).ok());
      anti_entropy.OnObjectChanged(key, old, std::nullopt);
    }
  }
  void ApplyRepairs() {
    for (auto& [key, encoded] : anti_entropy.TakeRepairs()) Merge(key, *DecodeObject(encoded));
  }
  std::map<std::string, DvvSet> Objects() {
    std::map<std::string, DvvSet> objects;
    EXPECT_TRUE(engine
                    .Scan(storage::Column::kObjects, "", "",
                          [&](std::string_view key, std::string_view value) {
                            objects.emplace(std::string(key), *DecodeObject(value));
                            return true;
                          })
                    .ok());
    return objects;
  }

  std::string address;
  // The objects as a node keeps them: in segment order, hashes in front.
  storage::test_support::SegmentOrderedMemoryEngine engine;
  AntiEntropyCounters counters;
  test_support::FakeBudget budget;
  AntiEntropy anti_entropy;
};

class AntiEntropyTest : public ::testing::Test {
 protected:
  AntiEntropyTest() {
    config_.exchange_interval_ms = 10'000;
    config_.exchange_timeout_ms = 5'000;
    config_.continue_after_ms = 100;
  }

  // Delivers messages between the replicas until none is left; returns how many went by.
  int Shuttle(std::vector<Replica*> replicas, bool a_is_replica = true) {
    int delivered = 0;
    for (bool any = true; any;) {
      any = false;
      for (Replica* from : replicas) {
        for (cluster::Outbound& out : from->anti_entropy.TakeOutbound()) {
          for (Replica* to : replicas) {
            if (to->address != out.to_address) continue;
            bytes_ += out.message.ByteSizeLong();
            to->anti_entropy.Receive(from->address, out.message, now_ms_,
                                     to != replicas[0] || a_is_replica);
            ++delivered;
            any = true;
          }
        }
        from->ApplyRepairs();
      }
    }
    return delivered;
  }
  // One exchange started by `a` with `b`.
  int Exchange(Replica& a, Replica& b) {
    // The first tick only schedules (each partition at its own offset in the interval).
    for (int tick = 0; tick < 3 && !a.anti_entropy.exchanging(); ++tick) {
      now_ms_ += config_.exchange_interval_ms;
      a.anti_entropy.Tick(now_ms_, {b.address});
    }
    EXPECT_TRUE(a.anti_entropy.exchanging());
    return Shuttle({&a, &b});
  }

  AntiEntropyConfig config_;
  std::uint64_t now_ms_ = 0;
  std::size_t bytes_ = 0;
};

TEST_F(AntiEntropyTest, EqualReplicasEndTheExchangeAfterOneRoundTrip) {
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  for (int i = 0; i < 200; ++i) {
    a.Merge(Key(i), Written(1, "v" + std::to_string(i)));
    b.Merge(Key(i), Written(1, "v" + std::to_string(i)));
  }
  EXPECT_EQ(Exchange(a, b), 2);  // start, in_sync
  EXPECT_EQ(a.anti_entropy.counters().exchanges, 1u);
  EXPECT_EQ(a.anti_entropy.counters().exchanges_in_sync, 1u);
  EXPECT_EQ(a.anti_entropy.counters().keys_received, 0u);
  EXPECT_LT(bytes_, 1'200u);  // the branch level of 64 branches, and a short reply
}

// A tree of the keys with n = 2 (a filter by bucket) compares and repairs only those: the keys
// of an n = 1 bucket stay where they are, and the trees still end equal (docs/design/
// anti_entropy.md, the n-below-n_max bug).
TEST_F(AntiEntropyTest, ATreeOfOneReplicaCountRepairsOnlyItsOwnKeys) {
  const auto of_bucket_two = [](std::string_view key) {
    auto decoded = storage::DecodeObjectKey(key);
    return decoded.ok() && decoded->id.bucket == "two";
  };
  const auto key_in = [](const std::string& bucket, int i) {
    return storage::EncodeObjectKey(kPartition, bucket, "k" + std::to_string(i));
  };
  Replica a("a:1", config_, 2, of_bucket_two);
  Replica b("b:1", config_, 2, of_bucket_two);
  for (int i = 0; i < 100; ++i) {
    a.Merge(key_in("two", i), Written(1, "v" + std::to_string(i)));
    if (i < 90) b.Merge(key_in("two", i), Written(1, "v" + std::to_string(i)));
    Replica& holder = i < 50 ? a : b;  // each key of bucket "one" on one side only
    holder.Merge(key_in("one", i), Written(1, "w" + std::to_string(i)));
  }
  Exchange(a, b);
  std::size_t a_one = 0;
  std::size_t b_one = 0;
  for (const auto& [key, object] : a.Objects()) a_one += of_bucket_two(key) ? 0 : 1;
  for (const auto& [key, object] : b.Objects()) b_one += of_bucket_two(key) ? 0 : 1;
  EXPECT_EQ(a_one, 50u);
  EXPECT_EQ(b_one, 50u);
  EXPECT_EQ(b.Objects().size(), 150u);  // the ten missing keys of bucket "two" arrived
  EXPECT_EQ(a.anti_entropy.counters().keys_sent, 10u);
  EXPECT_EQ(*a.anti_entropy.Tree().value(), *b.anti_entropy.Tree().value());
  EXPECT_EQ(Exchange(a, b), 2);  // in sync at once
  EXPECT_EQ(a.anti_entropy.replica_count(), 2u);
}

TEST_F(AntiEntropyTest, RepairsExactlyTheDifferingKeysBothWaysThroughTheMerge) {
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  for (int i = 0; i < 1'000; ++i) {
    a.Merge(Key(i), Written(1, "v" + std::to_string(i)));
    b.Merge(Key(i), Written(1, "v" + std::to_string(i)));
  }
  a.Merge(Key(1'000), Written(1, "only-on-a"));
  b.Merge(Key(1'001), Written(2, "only-on-b"));
  a.Merge(Key(5), Written(3, "concurrent-a"));  // both sides wrote key 5: siblings after
  b.Merge(Key(5), Written(4, "concurrent-b"));
  DvvSet deleted = Written(1, "v7");  // a deleted key 7; b still has the value
  deleted.Update(deleted.clock(), 1, HlcTimestamp::FromParts(2, 0), true, "",
                 ConflictPolicy::kSiblings);
  a.Merge(Key(7), deleted);

  Exchange(a, b);
  EXPECT_EQ(a.Objects(), b.Objects());
  EXPECT_EQ(a.Objects().size(), 1'002u);
  EXPECT_EQ(a.Objects().at(Key(5)).LiveCount(), 3u);  // v5 and both concurrent writes
  EXPECT_TRUE(a.Objects().at(Key(7)).IsDeleted());
  // Only the differing keys travelled: b sent its copies of 1001, 5 and 7; a sent 1000, 5, 7.
  EXPECT_EQ(b.anti_entropy.counters().keys_sent, 3u);
  EXPECT_EQ(a.anti_entropy.counters().keys_sent, 3u);
  EXPECT_EQ(*a.anti_entropy.Tree().value(), *b.anti_entropy.Tree().value());

  Exchange(a, b);  // and now they are equal
  EXPECT_EQ(a.anti_entropy.counters().exchanges_in_sync, 1u);
}

TEST_F(AntiEntropyTest, AWipedReplicaIsRefilledOverCappedRounds) {
  config_.segments_per_round_max = 16;
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  for (int i = 0; i < 2'000; ++i) {
    a.Merge(Key(i), Written(1, "v" + std::to_string(i)));
    b.Merge(Key(i), Written(1, "v" + std::to_string(i)));
  }
  b.Wipe();
  ASSERT_TRUE(b.Objects().empty());
  int rounds = 0;
  while (a.Objects() != b.Objects() && rounds < 1'000) {
    now_ms_ += config_.continue_after_ms;  // capped rounds follow each other quickly
    a.anti_entropy.Tick(now_ms_, {b.address});
    Shuttle({&a, &b});
    ++rounds;
  }
  EXPECT_EQ(a.Objects(), b.Objects());
  // 2,000 keys spread over about 1,600 of the 4,096 segments, 16 segments per round.
  EXPECT_GT(rounds, 2'000 / 16 / 2);
  EXPECT_EQ(b.anti_entropy.counters().keys_received, 2'000u);
}

TEST_F(AntiEntropyTest, ThreeReplicasConvergeAfterEveryPairExchangedOnce) {
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  Replica c("c:1", config_);
  a.Merge(Key(1), Written(1, "a1"));
  b.Merge(Key(2), Written(2, "b2"));
  c.Merge(Key(3), Written(3, "c3"));
  c.Merge(Key(1), Written(3, "c1"));
  Exchange(a, b);
  Exchange(a, c);
  Exchange(b, c);
  EXPECT_EQ(a.Objects(), b.Objects());
  EXPECT_EQ(b.Objects(), c.Objects());
  EXPECT_EQ(a.Objects().at(Key(1)).LiveCount(), 2u);
}

TEST_F(AntiEntropyTest, ARespondentThatIsNotAReplicaRefusesAndAnUnansweredExchangeIsGivenUp) {
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  a.Merge(Key(1), Written(1, "x"));
  a.anti_entropy.Tick(now_ms_, {b.address});  // schedules
  now_ms_ += config_.exchange_interval_ms;
  a.anti_entropy.Tick(now_ms_, {b.address});
  // b answers as a non-replica.
  for (cluster::Outbound& out : a.anti_entropy.TakeOutbound()) {
    b.anti_entropy.Receive(a.address, out.message, now_ms_, /*replica=*/false);
  }
  for (cluster::Outbound& out : b.anti_entropy.TakeOutbound()) {
    a.anti_entropy.Receive(b.address, out.message, now_ms_, true);
  }
  EXPECT_EQ(a.anti_entropy.counters().exchanges_failed, 1u);
  EXPECT_FALSE(a.anti_entropy.exchanging());

  now_ms_ += config_.exchange_interval_ms;
  a.anti_entropy.Tick(now_ms_, {b.address});  // lost in the network
  ASSERT_EQ(a.anti_entropy.TakeOutbound().size(), 1u);
  EXPECT_TRUE(a.anti_entropy.exchanging());
  a.anti_entropy.Tick(now_ms_ + config_.exchange_timeout_ms, {b.address});
  EXPECT_EQ(a.anti_entropy.counters().exchanges_failed, 2u);
  EXPECT_FALSE(a.anti_entropy.exchanging());
}

TEST_F(AntiEntropyTest, ComparingTreesNeedsNoStreamSlot) {
  // Thousands of partitions compare every interval; only the ones that differ move data.
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  a.Merge(Key(1), Written(1, "x"));
  b.Merge(Key(1), Written(1, "x"));
  a.budget.streams_allowed = false;
  EXPECT_EQ(Exchange(a, b), 2);  // start, in_sync
  EXPECT_FALSE(a.anti_entropy.exchanging());
  EXPECT_EQ(a.anti_entropy.counters().exchanges_in_sync, 1u);
  EXPECT_TRUE(a.anti_entropy.InSyncWith(b.address));
  EXPECT_TRUE(a.budget.stream_requests.empty());
}

TEST_F(AntiEntropyTest, ARepairWaitsForAStreamSlotAndGivesItBack) {
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  a.Merge(Key(1), Written(1, "x"));
  a.budget.streams_allowed = false;
  Exchange(a, b);  // start and segment hashes: the trees differ, the repair waits for a slot
  ASSERT_TRUE(a.anti_entropy.exchanging());
  ASSERT_FALSE(a.budget.stream_requests.empty());
  EXPECT_EQ(a.budget.stream_requests.back(), WorkKind::kAntiEntropyRepair);
  // Far past the exchange timeout, still waiting rather than failing; nothing sent meanwhile.
  for (int tick = 0; tick < 3; ++tick) {
    now_ms_ += config_.exchange_timeout_ms;
    a.anti_entropy.Tick(now_ms_, {b.address});
  }
  EXPECT_TRUE(a.anti_entropy.TakeOutbound().empty());
  EXPECT_EQ(a.anti_entropy.counters().exchanges_failed, 0u);
  EXPECT_TRUE(b.Objects().empty());

  a.budget.streams_allowed = true;
  a.anti_entropy.Tick(now_ms_, {b.address});
  Shuttle({&a, &b});
  EXPECT_FALSE(a.anti_entropy.exchanging());
  EXPECT_EQ(a.Objects(), b.Objects());
  EXPECT_EQ(a.budget.streams_held, 0u);           // given back when the exchange ended
  EXPECT_TRUE(b.budget.stream_requests.empty());  // the responder holds none
}

TEST_F(AntiEntropyTest, KeyHashesWaitForTheBudgetWithoutTimingOut) {
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  for (int i = 0; i < 50; ++i) a.Merge(Key(i), Written(1, "v" + std::to_string(i)));
  a.budget.spends_left = 0;
  a.anti_entropy.Tick(now_ms_, {b.address});  // schedules
  now_ms_ += config_.exchange_interval_ms;
  a.anti_entropy.Tick(now_ms_, {b.address});
  Shuttle({&a, &b});  // start and segment hashes; the key hashes are held
  ASSERT_TRUE(a.anti_entropy.exchanging());
  EXPECT_TRUE(b.Objects().empty());
  // Far past the exchange timeout, still waiting for credit rather than failing.
  now_ms_ += 3 * config_.exchange_timeout_ms;
  a.anti_entropy.Tick(now_ms_, {b.address});
  EXPECT_TRUE(a.anti_entropy.TakeOutbound().empty());
  EXPECT_EQ(a.anti_entropy.counters().exchanges_failed, 0u);
  ASSERT_FALSE(a.budget.spend_kinds.empty());
  EXPECT_EQ(a.budget.spend_kinds.back(), WorkKind::kAntiEntropyRepair);

  a.budget.spends_left = 1;
  a.anti_entropy.Tick(now_ms_, {b.address});
  Shuttle({&a, &b});
  EXPECT_FALSE(a.anti_entropy.exchanging());
  EXPECT_EQ(a.Objects(), b.Objects());
  EXPECT_EQ(a.budget.streams_held, 0u);
}

TEST_F(AntiEntropyTest, ARoundMovesAtMostKeysPerRoundEachWayAndEverySideChargesItsCopies) {
  config_.keys_per_round_max = 100;
  Replica a("a:1", config_);
  Replica b("b:1", config_);
  for (int i = 0; i < 1'000; ++i) a.Merge(Key(i), Written(1, "v" + std::to_string(i)));
  // b (the initiator) is empty: it asks for every segment, a's reply is cut to 100 copies.
  int rounds = 0;
  while (a.Objects() != b.Objects() && rounds < 100) {
    now_ms_ += config_.exchange_interval_ms;
    b.anti_entropy.Tick(now_ms_, {a.address});
    for (cluster::Outbound& out : b.anti_entropy.TakeOutbound()) {
      a.anti_entropy.Receive(b.address, out.message, now_ms_, true);
    }
    for (cluster::Outbound& out : a.anti_entropy.TakeOutbound()) {
      if (out.message.has_aae_repair()) {
        EXPECT_LE(out.message.aae_repair().objects_size(), 100);
      }
      b.anti_entropy.Receive(a.address, out.message, now_ms_, true);
    }
    Shuttle({&b, &a});
    ++rounds;
  }
  EXPECT_EQ(a.Objects(), b.Objects());
  EXPECT_GE(rounds, 10);  // 1,000 keys, 100 a round
  std::uint64_t sent = 0;
  for (const WorkSize& size : a.budget.charges) {
    EXPECT_LE(size.objects, 100u);
    sent += size.objects;
  }
  std::uint64_t received = 0;
  for (const WorkSize& size : b.budget.charges) received += size.objects;
  EXPECT_EQ(sent, 1'000u);
  EXPECT_EQ(received, 1'000u);
  for (WorkKind kind : a.budget.charge_kinds) EXPECT_EQ(kind, WorkKind::kAntiEntropyRepair);
}

}  // namespace
}  // namespace meridian::replication
