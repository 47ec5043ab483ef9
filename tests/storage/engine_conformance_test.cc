// The Engine contract (storage/engine.h), checked against every implementation: both engines
// must pass exactly the same tests.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "storage/engine_test_util.h"

namespace meridian::storage {
namespace {

using test_support::EngineHarness;
using test_support::EngineKind;
using KeyValues = std::vector<std::pair<std::string, std::string>>;

class EngineConformanceTest : public ::testing::TestWithParam<EngineKind> {
 protected:
  void SetUp() override { harness_ = GetParam().make(); }

  Engine& engine() { return harness_->engine(); }

  void Put(Column column, std::string key, std::string value, bool sync = false) {
    WriteBatch batch;
    batch.Put(column, std::move(key), std::move(value));
    ASSERT_TRUE(engine().Write(batch, WriteOptions{sync}).ok());
  }
  void Delete(Column column, std::string key) {
    WriteBatch batch;
    batch.Delete(column, std::move(key));
    ASSERT_TRUE(engine().Write(batch, WriteOptions{}).ok());
  }
  std::optional<std::string> Read(Column column, std::string_view key) {
    auto got = engine().Get(column, key);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : std::nullopt;
  }
  KeyValues ScanAll(Column column, std::string_view begin, std::string_view end) {
    KeyValues out;
    const Status status = engine().Scan(column, begin, end, [&](auto key, auto value) {
      out.emplace_back(std::string(key), std::string(value));
      return true;
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return out;
  }

  std::unique_ptr<EngineHarness> harness_;
};

TEST_P(EngineConformanceTest, GetOfMissingKeyIsNullopt) {
  EXPECT_EQ(Read(Column::kObjects, "absent"), std::nullopt);
  EXPECT_EQ(Read(Column::kMetadata, ""), std::nullopt);
}

TEST_P(EngineConformanceTest, GetReturnsWhatWasPut) {
  Put(Column::kObjects, "k", "v");
  EXPECT_EQ(Read(Column::kObjects, "k"), "v");
}

TEST_P(EngineConformanceTest, EmptyValueIsPresent) {
  Put(Column::kObjects, "k", "");
  EXPECT_EQ(Read(Column::kObjects, "k"), "");
}

TEST_P(EngineConformanceTest, BatchAppliesEveryOp) {
  Put(Column::kObjects, "doomed", "x");
  WriteBatch batch;
  batch.Put(Column::kObjects, "a", "1");
  batch.Put(Column::kHints, "b", "2");
  batch.Put(Column::kMetadata, "c", "3");
  batch.Delete(Column::kObjects, "doomed");
  batch.Put(Column::kObjects, "a", "1-again");  // later ops of a batch win
  ASSERT_TRUE(engine().Write(batch, WriteOptions{}).ok());
  EXPECT_EQ(Read(Column::kObjects, "a"), "1-again");
  EXPECT_EQ(Read(Column::kHints, "b"), "2");
  EXPECT_EQ(Read(Column::kMetadata, "c"), "3");
  EXPECT_EQ(Read(Column::kObjects, "doomed"), std::nullopt);
}

TEST_P(EngineConformanceTest, EmptyBatchIsOk) {
  EXPECT_TRUE(engine().Write(WriteBatch{}, WriteOptions{}).ok());
  EXPECT_TRUE(engine().Write(WriteBatch{}, WriteOptions{true}).ok());
}

// A progress estimate: within a factor of the true size for a range of 1 MB of barely
// compressible data, and (nearly) nothing for a range without keys.
TEST_P(EngineConformanceTest, ApproximateBytesEstimatesTheRangesSize) {
  std::mt19937_64 random(7);
  std::uint64_t exact = 0;
  WriteBatch batch;
  for (int i = 0; i < 1000; ++i) {
    std::string key = "m" + std::to_string(100000 + i);
    std::string value(1000, '\0');
    for (char& c : value) c = static_cast<char>(random());
    exact += key.size() + value.size();
    batch.Put(Column::kObjects, std::move(key), std::move(value));
  }
  ASSERT_TRUE(engine().Write(batch, WriteOptions{true}).ok());
  auto bytes = engine().ApproximateBytes(Column::kObjects, "m", "n");
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_GE(*bytes, exact / 4);
  EXPECT_LE(*bytes, exact * 2);
  auto whole = engine().ApproximateBytes(Column::kObjects, "", "");
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_GE(*whole, exact / 4) << "an empty end reaches the last key";
  auto empty = engine().ApproximateBytes(Column::kObjects, "x", "y");
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_LT(*empty, exact / 10);
  auto other = engine().ApproximateBytes(Column::kHints, "", "");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_LT(*other, exact / 10) << "another column";
}

TEST_P(EngineConformanceTest, DeleteRemovesKey) {
  Put(Column::kObjects, "k", "v");
  Delete(Column::kObjects, "k");
  EXPECT_EQ(Read(Column::kObjects, "k"), std::nullopt);
  EXPECT_TRUE(ScanAll(Column::kObjects, "", "").empty());
}

TEST_P(EngineConformanceTest, DeleteOfMissingKeyIsOk) {
  Delete(Column::kObjects, "never-written");
  EXPECT_EQ(Read(Column::kObjects, "never-written"), std::nullopt);
}

TEST_P(EngineConformanceTest, OverwriteReplacesValue) {
  Put(Column::kObjects, "k", "first");
  Put(Column::kObjects, "k", "second");
  EXPECT_EQ(Read(Column::kObjects, "k"), "second");
  EXPECT_EQ(ScanAll(Column::kObjects, "", ""), (KeyValues{{"k", "second"}}));
}

TEST_P(EngineConformanceTest, ColumnsAreIsolated) {
  Put(Column::kObjects, "same", "objects");
  Put(Column::kHints, "same", "hints");
  Put(Column::kMetadata, "same", "metadata");
  EXPECT_EQ(Read(Column::kObjects, "same"), "objects");
  EXPECT_EQ(Read(Column::kHints, "same"), "hints");
  EXPECT_EQ(Read(Column::kMetadata, "same"), "metadata");
  Delete(Column::kHints, "same");
  EXPECT_EQ(Read(Column::kHints, "same"), std::nullopt);
  EXPECT_EQ(Read(Column::kObjects, "same"), "objects");
  EXPECT_EQ(ScanAll(Column::kMetadata, "", ""), (KeyValues{{"same", "metadata"}}));
}

TEST_P(EngineConformanceTest, ScanVisitsKeysInBytewiseOrder) {
  // Inserted out of order; bytewise means unsigned: "\x80" sorts after "z".
  for (const char* key : {"b", "a", "\x80", "ab", "z", "A"}) Put(Column::kObjects, key, key);
  const KeyValues all = ScanAll(Column::kObjects, "", "");
  std::vector<std::string> keys;
  for (const auto& [key, value] : all) {
    EXPECT_EQ(key, value);
    keys.push_back(key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"A", "a", "ab", "b", "z", "\x80"}));
}

TEST_P(EngineConformanceTest, ScanBoundsAreHalfOpen) {
  for (const char* key : {"a", "b", "c", "d"}) Put(Column::kObjects, key, "v");
  EXPECT_EQ(ScanAll(Column::kObjects, "b", "d"), (KeyValues{{"b", "v"}, {"c", "v"}}));
  // A begin between keys starts at the next key; an end between keys stops before it.
  EXPECT_EQ(ScanAll(Column::kObjects, "aa", "cc"), (KeyValues{{"b", "v"}, {"c", "v"}}));
  EXPECT_TRUE(ScanAll(Column::kObjects, "b", "b").empty());
  EXPECT_TRUE(ScanAll(Column::kObjects, "e", "").empty());
}

TEST_P(EngineConformanceTest, ScanWithEmptyEndRunsToLastKey) {
  for (const char* key : {"a", "b", "\xff\xff"}) Put(Column::kObjects, key, "v");
  EXPECT_EQ(ScanAll(Column::kObjects, "b", ""), (KeyValues{{"b", "v"}, {"\xff\xff", "v"}}));
}

TEST_P(EngineConformanceTest, ScanStopsWhenVisitorReturnsFalse) {
  for (const char* key : {"a", "b", "c", "d"}) Put(Column::kObjects, key, "v");
  std::vector<std::string> seen;
  const Status status = engine().Scan(Column::kObjects, "", "", [&](auto key, auto) {
    seen.emplace_back(key);
    return seen.size() < 2;
  });
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
}

TEST_P(EngineConformanceTest, ScanOnlySeesItsColumn) {
  Put(Column::kObjects, "o", "1");
  Put(Column::kHints, "h", "2");
  EXPECT_EQ(ScanAll(Column::kHints, "", ""), (KeyValues{{"h", "2"}}));
  EXPECT_TRUE(ScanAll(Column::kMetadata, "", "").empty());
}

TEST_P(EngineConformanceTest, BinaryKeysWithZeroAndFfBytes) {
  const std::string zero_in_middle("a\0b", 3);
  const std::string only_zero("\0", 1);
  const std::string zeros("\0\0", 2);
  const std::string ff("\xff", 1);
  const std::string ff_zero("\xff\0", 2);
  for (const std::string& key : {zero_in_middle, only_zero, zeros, ff, ff_zero}) {
    Put(Column::kObjects, key, "value of " + key);
  }
  EXPECT_EQ(Read(Column::kObjects, zero_in_middle), "value of " + zero_in_middle);
  EXPECT_EQ(Read(Column::kObjects, std::string("a")), std::nullopt);  // no truncation at NUL
  EXPECT_EQ(Read(Column::kObjects, ff_zero), "value of " + ff_zero);
  std::vector<std::string> keys;
  for (const auto& [key, value] : ScanAll(Column::kObjects, "", "")) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{only_zero, zeros, zero_in_middle, ff, ff_zero}));
  // Bounds with embedded zero bytes are honoured exactly.
  EXPECT_EQ(ScanAll(Column::kObjects, zeros, std::string("a\0c", 3)).size(), 2u);
  EXPECT_EQ(ScanAll(Column::kObjects, ff, "").size(), 2u);
}

TEST_P(EngineConformanceTest, BinaryValuesRoundTrip) {
  std::string value;
  for (int byte = 0; byte < 256; ++byte) value.push_back(static_cast<char>(byte));
  Put(Column::kObjects, "k", value);
  EXPECT_EQ(Read(Column::kObjects, "k"), value);
}

TEST_P(EngineConformanceTest, LargeValueOfOneMebibyte) {
  std::string value(1u << 20, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 131 % 251);
  Put(Column::kObjects, "big", value, /*sync=*/true);
  const auto got = Read(Column::kObjects, "big");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), value.size());
  EXPECT_TRUE(*got == value);
}

