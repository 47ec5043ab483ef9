// The workload table (YCSB A-F minus E) and the operation mix a run draws from it.
#include "bench/workload.h"

#include <gtest/gtest.h>

#include <array>

#include "bench/rng.h"

namespace meridian::bench {
namespace {

TEST(WorkloadTest, ParsesTheCoreWorkloads) {
  struct Expected {
    const char* name;
    double read, update, insert, rmw;
    Distribution distribution;
  };
  const Expected table[] = {
      {"a", 0.5, 0.5, 0, 0, Distribution::kZipfian},
      {"B", 0.95, 0.05, 0, 0, Distribution::kZipfian},
      {"c", 1.0, 0, 0, 0, Distribution::kZipfian},
      {"workloadd", 0.95, 0, 0.05, 0, Distribution::kLatest},
      {"f", 0.5, 0, 0, 0.5, Distribution::kZipfian},
      {"CAS", 0, 0, 0, 1.0, Distribution::kUniform},
  };
  for (const Expected& expected : table) {
    auto spec = ParseWorkload(expected.name);
    ASSERT_TRUE(spec.ok()) << expected.name;
    EXPECT_DOUBLE_EQ(spec->read, expected.read) << expected.name;
    EXPECT_DOUBLE_EQ(spec->update, expected.update) << expected.name;
    EXPECT_DOUBLE_EQ(spec->insert, expected.insert) << expected.name;
    EXPECT_DOUBLE_EQ(spec->read_modify_write, expected.rmw) << expected.name;
    EXPECT_DOUBLE_EQ(spec->read + spec->update + spec->insert + spec->read_modify_write, 1.0);
    EXPECT_EQ(spec->distribution, expected.distribution) << expected.name;
    EXPECT_EQ(spec->compare_and_set, std::string(expected.name) == "CAS") << expected.name;
  }
  EXPECT_EQ(ParseWorkload("CAS")->name, "cas");
  EXPECT_EQ(ParseWorkload("a")->Describe(), "read 50% update 50%");
  EXPECT_EQ(ParseWorkload("d")->Describe(), "read 95% insert 5%");
}

TEST(WorkloadTest, RejectsUnknownWorkloads) {
  for (const char* name : {"e", "g", "", "aa"}) {
    auto spec = ParseWorkload(name);
    ASSERT_FALSE(spec.ok()) << name;
    EXPECT_EQ(spec.error().code, client::ErrorCode::kInvalidArgument);
  }
  EXPECT_NE(ParseWorkload("e").error().message.find("scans"), std::string::npos);
}

TEST(WorkloadTest, ChooseOperationSlicesTheUnitInterval) {
  const WorkloadSpec d = *ParseWorkload("d");
  EXPECT_EQ(ChooseOperation(d, 0.0), OpType::kRead);
  EXPECT_EQ(ChooseOperation(d, 0.9499), OpType::kRead);
  EXPECT_EQ(ChooseOperation(d, 0.95), OpType::kInsert);
  EXPECT_EQ(ChooseOperation(d, 0.99999999), OpType::kInsert);
  const WorkloadSpec f = *ParseWorkload("f");
  EXPECT_EQ(ChooseOperation(f, 0.4999), OpType::kRead);
  EXPECT_EQ(ChooseOperation(f, 0.5), OpType::kReadModifyWrite);
  const WorkloadSpec c = *ParseWorkload("c");
  EXPECT_EQ(ChooseOperation(c, 0.99999999), OpType::kRead);
}

TEST(WorkloadTest, MixProportionsHoldOverManyDraws) {
  constexpr int kDraws = 200'000;
  for (const char* name : {"a", "b", "c", "d", "f"}) {
    const WorkloadSpec spec = *ParseWorkload(name);
    std::array<int, kOpTypeCount> counts{};
    Rng rng(5);
    for (int i = 0; i < kDraws; ++i) {
      ++counts[static_cast<std::size_t>(ChooseOperation(spec, rng.NextDouble()))];
    }
    const double expected[] = {spec.read, spec.update, spec.insert, spec.read_modify_write};
    for (std::size_t type = 0; type < kOpTypeCount; ++type) {
      EXPECT_NEAR(static_cast<double>(counts[type]) / kDraws, expected[type], 0.005)
          << name << " " << OpTypeName(kOpTypes[type]);
    }
  }
}

}  // namespace
}  // namespace meridian::bench
