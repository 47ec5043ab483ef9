#include "sim/strong_protocol_sim.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

namespace meridian::sim {
namespace {

std::map<std::string, std::uint64_t> Sum(std::map<std::string, std::uint64_t> total,
                                         const std::map<std::string, std::uint64_t>& add) {
  for (const auto& [name, count] : add) total[name] += count;
  return total;
}

TEST(StrongProtocolSimTest, HistoriesUnderFaultsAreLinearizableAndEveryOperationEnds) {
  std::map<std::string, std::uint64_t> total;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    StrongProtocolSimOptions options;
    options.seed = seed;
    const StrongProtocolSimResult run = RunStrongProtocolSim(options);
    ASSERT_EQ(run.check.verdict, Verdict::kLinearizable)
        << "seed " << seed << ": " << run.check.explanation;
    ASSERT_EQ(run.liveness_failure, "") << "seed " << seed;
    total = Sum(total, run.counts);
  }
  // The faults happened and reached operations: otherwise the test shows nothing.
  EXPECT_GT(total["acceptor_crashes"], 150u);
  EXPECT_GT(total["proposer_crashes"], 50u);
  EXPECT_GT(total["link_cuts"], 150u);
  EXPECT_GT(total["ops_unknown"], 10u);
  EXPECT_GT(total["writes_more"], 100u);
  EXPECT_GT(total["reads_more"], 50u);
  EXPECT_GT(total["precondition_failed"], 100u);
  // ... and the fast paths still served many operations.
  EXPECT_GT(total["writes_1rt"], 500u);
  EXPECT_GT(total["reads_1rt"], 500u);
}

TEST(StrongProtocolSimTest, FiveAcceptorsFourProposers) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    StrongProtocolSimOptions options;
    options.seed = seed;
    options.acceptors = 5;
    options.proposers = 4;
    const StrongProtocolSimResult run = RunStrongProtocolSim(options);
    ASSERT_EQ(run.check.verdict, Verdict::kLinearizable)
        << "seed " << seed << ": " << run.check.explanation;
    ASSERT_EQ(run.liveness_failure, "") << "seed " << seed;
  }
}

// One proposer, one key, 200 operations, no faults (seed 3).
StrongProtocolSimResult RunOneProposerWithoutFaults(StrongProtocolSimOptions::Thrifty thrifty) {
  StrongProtocolSimOptions options;
  options.seed = 3;
  options.proposers = 1;
  options.keys = 1;
  options.ops_per_proposer = 200;
  options.faults = false;
  options.thrifty = thrifty;
  return RunStrongProtocolSim(options);
}

// The round trips of docs/design/strong.md, counted: without faults and with one proposer,
// only its first write takes 2 round trips; every later write and every read takes 1.
TEST(StrongProtocolSimTest, OneProposerWithoutFaultsNeedsOneRoundTripAfterItsFirstWrite) {
  const StrongProtocolSimResult run =
      RunOneProposerWithoutFaults(StrongProtocolSimOptions::Thrifty::kNever);
  ASSERT_EQ(run.check.verdict, Verdict::kLinearizable) << run.check.explanation;
  auto counts = run.counts;
  EXPECT_EQ(counts["ops_ok"], 200u);
  EXPECT_EQ(counts["writes_2rt"], 1u);
  EXPECT_EQ(counts["writes_more"], 0u);
  EXPECT_EQ(counts["reads_more"], 0u);
  EXPECT_GT(counts["writes_1rt"], 100u);
  EXPECT_GT(counts["reads_1rt"], 30u);
  // Each operation: one request to each of 3 acceptors and 3 answers (the first write twice).
  EXPECT_EQ(counts["messages"], 200u * 6 + 6);
}

// Thrifty phases: the same round trips with a request to 2 of the 3 acceptors each, and reads
// still find the majority agreeing.
TEST(StrongProtocolSimTest, ThriftyPhasesSendTwoRequestsPerRoundTrip) {
  const StrongProtocolSimResult run =
      RunOneProposerWithoutFaults(StrongProtocolSimOptions::Thrifty::kAlways);
  ASSERT_EQ(run.check.verdict, Verdict::kLinearizable) << run.check.explanation;
  auto counts = run.counts;
  EXPECT_EQ(counts["ops_ok"], 200u);
  EXPECT_EQ(counts["writes_2rt"], 1u);
  EXPECT_EQ(counts["writes_more"], 0u);
  EXPECT_EQ(counts["reads_more"], 0u);
  // 2 requests and 2 answers per round trip; a phase whose majority answers later than its
  // widening delay (the network still delays some messages) adds the third request and answer.
  EXPECT_GE(counts["messages"], 200u * 4 + 4);
  EXPECT_LE(counts["messages"], 200u * 4 + 4 + 2 * 20);
}

TEST(StrongProtocolSimTest, ASeedReplaysExactly) {
  StrongProtocolSimOptions options;
  options.seed = 77;
  const StrongProtocolSimResult first = RunStrongProtocolSim(options);
  const StrongProtocolSimResult second = RunStrongProtocolSim(options);
  EXPECT_EQ(first.history, second.history);
  EXPECT_EQ(first.fault_log, second.fault_log);
  EXPECT_EQ(first.counts, second.counts);
}

// The checker is shown to catch a broken protocol: writes that skip phase 1.
TEST(StrongProtocolSimTest, TheCheckerCatchesWritesThatSkipPhaseOne) {
  int violations = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    StrongProtocolSimOptions options;
    options.seed = seed;
    options.unsafe_skip_prepare = true;
    const StrongProtocolSimResult run = RunStrongProtocolSim(options);
    if (run.check.verdict == Verdict::kViolation) {
      ++violations;
      EXPECT_NE(run.check.explanation.find("violation: "), std::string::npos)
          << run.check.explanation;
    }
  }
  EXPECT_GE(violations, 15);
}

// ... and acceptors that answer before their state is synced (it is lost in a crash).
TEST(StrongProtocolSimTest, TheCheckerCatchesAcceptorsThatForgetPromises) {
  int violations = 0;
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    StrongProtocolSimOptions options;
    options.seed = seed;
    options.acceptor_forgets_on_restart = true;
    const StrongProtocolSimResult run = RunStrongProtocolSim(options);
    if (run.check.verdict == Verdict::kViolation) ++violations;
  }
  EXPECT_GE(violations, 1);
}

}  // namespace
}  // namespace meridian::sim
