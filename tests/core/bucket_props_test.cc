// BucketProps: defaults, validation, patches, per-request resolution (ResolveQuorum) and the
// storage encoding of docs/format/bucket_props.md (version 2, and version 1 still decoding).
#include "core/bucket_props.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "core/byte_codec.h"

namespace meridian {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (int byte : bytes) out.push_back(static_cast<char>(byte));
  return out;
}

std::string InvalidMessage(const BucketProps& props) {
  Status status = ValidateBucketProps(props);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  return status.message();
}

TEST(BucketPropsTest, DefaultsAreValid) {
  BucketProps defaults;
  EXPECT_EQ(defaults.conflict_policy, ConflictPolicy::kSiblings);
  EXPECT_EQ(defaults.n, 3u);
  EXPECT_EQ(defaults.r, QuorumValue::Quorum());
  EXPECT_EQ(defaults.w, QuorumValue::Quorum());
  EXPECT_EQ(defaults.pr, QuorumValue::Number(0));
  EXPECT_EQ(defaults.pw, QuorumValue::Number(0));
  EXPECT_EQ(defaults.dw, QuorumValue::Number(0));
  EXPECT_TRUE(defaults.sloppy_quorum);
  EXPECT_TRUE(ValidateBucketProps(defaults).ok());
}

TEST(BucketPropsTest, ConflictPolicyNames) {
  EXPECT_EQ(ConflictPolicyName(ConflictPolicy::kSiblings), "siblings");
  EXPECT_EQ(ConflictPolicyName(ConflictPolicy::kLastWriteWins), "lww");
  EXPECT_EQ(*ParseConflictPolicy("lww"), ConflictPolicy::kLastWriteWins);
  EXPECT_EQ(*ParseConflictPolicy("siblings"), ConflictPolicy::kSiblings);
  EXPECT_EQ(ParseConflictPolicy("newest").status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(ParseConflictPolicy("newest").status().message().find("conflict_policy"),
            std::string::npos);
}

TEST(BucketPropsTest, ValidationNamesTheOffendingProperty) {
  BucketProps props;
  props.n = 0;
  EXPECT_EQ(InvalidMessage(props), "n=0 is outside 1..9");
  props.n = 10;
  EXPECT_EQ(InvalidMessage(props), "n=10 is outside 1..9");

  props = {};
  props.r = QuorumValue::Number(4);
  EXPECT_EQ(InvalidMessage(props), "r=4 exceeds n=3");
  props = {};
  props.w = QuorumValue::Number(5);
  EXPECT_EQ(InvalidMessage(props), "w=5 exceeds n=3");
  props = {};
  props.r = QuorumValue::Number(0);
  EXPECT_EQ(InvalidMessage(props), "r must be at least 1");
  props = {};
  props.w = QuorumValue::Number(0);
  EXPECT_EQ(InvalidMessage(props), "w must be at least 1");

  props = {};
  props.pr = QuorumValue::Number(3);
  EXPECT_EQ(InvalidMessage(props), "pr=3 exceeds r=quorum (2)");
  props = {};
  props.pw = QuorumValue::All();
  EXPECT_EQ(InvalidMessage(props), "pw=all (3) exceeds w=quorum (2)");
  props = {};
  props.dw = QuorumValue::All();
  EXPECT_EQ(InvalidMessage(props), "dw=all (3) exceeds w=quorum (2)");
  props.w = QuorumValue::All();
  EXPECT_TRUE(ValidateBucketProps(props).ok());
}

TEST(BucketPropsTest, EveryReplicaCountAcceptsTheSymbols) {
  for (std::uint32_t n = 1; n <= kReplicasMax; ++n) {
    for (const QuorumValue value :
         {QuorumValue::One(), QuorumValue::Quorum(), QuorumValue::All()}) {
      BucketProps props;
      props.n = n;
      props.r = props.w = value;
      props.pr = props.pw = props.dw = value;
      EXPECT_TRUE(ValidateBucketProps(props).ok()) << n << " " << FormatQuorumValue(value);
    }
  }
}

TEST(BucketPropsTest, PatchChangesOnlyItsFieldsAndIsValidated) {
  BucketProps defaults;
  BucketPropsPatch patch;
  EXPECT_EQ(*ApplyBucketPropsPatch(defaults, patch), defaults);

  patch.conflict_policy = ConflictPolicy::kLastWriteWins;
  patch.n = 5;
  patch.r = QuorumValue::One();
  patch.w = QuorumValue::All();
  patch.pw = QuorumValue::Number(2);
  patch.dw = QuorumValue::Number(1);
  patch.sloppy_quorum = false;
  Result<BucketProps> applied = ApplyBucketPropsPatch(defaults, patch);
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->conflict_policy, ConflictPolicy::kLastWriteWins);
  EXPECT_EQ(applied->n, 5u);
  EXPECT_EQ(applied->r, QuorumValue::One());
  EXPECT_EQ(applied->w, QuorumValue::All());
  EXPECT_EQ(applied->pr, QuorumValue::Number(0));
  EXPECT_EQ(applied->pw, QuorumValue::Number(2));
  EXPECT_EQ(applied->dw, QuorumValue::Number(1));
  EXPECT_FALSE(applied->sloppy_quorum);

  // Lowering n below a numeric r is refused as a whole.
  BucketProps numeric;
  numeric.r = QuorumValue::Number(3);
  BucketPropsPatch shrink;
  shrink.n = 2;
  shrink.conflict_policy = ConflictPolicy::kLastWriteWins;
  Result<BucketProps> refused = ApplyBucketPropsPatch(numeric, shrink);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().message(), "r=3 exceeds n=2");

  BucketPropsPatch too_many;
  too_many.n = 10;
  EXPECT_EQ(ApplyBucketPropsPatch(defaults, too_many).status().message(), "n=10 is outside 1..9");
}

