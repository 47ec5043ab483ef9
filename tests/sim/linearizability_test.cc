// The linearizability checker (sim/linearizability.h) and its history file
// (sim/linearizability_history_file.h): hand-written histories of each kind, and properties —
// histories generated from a true register are linearizable, the checker agrees with two
// independent brute-force checkers on small (mutated) histories, and files round-trip.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/linearizability.h"
#include "sim/linearizability_history_file.h"

namespace meridian::sim {
namespace {

using Value = std::optional<std::string>;
constexpr std::uint64_t kNoReturn = ~std::uint64_t{0};

// ---------------------------------------------------------------------------------------------
// Building histories by hand.
// ---------------------------------------------------------------------------------------------

class HistoryBuilder {
 public:
  explicit HistoryBuilder(std::string key = "k") : key_(std::move(key)) {}

  // Each returns the new op's id. `ret` == kNoReturn: no return time.
  std::uint64_t Write(std::uint64_t client, std::string value, std::uint64_t call,
                      std::uint64_t ret) {
    Operation op = Base(client, OpKind::kWrite, call, ret);
    op.value = std::move(value);
    return Add(std::move(op));
  }
  std::uint64_t Read(std::uint64_t client, Value observed, std::uint64_t call, std::uint64_t ret) {
    Operation op = Base(client, OpKind::kRead, call, ret);
    op.observed = std::move(observed);
    return Add(std::move(op));
  }
  std::uint64_t Delete(std::uint64_t client, std::uint64_t call, std::uint64_t ret) {
    return Add(Base(client, OpKind::kDelete, call, ret));
  }
  std::uint64_t Cas(std::uint64_t client, Value expected, Value value, bool succeeded,
                    std::uint64_t call, std::uint64_t ret) {
    Operation op = Base(client, OpKind::kCas, call, ret);
    op.expected = std::move(expected);
    op.value = std::move(value);
    op.succeeded = succeeded;
    return Add(std::move(op));
  }
  // Marks the last op added: its outcome is unknown (no return, no result) / it failed.
  std::uint64_t Unknown() {
    Operation& op = history_.back();
    op.outcome = OpOutcome::kUnknown;
    op.return_time.reset();
    op.observed.reset();
    op.succeeded = false;
    return op.id;
  }
  std::uint64_t Failed() {
    Operation& op = history_.back();
    op.outcome = OpOutcome::kFailed;
    op.observed.reset();
    op.succeeded = false;
    return op.id;
  }
  void Key(std::string key) { key_ = std::move(key); }

  const std::vector<Operation>& history() const { return history_; }
  CheckResult Check(CheckOptions options = {}) const {
    return CheckLinearizable(history_, options);
  }

 private:
  Operation Base(std::uint64_t client, OpKind kind, std::uint64_t call, std::uint64_t ret) {
    Operation op;
    op.id = next_id_++;
    op.client = client;
    op.key = key_;
    op.kind = kind;
    op.call_time = call;
    if (ret != kNoReturn) op.return_time = ret;
    return op;
  }
  std::uint64_t Add(Operation op) {
    history_.push_back(std::move(op));
    return history_.back().id;
  }

