// DvvSet: scenario tests and property tests against a reference model of causality.
#include "core/dvv_set.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <set>
#include <vector>

#include "core/object_codec.h"

namespace meridian {
namespace {

constexpr ConflictPolicy kSiblings = ConflictPolicy::kSiblings;

HlcTimestamp Ts(std::uint64_t ms) {
  return HlcTimestamp::FromParts(ms, 0);
}

std::vector<std::string> Values(const DvvSet& set) {
  std::vector<std::string> out;
  for (const auto& s : set.siblings()) out.push_back(s.tombstone ? "<tombstone>" : s.value);
  return out;
}

TEST(DvvSetTest, BlindWritesBecomeSiblings) {
  DvvSet object;
  object.Update({}, 1, Ts(1), false, "a", kSiblings);
  object.Update({}, 1, Ts(2), false, "b", kSiblings);
  EXPECT_EQ(Values(object), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(object.clock().Get(1), 2u);
}

TEST(DvvSetTest, WriteWithContextSupersedesExactlyWhatWasRead) {
  DvvSet object;
  object.Update({}, 1, Ts(1), false, "a", kSiblings);
  object.Update({}, 1, Ts(2), false, "b", kSiblings);
  const VersionVector read_context = object.clock();
  object.Update({}, 1, Ts(3), false, "concurrent", kSiblings);  // not seen by the reader
  object.Update(read_context, 1, Ts(4), false, "resolved", kSiblings);
  EXPECT_EQ(Values(object), (std::vector<std::string>{"concurrent", "resolved"}));
}

TEST(DvvSetTest, StaleContextNeverOverwritesNewerData) {
  DvvSet object;
  object.Update({}, 1, Ts(1), false, "v1", kSiblings);
  const VersionVector stale = object.clock();
  object.Update(stale, 1, Ts(2), false, "v2", kSiblings);
  object.Update(stale, 1, Ts(3), false, "v3-from-stale-reader", kSiblings);
  EXPECT_EQ(Values(object), (std::vector<std::string>{"v2", "v3-from-stale-reader"}));
}

TEST(DvvSetTest, TombstoneIsVersionedLikeAWrite) {
  DvvSet object;
  object.Update({}, 1, Ts(1), false, "v1", kSiblings);
  object.Update(object.clock(), 1, Ts(2), true, "ignored", kSiblings);
  EXPECT_TRUE(object.IsDeleted());
  EXPECT_EQ(object.LiveCount(), 0u);
  EXPECT_TRUE(object.siblings()[0].value.empty());
  // A stale replica still holding v1 cannot resurrect it: the merge drops v1.
  DvvSet stale;
  stale.Update({}, 1, Ts(1), false, "v1", kSiblings);
  EXPECT_TRUE(DvvSet::Merge(object, stale).value().IsDeleted());
}

// The bug of issue 10: a fallback that forgot its earlier write minted the same dot again for
// another value; the merge kept one and dropped the other without a word. Now it refuses.
TEST(DvvSetTest, MergeRefusesOneDotNamingTwoWrites) {
  DvvSet first;
  first.Update({}, 7, Ts(1), false, "first", kSiblings);
  DvvSet second;  // minted from nothing by the same actor: the same dot (7, 1)
  second.Update({}, 7, Ts(2), false, "second", kSiblings);
  ASSERT_EQ(first.siblings()[0].dot, second.siblings()[0].dot);

  auto merged = DvvSet::Merge(first, second);
  ASSERT_FALSE(merged.ok());
  EXPECT_EQ(merged.status().code(), StatusCode::kInternal);
  EXPECT_NE(merged.status().message().find("names two different writes"), std::string::npos);
  DvvSet target = first;
  EXPECT_FALSE(target.MergeFrom(second).ok());
  EXPECT_EQ(target, first);  // unchanged

  // The same write seen twice is not a conflict.
  EXPECT_EQ(DvvSet::Merge(first, first).value(), first);
}

TEST(DvvSetTest, LastWriteWinsKeepsLatestTimestamp) {
  DvvSet object;
  object.Update({}, 1, Ts(10), false, "late", ConflictPolicy::kLastWriteWins);
  object.Update({}, 2, Ts(5), false, "early-but-second", ConflictPolicy::kLastWriteWins);
  ASSERT_EQ(object.siblings().size(), 1u);
  EXPECT_EQ(object.siblings()[0].value, "late");
}

TEST(DvvSetTest, NewDotExceedsContextCounterOfSameActor) {
  DvvSet fresh;  // e.g. a replica that has not seen actor 7's writes yet
  VersionVector context;
  context.Advance(7, 5);
  const Dot dot = fresh.Update(context, 7, Ts(1), false, "x", kSiblings);
  EXPECT_EQ(dot.counter, 6u);
  EXPECT_TRUE(fresh.CheckInvariants());
}

TEST(DvvSetTest, AWriteWithAFixedDotAppliedTwiceIsOneWrite) {
  const Dot fixed{42, kSingleUseCounter};
  DvvSet primary;
  primary.Update({}, 1, Ts(1), false, "old", kSiblings);
  DvvSet fallback;  // holds nothing of the key
  const VersionVector read = primary.clock();
  // A forwarded write, applied by the primary and (hedged) by a fallback: the same sibling.
  ASSERT_TRUE(primary.Apply(read, fixed, Ts(5), false, "new", kSiblings));
  ASSERT_TRUE(fallback.Apply(read, fixed, Ts(5), false, "new", kSiblings));
  EXPECT_EQ(Values(primary), (std::vector<std::string>{"new"}));
  DvvSet merged = DvvSet::Merge(primary, fallback).value();
  EXPECT_EQ(Values(merged), (std::vector<std::string>{"new"}));
  EXPECT_EQ(merged.clock().SingleUseEntries(), 1u);
  // Applying it again where it was applied changes nothing.
  EXPECT_FALSE(primary.Apply(read, fixed, Ts(5), false, "new", kSiblings));
  // A client reads the primary's copy and overwrites it; the hedged copy arriving later (or
  // applied there later) does not come back beside the overwrite.
  primary.Update(primary.clock(), 1, Ts(9), false, "newest", kSiblings);
  EXPECT_FALSE(primary.Apply(read, fixed, Ts(5), false, "new", kSiblings));
  ASSERT_TRUE(primary.MergeFrom(fallback).ok());
  EXPECT_EQ(Values(primary), (std::vector<std::string>{"newest"}));
}

TEST(DvvSetTest, AFixedDotBesideABlindWriteIsASibling) {
  DvvSet object;
  object.Update({}, 1, Ts(1), false, "a", kSiblings);
  ASSERT_TRUE(object.Apply({}, Dot{7, kSingleUseCounter}, Ts(2), false, "b", kSiblings));
  EXPECT_EQ(Values(object), (std::vector<std::string>{"a", "b"}));
  // The entry counts as single-use; the minting actor's does not.
  EXPECT_EQ(object.clock().SingleUseEntries(), 1u);
  EXPECT_TRUE(object.CheckInvariants());
}

TEST(DvvSetTest, PruningForgetsOnlySupersededSingleUseEntries) {
  DvvSet object;
  object.Update({}, 1, Ts(1), false, "a", kSiblings);
  ASSERT_TRUE(
      object.Apply(object.clock(), Dot{7, kSingleUseCounter}, Ts(2), false, "b", kSiblings));
  ASSERT_TRUE(
      object.Apply(object.clock(), Dot{8, kSingleUseCounter}, Ts(3), false, "c", kSiblings));
  // A blind fixed-dot write beside "c": both are siblings.
  ASSERT_TRUE(object.Apply({}, Dot{9, kSingleUseCounter}, Ts(4), false, "d", kSiblings));
  EXPECT_EQ(Values(object), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(object.clock().SingleUseEntries(), 3u);
  EXPECT_EQ(object.SupersededSingleUseEntries(), 1u);  // 7's write ("b") was overwritten
  const DvvSet before = object;
  EXPECT_EQ(object.PruneSingleUse(), 1u);
  EXPECT_EQ(Values(object), Values(before));
  EXPECT_EQ(object.clock().Get(7), 0u);
  EXPECT_EQ(object.clock().Get(1), 1u);  // an ordinary entry stays, though superseded
  EXPECT_EQ(object.clock().SingleUseEntries(), 2u);
  EXPECT_EQ(object.SupersededSingleUseEntries(), 0u);
  EXPECT_EQ(object.PruneSingleUse(), 0u);
  // A replica that missed the prune merges back to the entries; nothing else changes.
  EXPECT_EQ(DvvSet::Merge(object, before).value(), before);
}

// Forgetting named actors: only those of them whose entry is single-use and superseded go;
// a sibling's write is found by HoldsSingleUseWriteOf and never forgotten.
TEST(DvvSetTest, ForgettingNamedActorsTakesOnlyTheirSupersededSingleUseEntries) {
  DvvSet object;
  object.Update({}, 1, Ts(1), false, "a", kSiblings);
  ASSERT_TRUE(
      object.Apply(object.clock(), Dot{7, kSingleUseCounter}, Ts(2), false, "b", kSiblings));
  ASSERT_TRUE(
      object.Apply(object.clock(), Dot{8, kSingleUseCounter}, Ts(3), false, "c", kSiblings));
  ASSERT_TRUE(
      object.Apply(object.clock(), Dot{9, kSingleUseCounter}, Ts(4), false, "d", kSiblings));
  EXPECT_EQ(object.SupersededSingleUseActors(), (std::vector<ActorId>{7, 8}));
  const std::vector<ActorId> sibling_write{9};
  const std::vector<ActorId> superseded{8};
  EXPECT_TRUE(object.HoldsSingleUseWriteOf(sibling_write));
  EXPECT_FALSE(object.HoldsSingleUseWriteOf(superseded));
  EXPECT_FALSE(object.HoldsSingleUseWriteOf(std::vector<ActorId>{1}));  // an ordinary actor
  const DvvSet before = object;
  // 1 is ordinary, 8 superseded, 9 a sibling's, 11 unknown: only 8 goes.
  EXPECT_EQ(object.ForgetSupersededSingleUse(std::vector<ActorId>{1, 8, 9, 11}), 1u);
  EXPECT_EQ(object.clock().Get(8), 0u);
  EXPECT_EQ(object.clock().Get(7), kSingleUseCounter);
  EXPECT_EQ(object.clock().Get(9), kSingleUseCounter);
  EXPECT_EQ(object.clock().Get(1), 1u);
  EXPECT_EQ(Values(object), Values(before));
  EXPECT_EQ(DvvSet::Merge(object, before).value(), before);
}

// ---------------------------------------------------------------------------------------
// Reference model: every write is remembered with the explicit set of dots its writer had
// seen. A write is live at a replica when no write known there has it in its causal past.
struct ModelWrite {
  Dot dot;
  std::set<Dot> past;  // explicit causal past (the context, expanded)
  std::string value;
};

std::set<Dot> Expand(const VersionVector& vv) {
  std::set<Dot> dots;
  for (const auto& [actor, counter] : vv.entries()) {
    if (counter == kSingleUseCounter) {
      dots.insert(Dot{actor, counter});  // its one dot
      continue;
    }
    for (std::uint64_t c = 1; c <= counter; ++c) dots.insert(Dot{actor, c});
  }
  return dots;
}

struct ModelReplica {
  std::map<Dot, ModelWrite> known;
  std::set<Dot> Live() const {
    std::set<Dot> live;
    for (const auto& [dot, write] : known) {
      bool superseded = false;
      for (const auto& [other_dot, other] : known) {
        if (other.past.count(dot) != 0) superseded = true;
      }
      if (!superseded) live.insert(dot);
    }
    return live;
  }
};

std::set<Dot> Dots(const DvvSet& set) {
  std::set<Dot> dots;
  for (const auto& s : set.siblings()) dots.insert(s.dot);
  return dots;
}

// Replays a random history over three replicas (actors 1..3): writes with a context read from
// any replica now or earlier (stale), blind writes, and pairwise syncs. Returns every state seen.
struct History {
  std::vector<DvvSet> states;
};

// Op kinds: 0 a write with the context of replica j now, 1 with an old context, 2 replica i
// merges replica j, 3 a write with a single-use dot (as a forwarded write) applied at replica
// i, 4 such a write applied again at replica i (a hedged copy of it, maybe long after).
History RunRandomHistory(const std::vector<std::tuple<int, int, int, int>>& ops, bool check_model) {
  constexpr int kReplicas = 3;
  std::vector<DvvSet> replicas(kReplicas);
  std::vector<ModelReplica> models(kReplicas);
  std::vector<VersionVector> old_contexts{VersionVector()};
  struct FixedWrite {
    VersionVector context;
    Dot dot;
    HlcTimestamp timestamp;
    std::string value;
  };
  std::vector<FixedWrite> fixed_writes;
  History history;
  int next_value = 0;
  for (const auto& [kind, a, b, pick] : ops) {
    const int i = a % kReplicas;
    const int j = b % kReplicas;
    if (kind == 2) {
      EXPECT_TRUE(replicas[i].MergeFrom(replicas[j]).ok());
      for (const auto& entry : models[j].known) models[i].known.insert(entry);
    } else if (kind == 4) {
      if (fixed_writes.empty()) continue;
      const FixedWrite& write = fixed_writes[pick % fixed_writes.size()];
      replicas[i].Apply(write.context, write.dot, write.timestamp, false, write.value, kSiblings);
      models[i].known.insert(
          {write.dot, ModelWrite{write.dot, Expand(write.context), write.value}});
    } else {
      // Context: read from replica j now (kinds 0, 3) or an old snapshot (1, possibly empty).
      const VersionVector context =
          kind == 1 ? old_contexts[pick % old_contexts.size()] : replicas[j].clock();
      old_contexts.push_back(replicas[j].clock());
      const std::string value = "v" + std::to_string(next_value++);
      const HlcTimestamp timestamp = HlcTimestamp::FromParts(next_value, 0);
      Dot dot;
      if (kind == 3) {
        dot = Dot{static_cast<ActorId>(1000 + next_value), kSingleUseCounter};
        RC_ASSERT(replicas[i].Apply(context, dot, timestamp, false, value, kSiblings));
        fixed_writes.push_back(FixedWrite{context, dot, timestamp, value});
      } else {
        dot = replicas[i].Update(context, static_cast<ActorId>(i + 1), timestamp, false, value,
                                 kSiblings);
      }
      models[i].known[dot] = ModelWrite{dot, Expand(context), value};
    }
    RC_ASSERT(replicas[i].CheckInvariants());
    if (check_model) RC_ASSERT(Dots(replicas[i]) == models[i].Live());
    history.states.push_back(replicas[i]);
  }
  return history;
}

using Ops = std::vector<std::tuple<int, int, int, int>>;

auto GenOps() {
  return rc::gen::container<Ops>(rc::gen::tuple(rc::gen::inRange(0, 5), rc::gen::inRange(0, 3),
                                                rc::gen::inRange(0, 3), rc::gen::inRange(0, 64)));
}

RC_GTEST_PROP(DvvSetProperty, SiblingsMatchReferenceModel, ()) {
  const Ops ops = *GenOps();
  RunRandomHistory(ops, /*check_model=*/true);
}

RC_GTEST_PROP(DvvSetProperty, MergeIsCommutativeAssociativeIdempotent, ()) {
  const Ops ops = *GenOps();
  const History history = RunRandomHistory(ops, /*check_model=*/false);
  RC_PRE(!history.states.empty());
  const auto& states = history.states;
  const DvvSet& a = states[*rc::gen::inRange<std::size_t>(0, states.size())];
  const DvvSet& b = states[*rc::gen::inRange<std::size_t>(0, states.size())];
  const DvvSet& c = states[*rc::gen::inRange<std::size_t>(0, states.size())];
  RC_ASSERT(DvvSet::Merge(a, b).value() == DvvSet::Merge(b, a).value());
  RC_ASSERT(DvvSet::Merge(DvvSet::Merge(a, b).value(), c).value() ==
            DvvSet::Merge(a, DvvSet::Merge(b, c).value()).value());
  RC_ASSERT(DvvSet::Merge(a, a).value() == a);
}

// Pruning keeps what the state reads as (its siblings) and only forgets history: a replica that
// still holds the history merges back to it, and a write after either supersedes the same.
RC_GTEST_PROP(DvvSetProperty, PruningKeepsTheSiblingsAndMergesBackToTheHistory, ()) {
  const Ops ops = *GenOps();
  const History history = RunRandomHistory(ops, /*check_model=*/false);
  RC_PRE(!history.states.empty());
  const DvvSet state = history.states[*rc::gen::inRange<std::size_t>(0, history.states.size())];
  DvvSet pruned = state;
  const std::size_t superseded = state.SupersededSingleUseEntries();
  RC_ASSERT(pruned.PruneSingleUse() == superseded);
  RC_ASSERT(pruned.CheckInvariants());
  RC_ASSERT(pruned.siblings() == state.siblings());
  RC_ASSERT(pruned.SupersededSingleUseEntries() == 0u);
  RC_ASSERT(pruned.clock().SingleUseEntries() + superseded == state.clock().SingleUseEntries());
  RC_ASSERT(state.clock().Descends(pruned.clock()));
  RC_ASSERT(DvvSet::Merge(pruned, state).value() == state);
  DvvSet after_pruned = pruned;
  DvvSet after_state = state;
  after_pruned.Update(pruned.clock(), 1, Ts(9000), false, "next", kSiblings);
  after_state.Update(state.clock(), 1, Ts(9000), false, "next", kSiblings);
  RC_ASSERT(Values(after_pruned) == Values(after_state));
}

// A prune by actors (docs/design/tombstones.md "Hot keys"): the reaper names the superseded
// single-use actors of its own version; another replica, at any version of the history that
// holds none of those writes as a sibling (the verdict), forgets them. Its siblings stay, it
// merges back under its unpruned self, and merged with any version that holds none of those
// writes either, it gives the siblings the unpruned version would: nothing comes back.
RC_GTEST_PROP(DvvSetProperty, ForgettingAnotherReplicasSupersededActorsChangesNoMerge, ()) {
  const Ops ops = *GenOps();
  const History history = RunRandomHistory(ops, /*check_model=*/false);
  RC_PRE(!history.states.empty());
  const auto pick = [&] {
    return history.states[*rc::gen::inRange<std::size_t>(0, history.states.size())];
  };
  const std::vector<ActorId> actors = pick().SupersededSingleUseActors();
  const DvvSet state = pick();
  RC_PRE(!state.HoldsSingleUseWriteOf(actors));
  DvvSet pruned = state;
  pruned.ForgetSupersededSingleUse(actors);
  RC_ASSERT(pruned.CheckInvariants());
  RC_ASSERT(pruned.siblings() == state.siblings());
  RC_ASSERT(DvvSet::Merge(pruned, state).value() == state);
  const DvvSet other = pick();
  RC_PRE(!other.HoldsSingleUseWriteOf(actors));
  RC_ASSERT(Dots(DvvSet::Merge(pruned, other).value()) ==
            Dots(DvvSet::Merge(state, other).value()));
}

RC_GTEST_PROP(DvvSetProperty, PutWithReadContextSupersedesExactlyTheSiblingsRead, ()) {
  const Ops ops = *GenOps();
  const History history = RunRandomHistory(ops, /*check_model=*/false);
  RC_PRE(!history.states.empty());
  DvvSet state = history.states[*rc::gen::inRange<std::size_t>(0, history.states.size())];
  const DvvSet read = state;
  // A concurrent blind write lands after the read and before the resolving put.
  const bool concurrent = *rc::gen::arbitrary<bool>();
  if (concurrent) state.Update({}, 2, Ts(1000), false, "concurrent", kSiblings);
  const DvvSet before_put = state;
  const Dot dot = state.Update(read.clock(), 1, Ts(1001), false, "resolved", kSiblings);
  std::set<Dot> expected = Dots(before_put);
  for (const Dot& seen : Dots(read)) expected.erase(seen);
  expected.insert(dot);
  RC_ASSERT(Dots(state) == expected);
}

RC_GTEST_PROP(DvvSetProperty, ConcurrentPutsAreNeverLost, ()) {
  const Ops ops = *GenOps();
  const History history = RunRandomHistory(ops, /*check_model=*/false);
  RC_PRE(!history.states.empty());
  const DvvSet base = history.states[*rc::gen::inRange<std::size_t>(0, history.states.size())];
  DvvSet at_one = base;
  DvvSet at_two = base;
  const Dot d1 = at_one.Update(base.clock(), 1, Ts(5000), false, "one", kSiblings);
  const Dot d2 = at_two.Update(base.clock(), 2, Ts(5000), false, "two", kSiblings);
  const DvvSet merged = DvvSet::Merge(at_one, at_two).value();
  const std::set<Dot> dots = Dots(merged);
  RC_ASSERT(dots.count(d1) == 1u);
  RC_ASSERT(dots.count(d2) == 1u);
}

RC_GTEST_PROP(DvvSetProperty, StaleContextNeverOverwritesNewerData, ()) {
  const Ops ops = *GenOps();
  const History history = RunRandomHistory(ops, /*check_model=*/false);
  RC_PRE(!history.states.empty());
  DvvSet state = history.states[*rc::gen::inRange<std::size_t>(0, history.states.size())];
  const VersionVector stale = state.clock();
  const Dot newer = state.Update(stale, 1, Ts(6000), false, "newer", kSiblings);
  state.Update(stale, 2, Ts(6001), false, "from-stale-context", kSiblings);
  RC_ASSERT(Dots(state).count(newer) == 1u);
}

RC_GTEST_PROP(DvvSetProperty, ObjectCodecRoundTrips, ()) {
  const Ops ops = *GenOps();
  const History history = RunRandomHistory(ops, /*check_model=*/false);
  for (const DvvSet& state : history.states) {
    auto decoded = DecodeObject(EncodeObject(state));
    RC_ASSERT(decoded.ok());
    RC_ASSERT(*decoded == state);
  }
}

}  // namespace
}  // namespace meridian
