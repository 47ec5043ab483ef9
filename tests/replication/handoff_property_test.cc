// Property: for random objects on both sides, random batch sizes, a link that drops,
// duplicates and reorders at random, and random writes on the sender during the transfer,
// a finished transfer leaves the receiver's partition equal to the merge of the receiver's
// original copy and the sender's final copy, key by key — durably — and nothing else changed.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "replication/handoff_harness.h"
#include "storage/segment_ordered_memory_engine.h"

namespace meridian::replication {
namespace {

using namespace test_support;  // NOLINT: test helpers
// The objects column as a node keeps it (segment order), so scans run in its order.
using MemoryEngine = storage::test_support::SegmentOrderedMemoryEngine;

constexpr std::uint32_t kPartition = 12;
constexpr int kKeysMax = 24;

// A random history for one key: a shared past (writes by any actor, seen by both sides), then
// writes only the sender saw (by its actor) and writes only the receiver saw (by its actor).
struct KeyHistory {
  int key;
  int shared_writes;
  int source_writes;
  int target_writes;
  bool source_has;
  bool target_has;
  bool blind;  // side-only writes are concurrent with each other rather than overwrites
};

rc::Gen<KeyHistory> GenKeyHistory() {
  return rc::gen::build<KeyHistory>(
      rc::gen::set(&KeyHistory::key, rc::gen::inRange(0, kKeysMax)),
      rc::gen::set(&KeyHistory::shared_writes, rc::gen::inRange(0, 3)),
      rc::gen::set(&KeyHistory::source_writes, rc::gen::inRange(0, 3)),
      rc::gen::set(&KeyHistory::target_writes, rc::gen::inRange(0, 3)),
      rc::gen::set(&KeyHistory::source_has, rc::gen::arbitrary<bool>()),
      rc::gen::set(&KeyHistory::target_has, rc::gen::arbitrary<bool>()),
      rc::gen::set(&KeyHistory::blind, rc::gen::arbitrary<bool>()));
}

DvvSet Write(DvvSet object, ActorId actor, bool blind, const std::string& value,
             std::uint64_t& clock_ms) {
  object.Update(blind ? VersionVector{} : object.clock(), actor,
                HlcTimestamp::FromParts(++clock_ms, 0), false, value, ConflictPolicy::kSiblings);
  return object;
}

std::string KeyName(int key) {
  return "key-" + std::to_string(key);
}

RC_GTEST_PROP(HandoffProperty, ReceiverEndsWithTheMergeOfBothSides, ()) {
  const auto histories = *rc::gen::container<std::vector<KeyHistory>>(GenKeyHistory());
  HandoffSenderConfig config;
  config.batch_bytes_max = *rc::gen::inRange<std::size_t>(1, 600);
  const auto bytes_per_second = *rc::gen::element<std::uint64_t>(0ULL, 20'000ULL, 200'000ULL);
  config.ack_timeout_ms = 40;
  config.retries_max = 1000;  // faults are random, not adversarial: never give up here
  LinkFaults faults;
  faults.seed = *rc::gen::arbitrary<std::uint64_t>();
  faults.drop_percent = *rc::gen::inRange<std::uint32_t>(0, 35);
  faults.duplicate_percent = *rc::gen::inRange<std::uint32_t>(0, 35);
  faults.delay_ms_max = *rc::gen::inRange<std::uint64_t>(0, 30);
  const int writes_during = *rc::gen::inRange(0, 12);

  MemoryEngine source;
  MemoryEngine target;
  std::uint64_t clock_ms = 0;
  std::set<int> keys_seen;
  for (const KeyHistory& history : histories) {
    // One history per key: a second one would mint the same dots for other writes.
    if (!keys_seen.insert(history.key).second) continue;
    const std::string name = KeyName(history.key);
    const std::string storage_key = StorageKey(kPartition, name);
    DvvSet shared;
    for (int i = 0; i < history.shared_writes; ++i) {
      shared = Write(shared, static_cast<ActorId>(3 + i), false, name + "-shared", clock_ms);
    }
    DvvSet source_copy = shared;
    for (int i = 0; i < history.source_writes; ++i) {
      source_copy = Write(source_copy, kSourceActor, history.blind, name + "-s", clock_ms);
    }
    DvvSet target_copy = shared;
    for (int i = 0; i < history.target_writes; ++i) {
      target_copy = Write(target_copy, kTargetActor, history.blind, name + "-t", clock_ms);
    }
    if (history.source_has && !source_copy.empty()) PutObject(source, storage_key, source_copy);
    if (history.target_has && !target_copy.empty()) PutObject(target, storage_key, target_copy);
    // Objects of neighbouring partitions on both sides must stay where they are.
    if (!source_copy.empty()) PutObject(source, StorageKey(kPartition + 1, name), source_copy);
    if (!target_copy.empty()) PutObject(target, StorageKey(kPartition - 1, name), target_copy);
  }
  const std::map<std::string, std::string> target_before = Contents(target);

  HandoffLoop loop(source, target, kPartition, config, faults, /*target_incarnation=*/11,
                   bytes_per_second == 0 ? UnlimitedBudget()
                                         : ByteBudget(bytes_per_second, config.batch_bytes_max));
  int writes_done = 0;
  TestRandom write_random(faults.seed ^ 0x5eed);
  loop.on_step = [&](std::uint64_t) {
    if (writes_done >= writes_during || loop.sender().state() != HandoffState::kRunning) return;
    if (!write_random.Percent(40)) return;
    ++writes_done;
    const std::string storage_key =
        StorageKey(kPartition, KeyName(static_cast<int>(write_random.Below(kKeysMax + 4))));
    auto stored = source.Get(storage::Column::kObjects, storage_key);
    RC_ASSERT(stored.ok());
    DvvSet object = stored->has_value() ? Decoded(**stored) : DvvSet{};
    object = Write(object, kSourceActor, write_random.Percent(50), "during", clock_ms);
    PutObject(source, storage_key, object);
    RC_ASSERT(loop.sender().MirrorWrite(storage_key, EncodeObject(object)).ok());
  };
  loop.Run();
  RC_ASSERT(loop.sender().state() == HandoffState::kDone);
  target.DropUnsyncedWrites();  // completion promises durability

  const storage::KeyRange range = storage::PartitionRange(kPartition);
  const std::map<std::string, std::string> source_after = Contents(source, range);
  std::map<std::string, DvvSet> expected;
  for (const auto& [key, bytes] : target_before) {
    if (key >= range.begin && key < range.end) expected[key] = Decoded(bytes);
  }
  for (const auto& [key, bytes] : source_after) {
    expected[key] = DvvSet::Merge(expected[key], Decoded(bytes)).value();
  }
  std::map<std::string, DvvSet> actual;
  for (const auto& [key, bytes] : Contents(target, range)) actual[key] = Decoded(bytes);
  RC_ASSERT(actual == expected);

  // Outside the partition the receiver is untouched.
  std::map<std::string, std::string> outside_before = target_before;
  std::map<std::string, std::string> outside_after = Contents(target);
  for (auto* contents : {&outside_before, &outside_after}) {
    std::erase_if(*contents, [&](const auto& entry) {
      return entry.first >= range.begin && entry.first < range.end;
    });
  }
  RC_ASSERT(outside_before == outside_after);
}

}  // namespace
}  // namespace meridian::replication