  std::string key_;
  std::uint64_t next_id_ = 1;
  std::vector<Operation> history_;
};

bool Contains(const std::vector<std::uint64_t>& ids, std::uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// ---------------------------------------------------------------------------------------------
// Hand-written histories.
// ---------------------------------------------------------------------------------------------

TEST(LinearizabilityTest, EmptyHistoryIsLinearizable) {
  const CheckResult result = CheckLinearizable({});
  EXPECT_EQ(result.verdict, Verdict::kLinearizable);
  EXPECT_EQ(result.keys_checked, 0u);
}

TEST(LinearizabilityTest, SequentialHistoryIsLinearizable) {
  HistoryBuilder h;
  h.Read(0, std::nullopt, 1, 2);
  h.Write(0, "v1", 3, 4);
  h.Read(1, "v1", 5, 6);
  h.Cas(2, "v1", "v2", true, 7, 8);
  h.Read(0, "v2", 9, 10);
  h.Cas(1, "v1", "v3", false, 11, 12);
  h.Delete(2, 13, 14);
  h.Read(0, std::nullopt, 15, 16);
  h.Cas(1, std::nullopt, "v4", true, 17, 18);
  h.Cas(2, "v4", std::nullopt, true, 19, 20);
  h.Read(0, std::nullopt, 21, 22);
  const CheckResult result = h.Check();
  EXPECT_EQ(result.verdict, Verdict::kLinearizable) << result.explanation;
  EXPECT_EQ(result.keys_checked, 1u);
  EXPECT_TRUE(result.longest_prefix.empty());
}

TEST(LinearizabilityTest, ConcurrentReadMaySeeEitherValue) {
  for (const Value& seen : {Value("v1"), Value("v2")}) {
    HistoryBuilder h;
    h.Write(0, "v1", 1, 2);
    h.Write(0, "v2", 3, 10);
    h.Read(1, seen, 4, 5);
    EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable) << *seen;
  }
  HistoryBuilder h;
  h.Write(0, "v1", 1, 2);
  h.Write(0, "v2", 3, 10);
  h.Read(1, std::nullopt, 4, 5);  // absent: v1 was written before the read began
  EXPECT_EQ(h.Check().verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, StaleReadAfterWriteReturnedIsViolation) {
  HistoryBuilder h;
  const std::uint64_t write = h.Write(0, "v1", 1, 2);
  const std::uint64_t read = h.Read(1, std::nullopt, 3, 4);
  const CheckResult result = h.Check();
  ASSERT_EQ(result.verdict, Verdict::kViolation);
  EXPECT_EQ(result.key, "k");
  EXPECT_EQ(result.longest_prefix, std::vector<std::uint64_t>{write});
  ASSERT_FALSE(result.unlinearizable.empty());
  EXPECT_EQ(result.unlinearizable.front(), read);
  EXPECT_NE(result.explanation.find("op 2 (read by client 1"), std::string::npos)
      << result.explanation;
  EXPECT_NE(result.explanation.find("absent initially"), std::string::npos) << result.explanation;
}

TEST(LinearizabilityTest, LostWriteIsViolation) {
  HistoryBuilder h;
  const std::uint64_t first = h.Write(0, "v1", 1, 2);
  const std::uint64_t second = h.Write(1, "v2", 3, 4);
  const std::uint64_t read = h.Read(2, "v1", 5, 6);
  const CheckResult result = h.Check();
  ASSERT_EQ(result.verdict, Verdict::kViolation);
  EXPECT_EQ(result.longest_prefix, (std::vector<std::uint64_t>{first, second}));
  EXPECT_EQ(result.unlinearizable, std::vector<std::uint64_t>{read});
  // Names the read, what the register holds, and who overwrote the value it saw.
  EXPECT_NE(result.explanation.find("op 3 (read by client 2, called at 5, returned at 6, saw "
                                    "\"v1\")"),
            std::string::npos)
      << result.explanation;
  EXPECT_NE(result.explanation.find("holds \"v2\" (set by op 2 write \"v2\")"), std::string::npos)
      << result.explanation;
  EXPECT_NE(result.explanation.find("overwritten by op 2"), std::string::npos)
      << result.explanation;
}

TEST(LinearizabilityTest, TwoConcurrentCasFromTheSameValueCannotBothSucceed) {
  HistoryBuilder both;
  both.Write(0, "v0", 1, 2);
  both.Cas(1, "v0", "a", true, 3, 10);
  both.Cas(2, "v0", "b", true, 4, 11);
  EXPECT_EQ(both.Check().verdict, Verdict::kViolation);

  HistoryBuilder one;
  one.Write(0, "v0", 1, 2);
  one.Cas(1, "v0", "a", true, 3, 10);
  one.Cas(2, "v0", "b", false, 4, 11);
  one.Read(0, "a", 12, 13);
  EXPECT_EQ(one.Check().verdict, Verdict::kLinearizable);

  HistoryBuilder neither;  // nothing else changed v0, so one of them must have swapped
  neither.Write(0, "v0", 1, 2);
  neither.Cas(1, "v0", "a", false, 3, 10);
  neither.Cas(2, "v0", "b", false, 4, 11);
  const CheckResult result = neither.Check();
  EXPECT_EQ(result.verdict, Verdict::kViolation);
  EXPECT_NE(result.explanation.find("refused"), std::string::npos) << result.explanation;
}

TEST(LinearizabilityTest, CreateOnlyCasSucceedsOnce) {
  HistoryBuilder both;
  both.Cas(1, std::nullopt, "a", true, 1, 10);
  both.Cas(2, std::nullopt, "b", true, 2, 11);
  EXPECT_EQ(both.Check().verdict, Verdict::kViolation);

  HistoryBuilder one;
  one.Cas(1, std::nullopt, "a", true, 1, 10);
  one.Cas(2, std::nullopt, "b", false, 2, 11);
  one.Read(0, "a", 12, 13);
  EXPECT_EQ(one.Check().verdict, Verdict::kLinearizable);

  HistoryBuilder wrong_winner;
  wrong_winner.Cas(1, std::nullopt, "a", true, 1, 10);
  wrong_winner.Cas(2, std::nullopt, "b", false, 2, 11);
  wrong_winner.Read(0, "b", 12, 13);
  EXPECT_EQ(wrong_winner.Check().verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, RefusedCasNeedsADifferentValue) {
  HistoryBuilder h;
  h.Write(0, "v1", 1, 2);
  h.Cas(1, "v1", "v2", false, 3, 4);
  EXPECT_EQ(h.Check().verdict, Verdict::kViolation);

  HistoryBuilder concurrent;  // a concurrent write explains the refusal
  concurrent.Write(0, "v1", 1, 2);
  concurrent.Write(2, "v3", 3, 8);
  concurrent.Cas(1, "v1", "v2", false, 4, 5);
  EXPECT_EQ(concurrent.Check().verdict, Verdict::kLinearizable);

  HistoryBuilder timed_out;  // so does a write that timed out, and nothing read its value
  timed_out.Write(0, "v1", 1, 2);
  timed_out.Write(2, "v3", 3, kNoReturn);
  timed_out.Unknown();
  timed_out.Cas(1, "v1", "v2", false, 10, 11);
  EXPECT_EQ(timed_out.Check().verdict, Verdict::kLinearizable);
  timed_out.Read(1, "v1", 12, 13);  // but then v1 cannot be back
  EXPECT_EQ(timed_out.Check().verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownWriteMayTakeEffectLate) {
  HistoryBuilder h;
  h.Write(0, "v1", 1, 2);
  h.Write(1, "v2", 3, kNoReturn);
  h.Unknown();
  h.Read(2, "v1", 10, 11);
  h.Read(2, "v2", 20, 21);  // the timed-out write took effect only now
  EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable);
  h.Read(2, "v1", 30, 31);  // ... and then v1 cannot come back
  EXPECT_EQ(h.Check().verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownWriteMayNeverTakeEffect) {
  HistoryBuilder h;
  h.Write(0, "v1", 1, 2);
  h.Write(1, "v2", 3, kNoReturn);
  h.Unknown();
  h.Read(2, "v1", 4, 5);
  h.Read(2, "v1", 100, 101);
  EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable);
}

TEST(LinearizabilityTest, UnknownWriteCannotTakeEffectBeforeItsCall) {
  HistoryBuilder h;
  h.Read(2, "v2", 1, 2);
  h.Write(1, "v2", 3, kNoReturn);
  h.Unknown();
  EXPECT_EQ(h.Check().verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownCasSwapsOnlyFromItsExpectedValue) {
  for (const Value& seen : {Value("a"), Value("b")}) {
    HistoryBuilder h;
    h.Write(0, "a", 1, 2);
    h.Cas(1, "a", "b", false, 3, kNoReturn);
    h.Unknown();
    h.Read(2, seen, 10, 11);
    EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable) << *seen;
  }
  HistoryBuilder h;
  h.Write(0, "c", 1, 2);
  h.Cas(1, "a", "b", false, 3, kNoReturn);
  h.Unknown();
  h.Read(2, "b", 10, 11);  // the register held c, so the cas cannot have swapped
  EXPECT_EQ(h.Check().verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownReadsConstrainNothing) {
  HistoryBuilder h;
  h.Write(0, "v1", 1, 2);
  h.Read(1, "garbage", 3, 4);
  h.Unknown();
  EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable);
}

TEST(LinearizabilityTest, ReadOfAValueNeverWrittenIsViolation) {
  HistoryBuilder h;
  h.Write(0, "v1", 1, 2);
  const std::uint64_t read = h.Read(1, "ghost", 3, 4);
  const CheckResult result = h.Check();
  ASSERT_EQ(result.verdict, Verdict::kViolation);
  EXPECT_EQ(result.unlinearizable, std::vector<std::uint64_t>{read});
  EXPECT_NE(result.explanation.find("no operation on this key ever wrote \"ghost\""),
            std::string::npos)
      << result.explanation;
}

TEST(LinearizabilityTest, ReadFromTheFutureNamesTheLateWriter) {
  HistoryBuilder h;
  h.Write(0, "v3", 100, 110);
  h.Cas(0, "v3", "v5", true, 120, 125);
  h.Read(3, "v9", 130, 133);
  h.Write(4, "v9", 140, 150);
  const CheckResult result = h.Check();
  ASSERT_EQ(result.verdict, Verdict::kViolation);
  EXPECT_EQ(result.unlinearizable.front(), 3u);
  for (const char* part :
       {"key \"k\"", "op 1 write \"v3\", op 2 cas \"v3\"->\"v5\"", "holds \"v5\"",
        "op 3 (read by client 3, called at 130, returned at 133, saw \"v9\")",
        "op 4 (write \"v9\" by client 4, called at 140, returned at 150) wrote it, but was called "
        "after this operation returned (at 133)"}) {
    EXPECT_NE(result.explanation.find(part), std::string::npos)
        << "missing: " << part << "\nin: " << result.explanation;
  }
}

TEST(LinearizabilityTest, FailedOperationsAreIgnored) {
  HistoryBuilder h;
  h.Write(0, "v1", 1, 2);
  h.Write(1, "v2", 3, 4);
  h.Failed();
  h.Read(2, "v1", 5, 6);
  h.Cas(1, "v1", "v3", false, 7, 8);
  h.Failed();
  h.Read(2, "v1", 9, 10);
  EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable);

  HistoryBuilder applied;  // a write reported failed that took effect after all
  applied.Write(0, "v1", 1, 2);
  const std::uint64_t failed = applied.Write(1, "v2", 3, 4);
  applied.Failed();
  applied.Read(2, "v2", 5, 6);
  const CheckResult result = applied.Check();
  ASSERT_EQ(result.verdict, Verdict::kViolation);
  EXPECT_FALSE(Contains(result.longest_prefix, failed));
  EXPECT_NE(result.explanation.find("reported failed, so it is taken to have had no effect"),
            std::string::npos)
      << result.explanation;
}

TEST(LinearizabilityTest, DeleteThenReadAbsent) {
  HistoryBuilder h;
  h.Write(0, "v1", 1, 2);
  h.Delete(1, 3, 4);
  h.Read(2, std::nullopt, 5, 6);
  EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable);
  h.Read(2, "v1", 7, 8);
  EXPECT_EQ(h.Check().verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, KeysAreIndependent) {
  // On one register this would be a violation (b is read after c was written); on two it is
  // fine.
  HistoryBuilder h("a");
  h.Write(0, "b", 1, 2);
  h.Key("other");
  h.Write(1, "c", 3, 4);
  h.Key("a");
  h.Read(2, "b", 5, 6);
  h.Key("other");
  h.Read(2, "c", 7, 8);
  CheckResult result = h.Check();
  EXPECT_EQ(result.verdict, Verdict::kLinearizable) << result.explanation;
  EXPECT_EQ(result.keys_checked, 2u);

  // A value written on one key cannot be read on another; the report names the key.
  h.Key("third");
  const std::uint64_t read = h.Read(3, "b", 9, 10);
  result = h.Check();
  ASSERT_EQ(result.verdict, Verdict::kViolation);
  EXPECT_EQ(result.key, "third");
  EXPECT_EQ(result.unlinearizable, std::vector<std::uint64_t>{read});
  EXPECT_NE(result.explanation.find("key \"third\""), std::string::npos) << result.explanation;
}

TEST(LinearizabilityTest, EqualTimesAreConcurrent) {
  HistoryBuilder touching;  // the read is called at the write's return time: concurrent
  touching.Write(0, "v1", 1, 3);
  touching.Read(1, std::nullopt, 3, 4);
  EXPECT_EQ(touching.Check().verdict, Verdict::kLinearizable);

  HistoryBuilder after;
  after.Write(0, "v1", 1, 3);
  after.Read(1, std::nullopt, 4, 5);
  EXPECT_EQ(after.Check().verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, OutOfBudgetIsUndecidedAndNamesTheKey) {
  HistoryBuilder h("slow");
  for (std::uint64_t client = 0; client < 6; ++client) {
    h.Write(client, "v" + std::to_string(client), 1 + client, 20 + client);
  }
  h.Read(7, "v0", 30, 31);
  CheckOptions options;
  options.step_budget = 3;
  const CheckResult result = h.Check(options);
  ASSERT_EQ(result.verdict, Verdict::kUndecided);
  EXPECT_EQ(result.key, "slow");
  EXPECT_NE(result.explanation.find("undecided"), std::string::npos);
  EXPECT_NE(result.explanation.find("key \"slow\""), std::string::npos) << result.explanation;
  EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable);
}

TEST(LinearizabilityTest, ViolationOnOneKeyOutranksUndecidedOnAnother) {
  HistoryBuilder h("a");
  for (std::uint64_t client = 0; client < 6; ++client) {
    h.Write(client, "v" + std::to_string(client), 1 + client, 20 + client);
  }
  h.Read(7, "v0", 30, 31);
  h.Key("b");
  h.Read(8, "ghost", 40, 41);
  CheckOptions options;
  options.step_budget = 3;
  const CheckResult result = h.Check(options);
  EXPECT_EQ(result.verdict, Verdict::kViolation);
  EXPECT_EQ(result.key, "b");
}

// Many timed-out writes that never took effect, each pending to the end of the history, must
// not make the search exponential: the lost write at the end is still found.
TEST(LinearizabilityTest, ManyUnknownOperationsStayTractable) {
  HistoryBuilder h;
  std::uint64_t time = 1;
  for (int i = 0; i < 300; ++i) {
    h.Write(i % 7, "v" + std::to_string(i), time, time + 3);
    h.Write(7 + i % 5, "u" + std::to_string(i), time + 1, kNoReturn);
    h.Unknown();
    h.Cas(12, "x" + std::to_string(i), "y", false, time + 2, kNoReturn);
    h.Unknown();
    h.Read(13 + i % 3, "v" + std::to_string(i), time + 4, time + 5);
    time += 6;
  }
  h.Read(20, "u0", time, time + 1);  // the first timed-out write took effect late
  EXPECT_EQ(h.Check().verdict, Verdict::kLinearizable);
  h.Read(21, "v299", time + 2, time + 3);  // after which the last known write cannot return
  const CheckResult result = h.Check();
  EXPECT_EQ(result.verdict, Verdict::kViolation) << result.explanation;
}

TEST(LinearizabilityTest, ValidateHistoryRejectsMalformedOperations) {
  auto invalid = [](auto&& edit) {
    HistoryBuilder h;
    h.Write(0, "v1", 1, 2);
    h.Read(1, "v1", 3, 4);
    h.Cas(1, "v1", "v2", true, 5, 6);
    std::vector<Operation> history = h.history();
    edit(history);
    return ValidateHistory(history);
  };
  EXPECT_TRUE(invalid([](auto&) {}).ok());
  EXPECT_NE(invalid([](auto& ops) { ops[1].id = 1; }).message().find("duplicate operation id 1"),
            std::string::npos);
  EXPECT_FALSE(invalid([](auto& ops) { ops[0].return_time.reset(); }).ok());
  EXPECT_NE(invalid([](auto& ops) { ops[0].return_time = 0; }).message().find("before"),
            std::string::npos);
  EXPECT_FALSE(invalid([](auto& ops) { ops[0].value.reset(); }).ok());
  EXPECT_FALSE(invalid([](auto& ops) { ops[1].value = "x"; }).ok());
  EXPECT_FALSE(invalid([](auto& ops) { ops[0].observed = "x"; }).ok());
  EXPECT_FALSE(invalid([](auto& ops) { ops[1].expected = "x"; }).ok());
  // An unknown op needs no return time, and a failed one may have none.
  EXPECT_TRUE(invalid([](auto& ops) {
                ops[0].outcome = OpOutcome::kUnknown;
                ops[0].return_time.reset();
                ops[1].outcome = OpOutcome::kFailed;
                ops[1].return_time.reset();
              }).ok());
}

TEST(LinearizabilityDeathTest, CheckingAMalformedHistoryIsABug) {
  HistoryBuilder h;
  h.Write(0, "v1", 5, 2);
  EXPECT_DEATH(h.Check(), "invalid history");
}

// ---------------------------------------------------------------------------------------------
// The history file.
// ---------------------------------------------------------------------------------------------

TEST(LinearizabilityHistoryFileTest, ParsesTheDocumentedExample) {
  const std::string text =
      R"({"id":1,"client":0,"key":"k1","op":"write","value":"v1","call":3,"return":7,)"
      R"("outcome":"ok"})"
      "\n"
      R"({"id":2,"client":1,"key":"k1","op":"read","call":4,"return":9,"outcome":"ok",)"
      R"("observed":"v1"})"
      "\n\n"
      R"({"id":3,"client":2,"key":"k1","op":"cas","expected":"v1","value":"v2","call":10,)"
      R"("return":15,"outcome":"ok","succeeded":true})"
      "\n"
      R"({"id":4,"client":2,"key":"k1","op":"delete","call":16,"return":null,)"
      R"("outcome":"unknown"})"
      "\n"
      R"({"id":5,"client":3,"key":"k2","op":"cas","expected":null,"value":null,"call":17,)"
      R"("return":18,"outcome":"ok","succeeded":true})"
      "\n"
      R"({"id":6,"client":3,"key":"k2","op":"read","call":19,"return":20,"outcome":"ok",)"
      R"("observed":null})"
      "\n";
  Result<std::vector<Operation>> history = ParseHistory(text);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 6u);
  const Operation& write = (*history)[0];
  EXPECT_EQ(write.id, 1u);
  EXPECT_EQ(write.client, 0u);
  EXPECT_EQ(write.key, "k1");
  EXPECT_EQ(write.kind, OpKind::kWrite);
  EXPECT_EQ(write.value, Value("v1"));
  EXPECT_EQ(write.call_time, 3u);
  EXPECT_EQ(write.return_time, std::optional<std::uint64_t>(7));
  EXPECT_EQ(write.outcome, OpOutcome::kOk);
  EXPECT_EQ((*history)[1].observed, Value("v1"));
  const Operation& cas = (*history)[2];
  EXPECT_EQ(cas.kind, OpKind::kCas);
  EXPECT_EQ(cas.expected, Value("v1"));
  EXPECT_EQ(cas.value, Value("v2"));
  EXPECT_TRUE(cas.succeeded);
  const Operation& del = (*history)[3];
  EXPECT_EQ(del.kind, OpKind::kDelete);
  EXPECT_EQ(del.outcome, OpOutcome::kUnknown);
  EXPECT_FALSE(del.return_time.has_value());
  EXPECT_EQ((*history)[4].expected, std::nullopt);
  EXPECT_EQ((*history)[4].value, std::nullopt);
  EXPECT_TRUE((*history)[4].succeeded);
  EXPECT_EQ((*history)[5].observed, std::nullopt);
  EXPECT_EQ(CheckLinearizable(*history).verdict, Verdict::kLinearizable);
}

TEST(LinearizabilityHistoryFileTest, ErrorsNameTheLineAndTheProblem) {
  const std::string good =
      R"({"id":1,"client":0,"key":"k","op":"write","value":"v","call":1,"return":2,)"
      R"("outcome":"ok"})";
  // A line: an object of `fields` after an id of 2, client 0 and key "k".
  auto line = [](std::string_view fields) {
    return R"({"id":2,"client":0,"key":"k",)" + std::string(fields) + "}";
  };
  struct Case {
    std::string line;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"{\"id\":", "invalid JSON"},
      {"[1,2]", "not a JSON object"},
      {line(R"("op":"read","call":3,"return":4,"outcome":"ok")"), "missing field \"observed\""},
      {R"({"id":-2,"client":0,"key":"k","op":"delete","call":3,"return":4,"outcome":"ok"})",
       "\"id\" must be a non-negative integer"},
      {line(R"("op":"delete","call":3.5,"return":4,"outcome":"ok")"),
       "\"call\" must be a non-negative integer"},
      {R"({"id":2,"client":0,"key":7,"op":"delete","call":3,"return":4,"outcome":"ok"})",
       "\"key\" must be a string"},
      {line(R"("op":"put","call":3,"return":4,"outcome":"ok")"), "\"op\" must be"},
      {line(R"("op":"delete","call":3,"return":4,"outcome":"maybe")"), "\"outcome\" must be"},
      {line(R"("op":"delete","call":3,"return":null,"outcome":"ok")"),
       "\"return\" must be a non-negative integer (the outcome is ok)"},
      {line(R"("op":"delete","call":5,"return":4,"outcome":"ok")"),
       "\"return\" (4) is before \"call\" (5)"},
      {line(R"("op":"delete","call":3,"return":4,"outcome":"ok","valeu":"x")"),
       "unknown field \"valeu\""},
      {line(R"("op":"delete","value":"x","call":3,"return":4,"outcome":"ok")"),
       "field \"value\" is not allowed on a delete"},
      {line(R"("op":"write","value":null,"call":3,"return":4,"outcome":"ok")"),
       "\"value\" must be a string"},
      {line(R"("op":"write","value":"x","call":3,"return":4,"outcome":"ok","observed":"x")"),
       "field \"observed\" is not allowed on a write"},
      {line(R"("op":"cas","value":"x","call":3,"return":4,"outcome":"ok","succeeded":true)"),
       "missing field \"expected\""},
      {line(R"("op":"cas","expected":"v","value":"x","call":3,"return":4,"outcome":"ok")"),
       "missing field \"succeeded\""},
      {line(R"("op":"cas","expected":"v","value":"x","call":3,"return":4,"outcome":"ok",)"
            R"("succeeded":1)"),
       "\"succeeded\" must be a boolean"},
      {R"({"id":1,"client":0,"key":"k","op":"delete","call":3,"return":4,"outcome":"ok"})",
       "duplicate id 1 (first on line 1)"},
  };
  for (const Case& c : cases) {
    const Result<std::vector<Operation>> history = ParseHistory(good + "\n\n" + c.line + "\n");
    ASSERT_FALSE(history.ok()) << c.line;
    EXPECT_EQ(history.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(history.status().message().find("line 3: "), std::string::npos)
        << history.status().message();
    EXPECT_NE(history.status().message().find(c.message), std::string::npos)
        << "expected: " << c.message << "\ngot: " << history.status().message();
  }
}

TEST(LinearizabilityHistoryFileTest, AcceptsCrLfAndResultsOfUnfinishedOperations) {
  const std::string text =
      "{\"id\":1,\"client\":0,\"key\":\"k\",\"op\":\"read\",\"call\":1,\"outcome\":\"unknown\","
      "\"observed\":null}\r\n"
      "{\"id\":2,\"client\":0,\"key\":\"k\",\"op\":\"cas\",\"expected\":null,\"value\":\"x\","
      "\"call\":2,\"return\":3,\"outcome\":\"failed\",\"succeeded\":false}\r\n";
  Result<std::vector<Operation>> history = ParseHistory(text);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  EXPECT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[1].return_time, std::optional<std::uint64_t>(3));
}

TEST(LinearizabilityHistoryFileTest, FileRoundTripsAndMissingFileIsAnIoError) {
  HistoryBuilder h;
  h.Write(0, "quote \" backslash \\ newline \n nul " + std::string(1, '\0') + " é", 1, 2);
  h.Read(1, std::nullopt, 3, 4);
  h.Cas(2, std::nullopt, std::nullopt, false, 5, kNoReturn);
  h.Unknown();
  h.Delete(3, 6, 7);
  h.Failed();
  const std::string path = ::testing::TempDir() + "/linearizability_history.jsonl";
  ASSERT_TRUE(WriteHistoryFile(path, h.history()).ok());
  Result<std::vector<Operation>> read = ReadHistoryFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, h.history());
  std::filesystem::remove(path);
  EXPECT_EQ(ReadHistoryFile(path).status().code(), StatusCode::kIoError);
}