TEST_P(EngineConformanceTest, ReadYourWritesAcrossSyncedAndUnsynced) {
  for (int i = 0; i < 50; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    const std::string value = "v" + std::to_string(i);
    Put(Column::kObjects, key, value, /*sync=*/i % 3 == 0);
    EXPECT_EQ(Read(Column::kObjects, key), value);
    bool seen = false;
    ASSERT_TRUE(engine()
                    .Scan(Column::kObjects, key, "",
                          [&](auto scanned_key, auto scanned_value) {
                            seen = scanned_key == key && scanned_value == value;
                            return false;
                          })
                    .ok());
    EXPECT_TRUE(seen) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Engines, EngineConformanceTest,
    ::testing::Values(
        EngineKind{"Memory", [] { return std::make_unique<test_support::MemoryHarness>(); }},
        EngineKind{"RocksDb", [] { return std::make_unique<test_support::RocksDbHarness>(); }},
        // Reads see buffered writes before they are committed, so the shared contract holds.
        EngineKind{"RocksDbGroupCommit",
                   [] { return std::make_unique<test_support::RocksDbHarness>(true); }},
        // The power-loss file system must be invisible until the power goes.
        EngineKind{"RocksDbOnPowerLossFs",
                   [] { return std::make_unique<test_support::PowerLossRocksDbHarness>(false); }}),
    test_support::EngineKindName);

// ---- Power loss: one rule for every engine -------------------------------------------------
// The rule of docs/design/power_loss.md as a dumb reference: a full copy of the contents is
// taken whenever the engine must have made everything durable, and a power loss goes back to
// it. Every engine must end up with exactly the reference's contents after every power loss:
// the simulator's MemoryEngine (whose crash is DropUnsyncedWrites) and RocksDB on the
// PowerLossFileSystem (whose crash is SimulatePowerLoss and a reopen) lose the same writes.

using Contents = std::map<std::pair<int, std::string>, std::string>;

struct Step {
  enum class Kind { kPut, kDelete, kCommit, kSplitCommit, kPowerLoss };
  Kind kind;
  Column column = Column::kObjects;
  std::string key;
  std::string value;
  bool sync = false;
};

Step PutStep(std::string key, std::string value, bool sync, Column column = Column::kObjects) {
  return Step{Step::Kind::kPut, column, std::move(key), std::move(value), sync};
}
Step DeleteStep(std::string key, bool sync) {
  return Step{Step::Kind::kDelete, Column::kObjects, std::move(key), "", sync};
}
const Step kCommit{Step::Kind::kCommit};
// BeginCommit then FinishCommit: the same rule as CommitPending.
const Step kSplitCommit{Step::Kind::kSplitCommit};
const Step kPowerLoss{Step::Kind::kPowerLoss};

class ReferenceDurability {
 public:
  explicit ReferenceDurability(bool group_commit) : group_commit_(group_commit) {}

  void Apply(const Step& step) {
    const std::pair<int, std::string> slot{static_cast<int>(step.column), step.key};
    switch (step.kind) {
      case Step::Kind::kPut:
      case Step::Kind::kDelete:
        if (step.kind == Step::Kind::kPut) {
          live_[slot] = step.value;
        } else {
          live_.erase(slot);
        }
        if (step.sync && group_commit_) sync_pending_ = true;
        if (step.sync && !group_commit_) durable_ = live_;  // a WAL sync covers all before it
        return;
      case Step::Kind::kCommit:
      case Step::Kind::kSplitCommit:
        if (sync_pending_) durable_ = live_;  // one fsync covers the whole batch
        sync_pending_ = false;
        return;
      case Step::Kind::kPowerLoss:
        live_ = durable_;
        sync_pending_ = false;
        return;
    }
  }
  const Contents& live() const { return live_; }

 private:
  const bool group_commit_;
  Contents live_;
  Contents durable_;
  bool sync_pending_ = false;
};

Contents ContentsOf(Engine& engine) {
  Contents contents;
  for (int column = 0; column < kColumnCount; ++column) {
    const Status status =
        engine.Scan(static_cast<Column>(column), "", "", [&](auto key, auto value) {
          contents[{column, std::string(key)}] = std::string(value);
          return true;
        });
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  return contents;
}

void ApplyToEngine(test_support::EngineHarness& harness, const Step& step) {
  switch (step.kind) {
    case Step::Kind::kPut:
    case Step::Kind::kDelete: {
      WriteBatch batch;
      if (step.kind == Step::Kind::kPut) {
        batch.Put(step.column, step.key, step.value);
      } else {
        batch.Delete(step.column, step.key);
      }
      ASSERT_TRUE(harness.engine().Write(batch, WriteOptions{step.sync}).ok());
      return;
    }
    case Step::Kind::kCommit:
      ASSERT_TRUE(harness.engine().CommitPending().ok());
      return;
    case Step::Kind::kSplitCommit: {
      Result<CommitTicket> ticket = harness.engine().BeginCommit();
      ASSERT_TRUE(ticket.ok()) << ticket.status().ToString();
      ASSERT_TRUE(harness.engine().FinishCommit(*ticket).ok());
      return;
    }
    case Step::Kind::kPowerLoss:
      harness.PowerLoss();
      return;
  }
}

// A seeded script (the same for every engine): puts and deletes over a few keys in every
// column, a quarter of them synced, commits, and about one power loss in twelve steps.
std::vector<Step> RandomScript(std::uint64_t seed, int steps) {
  std::mt19937_64 random(seed);
  std::vector<Step> script;
  for (int i = 0; i < steps; ++i) {
    const std::uint64_t roll = random() % 100;
    const auto column = static_cast<Column>(random() % kColumnCount);
    const std::string key = "k" + std::to_string(random() % 6);
    const bool sync = random() % 4 == 0;
    if (roll < 55) {
      script.push_back(PutStep(key, "v" + std::to_string(i), sync, column));
    } else if (roll < 70) {
      script.push_back(Step{Step::Kind::kDelete, column, key, "", sync});
    } else if (roll < 92) {
      script.push_back(kCommit);
    } else {
      script.push_back(kPowerLoss);
    }
  }
  script.push_back(kPowerLoss);
  return script;
}

struct PowerLossEngineKind {
  std::string name;
  bool group_commit = false;
  std::function<std::unique_ptr<test_support::EngineHarness>()> make;
};

void PrintTo(const PowerLossEngineKind& kind, std::ostream* out) {
  *out << kind.name;
}

class EnginePowerLossTest : public ::testing::TestWithParam<PowerLossEngineKind> {
 protected:
  void Run(const std::vector<Step>& script) {
    auto harness = GetParam().make();
    ASSERT_TRUE(harness->can_lose_power());
    ReferenceDurability reference(GetParam().group_commit);
    for (std::size_t i = 0; i < script.size(); ++i) {
      ApplyToEngine(*harness, script[i]);
      reference.Apply(script[i]);
      if (script[i].kind == Step::Kind::kPowerLoss) {
        ASSERT_EQ(ContentsOf(harness->engine()), reference.live()) << "after step " << i;
      }
    }
    EXPECT_EQ(ContentsOf(harness->engine()), reference.live());
  }
};

TEST_P(EnginePowerLossTest, SyncedWritesSurviveAndUnsyncedOnesAreLost) {
  Run({PutStep("synced", "1", true), kCommit, PutStep("unsynced", "2", false), kCommit,
       kPowerLoss});
}

TEST_P(EnginePowerLossTest, ASyncedWriteMakesTheWritesBeforeItDurable) {
  Run({PutStep("a", "1", false), PutStep("b", "2", false, Column::kHints), PutStep("c", "3", true),
       kCommit, PutStep("d", "4", false), kCommit, kPowerLoss});
}

TEST_P(EnginePowerLossTest, GroupCommitWritesWaitForCommitPending) {
  // Lost with group commit (never committed), kept without (synced at once).
  Run({PutStep("pending", "1", true), kPowerLoss, PutStep("committed", "2", true), kCommit,
       kPowerLoss});
}

TEST_P(EnginePowerLossTest, OneSyncedWriteMakesItsWholeBatchDurable) {
  // With group commit "after" rides on the batch's fsync; without, it stays unsynced.
  Run({PutStep("before", "1", false), PutStep("sync", "2", true), PutStep("after", "3", false),
       kCommit, kPowerLoss});
}

TEST_P(EnginePowerLossTest, LostOverwritesAndDeletesBringTheDurableValuesBack) {
  Run({PutStep("over", "old", true), PutStep("gone", "kept", true), kCommit,
       PutStep("over", "new", false), DeleteStep("gone", false), kCommit, kPowerLoss});
}

TEST_P(EnginePowerLossTest, ABatchSurvivesOrVanishesWhole) {
  auto harness = GetParam().make();
  WriteBatch batch;
  batch.Put(Column::kObjects, "o", "1");
  batch.Put(Column::kHints, "h", "2");
  batch.Put(Column::kMetadata, "m", "3");
  ASSERT_TRUE(harness->engine().Write(batch, WriteOptions{}).ok());
  ASSERT_TRUE(harness->engine().CommitPending().ok());
  harness->PowerLoss();
  EXPECT_TRUE(ContentsOf(harness->engine()).empty());
  ASSERT_TRUE(harness->engine().Write(batch, WriteOptions{true}).ok());
  ASSERT_TRUE(harness->engine().CommitPending().ok());
  harness->PowerLoss();
  EXPECT_EQ(ContentsOf(harness->engine()).size(), 3u);
}

TEST_P(EnginePowerLossTest, BeginThenFinishCommitFollowsTheRuleOfCommitPending) {
  Run({PutStep("a", "1", true), kSplitCommit, PutStep("b", "2", false), kSplitCommit,
       PutStep("c", "3", true), kPowerLoss, PutStep("d", "4", false), PutStep("e", "5", true),
       kSplitCommit, PutStep("f", "6", false), kCommit, kPowerLoss});
}

TEST_P(EnginePowerLossTest, PowerLossTwiceInARow) {
  Run({PutStep("a", "1", true), kCommit, PutStep("b", "2", false), kPowerLoss, kPowerLoss,
       PutStep("c", "3", true), kCommit, PutStep("a", "4", false), kPowerLoss});
}

TEST_P(EnginePowerLossTest, RandomScriptsFollowTheRule) {
  for (const std::uint64_t seed : {1u, 2u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Run(RandomScript(seed, 60));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Engines, EnginePowerLossTest,
    ::testing::Values(
        PowerLossEngineKind{"Memory", false,
                            [] { return std::make_unique<test_support::MemoryHarness>(false); }},
        PowerLossEngineKind{"MemoryGroupCommit", true,
                            [] { return std::make_unique<test_support::MemoryHarness>(true); }},
        PowerLossEngineKind{
            "RocksDbOnPowerLossFs", false,
            [] { return std::make_unique<test_support::PowerLossRocksDbHarness>(false); }},
        PowerLossEngineKind{
            "RocksDbGroupCommitOnPowerLossFs", true,
            [] { return std::make_unique<test_support::PowerLossRocksDbHarness>(true); }}),
    [](const ::testing::TestParamInfo<PowerLossEngineKind>& info) { return info.param.name; });

// The same script on both engines side by side, compared with each other directly.
TEST(EnginePowerLossSideBySideTest, MemoryEngineAndRocksDbLoseTheSameWrites) {
  for (const bool group_commit : {false, true}) {
    test_support::MemoryHarness memory(group_commit);
    test_support::PowerLossRocksDbHarness rocksdb(group_commit);
    const std::vector<Step> script = RandomScript(42, 80);
    for (std::size_t i = 0; i < script.size(); ++i) {
      ApplyToEngine(memory, script[i]);
      ApplyToEngine(rocksdb, script[i]);
      if (script[i].kind == Step::Kind::kPowerLoss) {
        ASSERT_EQ(ContentsOf(memory.engine()), ContentsOf(rocksdb.engine()))
            << "group_commit=" << group_commit << " after step " << i;
      }
    }
  }
}

}  // namespace
}  // namespace meridian::storage
