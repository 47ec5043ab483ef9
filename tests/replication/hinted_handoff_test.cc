// HintedHandoff: the record format, storing hints, and delivery to a target engine (batches
// taken from TakeOutbound, applied with ApplyHintBatch, the ack fed back to Receive).
#include "replication/hinted_handoff.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/byte_codec.h"
#include "replication/handoff_harness.h"
#include "replication/hints_harness.h"

namespace meridian::replication {
namespace {

using namespace test_support;  // NOLINT: test helpers
using cluster::NodeId;
using storage::Column;
using storage::MemoryEngine;

constexpr std::uint32_t kPartition = 3;

// Reachability and primaries the tests control.
struct FakeRouting {
  std::map<NodeId, std::string> reachable;                 // node -> address
  std::map<std::uint32_t, std::vector<NodeId>> primaries;  // absent: none known
  std::map<std::uint32_t, int> primaries_calls;

  HintRouting routing() {
    return HintRouting{
        .reachable_address = [this](const NodeId& node) -> std::optional<std::string> {
          auto found = reachable.find(node);
          if (found == reachable.end()) return std::nullopt;
          return found->second;
        },
        .primaries = [this](std::uint32_t partition) -> std::vector<NodeId> {
          ++primaries_calls[partition];
          auto found = primaries.find(partition);
          return found == primaries.end() ? std::vector<NodeId>{} : found->second;
        }};
  }
};

// An engine counting the records its scans visit.
class CountingEngine final : public storage::Engine {
 public:
  std::uint64_t visited = 0;

  Result<std::optional<std::string>> Get(Column column, std::string_view key) override {
    return inner_.Get(column, key);
  }
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override {
    return inner_.Write(batch, options);
  }
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override {
    return inner_.Scan(column, begin, end, [&](std::string_view key, std::string_view value) {
      ++visited;
      return visitor(key, value);
    });
  }

 private:
  MemoryEngine inner_;
};

std::optional<HintRecord> StoredRecord(storage::Engine& engine, const std::string& key) {
  auto stored = engine.Get(Column::kHints, key);
  EXPECT_TRUE(stored.ok());
  if (!stored.ok() || !stored->has_value()) return std::nullopt;
  auto record = DecodeHintRecord(**stored);
  EXPECT_TRUE(record.ok()) << record.status().ToString();
  if (!record.ok()) return std::nullopt;
  return *record;
}

// The stored record's targets; empty when there is no record.
std::vector<NodeId> TargetsOf(storage::Engine& engine, const std::string& key) {
  const std::optional<HintRecord> record = StoredRecord(engine, key);
  return record.has_value() ? record->targets : std::vector<NodeId>{};
}

std::size_t HintCount(storage::Engine& engine) {
  std::size_t count = 0;
  EXPECT_TRUE(engine
                  .Scan(Column::kHints, "", "",
                        [&](std::string_view, std::string_view) {
                          ++count;
                          return true;
                        })
                  .ok());
  return count;
}

void PutRaw(storage::Engine& engine, Column column, const std::string& key,
            const std::string& value) {
  storage::WriteBatch batch;
  batch.Put(column, key, value);
  ASSERT_TRUE(engine.Write(batch, {}).ok());
}

// The one hint batch emitted, checked to go to `address`.
proto::HintBatch OnlyBatch(HintedHandoff& handoff, const std::string& address) {
  std::vector<cluster::Outbound> outbound = handoff.TakeOutbound();
  EXPECT_EQ(outbound.size(), 1u);
  if (outbound.size() != 1) return {};
  EXPECT_EQ(outbound[0].to_address, address);
  EXPECT_TRUE(outbound[0].message.has_hint_batch());
  return outbound[0].message.hint_batch();
}

// Delivers `batch` to `target` and feeds the ack back.
proto::HintAck Deliver(HintedHandoff& handoff, storage::Engine& target,
                       const proto::HintBatch& batch, const std::string& address,
                       std::uint64_t now_ms) {
  const proto::HintAck ack = ApplyHintBatch(target, batch);
  handoff.Receive(address, ack, now_ms);
  return ack;
}

// Ticks, delivers every emitted batch to the engine of its address and feeds back the acks,
// until nothing more is sent or `rounds` pass.
void DeliverAll(HintedHandoff& handoff, FakeRouting& routing,
                std::map<std::string, storage::Engine*> engines, std::uint64_t& now_ms,
                int rounds = 100) {
  for (int round = 0; round < rounds; ++round) {
    handoff.Tick(now_ms, routing.routing());
    std::vector<cluster::Outbound> outbound = handoff.TakeOutbound();
    if (outbound.empty()) return;
    for (const cluster::Outbound& out : outbound) {
      ASSERT_TRUE(out.message.has_hint_batch());
      ASSERT_TRUE(engines.contains(out.to_address)) << out.to_address;
      const proto::HintAck ack = ApplyHintBatch(*engines[out.to_address], out.message.hint_batch());
      EXPECT_EQ(ack.status_code(), 0u) << ack.status_message();
      handoff.Receive(out.to_address, ack, now_ms);
    }
    ++now_ms;
  }
  ADD_FAILURE() << "still sending after " << rounds << " rounds";
}

// A budget that never says no, for the tests that do not look at it
// (hinted_handoff_budget_test.cc does).
BackgroundBudget& NoLimit() {
  static BackgroundGovernor governor(UnlimitedBudget());
  return governor;
}

// --- Record format ---------------------------------------------------------------------------

TEST(HintRecordTest, RoundTrips) {
  HintRecord record{.targets = {"node-a", "node-b:7000"},
                    .object = Siblings(kSourceActor, {"x", "y"})};
  auto decoded = DecodeHintRecord(EncodeHintRecord(record));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, record);