TEST(LinearizabilityHistoryFileTest, InvalidUtf8CannotBeWritten) {
  HistoryBuilder h;
  h.Write(0, "\xff\xfe", 1, 2);
  const Result<std::string> text = FormatHistory(h.history());
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find("op 1"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Generated histories.
// ---------------------------------------------------------------------------------------------

// A source of choices drawn by rapidcheck (so that failures shrink towards small choices).
class Chooser {
 public:
  explicit Chooser(std::vector<std::uint32_t> choices) : choices_(std::move(choices)) {}
  // Uniform-ish in [0, count); count > 0.
  std::uint32_t Below(std::uint32_t count) {
    const std::uint32_t choice = next_ < choices_.size() ? choices_[next_] : 0;
    ++next_;
    return choice % count;
  }
  bool Percent(std::uint32_t percent) { return Below(100) < percent; }

 private:
  std::vector<std::uint32_t> choices_;
  std::size_t next_ = 0;
};

struct GenerationParameters {
  std::uint32_t clients = 3;
  std::uint32_t keys = 1;
  std::uint32_t operations = 10;
  std::uint32_t unknown_percent = 0;  // of returns: the client times out instead
  std::uint32_t failed_percent = 0;   // of returns before taking effect: refused
  std::uint32_t value_pool = 0;       // when not 0: values come from this many, so they repeat
};

// Simulates clients against true registers: every op is called, takes effect at a point after
// its call (its linearization point) and returns after that, with the results the register
// gave, so the history is linearizable by construction. An op that times out (kUnknown) may
// still take effect later, or never; a refused op (kFailed) never does.
std::vector<Operation> GenerateLinearizableHistory(const GenerationParameters& parameters,
                                                   Chooser& chooser) {
  struct Pending {
    std::size_t index;  // into history
    bool applied;
    bool orphan;  // its client gave up (timed out)
  };
  std::vector<Operation> history;
  std::vector<Pending> pending;
  std::vector<bool> busy(parameters.clients, false);
  std::map<std::string, Value> registers;
  std::vector<std::string> written;  // every value written so far (for cas expectations)
  std::uint64_t time = 1;
  std::uint32_t fresh = 0;

  auto fresh_value = [&]() -> std::string {
    if (parameters.value_pool != 0)
      return "p" + std::to_string(chooser.Below(parameters.value_pool));
    // Sometimes a value written before, so that values repeat.
    if (!written.empty() && chooser.Percent(15)) return written[chooser.Below(written.size())];
    return "v" + std::to_string(++fresh);
  };
  auto apply = [&](Pending& p) {
    Operation& op = history[p.index];
    Value& reg = registers[op.key];
    switch (op.kind) {
      case OpKind::kRead:
        op.observed = reg;
        break;
      case OpKind::kWrite:
        reg = op.value;
        break;
      case OpKind::kDelete:
        reg.reset();
        break;
      case OpKind::kCas:
        op.succeeded = reg == op.expected;
        if (op.succeeded) reg = op.value;
        break;
    }
    p.applied = true;
  };

  while (true) {
    std::vector<std::uint32_t> idle;
    for (std::uint32_t c = 0; c < parameters.clients; ++c) {
      if (!busy[c]) idle.push_back(c);
    }
    std::vector<std::size_t> can_apply;
    std::vector<std::size_t> can_return;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (!pending[i].applied) can_apply.push_back(i);
      if (!pending[i].orphan) can_return.push_back(i);
    }
    const bool can_call = history.size() < parameters.operations && !idle.empty();
    if (!can_call && can_return.empty()) break;  // orphans left may never take effect
    const std::uint32_t actions = 3;
    std::uint32_t action = chooser.Below(actions);
    for (std::uint32_t tries = 0; tries < actions; ++tries, action = (action + 1) % actions) {
      if ((action == 0 && can_call) || (action == 1 && !can_apply.empty()) ||
          (action == 2 && !can_return.empty())) {
        break;
      }
    }
    if (action == 0) {
      Operation op;
      op.id = history.size() + 1;
      op.client = idle[chooser.Below(idle.size())];
      op.key = "k" + std::to_string(chooser.Below(parameters.keys));
      op.kind = static_cast<OpKind>(chooser.Below(4));
      op.call_time = time++;
      if (op.kind == OpKind::kWrite) {
        op.value = fresh_value();
        written.push_back(*op.value);
      } else if (op.kind == OpKind::kCas) {
        const std::uint32_t which = chooser.Below(3);
        if (which == 0) {
          op.expected = registers[op.key];  // likely to swap
        } else if (which == 1 && !written.empty()) {
          op.expected = written[chooser.Below(written.size())];
        }  // else create-only
        if (!chooser.Percent(20)) {
          op.value = fresh_value();
          written.push_back(*op.value);
        }  // else a conditional delete
      }
      busy[op.client] = true;
      pending.push_back({history.size(), false, false});
      history.push_back(std::move(op));
    } else if (action == 1) {
      apply(pending[can_apply[chooser.Below(can_apply.size())]]);
    } else {
      const std::size_t at = can_return[chooser.Below(can_return.size())];
      Pending& p = pending[at];
      Operation& op = history[p.index];
      busy[op.client] = false;
      if (chooser.Percent(parameters.unknown_percent)) {
        // Timed out: no result; it may take effect later if it has not yet.
        op.outcome = OpOutcome::kUnknown;
        p.orphan = true;
      } else if (!p.applied && chooser.Percent(parameters.failed_percent)) {
        op.outcome = OpOutcome::kFailed;
        op.return_time = time++;
        pending.erase(pending.begin() + at);
        continue;
      } else {
        if (!p.applied) apply(p);
        op.return_time = time++;
      }
      if (p.applied) pending.erase(pending.begin() + at);
    }
    // Applied orphans are done.
    std::erase_if(pending, [](const Pending& p) { return p.orphan && p.applied; });
  }
  for (Operation& op : history) {  // an op without an ok outcome has no result
    if (op.outcome != OpOutcome::kOk) {
      op.observed.reset();
      op.succeeded = false;
    }
  }
  return history;
}

// Brute force 1: every subset of the unknown ops, every order of the chosen ops; an order is
// allowed when no op in it returned before an op placed earlier was called. Per key.
bool ReplayIsValid(const std::vector<const Operation*>& order) {
  Value state;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Operation& op = *order[i];
    for (std::size_t j = 0; j < i; ++j) {
      const Operation& earlier = *order[j];
      if (op.outcome == OpOutcome::kOk && *op.return_time < earlier.call_time) return false;
    }
    const bool known = op.outcome == OpOutcome::kOk;
    switch (op.kind) {
      case OpKind::kRead:
        if (known && op.observed != state) return false;
        break;
      case OpKind::kWrite:
        state = op.value;
        break;
      case OpKind::kDelete:
        state.reset();
        break;
      case OpKind::kCas:
        if (state == op.expected) {
          if (known && !op.succeeded) return false;
          state = op.value;
        } else if (known && op.succeeded) {
          return false;
        }
        break;
    }
  }
  return true;
}