TEST(ResolveQuorumTest, ResolvesSymbolsAgainstTheCappedReplicaCount) {
  BucketProps props;  // n=3, r=w=quorum
  Result<ResolvedQuorum> resolved = ResolveQuorum(props, {}, 5);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, (ResolvedQuorum{3, 2, 2, 0, 0, 0, true}));

  resolved = ResolveQuorum(props, {}, 2);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, (ResolvedQuorum{2, 2, 2, 0, 0, 0, true}));

  resolved = ResolveQuorum(props, {}, 1);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(*resolved, (ResolvedQuorum{1, 1, 1, 0, 0, 0, true}));

  props.n = 9;
  props.r = QuorumValue::All();
  props.w = QuorumValue::One();
  resolved = ResolveQuorum(props, {}, 4);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->n, 4u);
  EXPECT_EQ(resolved->r, 4u);
  EXPECT_EQ(resolved->w, 1u);
}

TEST(ResolveQuorumTest, OverridesReplaceTheBucketsSettings) {
  BucketProps props;
  QuorumOverrides overrides;
  overrides.r = QuorumValue::One();
  overrides.w = QuorumValue::All();
  overrides.pr = QuorumValue::One();
  overrides.pw = QuorumValue::Number(2);
  overrides.dw = QuorumValue::Quorum();
  overrides.sloppy_quorum = false;
  Result<ResolvedQuorum> resolved = ResolveQuorum(props, overrides, 3);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(*resolved, (ResolvedQuorum{3, 1, 3, 1, 2, 2, false}));
}