  HintRecord empty_object{.targets = {"only"}, .object = DvvSet{}};
  auto decoded_empty = DecodeHintRecord(EncodeHintRecord(empty_object));
  ASSERT_TRUE(decoded_empty.ok()) << decoded_empty.status().ToString();
  EXPECT_EQ(*decoded_empty, empty_object);
}

TEST(HintRecordTest, EncodingMatchesTheDocumentedLayout) {
  const DvvSet object = Siblings(kSourceActor, {"v"});
  std::string expected;
  expected.push_back('\x01');
  PutVarint64(expected, 2);
  PutLengthPrefixed(expected, "a");
  PutLengthPrefixed(expected, "bc");
  PutLengthPrefixed(expected, EncodeObject(object));
  EXPECT_EQ(EncodeHintRecord(HintRecord{.targets = {"a", "bc"}, .object = object}), expected);
}

// A record assembled from parts, for malformed variants.
std::string RawRecord(std::uint8_t version, const std::vector<std::string>& targets,
                      const std::string& object_bytes) {
  std::string out;
  out.push_back(static_cast<char>(version));
  PutVarint64(out, targets.size());
  for (const std::string& target : targets) PutLengthPrefixed(out, target);
  PutLengthPrefixed(out, object_bytes);
  return out;
}

TEST(HintRecordTest, RejectsMalformedRecords) {
  const std::string object = EncodeObject(Siblings(kSourceActor, {"v"}));
  ASSERT_TRUE(DecodeHintRecord(RawRecord(1, {"a", "b"}, object)).ok());

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"unknown version", RawRecord(2, {"a"}, object)},
      {"no target", RawRecord(1, {}, object)},
      {"empty target", RawRecord(1, {""}, object)},
      {"unsorted targets", RawRecord(1, {"b", "a"}, object)},
      {"duplicate targets", RawRecord(1, {"a", "a"}, object)},
      {"trailing byte", RawRecord(1, {"a"}, object) + "x"},
      {"undecodable object", RawRecord(1, {"a"}, "\x01\x05")},
      {"object with trailing bytes", RawRecord(1, {"a"}, object + "z")},
      {"huge target count", std::string("\x01\xff\xff\xff\xff\x0f", 6)},
  };
  for (const auto& [name, bytes] : cases) {
    auto decoded = DecodeHintRecord(bytes);
    ASSERT_FALSE(decoded.ok()) << name;
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption) << name;
  }
  // Every strict prefix is truncated.
  const std::string whole = RawRecord(1, {"a", "bb"}, object);
  for (std::size_t size = 0; size < whole.size(); ++size) {
    auto decoded = DecodeHintRecord(whole.substr(0, size));
    ASSERT_FALSE(decoded.ok()) << "prefix of " << size << " bytes";
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  }
}

// --- Storing hints ---------------------------------------------------------------------------