std::map<std::string, std::vector<const Operation*>> OpsByKey(
    const std::vector<Operation>& history) {
  std::map<std::string, std::vector<const Operation*>> by_key;
  for (const Operation& op : history) {
    if (op.outcome != OpOutcome::kFailed) by_key[op.key].push_back(&op);
  }
  return by_key;
}

bool PermutationOracle(const std::vector<Operation>& history) {
  for (const auto& [key, ops] : OpsByKey(history)) {
    std::vector<const Operation*> known;
    std::vector<const Operation*> unknown;
    for (const Operation* op : ops) (op->outcome == OpOutcome::kOk ? known : unknown).push_back(op);
    bool found = false;
    for (std::uint32_t subset = 0; subset < (1u << unknown.size()) && !found; ++subset) {
      std::vector<const Operation*> chosen = known;
      for (std::size_t u = 0; u < unknown.size(); ++u) {
        if (subset & (1u << u)) chosen.push_back(unknown[u]);
      }
      std::sort(chosen.begin(), chosen.end());
      do {
        found = ReplayIsValid(chosen);
      } while (!found && std::next_permutation(chosen.begin(), chosen.end()));
    }
    if (!found) return false;
  }
  return true;
}

// Brute force 2: depth-first search over (set of ops placed, state) with no list, no pruning
// beyond exact repeats; an op may be placed when every known op that returned before its call
// is placed. Per key.
bool SubsetOracle(const std::vector<Operation>& history) {
  for (const auto& [key, ops] : OpsByKey(history)) {
    const std::size_t n = ops.size();
    std::uint32_t known_mask = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (ops[i]->outcome == OpOutcome::kOk) known_mask |= 1u << i;
    }
    std::set<std::pair<std::uint32_t, Value>> seen;
    std::function<bool(std::uint32_t, const Value&)> search = [&](std::uint32_t placed,
                                                                  const Value& state) {
      if ((placed & known_mask) == known_mask) return true;
      if (!seen.insert({placed, state}).second) return false;
      for (std::size_t i = 0; i < n; ++i) {
        if (placed & (1u << i)) continue;
        bool ready = true;
        for (std::size_t j = 0; j < n && ready; ++j) {
          if ((known_mask & ~placed & (1u << j)) && j != i &&
              *ops[j]->return_time < ops[i]->call_time) {
            ready = false;
          }
        }
        if (!ready) continue;
        // Op i on `state`, by the same rules as ReplayIsValid.
        Value next = state;
        const Operation& op = *ops[i];
        const bool known = op.outcome == OpOutcome::kOk;
        bool valid = true;
        switch (op.kind) {
          case OpKind::kRead:
            valid = !known || op.observed == state;
            break;
          case OpKind::kWrite:
            next = op.value;
            break;
          case OpKind::kDelete:
            next.reset();
            break;
          case OpKind::kCas:
            if (state == op.expected) {
              valid = !known || op.succeeded;
              next = op.value;
            } else {
              valid = !known || !op.succeeded;
            }
            break;
        }
        if (valid && search(placed | (1u << i), next)) return true;
      }
      return false;
    };
    if (!search(0, std::nullopt)) return false;
  }
  return true;
}