TEST(ResolveQuorumTest, AnOverrideAboveTheCappedReplicaCountExplainsTheCap) {
  BucketProps props;  // n=3
  QuorumOverrides overrides;
  overrides.w = QuorumValue::Number(2);
  Result<ResolvedQuorum> resolved = ResolveQuorum(props, overrides, 1);
  ASSERT_EQ(resolved.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(resolved.status().message(),
            "w=2 exceeds the key's 1 replica(s) (n=3, but the cluster has 1 node(s))");

  overrides = {};
  overrides.r = QuorumValue::Number(3);
  resolved = ResolveQuorum(props, overrides, 2);
  ASSERT_EQ(resolved.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(resolved.status().message(),
            "r=3 exceeds the key's 2 replica(s) (n=3, but the cluster has 2 node(s))");

  // Not capped: no mention of the node count.
  overrides.r = QuorumValue::Number(4);
  resolved = ResolveQuorum(props, overrides, 5);
  EXPECT_EQ(resolved.status().message(), "r=4 exceeds the key's 3 replica(s)");

  // The bucket's own numeric setting can also exceed a capped n.
  props.w = QuorumValue::Number(3);
  resolved = ResolveQuorum(props, {}, 2);
  EXPECT_EQ(resolved.status().message(),
            "w=3 exceeds the key's 2 replica(s) (n=3, but the cluster has 2 node(s))");
}

TEST(ResolveQuorumTest, PrimaryAndDurableCountsMayNotExceedTheirQuorum) {
  BucketProps props;
  QuorumOverrides overrides;
  overrides.pr = QuorumValue::All();
  EXPECT_EQ(ResolveQuorum(props, overrides, 3).status().message(),
            "pr=all (3) exceeds r=quorum (2)");
  overrides = {};
  overrides.pw = QuorumValue::Number(3);
  overrides.w = QuorumValue::Number(2);
  EXPECT_EQ(ResolveQuorum(props, overrides, 3).status().message(), "pw=3 exceeds w=2");
  overrides = {};
  overrides.dw = QuorumValue::Number(2);
  EXPECT_EQ(ResolveQuorum(props, overrides, 1).status().message(), "dw=2 exceeds w=quorum (1)");
  overrides.w = QuorumValue::Number(0);
  EXPECT_EQ(ResolveQuorum(props, overrides, 3).status().message(), "w must be at least 1");
}

TEST(BucketPropsCodecTest, EncodesTheDocumentedBytes) {
  // docs/format/bucket_props.md: version, policy, varint n, r w pr pw dw (kind, varint), sloppy.
  EXPECT_EQ(EncodeBucketProps(BucketProps{}), Bytes({2, 0, 3, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}));
  BucketProps props;
  props.conflict_policy = ConflictPolicy::kLastWriteWins;
  props.n = 5;
  props.r = QuorumValue::One();
  props.w = QuorumValue::All();
  props.pr = QuorumValue::Number(1);
  props.pw = QuorumValue::Number(4);
  props.dw = QuorumValue::Quorum();
  props.sloppy_quorum = false;
  const std::string bytes = EncodeBucketProps(props);
  EXPECT_EQ(bytes, Bytes({2, 1, 5, 1, 0, 3, 0, 0, 1, 0, 4, 2, 0, 0}));
  EXPECT_EQ(*DecodeBucketProps(bytes), props);
}

TEST(BucketPropsCodecTest, VersionOneRecordsStillDecode) {
  // Version 1: version byte, policy byte, varint dw (0 or 1); everything else is the default.
  Result<BucketProps> old = DecodeBucketProps(Bytes({1, 0, 0}));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(*old, BucketProps{});

  old = DecodeBucketProps(Bytes({1, 1, 1}));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  BucketProps expected;
  expected.conflict_policy = ConflictPolicy::kLastWriteWins;
  expected.dw = QuorumValue::Number(1);
  EXPECT_EQ(*old, expected);
  // Re-encoding writes version 2.
  EXPECT_EQ(EncodeBucketProps(*old)[0], '\x02');
  EXPECT_EQ(*DecodeBucketProps(EncodeBucketProps(*old)), expected);

  // Version 1 allowed only dw 0..1, and nothing after it.
  EXPECT_EQ(DecodeBucketProps(Bytes({1, 0, 2})).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeBucketProps(Bytes({1, 5, 0})).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeBucketProps(Bytes({1, 0})).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeBucketProps(Bytes({1, 0, 0, 0})).status().code(), StatusCode::kCorruption);
}

// A record of a newer release says so (a node rolled back to an older release reads it).
TEST(BucketPropsCodecTest, ARecordOfANewerFormatNamesItsVersion) {
  const Result<BucketProps> newer = DecodeBucketProps(Bytes({5, 0, 0}));
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(newer.status().message(),
            "bucket properties record has format version 5, newer than this release (Meridian " +
                std::string(MERIDIAN_VERSION) + ") reads (up to 4): a newer release wrote it");
  EXPECT_EQ(DecodeBucketProps(Bytes({0, 0, 0})).status().message(),
            "bucket properties record has unknown format version 0");
}

TEST(BucketPropsCodecTest, MalformedOrOutOfRangeRecordsAreCorruption) {
  const std::string good = EncodeBucketProps(BucketProps{});
  std::vector<std::string> bad = {
      "",
      Bytes({0, 0, 0}),  // unknown versions
      Bytes({3, 0, 3, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}),
      good + std::string(1, '\0'),                         // trailing byte
      Bytes({2, 2, 3, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}),   // policy 2
      Bytes({2, 0, 0, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}),   // n = 0
      Bytes({2, 0, 10, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}),  // n = 10
      Bytes({2, 0, 3, 4, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}),   // r of kind 4
      Bytes({2, 0, 3, 0, 10, 2, 0, 0, 0, 0, 0, 0, 0, 1}),  // r = 10
      Bytes({2, 0, 3, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2}),   // sloppy 2
      Bytes({2, 0, 3, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 1}),   // r = 4 > n: out of range
      Bytes({2, 0, 3, 2, 0, 2, 0, 0, 3, 0, 0, 0, 0, 1}),   // pr = 3 > r
      Bytes({2, 0, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),   // w = 0
      Bytes({2, 0, 0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}),  // varint
  };
  for (std::size_t length = 0; length < good.size(); ++length) {
    bad.push_back(good.substr(0, length));  // every truncation
  }
  for (const std::string& bytes : bad) {
    Result<BucketProps> decoded = DecodeBucketProps(bytes);
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption)
        << "record of " << bytes.size() << " bytes decoded";
  }
  EXPECT_EQ(DecodeBucketProps(Bytes({2, 0, 3, 0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 1})).status().message(),
            "bucket properties record has out-of-range values");
}

// A valid quorum value for `n` bounded by `limit` (inclusive), from `minimum` up: a symbol
// when it resolves in range, else a number in range.
QuorumValue FitQuorumValue(QuorumValue value, std::uint32_t n, std::uint32_t minimum,
                           std::uint32_t limit) {
  const std::uint32_t resolved = value.Resolve(n);
  if (resolved >= minimum && resolved <= limit) return value;
  return QuorumValue::Number(*rc::gen::inRange<std::uint32_t>(minimum, limit + 1));
}

rc::Gen<QuorumValue> ArbitraryQuorumValue() {
  return rc::gen::oneOf(rc::gen::just(QuorumValue::One()), rc::gen::just(QuorumValue::Quorum()),
                        rc::gen::just(QuorumValue::All()),
                        rc::gen::map(rc::gen::inRange<std::uint32_t>(0, kReplicasMax + 1),
                                     [](std::uint32_t n) { return QuorumValue::Number(n); }));
}

BucketProps ArbitraryValidProps() {
  BucketProps props;
  props.conflict_policy =
      *rc::gen::element(ConflictPolicy::kSiblings, ConflictPolicy::kLastWriteWins);
  props.n = *rc::gen::inRange<std::uint32_t>(1, kReplicasMax + 1);
  props.r = FitQuorumValue(*ArbitraryQuorumValue(), props.n, 1, props.n);
  props.w = FitQuorumValue(*ArbitraryQuorumValue(), props.n, 1, props.n);
  const std::uint32_t r = props.r.Resolve(props.n);
  const std::uint32_t w = props.w.Resolve(props.n);
  props.pr = FitQuorumValue(*ArbitraryQuorumValue(), props.n, 0, r);
  props.pw = FitQuorumValue(*ArbitraryQuorumValue(), props.n, 0, w);
  props.dw = FitQuorumValue(*ArbitraryQuorumValue(), props.n, 0, w);
  props.sloppy_quorum = *rc::gen::arbitrary<bool>();
  return props;
}

RC_GTEST_PROP(BucketPropsCodecProperty, ValidPropsRoundTrip, ()) {
  const BucketProps props = ArbitraryValidProps();
  RC_ASSERT(ValidateBucketProps(props).ok());
  const std::string bytes = EncodeBucketProps(props);
  RC_ASSERT(bytes[0] == '\x02');
  Result<BucketProps> decoded = DecodeBucketProps(bytes);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(*decoded == props);
  RC_ASSERT(EncodeBucketProps(*decoded) == bytes);
}

RC_GTEST_PROP(BucketPropsCodecProperty, ValidPropsResolveOnEveryClusterSize, ()) {
  const BucketProps props = ArbitraryValidProps();
  const std::uint32_t nodes = *rc::gen::inRange<std::uint32_t>(props.n, 20);
  // With at least n nodes nothing is capped, so valid props always resolve.
  Result<ResolvedQuorum> resolved = ResolveQuorum(props, {}, nodes);
  RC_ASSERT(resolved.ok());
  RC_ASSERT(resolved->n == props.n);
  RC_ASSERT(resolved->r >= 1u && resolved->r <= resolved->n);
  RC_ASSERT(resolved->w >= 1u && resolved->w <= resolved->n);
  RC_ASSERT(resolved->pr <= resolved->r);
  RC_ASSERT(resolved->pw <= resolved->w);
  RC_ASSERT(resolved->dw <= resolved->w);
  RC_ASSERT(resolved->sloppy_quorum == props.sloppy_quorum);
}

RC_GTEST_PROP(BucketPropsCodecProperty, ArbitraryBytesNeverCrashTheDecoder, (std::string bytes)) {
  Result<BucketProps> decoded = DecodeBucketProps(bytes);
  if (decoded.ok()) {
    RC_ASSERT(ValidateBucketProps(*decoded).ok());
  } else {
    RC_ASSERT(decoded.status().code() == StatusCode::kCorruption);
  }
}

}  // namespace
}  // namespace meridian

