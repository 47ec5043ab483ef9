// Keyspace: reads see a run's inserts only once every earlier insert is acknowledged.
#include "bench/keyspace.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace meridian::bench {
namespace {

TEST(KeyspaceTest, LimitStartsAtTheLoadedRecords) {
  Keyspace keyspace(100);
  EXPECT_EQ(keyspace.record_count(), 100u);
  EXPECT_EQ(keyspace.Limit(), 100u);
  EXPECT_EQ(keyspace.NextInsert(), 100u);
  EXPECT_EQ(keyspace.NextInsert(), 101u);
}

TEST(KeyspaceTest, LimitAdvancesOnlyOverContiguousAcknowledgements) {
  Keyspace keyspace(10);
  const auto a = keyspace.NextInsert();  // 10
  const auto b = keyspace.NextInsert();  // 11
  const auto c = keyspace.NextInsert();  // 12
  keyspace.Acknowledge(c);
  EXPECT_EQ(keyspace.Limit(), 10u);
  keyspace.Acknowledge(b);
  EXPECT_EQ(keyspace.Limit(), 10u);
  keyspace.Acknowledge(a);
  EXPECT_EQ(keyspace.Limit(), 13u);
  keyspace.Acknowledge(a);  // repeated: ignored
  EXPECT_EQ(keyspace.Limit(), 13u);
}

TEST(KeyspaceTest, ConcurrentInsertersEndWithEveryKeyCounted) {
  Keyspace keyspace(0);
  constexpr int kThreads = 4;
  constexpr int kInserts = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kInserts; ++i) keyspace.Acknowledge(keyspace.NextInsert());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(keyspace.Limit(), static_cast<std::uint64_t>(kThreads * kInserts));
}

}  // namespace
}  // namespace meridian::bench
