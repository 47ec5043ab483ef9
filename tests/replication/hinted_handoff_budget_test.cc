// HintedHandoff and its two newer limits: hint storage bounded in bytes (hint_bytes_max,
// counted at Open and kept up to date by every write), and delivery charged to the node's
// background budget (a batch held back waits built, goes first later, and is dropped when its
// target becomes unreachable).
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "replication/fake_budget.h"
#include "replication/handoff_harness.h"
#include "replication/hinted_handoff.h"
#include "replication/hints_harness.h"

namespace meridian::replication {
namespace {

using namespace test_support;  // NOLINT: test helpers
using cluster::NodeId;
using storage::Column;
using storage::MemoryEngine;

constexpr std::uint32_t kPartition = 4;

BackgroundBudget& NoLimit() {
  static BackgroundGovernor governor(UnlimitedBudget());
  return governor;
}

// Every node in `reachable` is reachable at "<node>:7000"; the primaries of every partition
// are `primaries`.
struct Routing {
  std::vector<NodeId> reachable;
  std::vector<NodeId> primaries = {"n1", "n2", "n3"};

  HintRouting routing() const {
    return HintRouting{
        .reachable_address = [this](const NodeId& node) -> std::optional<std::string> {
          for (const NodeId& up : reachable) {
            if (up == node) return node + ":7000";
          }
          return std::nullopt;
        },
        .primaries = [this](std::uint32_t) { return primaries; }};
  }
};

// What the hints column holds: keys plus values.
std::uint64_t StoredBytes(storage::Engine& engine) {
  std::uint64_t bytes = 0;
  EXPECT_TRUE(engine
                  .Scan(Column::kHints, "", "",
                        [&](std::string_view key, std::string_view value) {
                          bytes += key.size() + value.size();
                          return true;
                        })
                  .ok());
  return bytes;
}

std::optional<HintRecord> StoredRecord(storage::Engine& engine, const std::string& key) {
  auto stored = engine.Get(Column::kHints, key);
  EXPECT_TRUE(stored.ok());
  if (!stored.ok() || !stored->has_value()) return std::nullopt;
  auto record = DecodeHintRecord(**stored);
  EXPECT_TRUE(record.ok()) << record.status().ToString();
  if (!record.ok()) return std::nullopt;
  return *record;
}

std::vector<NodeId> TargetsOf(storage::Engine& engine, const std::string& key) {
  const std::optional<HintRecord> record = StoredRecord(engine, key);
  return record.has_value() ? record->targets : std::vector<NodeId>{};
}

// What one record of `key` takes.
std::uint64_t RecordBytes(const std::string& key, std::vector<NodeId> targets,
                          const DvvSet& object) {
  return key.size() + EncodeHintRecord(HintRecord{std::move(targets), object}).size();
}

// Applies every batch emitted to `target` and feeds the acks back; returns how many.
int DeliverEmitted(HintedHandoff& handoff, storage::Engine& target, std::uint64_t now_ms) {
  int batches = 0;
  for (const cluster::Outbound& out : handoff.TakeOutbound()) {
    handoff.Receive(out.to_address, ApplyHintBatch(target, out.message.hint_batch()), now_ms);
    ++batches;
  }
  return batches;
}

std::string Key(const std::string& name) {
  return StorageKey(kPartition, name);
}

// --- hint_bytes_max ------------------------------------------------------------------------

TEST(HintBytesTest, AreCountedAtOpenAndFollowEveryWrite) {
  MemoryEngine engine;
  MemoryEngine target;
  TestHints handoff(engine, NoLimit(), HintedHandoffConfig{}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  EXPECT_EQ(handoff.bytes(), 0u);
  ASSERT_TRUE(handoff.StoreHint(Key("a"), Siblings(kSourceActor, {"a"}), {"n1", "n2"}, true).ok());
  ASSERT_TRUE(handoff.StoreHint(Key("b"), Siblings(kSourceActor, {"b"}), {"n1"}, true).ok());
  ASSERT_TRUE(handoff.StoreHint(Key("c"), Siblings(kSourceActor, {"c"}), {"n2"}, true).ok());
  EXPECT_EQ(handoff.bytes(), StoredBytes(engine));
  EXPECT_EQ(handoff.bytes(), RecordBytes(Key("a"), {"n1", "n2"}, Siblings(kSourceActor, {"a"})) +
                                 RecordBytes(Key("b"), {"n1"}, Siblings(kSourceActor, {"b"})) +
                                 RecordBytes(Key("c"), {"n2"}, Siblings(kSourceActor, {"c"})));
  // A merge that grows a record.
  ASSERT_TRUE(handoff.StoreHint(Key("a"), Siblings(kTargetActor, {"a-too"}), {"n1"}, false).ok());
  EXPECT_EQ(handoff.bytes(), StoredBytes(engine));

  // Delivery to n1: a loses a target (shrinks), b is deleted.
  Routing routing{.reachable = {"n1"}};
  handoff.Tick(0, routing.routing());
  ASSERT_EQ(DeliverEmitted(handoff, target, 0), 1);
  EXPECT_EQ(handoff.records(), 2u);
  EXPECT_EQ(handoff.bytes(), StoredBytes(engine));

  // A target that is no longer a primary is replaced (a rewrite that grows the record).
  routing.reachable.clear();
  routing.primaries = {"n3", "n4"};
  handoff.Tick(1, routing.routing());
  EXPECT_EQ(TargetsOf(engine, Key("c")), (std::vector<NodeId>{"n3", "n4"}));
  EXPECT_EQ(handoff.bytes(), StoredBytes(engine));

  TestHints reopened(engine, NoLimit(), HintedHandoffConfig{}, kPartition);
  ASSERT_TRUE(reopened.Open().ok());
  EXPECT_EQ(reopened.bytes(), handoff.bytes());
}

TEST(HintBytesTest, PastTheBoundNewRecordsAndGrowthAreRefusedButNotWhatDoesNotGrow) {
  MemoryEngine engine;
  const DvvSet a = Siblings(kSourceActor, {"a"});
  const DvvSet b = Siblings(kSourceActor, {"b"});
  const std::uint64_t bound = RecordBytes(Key("a"), {"n1"}, a) + RecordBytes(Key("b"), {"n1"}, b);
  TestHints handoff(engine, NoLimit(), HintedHandoffConfig{.hint_bytes_max = bound}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  ASSERT_TRUE(handoff.StoreHint(Key("a"), a, {"n1"}, false).ok());
  ASSERT_TRUE(handoff.StoreHint(Key("b"), b, {"n1"}, false).ok());
  EXPECT_EQ(handoff.bytes(), bound);  // exactly full

  // A new record.
  const Status refused = handoff.StoreHint(Key("c"), Siblings(kSourceActor, {"c"}), {"n1"}, false);
  EXPECT_EQ(refused.code(), StatusCode::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("hint storage is full: " + std::to_string(bound) + " bytes of " +
                                   std::to_string(bound) + " (hint_bytes_max)"),
            std::string::npos)
      << refused.message();
  EXPECT_NE(
      refused.message().find(
          "needs " + std::to_string(RecordBytes(Key("c"), {"n1"}, Siblings(kSourceActor, {"c"})))),
      std::string::npos)
      << refused.message();
  EXPECT_FALSE(StoredRecord(engine, Key("c")).has_value());

  // An existing record that would grow: a new target, or a concurrent version.
  const Status grown = handoff.StoreHint(Key("a"), a, {"n2"}, false);
  EXPECT_EQ(grown.code(), StatusCode::kUnavailable) << grown.ToString();
  EXPECT_NE(grown.message().find("would grow its record by"), std::string::npos) << grown.message();
  EXPECT_EQ(handoff.StoreHint(Key("a"), Siblings(kTargetActor, {"x"}), {"n1"}, false).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(TargetsOf(engine, Key("a")), std::vector<NodeId>{"n1"});
  EXPECT_EQ(StoredRecord(engine, Key("a")).value_or(HintRecord{}).object, a);
  EXPECT_EQ(handoff.counters().hints_refused, 3u);

  // The same hint again does not grow the record: it still merges.
  EXPECT_TRUE(handoff.StoreHint(Key("a"), a, {"n1"}, false).ok());
  EXPECT_EQ(handoff.counters().hints_stored, 3u);
  EXPECT_EQ(handoff.bytes(), bound);
  EXPECT_EQ(handoff.records(), 2u);
}

TEST(HintBytesTest, TheBoundHoldsAfterOpenOnAnExistingStore) {
  MemoryEngine engine;
  {
    TestHints handoff(engine, NoLimit(), HintedHandoffConfig{}, kPartition);
    ASSERT_TRUE(handoff.Open().ok());
    for (const std::string name : {"a", "b", "c"}) {
      ASSERT_TRUE(handoff.StoreHint(Key(name), Siblings(kSourceActor, {name}), {"n1"}, true).ok());
    }
  }
  const std::uint64_t stored = StoredBytes(engine);
  // Reopened with a bound the store already reaches: nothing new fits.
  TestHints full(engine, NoLimit(), HintedHandoffConfig{.hint_bytes_max = stored}, kPartition);
  ASSERT_TRUE(full.Open().ok());
  EXPECT_EQ(full.bytes(), stored);
  EXPECT_EQ(full.StoreHint(Key("d"), Siblings(kSourceActor, {"d"}), {"n1"}, false).code(),
            StatusCode::kUnavailable);
  // Reopened with a bound below what is stored (lowered by the operator): the hints stay and
  // are delivered; nothing new is accepted until they are.
  TestHints lowered(engine, NoLimit(), HintedHandoffConfig{.hint_bytes_max = stored / 2},
                    kPartition);
  ASSERT_TRUE(lowered.Open().ok());
  EXPECT_EQ(lowered.records(), 3u);
  EXPECT_EQ(lowered.StoreHint(Key("d"), Siblings(kSourceActor, {"d"}), {"n1"}, false).code(),
            StatusCode::kUnavailable);
  MemoryEngine target;
  Routing routing{.reachable = {"n1"}, .primaries = {"n1"}};
  lowered.Tick(0, routing.routing());
  ASSERT_EQ(DeliverEmitted(lowered, target, 0), 1);
  EXPECT_EQ(lowered.bytes(), 0u);
  EXPECT_TRUE(lowered.StoreHint(Key("d"), Siblings(kSourceActor, {"d"}), {"n1"}, false).ok());
}

// --- The background budget -----------------------------------------------------------------

TEST(HintBudgetTest, EveryBatchIsChargedItsBytesAndObjects) {
  MemoryEngine engine;
  MemoryEngine target;
  FakeBudget budget;
  TestHints handoff(engine, budget, HintedHandoffConfig{}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  for (const std::string name : {"a", "b", "c"}) {
    ASSERT_TRUE(handoff.StoreHint(Key(name), Siblings(kSourceActor, {name}), {"n1"}, true).ok());
  }
  Routing routing{.reachable = {"n1"}};
  handoff.Tick(0, routing.routing());
  std::vector<cluster::Outbound> outbound = handoff.TakeOutbound();
  ASSERT_EQ(outbound.size(), 1u);
  std::uint64_t bytes = 0;
  for (const proto::HandoffEntry& entry : outbound[0].message.hint_batch().entries()) {
    bytes += entry.storage_key().size() + entry.encoded_object().size();
  }
  ASSERT_EQ(budget.spend_requests.size(), 1u);
  EXPECT_EQ(budget.spend_kinds[0], WorkKind::kHintReplay);
  EXPECT_EQ(budget.spend_requests[0].bytes, bytes);
  EXPECT_EQ(budget.spend_requests[0].objects, 3u);
  EXPECT_TRUE(budget.stream_requests.empty());  // hint batches are not streams
}

TEST(HintBudgetTest, ABatchHeldBackWaitsBuiltAndGoesFirstWhenTheBudgetAllows) {
  MemoryEngine engine;
  MemoryEngine target;
  FakeBudget budget;
  TestHints handoff(engine, budget, HintedHandoffConfig{}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  for (const std::string name : {"a", "b", "c"}) {
    ASSERT_TRUE(handoff.StoreHint(Key(name), Siblings(kSourceActor, {name}), {"n1"}, true).ok());
  }
  ASSERT_TRUE(handoff.StoreHint(Key("d"), Siblings(kSourceActor, {"d"}), {"n2"}, true).ok());
  Routing routing{.reachable = {"n1", "n2"}};

  // One grant: n1's batch goes, n2's is held back.
  budget.spends_left = 1;
  handoff.Tick(0, routing.routing());
  std::vector<cluster::Outbound> sent = handoff.TakeOutbound();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to_address, "n1:7000");
  ASSERT_EQ(budget.spend_requests.size(), 2u);
  EXPECT_EQ(budget.spend_requests[1].objects, 1u);
  // Ticks while the budget says no ask about the same built batch, and build nothing else.
  handoff.Tick(10, routing.routing());
  handoff.Tick(20, routing.routing());
  EXPECT_TRUE(handoff.TakeOutbound().empty());
  ASSERT_EQ(budget.spend_requests.size(), 4u);
  EXPECT_EQ(budget.spend_requests[3].bytes, budget.spend_requests[1].bytes);
  EXPECT_EQ(handoff.counters().batches_sent, 1u);

  // n1 acknowledges and has nothing more; the held batch goes first when allowed.
  handoff.Receive("n1:7000", ApplyHintBatch(target, sent[0].message.hint_batch()), 25);
  budget.spends_left = 1;
  handoff.Tick(30, routing.routing());
  sent = handoff.TakeOutbound();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].to_address, "n2:7000");
  EXPECT_EQ(sent[0].message.hint_batch().entries(0).storage_key(), Key("d"));
  handoff.Receive("n2:7000", ApplyHintBatch(target, sent[0].message.hint_batch()), 35);
  EXPECT_EQ(handoff.pending(), 0u);
  EXPECT_EQ(handoff.records(), 0u);
  EXPECT_EQ(handoff.bytes(), 0u);
}

TEST(HintBudgetTest, AHeldBackBatchIsDroppedWhenItsTargetBecomesUnreachable) {
  MemoryEngine engine;
  MemoryEngine target;
  FakeBudget budget;
  TestHints handoff(engine, budget, HintedHandoffConfig{.batch_objects_max = 2}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  for (const std::string name : {"a", "b", "c"}) {
    ASSERT_TRUE(handoff.StoreHint(Key(name), Siblings(kSourceActor, {name}), {"n1"}, true).ok());
  }
  Routing routing{.reachable = {"n1"}};
  budget.spends_left = 0;
  handoff.Tick(0, routing.routing());
  ASSERT_EQ(budget.spend_requests.size(), 1u);
  routing.reachable.clear();
  handoff.Tick(10, routing.routing());
  EXPECT_EQ(budget.spend_requests.size(), 1u);  // nothing asked for an unreachable target

  // Back: the records are scanned again from where the dropped batch began.
  routing.reachable = {"n1"};
  budget.spends_left = 1000;
  for (std::uint64_t now_ms = 20; now_ms < 100 && handoff.pending() > 0; now_ms += 10) {
    handoff.Tick(now_ms, routing.routing());
    DeliverEmitted(handoff, target, now_ms);
  }
  EXPECT_EQ(handoff.pending(), 0u);
  EXPECT_EQ(Contents(target).size(), 3u);
}

// With the real governor: hint replay takes at least its bytes over the rate (minus the burst
// the budget starts with), and the governor counts exactly what was sent.
TEST(HintBudgetTest, ReplayStaysWithinTheGovernorsRate) {
  MemoryEngine engine;
  MemoryEngine target;
  BackgroundGovernor governor(ByteBudget(10'000, 500));  // 10 bytes per millisecond
  TestHints handoff(engine, governor, HintedHandoffConfig{.batch_objects_max = 2}, kPartition);
  ASSERT_TRUE(handoff.Open().ok());
  for (int i = 0; i < 40; ++i) {
    const std::string name = "key-" + std::to_string(i);
    ASSERT_TRUE(
        handoff.StoreHint(Key(name), Siblings(kSourceActor, {std::string(80, 'v')}), {"n1"}, true)
            .ok());
  }
  Routing routing{.reachable = {"n1"}};
  std::uint64_t sent_bytes = 0;
  std::uint64_t now_ms = 0;
  for (; handoff.pending() > 0; now_ms += 10) {
    ASSERT_LT(now_ms, 100'000u);
    handoff.Tick(now_ms, routing.routing());
    for (const cluster::Outbound& out : handoff.TakeOutbound()) {
      for (const proto::HandoffEntry& entry : out.message.hint_batch().entries()) {
        sent_bytes += entry.storage_key().size() + entry.encoded_object().size();
      }
      handoff.Receive(out.to_address, ApplyHintBatch(target, out.message.hint_batch()), now_ms);
    }
  }
  EXPECT_EQ(Contents(target).size(), 40u);
  const BackgroundKindStats& stats = governor.stats().of(WorkKind::kHintReplay);
  EXPECT_EQ(stats.bytes_granted, sent_bytes);
  EXPECT_EQ(stats.objects_granted, 40u);
  EXPECT_GT(stats.spend_refused, 0u);
  EXPECT_GE(now_ms, (sent_bytes - 500) / 10);
}

}  // namespace
}  // namespace meridian::replication