// Changes one result of `history` (usually a read's observed value; else a cas's success or
// an outcome), so that the history may or may not stay linearizable.
void Mutate(std::vector<Operation>& history, Chooser& chooser) {
  std::vector<Operation*> reads;
  std::vector<Operation*> known_cas;
  for (Operation& op : history) {
    if (op.kind == OpKind::kRead) reads.push_back(&op);
    if (op.kind == OpKind::kCas && op.outcome == OpOutcome::kOk) known_cas.push_back(&op);
  }
  const std::uint32_t how = chooser.Below(10);
  if (how < 6 && !reads.empty()) {
    // A read sees a value written somewhere, absent, or a value nobody wrote (this also makes
    // a read that failed or timed out an ok one).
    std::vector<Value> candidates = {std::nullopt, Value("ghost")};
    for (const Operation& other : history) {
      if (other.value) candidates.push_back(other.value);
    }
    Operation& read = *reads[chooser.Below(reads.size())];
    read.outcome = OpOutcome::kOk;
    if (!read.return_time) read.return_time = read.call_time + chooser.Below(3);
    read.observed = candidates[chooser.Below(candidates.size())];
  } else if (how < 8 && !known_cas.empty()) {
    Operation& cas = *known_cas[chooser.Below(known_cas.size())];
    cas.succeeded = !cas.succeeded;
  } else if (!history.empty()) {
    // Reported failed, or timed out, whatever happened in truth.
    Operation& op = history[chooser.Below(history.size())];
    op.outcome = how % 2 == 0 ? OpOutcome::kFailed : OpOutcome::kUnknown;
    if (op.outcome == OpOutcome::kUnknown) op.return_time.reset();
    op.observed.reset();
    op.succeeded = false;
  }
}

