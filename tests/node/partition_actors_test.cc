// PartitionActors and WriteObservingEngine: the rule that keeps every dot unique (issue 10) —
// an actor mints only while nothing it minted into can have been deleted — on its own, and
// through a Node over a clean restart and a crash.
#include "node/partition_actors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "core/hash.h"
#include "core/object_codec.h"
#include "node/node_test_util.h"
#include "node/write_observing_engine.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"
#include "storage/segment_ordered_objects.h"
#include "storage/tictac_keys.h"

namespace meridian::node {
namespace {

using test_support::SplitMix64;

constexpr std::uint32_t kPartitions = 8;

TEST(PartitionActorsTest, AnActorStaysUntilRetiredAndRolesAndPartitionsAreApart) {
  SplitMix64 random(7);
  PartitionActors actors(kPartitions, &random);
  const ActorId replica = actors.Current(3, MintRole::kReplica);
  const ActorId fallback = actors.Current(3, MintRole::kFallback);
  const ActorId other = actors.Current(4, MintRole::kReplica);
  EXPECT_NE(replica, 0u);
  EXPECT_NE(replica, fallback);
  EXPECT_NE(replica, other);
  EXPECT_EQ(actors.Current(3, MintRole::kReplica), replica);
  EXPECT_EQ(actors.drawn(), 3u);

  actors.Retire(3, MintRole::kFallback);
  const ActorId fresh = actors.Current(3, MintRole::kFallback);
  EXPECT_NE(fresh, fallback);
  EXPECT_EQ(actors.Current(3, MintRole::kReplica), replica);  // the other role is untouched
  EXPECT_EQ(actors.Current(4, MintRole::kReplica), other);    // and so are other partitions
  EXPECT_EQ(actors.drawn(), 4u);

  actors.RetireAll(MintRole::kReplica);
  EXPECT_NE(actors.Current(3, MintRole::kReplica), replica);
  EXPECT_NE(actors.Current(4, MintRole::kReplica), other);
  EXPECT_EQ(actors.Current(3, MintRole::kFallback), fresh);
}

TEST(PartitionActorsTest, EncodeDecodeRoundTripsAndGarbageChangesNothing) {
  SplitMix64 random(8);
  PartitionActors actors(kPartitions, &random);
  const ActorId a = actors.Current(0, MintRole::kReplica);
  const ActorId b = actors.Current(7, MintRole::kFallback);
  const std::string saved = actors.Encode();

  PartitionActors restored(kPartitions, &random);
  ASSERT_TRUE(restored.Decode(saved).ok());
  EXPECT_EQ(restored.Current(0, MintRole::kReplica), a);
  EXPECT_EQ(restored.Current(7, MintRole::kFallback), b);
  EXPECT_EQ(restored.drawn(), 0u);

  PartitionActors smaller(4, &random);  // partition 7 is outside a 4-partition ring
  EXPECT_EQ(smaller.Decode(saved).code(), StatusCode::kCorruption);
  for (std::size_t length = 0; length < saved.size(); ++length) {
    PartitionActors truncated(kPartitions, &random);
    const ActorId before = truncated.Current(1, MintRole::kReplica);
    EXPECT_FALSE(truncated.Decode(saved.substr(0, length)).ok()) << length;
    EXPECT_EQ(truncated.Current(1, MintRole::kReplica), before) << length;
  }
  EXPECT_FALSE(restored.Decode(saved + "x").ok());
  std::string zero_actor;
  zero_actor.push_back(1);                  // count
  zero_actor.append(std::string(4, '\0'));  // partition 0
  zero_actor.push_back(0);                  // role
  zero_actor.append(std::string(8, '\0'));  // actor 0
  EXPECT_EQ(restored.Decode(zero_actor).code(), StatusCode::kCorruption);
}

std::string EncodedValue(const std::string& value) {
  DvvSet object;
  object.Update({}, 3, HlcTimestamp::FromParts(1, 0), false, value, ConflictPolicy::kSiblings);
  return EncodeObject(object);
}

TEST(WriteObservingEngineTest, EveryDeletedObjectOrHintRetiresItsPartitionsActor) {
  SplitMix64 random(9);
  PartitionActors actors(kPartitions, &random);
  storage::MemoryEngine inner;
  WriteObservingEngine engine(inner, actors);
  const ActorId replica2 = actors.Current(2, MintRole::kReplica);
  const ActorId fallback2 = actors.Current(2, MintRole::kFallback);
  const ActorId replica5 = actors.Current(5, MintRole::kReplica);

  storage::WriteBatch puts;  // writes merge into records: nothing retires
  puts.Put(storage::Column::kObjects, storage::EncodeObjectKey(2, "b", "k"), EncodedValue("x"));
  puts.Put(storage::Column::kHints, storage::EncodeObjectKey(2, "b", "k"), "hint record");
  puts.Delete(storage::Column::kMetadata, "node/forwarding");
  ASSERT_TRUE(engine.Write(puts, {}).ok());
  EXPECT_EQ(actors.Current(2, MintRole::kReplica), replica2);
  EXPECT_EQ(actors.Current(2, MintRole::kFallback), fallback2);

  storage::WriteBatch delivered;  // a hint handed off and deleted
  delivered.Delete(storage::Column::kHints, storage::EncodeObjectKey(2, "b", "k"));
  ASSERT_TRUE(engine.Write(delivered, {}).ok());
  EXPECT_NE(actors.Current(2, MintRole::kFallback), fallback2);
  EXPECT_EQ(actors.Current(2, MintRole::kReplica), replica2);

  storage::WriteBatch dropped;  // a partition's objects dropped after it moved away
  dropped.Delete(storage::Column::kObjects, storage::EncodeObjectKey(2, "b", "k"));
  ASSERT_TRUE(engine.Write(dropped, {}).ok());
  EXPECT_NE(actors.Current(2, MintRole::kReplica), replica2);
  EXPECT_EQ(actors.Current(5, MintRole::kReplica), replica5);
  EXPECT_FALSE(inner.Get(storage::Column::kObjects, storage::EncodeObjectKey(2, "b", "k"))
                   ->has_value());  // and the deletion itself went through
}

// The observer hears each version-hash change (old and new) once the write succeeded, with the
// superseded single-use entries its writer counted.
TEST(WriteObservingEngineTest, ReportsVersionChanges) {
  struct Recorder final : ObjectChangeObserver {
    void OnObjectChanged(std::uint32_t partition, std::string_view key,
                         std::optional<std::uint64_t> old_hash,
                         std::optional<std::uint64_t> new_hash,
                         std::uint32_t superseded_single_use) override {
      changes.push_back({partition, std::string(key), old_hash, new_hash, superseded_single_use});
    }
    struct Change {
      std::uint32_t partition;
      std::string key;
      std::optional<std::uint64_t> old_hash, new_hash;
      std::uint32_t superseded_single_use;
    };
    std::vector<Change> changes;
  } recorder;
  SplitMix64 random(10);
  PartitionActors actors(kPartitions, &random);
  storage::MemoryEngine inner;
  WriteObservingEngine engine(inner, actors);
  engine.SetObserver(&recorder);
  const std::string key = storage::EncodeObjectKey(3, "b", "k");
  const std::uint64_t hash1 = *storage::EncodedObjectVersionHash(EncodedValue("one"));
  const std::uint64_t hash2 = *storage::EncodedObjectVersionHash(EncodedValue("two"));

  storage::WriteBatch first;
  first.Put(storage::Column::kObjects, key, EncodedValue("one"));
  ASSERT_TRUE(engine.Write(first, {}).ok());
  EXPECT_EQ(*engine.GetObjectVersionHash(key), hash1);
  storage::WriteBatch twice;  // two writes of one key in a batch: the second's old is the first
  twice.Put(storage::Column::kObjects, key, EncodedValue("one"));
  twice.PutObject(key, EncodedValue("two"), hash2, /*superseded_single_use=*/9);
  ASSERT_TRUE(engine.Write(twice, {}).ok());
  EXPECT_EQ(*engine.GetObjectVersionHash(key), hash2);
  storage::WriteBatch removal;
  removal.Delete(storage::Column::kObjects, key);
  ASSERT_TRUE(engine.Write(removal, {}).ok());
  EXPECT_EQ(*engine.GetObjectVersionHash(key), std::nullopt);

  ASSERT_EQ(recorder.changes.size(), 3u);  // the unchanged rewrite reported nothing
  EXPECT_EQ(recorder.changes[0].old_hash, std::nullopt);
  EXPECT_EQ(recorder.changes[0].new_hash, hash1);
  EXPECT_EQ(recorder.changes[1].old_hash, hash1);
  EXPECT_EQ(recorder.changes[1].new_hash, hash2);
  EXPECT_EQ(recorder.changes[0].superseded_single_use, 0u);
  EXPECT_EQ(recorder.changes[1].superseded_single_use, 9u);
  EXPECT_EQ(recorder.changes[2].old_hash, hash2);
  EXPECT_EQ(recorder.changes[2].new_hash, std::nullopt);
  EXPECT_EQ(recorder.changes[2].partition, 3u);

  storage::WriteBatch garbage;  // refused whole: nothing written, nothing reported
  garbage.Put(storage::Column::kObjects, storage::EncodeObjectKey(3, "b", "other"), "x");
  EXPECT_EQ(engine.Write(garbage, {}).code(), StatusCode::kCorruption);
  EXPECT_FALSE(
      inner.Get(storage::Column::kObjects, storage::EncodeObjectKey(3, "b", "other"))->has_value());
  EXPECT_EQ(recorder.changes.size(), 3u);
}

// A write takes a key's old version hash from the object read just before it (the write path's
// read-before-write) instead of reading the stored hash again; without such a read, or after
// another write came between, it reads the stored hash.
TEST(WriteObservingEngineTest, AnObjectReadBeforeTheWriteSparesTheHashRead) {
  struct CountingEngine final : storage::Engine {
    explicit CountingEngine(storage::Engine& inner) : inner(inner) {}
    Result<std::optional<std::string>> Get(storage::Column column, std::string_view key) override {
      return inner.Get(column, key);
    }
    Result<std::optional<std::uint64_t>> GetObjectVersionHash(std::string_view key) override {
      ++hash_reads;
      return inner.GetObjectVersionHash(key);
    }
    Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override {
      return inner.Write(batch, options);
    }
    Status Scan(storage::Column column, std::string_view begin, std::string_view end,
                const storage::ScanVisitor& visitor) override {
      return inner.Scan(column, begin, end, visitor);
    }
    storage::Engine& inner;
    int hash_reads = 0;
  };
  struct Recorder final : ObjectChangeObserver {
    void OnObjectChanged(std::uint32_t, std::string_view, std::optional<std::uint64_t> old_hash,
                         std::optional<std::uint64_t>, std::uint32_t) override {
      old_hashes.push_back(old_hash);
    }
    std::vector<std::optional<std::uint64_t>> old_hashes;
  } recorder;
  SplitMix64 random(11);
  PartitionActors actors(kPartitions, &random);
  storage::MemoryEngine memory;
  CountingEngine counting(memory);
  WriteObservingEngine engine(counting, actors);
  engine.SetObserver(&recorder);
  const std::string key = storage::EncodeObjectKey(3, "b", "k");
  auto put = [&](const std::string& storage_key, const std::string& value) {
    storage::WriteBatch batch;
    batch.Put(storage::Column::kObjects, storage_key, EncodedValue(value));
    ASSERT_TRUE(engine.Write(batch, {}).ok());
  };

  // Hash reads expected: one per write not preceded by a read of its key, plus (in debug
  // builds) the check of each remembered hash.
  const int check = WriteObservingEngine::kChecksRememberedHashes ? 1 : 0;
  EXPECT_FALSE(engine.Get(storage::Column::kObjects, key)->has_value());  // absent, read
  put(key, "one");
  EXPECT_EQ(counting.hash_reads, check);
  ASSERT_TRUE(engine.Get(storage::Column::kObjects, key)->has_value());
  put(key, "two");
  EXPECT_EQ(counting.hash_reads, 2 * check);
  put(key, "three");  // no read since the last write: the stored hash says what it held
  EXPECT_EQ(counting.hash_reads, 2 * check + 1);
  ASSERT_TRUE(engine.Get(storage::Column::kObjects, key)->has_value());
  put(storage::EncodeObjectKey(3, "b", "other"), "x");  // another write came between
  put(key, "four");
  EXPECT_EQ(counting.hash_reads, 2 * check + 3);
  const std::string big(20 << 10, 'b');  // records this large are not remembered
  put(key, big);
  ASSERT_TRUE(engine.Get(storage::Column::kObjects, key)->has_value());
  put(key, "five");
  EXPECT_EQ(counting.hash_reads, 2 * check + 5);

  // Either way the observer heard the true old hashes.
  const std::vector<std::optional<std::uint64_t>> expected = {
      std::nullopt,
      *storage::EncodedObjectVersionHash(EncodedValue("one")),
      *storage::EncodedObjectVersionHash(EncodedValue("two")),
      std::nullopt,  // "other"
      *storage::EncodedObjectVersionHash(EncodedValue("three")),
      *storage::EncodedObjectVersionHash(EncodedValue("four")),
      *storage::EncodedObjectVersionHash(EncodedValue(big))};
  EXPECT_EQ(recorder.old_hashes, expected);
}

// Through a Node: the actors that minted a key's versions, read from its stored clock.
class NodeActorsTest : public test_support::NodeFixture {
 protected:
  std::set<ActorId> ActorsOf(const std::string& key) {
    const std::uint32_t partition = PartitionOf(ObjectHash("b", key), config_.partition_count);
    auto bytes = storage::SegmentOrderedObjects(engine_).Get(
        storage::Column::kObjects, storage::EncodeObjectKey(partition, "b", key));
    EXPECT_TRUE(bytes.ok() && bytes->has_value());
    std::set<ActorId> actors;
    if (!bytes.ok() || !bytes->has_value()) return actors;
    auto object = DecodeObject(**bytes);
    EXPECT_TRUE(object.ok());
    for (const auto& [actor, counter] : object->clock().entries()) actors.insert(actor);
    return actors;
  }
};

TEST_F(NodeActorsTest, ACleanRestartKeepsTheActorsACrashDrawsFreshOnes) {
  Put("k", "one", "", /*dw=*/1);
  Put("k", "two", "", /*dw=*/1);
  EXPECT_EQ(ActorsOf("k").size(), 1u);
  Restart();
  Put("k", "three", "", /*dw=*/1);
  EXPECT_EQ(ActorsOf("k").size(), 1u) << "a clean restart minted under a new actor";
  Crash();
  Put("k", "four", "", /*dw=*/1);
  EXPECT_EQ(ActorsOf("k").size(), 2u) << "after a crash the partition needs a fresh actor";
  std::vector<std::string> values = test_support::Values(Get("k"));
  std::sort(values.begin(), values.end());  // siblings are ordered by dot, actors are random
  EXPECT_EQ(values, (std::vector<std::string>{"four", "one", "three", "two"}));
  // The actors a crash-free life saved are not reused after a later crash either.
  Restart();
  Crash();
  Put("k", "five", "", /*dw=*/1);
  EXPECT_EQ(ActorsOf("k").size(), 3u);
}

}  // namespace
}  // namespace meridian::node