namespace meridian {
namespace {

TEST(BucketPropsCodecTest, StrongBucketsUseVersion3AndEventualOnesStayVersion2) {
  BucketProps eventual;
  EXPECT_EQ(EncodeBucketProps(eventual)[0], 2);
  BucketProps strong;
  strong.consistency = Consistency::kStrong;
  const std::string encoded = EncodeBucketProps(strong);
  EXPECT_EQ(encoded[0], 3);
  EXPECT_EQ(encoded.size(), EncodeBucketProps(eventual).size() + 1);
  EXPECT_EQ(encoded.back(), 1);
  auto decoded = DecodeBucketProps(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, strong);

  std::string bad = encoded;
  bad.back() = 2;  // no such consistency
  EXPECT_EQ(DecodeBucketProps(bad).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeBucketProps(encoded.substr(0, encoded.size() - 1)).status().code(),
            StatusCode::kCorruption);  // version 3 without its byte
}

TEST(BucketPropsCodecTest, SealedBucketsUseVersion4) {
  for (Consistency consistency : {Consistency::kEventual, Consistency::kStrong}) {
    BucketProps sealed;
    sealed.consistency = consistency;
    sealed.n = 5;
    sealed.sealed = true;
    const std::string encoded = EncodeBucketProps(sealed);
    EXPECT_EQ(encoded[0], 4);
    EXPECT_EQ(encoded.size(), EncodeBucketProps(BucketProps{}).size() + 2);
    auto decoded = DecodeBucketProps(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, sealed);
    std::string bad = encoded;
    bad.back() = 0;  // version 4 is only ever sealed
    EXPECT_EQ(DecodeBucketProps(bad).status().code(), StatusCode::kCorruption);
    EXPECT_EQ(DecodeBucketProps(encoded.substr(0, encoded.size() - 1)).status().code(),
              StatusCode::kCorruption);
  }
  BucketProps unsealed;
  unsealed.n = 5;
  EXPECT_EQ(EncodeBucketProps(unsealed)[0], 2);  // unsealed again: the older format
}

TEST(BucketPropsTest, ConsistencyNames) {
  EXPECT_EQ(ParseConsistency("strong").value(), Consistency::kStrong);
  EXPECT_EQ(ParseConsistency("eventual").value(), Consistency::kEventual);
  EXPECT_EQ(ConsistencyName(Consistency::kStrong), "strong");
  const Status bad = ParseConsistency("linearizable").status();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("\"eventual\" or \"strong\""), std::string::npos);
}

}  // namespace
}  // namespace meridian