// Whether `result`'s longest prefix is a valid partial linearization of `history`: the ops
// exist, are on the key, respect real time (no op of the key that is not yet placed returned
// before a placed op was called) and replay on a register.
bool PrefixIsValid(const std::vector<Operation>& history, const CheckResult& result) {
  std::map<std::uint64_t, const Operation*> by_id;
  for (const Operation& op : history) by_id[op.id] = &op;
  std::vector<const Operation*> prefix;
  std::set<std::uint64_t> placed;
  for (std::uint64_t id : result.longest_prefix) {
    if (!by_id.contains(id)) return false;
    const Operation* op = by_id[id];
    if (op->key != result.key || op->outcome == OpOutcome::kFailed) return false;
    for (const Operation& other : history) {
      if (other.key == result.key && other.outcome == OpOutcome::kOk &&
          !placed.contains(other.id) && other.id != id && *other.return_time < op->call_time) {
        return false;
      }
    }
    placed.insert(id);
    prefix.push_back(op);
  }
  return ReplayIsValid(prefix);
}

std::string Show(const std::vector<Operation>& history) {
  Result<std::string> text = FormatHistory(history);
  return text.ok() ? *text : text.status().ToString();
}

rc::Gen<std::vector<std::uint32_t>> Choices(std::size_t count) {
  return rc::gen::container<std::vector<std::uint32_t>>(count, rc::gen::arbitrary<std::uint32_t>());
}

