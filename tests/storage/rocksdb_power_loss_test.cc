// RocksDbEngine (real RocksDB) on a PowerLossFileSystem: synced writes survive a power cut,
// unsynced ones are lost (the control), group commit keeps a write only once CommitPending
// synced it, and the cases RocksDB itself brings — memtable flushes, recycled WAL files, a
// second power loss after recovery, a clean close — behave as docs/design/power_loss.md says.
// Also the split commit (BeginCommit, then FinishCommit on another thread while writes go on).
#include <gtest/gtest.h>

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>

#include <future>
#include <string>

#include "storage/engine_test_util.h"

namespace meridian::storage {
namespace {

using test_support::PowerLossRocksDb;
using test_support::SmallRocksDbOptions;
using test_support::TempDir;

void Put(Engine& engine, const std::string& key, const std::string& value, bool sync) {
  WriteBatch batch;
  batch.Put(Column::kObjects, key, value);
  ASSERT_TRUE(engine.Write(batch, WriteOptions{.sync = sync}).ok());
}

std::optional<std::string> Read(Engine& engine, const std::string& key) {
  auto got = engine.Get(Column::kObjects, key);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  return got.ok() ? *got : std::nullopt;
}

std::string Key(const std::string& prefix, int i) {
  return prefix + std::to_string(1000 + i);
}

RocksDbOptions GroupCommit() {
  RocksDbOptions options = SmallRocksDbOptions();
  options.group_commit = true;
  return options;
}

constexpr int kWrites = 50;

TEST(RocksDbPowerLossTest, SyncedWritesOfAFreshDatabaseSurvive) {
  // A fresh directory: the database directory's own entry must be durable too.
  PowerLossRocksDb db;
  for (int i = 0; i < kWrites; ++i) Put(db.engine(), Key("synced", i), "v", /*sync=*/true);
  db.PowerLossAndReopen();
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(Read(db.engine(), Key("synced", i)), "v") << i;
}

TEST(RocksDbPowerLossTest, UnsyncedWritesAreLost) {
  PowerLossRocksDb db;
  Put(db.engine(), "fence", "durable", /*sync=*/true);
  for (int i = 0; i < kWrites; ++i) Put(db.engine(), Key("unsynced", i), "v", /*sync=*/false);
  // Before the cut they are there (read-your-writes, and in the page cache).
  EXPECT_EQ(Read(db.engine(), Key("unsynced", 0)), "v");
  const PowerLossReport report = db.PowerLossAndReopen();
  EXPECT_GT(report.bytes_dropped, 0u);
  EXPECT_EQ(Read(db.engine(), "fence"), "durable");
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(Read(db.engine(), Key("unsynced", i)), std::nullopt);
}

TEST(RocksDbPowerLossTest, ASyncedWriteMakesTheUnsyncedOnesBeforeItDurable) {
  PowerLossRocksDb db;
  Put(db.engine(), "before", "1", /*sync=*/false);
  Put(db.engine(), "sync", "2", /*sync=*/true);
  Put(db.engine(), "after", "3", /*sync=*/false);
  db.PowerLossAndReopen();
  EXPECT_EQ(Read(db.engine(), "before"), "1");
  EXPECT_EQ(Read(db.engine(), "sync"), "2");
  EXPECT_EQ(Read(db.engine(), "after"), std::nullopt);
}

TEST(RocksDbPowerLossTest, GroupCommitKeepsSyncedWritesOnceCommitted) {
  PowerLossRocksDb db(GroupCommit());
  for (int i = 0; i < kWrites; ++i) Put(db.engine(), Key("committed", i), "v", /*sync=*/true);
  ASSERT_TRUE(db.engine().CommitPending().ok());
  db.PowerLossAndReopen();
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(Read(db.engine(), Key("committed", i)), "v") << i;
}

TEST(RocksDbPowerLossTest, GroupCommitLosesSyncedWritesNotYetCommitted) {
  PowerLossRocksDb db(GroupCommit());
  Put(db.engine(), "fence", "durable", /*sync=*/true);
  ASSERT_TRUE(db.engine().CommitPending().ok());
  for (int i = 0; i < kWrites; ++i) Put(db.engine(), Key("pending", i), "v", /*sync=*/true);
  db.PowerLossAndReopen();
  EXPECT_EQ(Read(db.engine(), "fence"), "durable");
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(Read(db.engine(), Key("pending", i)), std::nullopt);
}

TEST(RocksDbPowerLossTest, GroupCommitOfUnsyncedWritesDoesNotSurviveAPowerLoss) {
  // CommitPending without a sync request writes the WAL buffer to the OS only: enough for
  // a process crash (RocksDbEngineTest.GroupCommitThenCrashKeepsEveryCommittedWrite), not
  // for a power cut.
  PowerLossRocksDb db(GroupCommit());
  Put(db.engine(), "fence", "durable", /*sync=*/true);
  ASSERT_TRUE(db.engine().CommitPending().ok());
  for (int i = 0; i < kWrites; ++i) Put(db.engine(), Key("lazy", i), "v", /*sync=*/false);
  ASSERT_TRUE(db.engine().CommitPending().ok());
  db.PowerLossAndReopen();
  EXPECT_EQ(Read(db.engine(), "fence"), "durable");
  for (int i = 0; i < kWrites; ++i) EXPECT_EQ(Read(db.engine(), Key("lazy", i)), std::nullopt);
}

TEST(RocksDbPowerLossTest, GroupCommitWithOneSyncedWriteMakesTheWholeBatchDurable) {
  PowerLossRocksDb db(GroupCommit());
  Put(db.engine(), "before", "1", /*sync=*/false);
  Put(db.engine(), "sync", "2", /*sync=*/true);
  Put(db.engine(), "after", "3", /*sync=*/false);
  ASSERT_TRUE(db.engine().CommitPending().ok());
  Put(db.engine(), "next-batch", "4", /*sync=*/false);
  ASSERT_TRUE(db.engine().CommitPending().ok());
  db.PowerLossAndReopen();
  EXPECT_EQ(Read(db.engine(), "before"), "1");
  EXPECT_EQ(Read(db.engine(), "sync"), "2");
  EXPECT_EQ(Read(db.engine(), "after"), "3");  // one fsync covered the whole buffer
  EXPECT_EQ(Read(db.engine(), "next-batch"), std::nullopt);
}

TEST(RocksDbPowerLossTest, PowerLossTwiceLosesOnlyWhatEachRunLeftUnsynced) {
  for (const bool group_commit : {false, true}) {
    RocksDbOptions options = SmallRocksDbOptions();
    options.group_commit = group_commit;
    PowerLossRocksDb db(options);
    // (Committed one at a time: with group commit a sync covers its whole batch.)
    Put(db.engine(), "a", "1", /*sync=*/true);
    ASSERT_TRUE(db.engine().CommitPending().ok());
    Put(db.engine(), "b", "2", /*sync=*/false);
    ASSERT_TRUE(db.engine().CommitPending().ok());
    db.PowerLossAndReopen();
    EXPECT_EQ(Read(db.engine(), "a"), "1");
    EXPECT_EQ(Read(db.engine(), "b"), std::nullopt) << "group_commit=" << group_commit;
    Put(db.engine(), "c", "3", /*sync=*/true);
    ASSERT_TRUE(db.engine().CommitPending().ok());
    Put(db.engine(), "a", "overwritten", /*sync=*/false);
    ASSERT_TRUE(db.engine().CommitPending().ok());
    db.PowerLossAndReopen();
    EXPECT_EQ(Read(db.engine(), "a"), "1") << "group_commit=" << group_commit;
    EXPECT_EQ(Read(db.engine(), "b"), std::nullopt);
    EXPECT_EQ(Read(db.engine(), "c"), "3");
    // And the database keeps working after two cuts.
    Put(db.engine(), "d", "4", /*sync=*/true);
    ASSERT_TRUE(db.engine().CommitPending().ok());
    db.PowerLossAndReopen();
    EXPECT_EQ(Read(db.engine(), "d"), "4");
  }
}

TEST(RocksDbPowerLossTest, ReopeningMakesRecoveredWritesDurable) {
  // Recovery replays the WAL into a synced table file: whatever a start finds is durable
  // (the rule the simulator's MemoryEngine follows on restart).
  for (const bool group_commit : {false, true}) {
    RocksDbOptions options = SmallRocksDbOptions();
    options.group_commit = group_commit;
    PowerLossRocksDb db(options);
    Put(db.engine(), "unsynced", "kept", /*sync=*/false);
    ASSERT_TRUE(db.engine().CommitPending().ok());
    db.CloseAndReopen();
    db.PowerLossAndReopen();
    EXPECT_EQ(Read(db.engine(), "unsynced"), "kept") << "group_commit=" << group_commit;
  }
}

TEST(RocksDbPowerLossTest, ACleanCloseWithGroupCommitSyncsTheBufferedWrites) {
  PowerLossRocksDb db(GroupCommit());
  Put(db.engine(), "buffered", "v", /*sync=*/false);
  // The engine's destructor flushes and syncs the WAL buffer; the power goes before any
  // reopen could make the write durable on its own.
  db.CloseThenPowerLossAndReopen();
  EXPECT_EQ(Read(db.engine(), "buffered"), "v");
}

TEST(RocksDbPowerLossTest, BeginCommitTakesThePendingWritesIntoItsTicket) {
  PowerLossRocksDb db(GroupCommit());
  Result<CommitTicket> nothing = db.engine().BeginCommit();
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->empty());
  Put(db.engine(), "synced", "1", /*sync=*/true);
  Result<CommitTicket> first = db.engine().BeginCommit();
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->write);
  EXPECT_TRUE(first->sync);
  // A write after BeginCommit is the next ticket's, and its own sync flag only.
  Put(db.engine(), "lazy", "2", /*sync=*/false);
  Result<CommitTicket> second = db.engine().BeginCommit();
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->write);
  EXPECT_FALSE(second->sync);
  Result<CommitTicket> third = db.engine().BeginCommit();
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third->empty());

  const std::uint64_t syncs = db.file_system().counts().file_syncs;
  ASSERT_TRUE(db.engine().FinishCommit(*third).ok());  // nothing to do: no sync
  EXPECT_EQ(db.file_system().counts().file_syncs, syncs);
  ASSERT_TRUE(db.engine().FinishCommit(*first).ok());
  EXPECT_GT(db.file_system().counts().file_syncs, syncs);
  db.PowerLossAndReopen();
  EXPECT_EQ(Read(db.engine(), "synced"), "1");
}

