// QuorumValue: parsing, formatting and resolution against a replica count.
#include "core/quorum.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace meridian {
namespace {

TEST(QuorumValueTest, ParsesSymbolsAndNumbers) {
  EXPECT_EQ(*ParseQuorumValue("r", "one"), QuorumValue::One());
  EXPECT_EQ(*ParseQuorumValue("r", "quorum"), QuorumValue::Quorum());
  EXPECT_EQ(*ParseQuorumValue("r", "all"), QuorumValue::All());
  for (std::uint32_t n = 0; n <= kReplicasMax; ++n) {
    EXPECT_EQ(*ParseQuorumValue("w", std::to_string(n)), QuorumValue::Number(n));
  }
}

TEST(QuorumValueTest, RejectsEverythingElseNamingTheProperty) {
  const std::vector<std::string> bad = {"",
                                        "10",
                                        "-1",
                                        "+1",
                                        " 1",
                                        "1 ",
                                        "1.0",
                                        "0x1",
                                        "One",
                                        "ALL",
                                        "two",
                                        "quorum ",
                                        "999999999999999999999",
                                        std::string("1\0", 2)};
  for (const std::string& text : bad) {
    Result<QuorumValue> parsed = ParseQuorumValue("pw", text);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(parsed.status().message().starts_with("pw must be one, quorum, all or a number"))
        << parsed.status().message();
  }
  // The offending text is quoted, truncated to 32 bytes.
  const std::string message = ParseQuorumValue("dw", std::string(100, 'x')).status().message();
  EXPECT_NE(message.find("\"" + std::string(32, 'x') + "\""), std::string::npos);
  EXPECT_EQ(message.find(std::string(33, 'x')), std::string::npos);
}

TEST(QuorumValueTest, FormatsSymbolsAndNumbers) {
  EXPECT_EQ(FormatQuorumValue(QuorumValue::One()), "one");
  EXPECT_EQ(FormatQuorumValue(QuorumValue::Quorum()), "quorum");
  EXPECT_EQ(FormatQuorumValue(QuorumValue::All()), "all");
  EXPECT_EQ(FormatQuorumValue(QuorumValue::Number(0)), "0");
  EXPECT_EQ(FormatQuorumValue(QuorumValue::Number(7)), "7");
}

TEST(QuorumValueTest, ResolvesAgainstEveryReplicaCount) {
  const std::uint32_t expected_quorum[] = {0, 1, 2, 2, 3, 3, 4, 4, 5, 5};
  for (std::uint32_t n = 1; n <= kReplicasMax; ++n) {
    EXPECT_EQ(QuorumValue::One().Resolve(n), 1u) << n;
    EXPECT_EQ(QuorumValue::Quorum().Resolve(n), expected_quorum[n]) << n;
    EXPECT_EQ(QuorumValue::Quorum().Resolve(n), n / 2 + 1) << n;
    EXPECT_EQ(QuorumValue::All().Resolve(n), n) << n;
    EXPECT_EQ(QuorumValue::Number(2).Resolve(n), 2u) << n;  // numbers are not capped
    // A majority: any two quorums of n replicas overlap.
    EXPECT_GT(2 * QuorumValue::Quorum().Resolve(n), n) << n;
  }
}

rc::Gen<QuorumValue> ArbitraryQuorumValue() {
  return rc::gen::oneOf(rc::gen::just(QuorumValue::One()), rc::gen::just(QuorumValue::Quorum()),
                        rc::gen::just(QuorumValue::All()),
                        rc::gen::map(rc::gen::inRange<std::uint32_t>(0, kReplicasMax + 1),
                                     [](std::uint32_t n) { return QuorumValue::Number(n); }));
}

RC_GTEST_PROP(QuorumValueProperty, FormatThenParseRoundTrips, ()) {
  const QuorumValue value = *ArbitraryQuorumValue();
  Result<QuorumValue> parsed = ParseQuorumValue("r", FormatQuorumValue(value));
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == value);
}

RC_GTEST_PROP(QuorumValueProperty, SymbolsResolveWithinOneToN, ()) {
  const std::uint32_t n = *rc::gen::inRange<std::uint32_t>(1, kReplicasMax + 1);
  for (const QuorumValue value : {QuorumValue::One(), QuorumValue::Quorum(), QuorumValue::All()}) {
    const std::uint32_t resolved = value.Resolve(n);
    RC_ASSERT(resolved >= 1u);
    RC_ASSERT(resolved <= n);
  }
}

}  // namespace
}  // namespace meridian