RC_GTEST_PROP(LinearizabilityProperty, HistoriesOfATrueRegisterAreLinearizable, ()) {
  GenerationParameters parameters;
  parameters.clients = *rc::gen::inRange<std::uint32_t>(1, 12);
  parameters.keys = *rc::gen::inRange<std::uint32_t>(1, 4);
  parameters.operations = *rc::gen::inRange<std::uint32_t>(0, 120);
  const bool faults = *rc::gen::arbitrary<bool>();
  parameters.unknown_percent = faults ? *rc::gen::inRange<std::uint32_t>(0, 40) : 0;
  parameters.value_pool = *rc::gen::element(0u, 0u, 3u);
  parameters.failed_percent = faults ? *rc::gen::inRange<std::uint32_t>(0, 40) : 0;
  Chooser chooser(*Choices(parameters.operations * 12));
  const std::vector<Operation> history = GenerateLinearizableHistory(parameters, chooser);
  RC_ASSERT(ValidateHistory(history).ok());
  const CheckResult result = CheckLinearizable(history);
  RC_LOG() << Show(history) << "\n" << result.explanation << "\n";
  RC_ASSERT(result.verdict == Verdict::kLinearizable);
}

// Small histories, mutated or not: the checker agrees with the permutation brute force, and a
// violation's longest prefix is a valid partial linearization.
RC_GTEST_PROP(LinearizabilityProperty, AgreesWithPermutationBruteForceOnSmallHistories, ()) {
  GenerationParameters parameters;
  parameters.clients = *rc::gen::inRange<std::uint32_t>(1, 5);
  parameters.keys = *rc::gen::inRange<std::uint32_t>(1, 3);
  parameters.operations = *rc::gen::inRange<std::uint32_t>(1, 8);
  parameters.unknown_percent = *rc::gen::element(0u, 20u, 50u);
  parameters.failed_percent = *rc::gen::element(0u, 20u);
  parameters.value_pool = *rc::gen::element(0u, 0u, 2u, 3u);
  Chooser chooser(*Choices(120));
  std::vector<Operation> history = GenerateLinearizableHistory(parameters, chooser);
  const bool mutate = *rc::gen::inRange(0, 4) != 0;
  if (mutate) Mutate(history, chooser);
  RC_PRE(ValidateHistory(history).ok());
  const bool expected = PermutationOracle(history);
  const CheckResult result = CheckLinearizable(history);
  RC_LOG() << Show(history) << "\n" << result.explanation << "\n";
  RC_CLASSIFY(expected, "linearizable");
  RC_CLASSIFY(!expected, "violation");
  if (!mutate) RC_ASSERT(expected);
  RC_ASSERT((result.verdict == Verdict::kLinearizable) == expected);
  RC_ASSERT(result.verdict != Verdict::kUndecided);
  if (!expected) {
    RC_ASSERT(PrefixIsValid(history, result));
    RC_ASSERT(!result.unlinearizable.empty());
  }
}