TEST(HintedHandoffTest, StoreHintMergesObjectsAndUnionsTargets) {
  MemoryEngine engine;
  TestHints handoff(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  const std::string key = StorageKey(kPartition, "k");
  const DvvSet first = Siblings(kSourceActor, {"a"});
  const DvvSet second = Siblings(kTargetActor, {"b"});

  ASSERT_TRUE(handoff.StoreHint(key, first, {"n2", "n1"}, true).ok());
  ASSERT_TRUE(handoff.StoreHint(key, second, {"n3", "n1", "n3"}, false).ok());

  const std::optional<HintRecord> record = StoredRecord(engine, key);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->targets, (std::vector<NodeId>{"n1", "n2", "n3"}));
  EXPECT_EQ(record->object, DvvSet::Merge(first, second).value());
  EXPECT_EQ(record->object.siblings().size(), 2u);
  EXPECT_EQ(handoff.records(), 1u);
  EXPECT_EQ(handoff.pending(), 3u);
  EXPECT_EQ(handoff.counters().hints_stored, 2u);

  auto found = FindHintRecord(engine, key);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->object, DvvSet::Merge(first, second).value());
  EXPECT_EQ((*found)->targets, (std::vector<NodeId>{"n1", "n2", "n3"}));
  auto missing = FindHintRecord(engine, StorageKey(kPartition, "other"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  // A newer write supersedes the siblings it saw.
  const DvvSet newer = Overwritten(DvvSet::Merge(first, second).value(), kSourceActor, "c");
  ASSERT_TRUE(handoff.StoreHint(key, newer, {"n1"}, false).ok());
  EXPECT_EQ(StoredRecord(engine, key).value_or(HintRecord{}).object, newer);
  EXPECT_EQ(handoff.pending(), 3u);
}

TEST(HintedHandoffTest, SyncedHintsSurviveACrash) {
  MemoryEngine engine;
  TestHints handoff(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  ASSERT_TRUE(
      handoff
          .StoreHint(StorageKey(kPartition, "synced"), Siblings(kSourceActor, {"a"}), {"n1"}, true)
          .ok());
  ASSERT_TRUE(handoff
                  .StoreHint(StorageKey(kPartition, "unsynced"), Siblings(kSourceActor, {"b"}),
                             {"n1"}, false)
                  .ok());
  engine.DropUnsyncedWrites();
  EXPECT_TRUE(StoredRecord(engine, StorageKey(kPartition, "synced")).has_value());
  EXPECT_FALSE(StoredRecord(engine, StorageKey(kPartition, "unsynced")).has_value());
}

TEST(HintedHandoffTest, BoundRefusesNewRecordsButStillMergesExistingOnes) {
  MemoryEngine engine;
  TestHints handoff(engine, NoLimit(), HintedHandoffConfig{.hints_max = 2}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  const std::string a = StorageKey(kPartition, "a");
  const std::string b = StorageKey(kPartition, "b");
  const std::string c = StorageKey(kPartition, "c");
  ASSERT_TRUE(handoff.StoreHint(a, Siblings(kSourceActor, {"a"}), {"n1"}, false).ok());
  ASSERT_TRUE(handoff.StoreHint(b, Siblings(kSourceActor, {"b"}), {"n1"}, false).ok());

  const Status refused = handoff.StoreHint(c, Siblings(kSourceActor, {"c"}), {"n1"}, false);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("hint storage is full (2 records)"), std::string::npos)
      << refused.message();
  EXPECT_FALSE(StoredRecord(engine, c).has_value());
  EXPECT_EQ(handoff.counters().hints_refused, 1u);
  EXPECT_EQ(handoff.records(), 2u);

  const DvvSet more = Siblings(kTargetActor, {"a2"});
  ASSERT_TRUE(handoff.StoreHint(a, more, {"n2"}, false).ok());
  EXPECT_EQ(TargetsOf(engine, a), (std::vector<NodeId>{"n1", "n2"}));
  EXPECT_EQ(StoredRecord(engine, a).value_or(HintRecord{}).object.siblings().size(), 2u);
  EXPECT_EQ(handoff.records(), 2u);
  EXPECT_EQ(handoff.pending(), 3u);
  EXPECT_EQ(handoff.counters().hints_stored, 3u);
}

TEST(HintedHandoffTest, StoreHintRejectsBadArgumentsAndCorruptRecords) {
  MemoryEngine engine;
  TestHints handoff(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  const DvvSet object = Siblings(kSourceActor, {"a"});
  EXPECT_EQ(handoff.StoreHint("xy", object, {"n1"}, false).code(), StatusCode::kInvalidArgument);
  // A key of another partition belongs to that partition's hints.
  EXPECT_EQ(handoff.StoreHint(StorageKey(kPartition + 1, "k"), object, {"n1"}, false).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(handoff.StoreHint(StorageKey(kPartition, "k"), object, {}, false).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(handoff.StoreHint(StorageKey(kPartition, "k"), object, {""}, false).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(HintCount(engine), 0u);
  EXPECT_EQ(handoff.records(), 0u);

  const std::string key = StorageKey(kPartition, "corrupt");
  PutRaw(engine, Column::kHints, key, "\x01garbage");
  EXPECT_EQ(handoff.StoreHint(key, object, {"n1"}, false).code(), StatusCode::kCorruption);
  EXPECT_EQ(FindHintRecord(engine, key).status().code(), StatusCode::kCorruption);
  TestHints reopened(engine, NoLimit(), {}, kPartition);
  EXPECT_EQ(reopened.Open().code(), StatusCode::kCorruption);
}

// --- Delivery --------------------------------------------------------------------------------

TEST(HintedHandoffTest, UnreachableTargetIsSentNothing) {
  MemoryEngine engine;
  TestHints handoff(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  FakeRouting routing;
  routing.primaries[kPartition] = {"n1"};
  ASSERT_TRUE(
      handoff.StoreHint(StorageKey(kPartition, "k"), Siblings(kSourceActor, {"a"}), {"n1"}, true)
          .ok());
  for (std::uint64_t now = 0; now < 100'000; now += 10'000) {
    handoff.Tick(now, routing.routing());
    EXPECT_TRUE(handoff.TakeOutbound().empty());
  }
  EXPECT_EQ(handoff.counters().batches_sent, 0u);
  EXPECT_EQ(handoff.pending(), 1u);
}

TEST(HintedHandoffTest, DeliversToEachTargetAndDeletesRecordsWhenNoTargetIsLeft) {
  MemoryEngine engine;
  MemoryEngine n1_engine;
  MemoryEngine n2_engine;
  TestHints handoff(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  FakeRouting routing;
  routing.primaries[kPartition] = {"n1", "n2"};
  std::map<std::string, DvvSet> objects;
  for (const std::string name : {"a", "b", "c"}) {
    const std::string key = StorageKey(kPartition, name);
    objects[key] = Siblings(kSourceActor, {name});
    ASSERT_TRUE(handoff.StoreHint(key, objects[key], {"n1", "n2"}, true).ok());
  }
  EXPECT_EQ(handoff.pending(), 6u);

  routing.reachable["n1"] = "n1:7000";
  handoff.Tick(0, routing.routing());
  const proto::HintBatch batch = OnlyBatch(handoff, "n1:7000");
  EXPECT_EQ(batch.entries_size(), 3);
  // Nothing more while the batch is in flight.
  handoff.Tick(1, routing.routing());
  EXPECT_TRUE(handoff.TakeOutbound().empty());

  const proto::HintAck ack = Deliver(handoff, n1_engine, batch, "n1:7000", 2);
  EXPECT_EQ(ack.status_code(), 0u) << ack.status_message();
  EXPECT_EQ(ack.batch_id(), batch.batch_id());
  for (const auto& [key, object] : objects) {
    auto stored = n1_engine.Get(Column::kObjects, key);
    ASSERT_TRUE(stored.ok() && stored->has_value());
    EXPECT_EQ(Decoded(**stored), object);
    EXPECT_EQ(TargetsOf(engine, key), std::vector<NodeId>{"n2"});
  }
  EXPECT_EQ(handoff.pending(), 3u);
  EXPECT_EQ(handoff.records(), 3u);
  EXPECT_EQ(handoff.counters().hints_delivered, 3u);

  // n1 has nothing left; n2 becomes reachable.
  handoff.Tick(3, routing.routing());
  EXPECT_TRUE(handoff.TakeOutbound().empty());
  routing.reachable["n2"] = "n2:7000";
  std::uint64_t now = 4;
  DeliverAll(handoff, routing, {{"n2:7000", &n2_engine}}, now);
  EXPECT_EQ(Contents(n2_engine), Contents(n1_engine));
  EXPECT_EQ(handoff.pending(), 0u);
  EXPECT_EQ(handoff.records(), 0u);
  EXPECT_EQ(HintCount(engine), 0u);
  EXPECT_EQ(handoff.counters().hints_delivered, 6u);
  EXPECT_EQ(handoff.counters().batches_sent, 2u);
}

TEST(HintedHandoffTest, BatchesRespectTheObjectAndByteLimits) {
  MemoryEngine engine;
  MemoryEngine target;
  FakeRouting routing;
  routing.primaries[kPartition] = {"n1"};
  routing.reachable["n1"] = "n1:7000";
  {
    TestHints handoff(engine, NoLimit(), HintedHandoffConfig{.batch_objects_max = 2}, kPartition);
    ASSERT_TRUE(handoff.Open().ok());
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(handoff
                      .StoreHint(StorageKey(kPartition, "k" + std::to_string(i)),
                                 Siblings(kSourceActor, {"v"}), {"n1"}, false)
                      .ok());
    }
    std::vector<int> sizes;
    for (std::uint64_t now = 0; now < 10 && handoff.pending() > 0; ++now) {
      handoff.Tick(now, routing.routing());
      for (const cluster::Outbound& out : handoff.TakeOutbound()) {
        sizes.push_back(out.message.hint_batch().entries_size());
        Deliver(handoff, target, out.message.hint_batch(), out.to_address, now);
      }
    }
    EXPECT_EQ(sizes, (std::vector<int>{2, 2, 1}));
    EXPECT_EQ(handoff.pending(), 0u);
  }
  {
    // Each object alone is above half the byte limit: one per batch, but never zero.
    TestHints handoff(engine, NoLimit(), HintedHandoffConfig{.batch_bytes_max = 100}, kPartition);
    ASSERT_TRUE(handoff.Open().ok());
    const std::string big(150, 'x');
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(handoff
                      .StoreHint(StorageKey(kPartition, "big" + std::to_string(i)),
                                 Siblings(kSourceActor, {big}), {"n1"}, false)
                      .ok());
    }
    std::vector<int> sizes;
    for (std::uint64_t now = 0; now < 10 && handoff.pending() > 0; ++now) {
      handoff.Tick(now, routing.routing());
      for (const cluster::Outbound& out : handoff.TakeOutbound()) {
        sizes.push_back(out.message.hint_batch().entries_size());
        Deliver(handoff, target, out.message.hint_batch(), out.to_address, now);
      }
    }
    EXPECT_EQ(sizes, (std::vector<int>{1, 1, 1}));
    EXPECT_EQ(handoff.pending(), 0u);
  }
}

TEST(HintedHandoffTest, RecordChangedAfterSendingKeepsItsTargetAndIsSentAgain) {
  MemoryEngine engine;
  MemoryEngine target;
  TestHints handoff(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  FakeRouting routing;
  routing.primaries[kPartition] = {"n1"};
  routing.reachable["n1"] = "n1:7000";
  const std::string key = StorageKey(kPartition, "k");
  const DvvSet first = Siblings(kSourceActor, {"a"});
  ASSERT_TRUE(handoff.StoreHint(key, first, {"n1"}, true).ok());

  handoff.Tick(0, routing.routing());
  const proto::HintBatch batch = OnlyBatch(handoff, "n1:7000");
  const DvvSet second = Siblings(kTargetActor, {"b"});
  ASSERT_TRUE(handoff.StoreHint(key, second, {"n1"}, true).ok());
  Deliver(handoff, target, batch, "n1:7000", 1);

  EXPECT_EQ(TargetsOf(engine, key), std::vector<NodeId>{"n1"});
  EXPECT_EQ(handoff.pending(), 1u);
  EXPECT_EQ(handoff.counters().hints_delivered, 0u);
  EXPECT_EQ(Decoded(Contents(target).at(key)), first);

  handoff.Tick(2, routing.routing());
  const proto::HintBatch again = OnlyBatch(handoff, "n1:7000");
  ASSERT_EQ(again.entries_size(), 1);
  EXPECT_NE(again.batch_id(), batch.batch_id());
  EXPECT_EQ(Decoded(again.entries(0).encoded_object()), DvvSet::Merge(first, second).value());
  Deliver(handoff, target, again, "n1:7000", 3);
  EXPECT_EQ(handoff.pending(), 0u);
  EXPECT_EQ(handoff.records(), 0u);
  EXPECT_EQ(Decoded(Contents(target).at(key)), DvvSet::Merge(first, second).value());
}

TEST(HintedHandoffTest, LostBatchIsResentAfterTheAckTimeout) {
  MemoryEngine engine;
  MemoryEngine target;
  TestHints handoff(engine, NoLimit(), HintedHandoffConfig{.ack_timeout_ms = 500}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  FakeRouting routing;
  routing.primaries[kPartition] = {"n1"};
  routing.reachable["n1"] = "n1:7000";
  ASSERT_TRUE(
      handoff.StoreHint(StorageKey(kPartition, "k"), Siblings(kSourceActor, {"a"}), {"n1"}, true)
          .ok());

  handoff.Tick(1000, routing.routing());
  const proto::HintBatch lost = OnlyBatch(handoff, "n1:7000");
  handoff.Tick(1499, routing.routing());
  EXPECT_TRUE(handoff.TakeOutbound().empty());
  handoff.Tick(1500, routing.routing());
  const proto::HintBatch resent = OnlyBatch(handoff, "n1:7000");
  EXPECT_NE(resent.batch_id(), lost.batch_id());
  ASSERT_EQ(resent.entries_size(), 1);
  EXPECT_EQ(resent.entries(0).storage_key(), lost.entries(0).storage_key());
  EXPECT_EQ(handoff.counters().batches_sent, 2u);

  // A late ack of the lost batch is ignored; the current one counts.
  Deliver(handoff, target, lost, "n1:7000", 1501);
  EXPECT_EQ(handoff.pending(), 1u);
  Deliver(handoff, target, resent, "n1:7000", 1502);
  EXPECT_EQ(handoff.pending(), 0u);
  // A duplicate of the current ack is ignored too.
  handoff.Receive("n1:7000", ApplyHintBatch(target, resent), 1503);
  EXPECT_EQ(handoff.counters().hints_delivered, 1u);
}

TEST(HintedHandoffTest, RefusedBatchIsRetriedAfterADoublingBackoff) {
  MemoryEngine engine;
  TestHints handoff(engine, NoLimit(),
                    HintedHandoffConfig{.retry_initial_ms = 100, .retry_max_ms = 300}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  FakeRouting routing;
  routing.primaries[kPartition] = {"n1"};
  routing.reachable["n1"] = "n1:7000";
  ASSERT_TRUE(
      handoff.StoreHint(StorageKey(kPartition, "k"), Siblings(kSourceActor, {"a"}), {"n1"}, true)
          .ok());
  auto refuse = [&](const proto::HintBatch& batch, std::uint64_t now) {
    proto::HintAck ack;
    ack.set_batch_id(batch.batch_id());
    ack.set_status_code(static_cast<std::uint32_t>(StatusCode::kIoError));
    ack.set_status_message("disk unhappy");
    handoff.Receive("n1:7000", ack, now);
  };

  std::uint64_t now = 0;
  handoff.Tick(now, routing.routing());
  for (const std::uint64_t backoff : {100u, 200u, 300u, 300u}) {
    const proto::HintBatch batch = OnlyBatch(handoff, "n1:7000");
    now += 5;
    refuse(batch, now);
    handoff.Tick(now + backoff - 1, routing.routing());
    EXPECT_TRUE(handoff.TakeOutbound().empty()) << "backoff " << backoff;
    now += backoff;
    handoff.Tick(now, routing.routing());
  }
  EXPECT_EQ(handoff.counters().batches_refused, 4u);
  EXPECT_EQ(handoff.pending(), 1u);

  // Success resets the backoff (k2, stored after the batch left, keeps n1 pending).
  MemoryEngine target;
  const proto::HintBatch batch = OnlyBatch(handoff, "n1:7000");
  ASSERT_TRUE(
      handoff.StoreHint(StorageKey(kPartition, "k2"), Siblings(kSourceActor, {"b"}), {"n1"}, true)
          .ok());
  Deliver(handoff, target, batch, "n1:7000", now);
  EXPECT_EQ(handoff.pending(), 1u);
  handoff.Tick(now, routing.routing());
  const proto::HintBatch next = OnlyBatch(handoff, "n1:7000");
  refuse(next, now);
  handoff.Tick(now + 99, routing.routing());
  EXPECT_TRUE(handoff.TakeOutbound().empty());
  handoff.Tick(now + 100, routing.routing());
  EXPECT_EQ(OnlyBatch(handoff, "n1:7000").entries_size(), 1);
}

TEST(HintedHandoffTest, HintsSurviveARestartAndAreDeliveredAfterIt) {
  MemoryEngine engine;
  MemoryEngine target;
  FakeRouting routing;
  routing.primaries[kPartition] = {"n1", "n2"};
  {
    TestHints handoff(engine, NoLimit(), {}, kPartition);
    ASSERT_TRUE(handoff.Open().ok());
    for (const std::string name : {"a", "b"}) {
      ASSERT_TRUE(handoff
                      .StoreHint(StorageKey(kPartition, name), Siblings(kSourceActor, {name}),
                                 {"n1", "n2"}, true)
                      .ok());
    }
    // A batch in flight at the crash is simply forgotten.
    routing.reachable["n1"] = "n1:7000";
    handoff.Tick(0, routing.routing());
    EXPECT_EQ(handoff.TakeOutbound().size(), 1u);
  }
  engine.DropUnsyncedWrites();

  TestHints restarted(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(restarted.Open().ok());
  EXPECT_EQ(restarted.records(), 2u);
  EXPECT_EQ(restarted.pending(), 4u);
  std::uint64_t now = 10;
  DeliverAll(restarted, routing, {{"n1:7000", &target}}, now);
  EXPECT_EQ(Contents(target).size(), 2u);
  EXPECT_EQ(restarted.pending(), 2u);  // n2 is still unreachable
  EXPECT_EQ(restarted.records(), 2u);
}

TEST(HintedHandoffTest, TargetNoLongerPrimaryIsReplacedByTheCurrentPrimaries) {
  MemoryEngine engine;
  TestHints handoff(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  FakeRouting routing;
  const std::string moved = StorageKey(kPartition, "moved");
  const std::string partly = StorageKey(kPartition, "partly");
  // Another partition's hints, in the same column.
  TestHints other(engine, NoLimit(), {}, kPartition + 1);
  ASSERT_TRUE(other.Open().ok());
  const std::string unknown = StorageKey(kPartition + 1, "unknown");
  ASSERT_TRUE(handoff.StoreHint(moved, Siblings(kSourceActor, {"a"}), {"old"}, true).ok());
  ASSERT_TRUE(handoff.StoreHint(partly, Siblings(kSourceActor, {"b"}), {"new1", "old"}, true).ok());
  ASSERT_TRUE(other.StoreHint(unknown, Siblings(kSourceActor, {"c"}), {"old"}, true).ok());
  EXPECT_EQ(handoff.pending(), 3u);

  // "old" left: it is unreachable, and partition kPartition now lives on new1..new3; nothing
  // is known about kPartition + 1, so its record is left alone.
  routing.primaries[kPartition] = {"new3", "new1", "new2"};
  handoff.Tick(0, routing.routing());
  // A partition's scans never read another partition's records.
  EXPECT_EQ(routing.primaries_calls.count(kPartition + 1), 0u);
  other.Tick(0, routing.routing());
  EXPECT_TRUE(handoff.TakeOutbound().empty());
  EXPECT_TRUE(other.TakeOutbound().empty());
  const std::vector<NodeId> current = {"new1", "new2", "new3"};
  EXPECT_EQ(TargetsOf(engine, moved), current);
  EXPECT_EQ(TargetsOf(engine, partly), current);
  EXPECT_EQ(TargetsOf(engine, unknown), std::vector<NodeId>{"old"});
  EXPECT_EQ(handoff.pending(), 6u);
  EXPECT_EQ(handoff.records(), 2u);
  EXPECT_EQ(other.records(), 1u);

  // The new primaries get the objects.
  MemoryEngine new2;
  routing.reachable["new2"] = "new2:7000";
  std::uint64_t now = 1;
  DeliverAll(handoff, routing, {{"new2:7000", &new2}}, now);
  EXPECT_EQ(Contents(new2).size(), 2u);
  EXPECT_EQ(handoff.pending(), 4u);
  EXPECT_EQ(TargetsOf(engine, unknown), std::vector<NodeId>{"old"});
}

TEST(HintedHandoffTest, TicksReadABoundedNumberOfRecordsAndStillReachEveryRecord) {
  CountingEngine engine;
  MemoryEngine target;
  // ScanLimit = 4 records per scan.
  TestHints handoff(engine, NoLimit(), HintedHandoffConfig{.batch_objects_max = 1}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  FakeRouting routing;
  routing.primaries[kPartition] = {"far", "near"};
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(handoff
                    .StoreHint(StorageKey(kPartition, "k" + std::to_string(10 + i)),
                               Siblings(kSourceActor, {"v"}), {"far"}, false)
                    .ok());
  }
  // The only record for the reachable target sorts last.
  const std::string last = StorageKey(kPartition, "z");
  ASSERT_TRUE(handoff.StoreHint(last, Siblings(kSourceActor, {"z"}), {"near"}, false).ok());
  routing.reachable["near"] = "near:7000";

  int ticks = 0;
  for (std::uint64_t now = 0; now < 20 && handoff.pending() > 20; ++now) {
    engine.visited = 0;
    handoff.Tick(now, routing.routing());
    ++ticks;
    // One sweep plus one delivery scan (one target due), 4 records each, plus the record at
    // which a scan stops.
    EXPECT_LE(engine.visited, 2u * (4 + 1)) << "tick " << now;
    for (const cluster::Outbound& out : handoff.TakeOutbound()) {
      ASSERT_EQ(out.message.hint_batch().entries_size(), 1);
      EXPECT_EQ(out.message.hint_batch().entries(0).storage_key(), last);
      Deliver(handoff, target, out.message.hint_batch(), out.to_address, now);
    }
  }
  EXPECT_EQ(handoff.pending(), 20u);
  EXPECT_GT(ticks, 1);  // not reached by the first scan
  EXPECT_TRUE(Contents(target).contains(last));
}

// The stale-target sweeps of every partition of a node share one budget per tick: a node with
// hints in many partitions reads as much per tick as a node with hints in one.
TEST(HintedHandoffTest, ThePartitionsSweepsShareOneBudgetPerTick) {
  CountingEngine engine;
  // ScanLimit = 4 records per scan.
  NodeHintState state(HintedHandoffConfig{.batch_objects_max = 1});
  std::vector<std::unique_ptr<HintedHandoff>> partitions;
  FakeRouting routing;
  for (std::uint32_t p = 0; p < 5; ++p) {
    partitions.push_back(std::make_unique<HintedHandoff>(p, engine, NoLimit(), state));
    ASSERT_TRUE(partitions.back()->Open().ok());
    routing.primaries[p] = {"new"};  // "old" left every partition; "new" is unreachable
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(partitions.back()
                      ->StoreHint(StorageKey(p, "k" + std::to_string(i)),
                                  Siblings(kSourceActor, {"v"}), {"old"}, false)
                      .ok());
    }
  }
  int ticks = 0;
  for (std::uint64_t now = 0; now < 20; ++now) {
    engine.visited = 0;
    // As the node does (Node::TickHints), partitions take turns at going first.
    for (std::size_t k = 0; k < partitions.size(); ++k) {
      partitions[(now + k) % partitions.size()]->Tick(now, routing.routing());
    }
    // 4 records, plus the record at which a scan stops.
    EXPECT_LE(engine.visited, 4u + 1u) << "tick " << now;
    ++ticks;
    bool all = true;
    for (std::uint32_t p = 0; p < 5; ++p) {
      for (int i = 0; i < 3; ++i) {
        all = all && TargetsOf(engine, StorageKey(p, "k" + std::to_string(i))) ==
                         std::vector<NodeId>{"new"};
      }
    }
    if (all) break;
  }
  // 15 records at 4 a tick, the first partition of a tick sweeping its 3 again: every one
  // retargeted within 5 ticks.
  EXPECT_LE(ticks, 5);
  for (std::uint32_t p = 0; p < 5; ++p) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(TargetsOf(engine, StorageKey(p, "k" + std::to_string(i))),
                std::vector<NodeId>{"new"});
    }
  }
  EXPECT_EQ(state.records, 15u);
  EXPECT_EQ(state.pending, 15u);
}

TEST(HintedHandoffTest, TargetsAreServedIndependently) {
  MemoryEngine engine;
  MemoryEngine a_engine;
  MemoryEngine b_engine;
  TestHints handoff(engine, NoLimit(), {}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  FakeRouting routing;
  routing.primaries[kPartition] = {"a", "b"};
  routing.reachable = {{"a", "a:7000"}, {"b", "b:7000"}};
  ASSERT_TRUE(
      handoff
          .StoreHint(StorageKey(kPartition, "k"), Siblings(kSourceActor, {"v"}), {"a", "b"}, true)
          .ok());
  handoff.Tick(0, routing.routing());
  std::vector<cluster::Outbound> outbound = handoff.TakeOutbound();
  ASSERT_EQ(outbound.size(), 2u);
  std::map<std::string, proto::HintBatch> by_address;
  for (const cluster::Outbound& out : outbound)
    by_address[out.to_address] = out.message.hint_batch();
  ASSERT_TRUE(by_address.contains("a:7000"));
  ASSERT_TRUE(by_address.contains("b:7000"));

  // b refuses; a's ack still removes a.
  proto::HintAck refused;
  refused.set_batch_id(by_address["b:7000"].batch_id());
  refused.set_status_code(static_cast<std::uint32_t>(StatusCode::kIoError));
  handoff.Receive("b:7000", refused, 1);
  Deliver(handoff, a_engine, by_address["a:7000"], "a:7000", 1);
  EXPECT_EQ(TargetsOf(engine, StorageKey(kPartition, "k")), std::vector<NodeId>{"b"});
  EXPECT_EQ(handoff.pending(), 1u);
}

// --- The target's side -----------------------------------------------------------------------

TEST(ApplyHintBatchTest, MergesEntriesWithTheLocalCopiesDurably) {
  MemoryEngine target;
  const std::string key = StorageKey(kPartition, "k");
  const DvvSet local = Siblings(kTargetActor, {"local"});
  PutObject(target, key, local);
  const DvvSet first = Siblings(kSourceActor, {"one"});
  const DvvSet second = Overwritten(first, kSourceActor, "two");

  proto::HintBatch batch;
  batch.set_batch_id(17);
  batch.set_partition(kPartition);
  for (const DvvSet* object : {&second, &first}) {  // the same key twice, out of order
    proto::HandoffEntry& entry = *batch.add_entries();
    entry.set_storage_key(key);
    entry.set_encoded_object(EncodeObject(*object));
  }
  const proto::HintAck ack = ApplyHintBatch(target, batch);
  EXPECT_EQ(ack.batch_id(), 17u);
  EXPECT_EQ(ack.partition(), kPartition);
  EXPECT_EQ(ack.status_code(), 0u) << ack.status_message();
  target.DropUnsyncedWrites();  // the ack promised durability
  EXPECT_EQ(Decoded(Contents(target).at(key)), DvvSet::Merge(local, second).value());

  // Applying it again changes nothing and still succeeds.
  EXPECT_EQ(ApplyHintBatch(target, batch).status_code(), 0u);
  EXPECT_EQ(Decoded(Contents(target).at(key)), DvvSet::Merge(local, second).value());
}

TEST(ApplyHintBatchTest, MalformedEntryRefusesTheWholeBatch) {
  const std::string good_key = StorageKey(kPartition, "good");
  const std::string good_object = EncodeObject(Siblings(kSourceActor, {"v"}));
  const std::vector<std::pair<std::string, std::string>> bad_entries = {
      {"xy", good_object},                                 // not an object key
      {StorageKey(kPartition, "bad"), "\x01\x09"},         // object does not decode
      {StorageKey(kPartition + 1, "other"), good_object},  // another partition's key
  };
  for (const auto& [bad_key, bad_object] : bad_entries) {
    MemoryEngine target;
    proto::HintBatch batch;
    batch.set_batch_id(5);
    batch.set_partition(kPartition);
    proto::HandoffEntry& good = *batch.add_entries();
    good.set_storage_key(good_key);
    good.set_encoded_object(good_object);
    proto::HandoffEntry& bad = *batch.add_entries();
    bad.set_storage_key(bad_key);
    bad.set_encoded_object(bad_object);
    const proto::HintAck ack = ApplyHintBatch(target, batch);
    EXPECT_EQ(ack.batch_id(), 5u);
    EXPECT_EQ(ack.status_code(), static_cast<std::uint32_t>(StatusCode::kCorruption));
    EXPECT_NE(ack.status_message().find("entry 1"), std::string::npos) << ack.status_message();
    EXPECT_TRUE(Contents(target).empty());
  }
}

TEST(ApplyHintBatchTest, UnreadableLocalCopyRefusesTheBatch) {
  MemoryEngine target;
  const std::string key = StorageKey(kPartition, "k");
  const std::string other = StorageKey(kPartition, "a");
  PutRaw(target, Column::kObjects, key, "\x01garbage");
  proto::HintBatch batch;
  batch.set_batch_id(6);
  for (const std::string& entry_key : {other, key}) {
    proto::HandoffEntry& entry = *batch.add_entries();
    entry.set_storage_key(entry_key);
    entry.set_encoded_object(EncodeObject(Siblings(kSourceActor, {"v"})));
  }
  const proto::HintAck ack = ApplyHintBatch(target, batch);
  EXPECT_EQ(ack.status_code(), static_cast<std::uint32_t>(StatusCode::kCorruption));
  EXPECT_FALSE(Contents(target).contains(other));
}

}  // namespace
}  // namespace meridian::replication