TEST(RocksDbPowerLossTest, FinishCommitOnAnotherThreadWhileWritesGoOnKeepsEveryCoveredWrite) {
  // As the server runs it: the writing thread writes and begins commits, another thread
  // finishes each ticket while the next writes go on (RocksDB's WAL buffer and WAL files are
  // shared by both; a memtable switch now and then starts a new WAL file).
  PowerLossRocksDb db(GroupCommit());
  constexpr int kRounds = 60;
  constexpr int kWritesPerRound = 8;
  const std::string value(4096, 'v');
  auto key = [](int round, int i) { return "r" + std::to_string(1000 + round) + "." + Key("", i); };
  std::future<Status> in_flight;
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kWritesPerRound; ++i) Put(db.engine(), key(round, i), value, true);
    if (round % 20 == 10) {
      ASSERT_TRUE(db.engine().RequestCompaction().ok());
    }
    if (in_flight.valid()) {
      ASSERT_TRUE(in_flight.get().ok());
    }
    Result<CommitTicket> ticket = db.engine().BeginCommit();
    ASSERT_TRUE(ticket.ok());
    ASSERT_TRUE(ticket->write && ticket->sync);
    in_flight = std::async(std::launch::async,
                           [&db, taken = *ticket] { return db.engine().FinishCommit(taken); });
  }
  Put(db.engine(), "after-the-last-ticket", value, /*sync=*/true);  // may be lost or kept
  ASSERT_TRUE(in_flight.get().ok());
  db.PowerLossAndReopen();
  for (int round = 0; round < kRounds; ++round) {
    for (int i = 0; i < kWritesPerRound; ++i) {
      EXPECT_EQ(Read(db.engine(), key(round, i)), value) << round << "/" << i;
    }
  }
}

}  // namespace
}  // namespace meridian::storage