// Medium histories (up to 14 ops on a key, up to half of them unknown): the checker agrees
// with the subset search, which prunes nothing but exact repeats.
RC_GTEST_PROP(LinearizabilityProperty, AgreesWithSubsetSearchOnMediumHistories, ()) {
  GenerationParameters parameters;
  parameters.clients = *rc::gen::inRange<std::uint32_t>(2, 7);
  parameters.keys = 1;
  parameters.operations = *rc::gen::inRange<std::uint32_t>(4, 15);
  parameters.unknown_percent = *rc::gen::element(0u, 30u, 60u);
  parameters.failed_percent = *rc::gen::element(0u, 20u);
  parameters.value_pool = *rc::gen::element(0u, 0u, 2u, 4u);
  Chooser chooser(*Choices(250));
  std::vector<Operation> history = GenerateLinearizableHistory(parameters, chooser);
  const int mutations = *rc::gen::inRange(0, 3);
  for (int i = 0; i < mutations; ++i) Mutate(history, chooser);
  RC_PRE(ValidateHistory(history).ok());
  const bool expected = SubsetOracle(history);
  const CheckResult result = CheckLinearizable(history);
  RC_LOG() << Show(history) << "\n" << result.explanation << "\n";
  RC_CLASSIFY(expected, "linearizable");
  RC_CLASSIFY(!expected, "violation");
  if (mutations == 0) RC_ASSERT(expected);
  RC_ASSERT((result.verdict == Verdict::kLinearizable) == expected);
  if (!expected) RC_ASSERT(PrefixIsValid(history, result));
}

rc::Gen<std::string> Text() {
  return rc::gen::container<std::string>(
      rc::gen::oneOf(rc::gen::element('"', '\\', '\n', '\0', '\x7f', 'a', '{', ':'),
                     rc::gen::inRange<char>(' ', '~')));
}

RC_GTEST_PROP(LinearizabilityProperty, HistoryFileRoundTrips, ()) {
  const std::size_t count = *rc::gen::inRange<std::size_t>(0, 30);
  std::vector<Operation> history;
  for (std::size_t i = 0; i < count; ++i) {
    Operation op;
    op.id = *rc::gen::arbitrary<std::uint64_t>();
    RC_PRE(std::none_of(history.begin(), history.end(),
                        [&](const Operation& other) { return other.id == op.id; }));
    op.client = *rc::gen::arbitrary<std::uint64_t>();
    op.key = *Text();
    op.kind = static_cast<OpKind>(*rc::gen::inRange(0, 4));
    op.outcome = static_cast<OpOutcome>(*rc::gen::inRange(0, 3));
    op.call_time = *rc::gen::inRange<std::uint64_t>(0, std::uint64_t{1} << 62);
    if (op.outcome == OpOutcome::kOk || *rc::gen::arbitrary<bool>()) {
      op.return_time = op.call_time + *rc::gen::inRange<std::uint64_t>(0, 1000);
    }
    const bool ok = op.outcome == OpOutcome::kOk;
    auto maybe_text = []() -> Value {
      if (*rc::gen::arbitrary<bool>()) return *Text();
      return std::nullopt;
    };
    switch (op.kind) {
      case OpKind::kRead:
        if (ok || *rc::gen::arbitrary<bool>()) op.observed = maybe_text();
        break;
      case OpKind::kWrite:
        op.value = *Text();
        break;
      case OpKind::kDelete:
        break;
      case OpKind::kCas:
        op.expected = maybe_text();
        op.value = maybe_text();
        op.succeeded = *rc::gen::arbitrary<bool>();
        break;
    }
    history.push_back(std::move(op));
  }
  RC_ASSERT(ValidateHistory(history).ok());
  const Result<std::string> text = FormatHistory(history);
  RC_ASSERT(text.ok());
  const Result<std::vector<Operation>> parsed = ParseHistory(*text);
  RC_LOG() << *text << "\n" << parsed.status().ToString() << "\n";
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == history);
}

}  // namespace
}  // namespace meridian::sim
