#include "sim/linearizability.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/assert.h"

namespace meridian::sim {
namespace {

// ---------------------------------------------------------------------------------------------
// The search (per key).
//
// Each key is searched as in Lowe's and Porcupine's algorithm: the call and return entries of
// the operations with a known outcome form a doubly linked list ordered by time; at each node
// of the search the candidates are the calls that come before the first return still in the
// list (the operations that may come next in a linearization); linearizing one lifts its two
// entries out of the list, backtracking puts them back. A node is (set of linearized
// operations, register state); nodes already explored are not explored again. Values are
// interned as small integers; the values no operation tests the register for (no read saw
// them, no cas expected them) are all interned as one, since nothing can tell them apart.
//
// Operations with an unknown outcome have no return entry (their return is at infinity, as in
// Porcupine) and never need to be linearized; the check succeeds once every known op is. They
// are tried after the known candidates, when their call is not after the first return: the
// unknown writes and deletes, then the unknown cas expecting the current state (an unknown cas
// that does not swap changes nothing, the same as not linearizing it).
//
// Sound reductions (each one only skips nodes from which no linearization is possible unless
// one is also possible from a node that is explored):
//   * a known candidate that succeeds without changing the state (a read of the current value,
//     a refused cas expecting another value) is the only candidate tried at its node: any
//     linearization from the node remains one with that operation moved first;
//   * dominance: for the same known set and state, a node whose set of linearized unknown
//     operations is a superset of an explored node's can do nothing that node could not (every
//     unknown operation may stay unlinearized), so it is skipped;
//   * an unknown operation is only tried when some candidate that depends on the state would
//     accept the value it leaves (else it could as well not be linearized), and after an
//     unknown operation no write or delete is tried (for the same reason);
//   * of unknown operations with the same effect that were both called already, only the
//     first is tried: they are interchangeable from then on.
// (Both are covered by the property tests against brute-force checkers.)
// ---------------------------------------------------------------------------------------------

constexpr std::uint32_t kAbsent = 0;  // the interned "value" of an absent key
constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

std::uint64_t Mix(std::uint64_t x) {  // SplitMix64's finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A fixed-size bitset that keeps an order-independent hash of its set bits, the number of
// leading words whose bits are all set and one past the last non-zero word, so that the
// visited set stores only the words in between (linearized operations are mostly a prefix of
// the operations in call order).
class Bits {
 public:
  explicit Bits(std::size_t size) : size_(size), words_((size + 63) / 64, 0) {}

  bool Test(std::size_t i) const { return (words_[i / 64] >> (i % 64)) & 1; }
  void Set(std::size_t i) {
    MERIDIAN_DCHECK(!Test(i));
    const std::size_t w = i / 64;
    words_[w] |= std::uint64_t{1} << (i % 64);
    hash_ ^= Mix(i);
    while (full_ < words_.size() && words_[full_] == FullWord(full_)) ++full_;
    top_ = std::max(top_, w + 1);
  }
  void Clear(std::size_t i) {
    MERIDIAN_DCHECK(Test(i));
    const std::size_t w = i / 64;
    words_[w] &= ~(std::uint64_t{1} << (i % 64));
    hash_ ^= Mix(i);
    full_ = std::min(full_, w);
    while (top_ > 0 && words_[top_ - 1] == 0) --top_;
  }

  std::uint64_t hash() const { return hash_; }
  std::uint64_t word(std::size_t w) const { return words_[w]; }
  // The word `w` with every bit that exists set.
  std::uint64_t FullWord(std::size_t w) const {
    const std::size_t bits_in_last = size_ % 64;
    if (w + 1 < words_.size() || bits_in_last == 0) return ~std::uint64_t{0};
    return (std::uint64_t{1} << bits_in_last) - 1;
  }
  std::size_t full_words() const { return full_; }
  std::size_t top() const { return top_; }

 private:
  std::size_t size_;
  std::vector<std::uint64_t> words_;
  std::size_t full_ = 0;  // words [0, full_) have every bit set
  std::size_t top_ = 0;   // words [top_, end) are zero
  std::uint64_t hash_ = 0;
};

// The search nodes explored so far: (known set, state) -> the antichain of unknown sets seen.
class VisitedSet {
 public:
  explicit VisitedSet(bool track_unknown) : track_unknown_(track_unknown), slots_(1024, 0) {}

  // False when (known, state, unknown) is covered by a recorded node: the same known set and
  // state with an unknown set that is a subset of `unknown`. Otherwise records it, true. Adds
  // the number of recorded unknown sets compared to `work`.
  bool Insert(const Bits& known, std::uint32_t state, const Bits& unknown, std::uint64_t& work) {
    if ((nodes_.size() + 1) * 2 > slots_.size()) Grow();
    const std::uint64_t hash = Mix(known.hash() ^ Mix(0x5eedULL + state));
    const std::size_t mask = slots_.size() - 1;
    std::size_t slot = hash & mask;
    for (; slots_[slot] != 0; slot = (slot + 1) & mask) {
      Node& node = nodes_[slots_[slot] - 1];
      if (node.hash == hash && node.state == state && KnownEquals(node.known, known)) {
        return track_unknown_ && InsertUnknown(node, unknown, work);
      }
    }
    Node node{hash, Pack(known), state, kNone};
    if (track_unknown_) {
      node.unknown_head = static_cast<std::uint32_t>(unknown_sets_.size());
      unknown_sets_.push_back({Pack(unknown), kNone});
    }
    nodes_.push_back(node);
    slots_[slot] = static_cast<std::uint32_t>(nodes_.size());
    return true;
  }

 private:
  struct Packed {  // words [full, full + length) of a Bits, stored at arena_[offset...]
    std::uint32_t full;
    std::uint32_t length;
    std::uint32_t offset;
  };
  struct Node {
    std::uint64_t hash;
    Packed known;
    std::uint32_t state;
    std::uint32_t unknown_head;  // index into unknown_sets_, kNone when empty
  };
  struct UnknownSet {
    Packed bits;
    std::uint32_t next;
  };

  Packed Pack(const Bits& bits) {
    const std::size_t offset = arena_.size();
    for (std::size_t w = bits.full_words(); w < bits.top(); ++w) arena_.push_back(bits.word(w));
    MERIDIAN_CHECK(arena_.size() < kNone);
    const std::size_t length = bits.top() > bits.full_words() ? bits.top() - bits.full_words() : 0;
    return {static_cast<std::uint32_t>(bits.full_words()), static_cast<std::uint32_t>(length),
            static_cast<std::uint32_t>(offset)};
  }
  std::uint64_t PackedWord(const Packed& packed, const Bits& shape, std::size_t w) const {
    if (w < packed.full) return shape.FullWord(w);
    if (w < packed.full + packed.length) return arena_[packed.offset + (w - packed.full)];
    return 0;
  }
  bool KnownEquals(const Packed& packed, const Bits& bits) const {
    if (packed.full != bits.full_words()) return false;
    if (packed.full + packed.length != bits.top()) return false;  // top() >= full_words()
    for (std::size_t i = 0; i < packed.length; ++i) {
      if (arena_[packed.offset + i] != bits.word(packed.full + i)) return false;
    }
    return true;
  }
  // packed ⊆ bits
  bool PackedSubsetOf(const Packed& packed, const Bits& bits) const {
    if (bits.full_words() < packed.full) return false;
    for (std::size_t i = 0; i < packed.length; ++i) {
      if ((arena_[packed.offset + i] & ~bits.word(packed.full + i)) != 0) return false;
    }
    return true;
  }
  // bits ⊆ packed
  bool SubsetOfPacked(const Bits& bits, const Packed& packed) const {
    for (std::size_t w = 0; w < bits.top(); ++w) {
      if ((bits.word(w) & ~PackedWord(packed, bits, w)) != 0) return false;
    }
    return true;
  }
  bool InsertUnknown(Node& node, const Bits& unknown, std::uint64_t& work) {
    for (std::uint32_t i = node.unknown_head; i != kNone; i = unknown_sets_[i].next) {
      ++work;
      if (PackedSubsetOf(unknown_sets_[i].bits, unknown)) return false;
    }
    // Drop the recorded supersets of `unknown`: it covers everything they cover.
    std::uint32_t* link = &node.unknown_head;
    while (*link != kNone) {
      UnknownSet& set = unknown_sets_[*link];
      if (SubsetOfPacked(unknown, set.bits)) {
        *link = set.next;
      } else {
        link = &set.next;
      }
    }
    const auto index = static_cast<std::uint32_t>(unknown_sets_.size());
    MERIDIAN_CHECK(index != kNone);
    unknown_sets_.push_back({Pack(unknown), node.unknown_head});
    node.unknown_head = index;
    return true;
  }
  void Grow() {
    std::vector<std::uint32_t> slots(slots_.size() * 2, 0);
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      std::size_t slot = nodes_[i].hash & mask;
      while (slots[slot] != 0) slot = (slot + 1) & mask;
      slots[slot] = static_cast<std::uint32_t>(i + 1);
    }
    slots_ = std::move(slots);
    MERIDIAN_CHECK(nodes_.size() < kNone / 2);
  }

  bool track_unknown_;
  std::vector<std::uint32_t> slots_;  // open addressing: node index + 1, 0 = empty
  std::vector<Node> nodes_;
  std::vector<UnknownSet> unknown_sets_;
  std::vector<std::uint64_t> arena_;
};

// What linearizing an operation requires of and does to the register.
enum class Effect : std::uint8_t {
  kRead,      // requires state == a
  kSet,       // state := a (write, delete)
  kSwap,      // requires state == a; state := b (a cas that swapped, or may have)
  kNotEqual,  // requires state != a (a cas that reported its precondition false)
};

struct KeyOp {
  std::size_t history_index;
  Effect effect;
  std::uint32_t a;
  std::uint32_t b;
  std::uint64_t call;
  std::uint64_t ret;  // kNever for an unknown outcome
  bool known;
};

bool Apply(const KeyOp& op, std::uint32_t state, std::uint32_t& next) {
  switch (op.effect) {
    case Effect::kRead:
      next = state;
      return state == op.a;
    case Effect::kSet:
      next = op.a;
      return true;
    case Effect::kSwap:
      next = op.b;
      return state == op.a;
    case Effect::kNotEqual:
      next = state;
      return state != op.a;
  }
  return false;
}

enum class SearchResult : std::uint8_t { kLinearizable, kViolation, kOutOfBudget };

// The search over one key's operations (see the top of this file).
class KeySearch {
 public:
  // `ops`: the known ops, then the unknown ones, each in call order; values are < value_count.
  KeySearch(const std::vector<KeyOp>& ops, std::size_t known_count, std::size_t value_count,
            std::uint64_t budget)
      : ops_(ops),
        known_count_(known_count),
        unknown_count_(ops.size() - known_count),
        value_count_(value_count),
        budget_(budget),
        known_bits_(known_count),
        unknown_bits_(ops.size() - known_count),
        visited_(ops.size() > known_count),
        mark_(value_count, 0) {
    BuildLists();
  }

  SearchResult Run() {
    std::uint32_t state = kAbsent;
    bool after_unknown = false;
    std::size_t known_left = known_count_;
    if (known_left == 0) return SearchResult::kLinearizable;
    visited_.Insert(known_bits_, state, unknown_bits_, steps_);
    // The candidates of a node, in this order: the known calls before the first return in the
    // list; then, while their call is not after that first return (the horizon), the unknown
    // writes and deletes that some candidate would accept right after them (PlanBlind), and the
    // unknown cas expecting the current state. But when a known candidate would succeed without
    // changing the state (a read of the current value, a refused cas expecting another value),
    // it is the only one tried: any linearization from the node stays one with it moved first.
    Phase phase = Phase::kFree;
    std::uint32_t cursor = next_[head_];  // a known entry, or an unknown op
    std::uint64_t horizon = 0;
    while (true) {
      std::uint32_t candidate = kNone;  // the op index to try now
      switch (phase) {
        case Phase::kFree:
          MERIDIAN_CHECK(cursor != kNone);  // a known op is left, so is its return entry
          if (is_return_[cursor]) {
            phase = Phase::kKnown;
            cursor = next_[head_];
          } else if (LeavesStateAsIs(ops_[entry_op_[cursor]], state)) {
            candidate = entry_op_[cursor];
            break;
          } else {
            cursor = next_[cursor];
          }
          continue;
        case Phase::kKnown:
          MERIDIAN_CHECK(cursor != kNone);  // a known op is left, so is its return entry
          if (!is_return_[cursor]) {
            candidate = entry_op_[cursor];
            break;
          }
          horizon = ops_[entry_op_[cursor]].ret;
          phase = Phase::kBlindUnknown;
          cursor = StartBlind(state, horizon, after_unknown);
          continue;
        case Phase::kBlindUnknown:
          cursor = SkipUnwantedBlind(cursor, horizon);
          if (cursor == kNone) {
            phase = Phase::kSwapUnknown;
            cursor = value_next_[SwapValueList(state)];
            continue;
          }
          candidate = static_cast<std::uint32_t>(known_count_ + cursor);
          break;
        case Phase::kSwapUnknown:
          if (cursor != kNone && ops_[known_count_ + cursor].call <= horizon) {
            if (!Wanted(ops_[known_count_ + cursor].b)) {
              cursor = value_next_[cursor];
              continue;
            }
            candidate = static_cast<std::uint32_t>(known_count_ + cursor);
          }
          break;
        case Phase::kExhausted:
          break;
      }

      if (candidate != kNone) {
        const KeyOp& op = ops_[candidate];
        bool pushed = false;
        // After an unknown op, a write or delete would make it pointless. Of unknown ops with
        // the same effect, all called already, only the first is tried.
        if (!(after_unknown && op.effect == Effect::kSet) &&
            (op.known || IsFirstTwin(candidate - known_count_))) {
          if (steps_ >= budget_) {
            SaveIfLongest();
            return SearchResult::kOutOfBudget;
          }
          ++steps_;
          std::uint32_t next_state = kAbsent;
          if (Apply(op, state, next_state)) {
            Bits& bits = op.known ? known_bits_ : unknown_bits_;
            const std::size_t bit = op.known ? candidate : candidate - known_count_;
            bits.Set(bit);
            if (visited_.Insert(known_bits_, next_state, unknown_bits_, steps_)) {
              stack_.push_back({candidate, state, after_unknown, phase == Phase::kFree, horizon});
              state = next_state;
              after_unknown = !op.known;
              if (op.known) {
                LiftKnown(candidate);
                if (--known_left == 0) return SearchResult::kLinearizable;
              } else {
                LiftUnknown(candidate - known_count_);
              }
              pushed = true;
            } else {
              bits.Clear(bit);
            }
          }
        }
        if (pushed) {
          phase = Phase::kFree;
          cursor = next_[head_];
        } else if (phase == Phase::kFree) {
          phase = Phase::kExhausted;  // its only child was explored already
        } else if (phase == Phase::kKnown) {
          cursor = next_[cursor];
        } else if (phase == Phase::kBlindUnknown) {
          cursor = NextBlind(cursor);
        } else {
          cursor = value_next_[cursor];
        }
        continue;
      }

      // Every candidate of this node was tried: backtrack.
      if (stack_.empty()) return SearchResult::kViolation;
      SaveIfLongest();
      const Frame frame = stack_.back();
      stack_.pop_back();
      state = frame.state;
      after_unknown = frame.after_unknown;
      if (frame.op < known_count_) {
        known_bits_.Clear(frame.op);
        UnliftKnown(frame.op);
        ++known_left;
        phase = frame.only_child ? Phase::kExhausted : Phase::kKnown;
        cursor = next_[call_entry_[frame.op]];
      } else {
        const auto unknown = static_cast<std::uint32_t>(frame.op - known_count_);
        unknown_bits_.Clear(unknown);
        UnliftUnknown(unknown);
        horizon = frame.horizon;
        if (ops_[frame.op].effect == Effect::kSet) {
          phase = Phase::kBlindUnknown;
          cursor = ResumeBlind(unknown, state, horizon);
        } else {
          PlanBlind(state, horizon);
          phase = Phase::kSwapUnknown;
          cursor = value_next_[unknown];
        }
      }
    }
  }

  std::uint64_t steps() const { return steps_; }
  // The longest linearizable prefix seen (op indices, in order); after a kLinearizable result
  // it is not maintained.
  const std::vector<std::uint32_t>& longest() const { return longest_; }

 private:
  enum class Phase : std::uint8_t { kFree, kKnown, kBlindUnknown, kSwapUnknown, kExhausted };
  struct Frame {
    std::uint32_t op;
    std::uint32_t state;  // before the op
    bool after_unknown;   // before the op
    bool only_child;      // the op was the only candidate tried at its node
    std::uint64_t horizon;
  };

  static bool LeavesStateAsIs(const KeyOp& op, std::uint32_t state) {
    return (op.effect == Effect::kRead && op.a == state) ||
           (op.effect == Effect::kNotEqual && op.a != state);
  }
  // Whether no unknown op with the same effect as `unknown` and an earlier call is left (they
  // are linearized in call order: once both are called, either serves as well).
  bool IsFirstTwin(std::size_t unknown) const {
    const std::uint32_t twin = earlier_twin_[unknown];
    return twin == kNone || unknown_bits_.Test(twin);
  }

  void BuildLists() {
    struct Entry {
      std::uint64_t time;
      bool is_return;
      std::uint32_t op;
    };
    std::vector<Entry> entries;
    entries.reserve(2 * known_count_);
    for (std::uint32_t i = 0; i < known_count_; ++i) {
      MERIDIAN_CHECK(ops_[i].known);
      MERIDIAN_CHECK(ops_[i].call <= ops_[i].ret);
      entries.push_back({ops_[i].call, false, i});
      entries.push_back({ops_[i].ret, true, i});
    }
    // At equal times calls come first: equal times are concurrent.
    std::sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) {
      if (x.time != y.time) return x.time < y.time;
      if (x.is_return != y.is_return) return !x.is_return;
      return x.op < y.op;
    });
    const std::size_t count = entries.size();
    head_ = static_cast<std::uint32_t>(count);
    next_.assign(count + 1, kNone);
    prev_.assign(count + 1, kNone);
    entry_op_.resize(count);
    is_return_.resize(count);
    call_entry_.resize(known_count_);
    return_entry_.resize(known_count_);
    std::uint32_t previous = head_;
    for (std::uint32_t e = 0; e < count; ++e) {
      entry_op_[e] = entries[e].op;
      is_return_[e] = entries[e].is_return;
      (entries[e].is_return ? return_entry_ : call_entry_)[entries[e].op] = e;
      next_[previous] = e;
      prev_[e] = previous;
      previous = e;
    }
    // Every unknown op is in two lists, both in call order: by value (a write or delete by the
    // value it writes, a cas by the value it expects), and a write or delete in the list of
    // them all, a cas by the value it writes.
    value_next_.assign(unknown_count_ + 2 * value_count_, kNone);
    value_prev_.assign(unknown_count_ + 2 * value_count_, kNone);
    other_next_.assign(unknown_count_ + 1 + value_count_, kNone);
    other_prev_.assign(unknown_count_ + 1 + value_count_, kNone);
    std::vector<std::uint32_t> value_tail(2 * value_count_);
    std::vector<std::uint32_t> other_tail(1 + value_count_);
    other_tail[0] = BlindAllList();
    for (std::uint32_t v = 0; v < value_count_; ++v) {
      value_tail[v] = BlindValueList(v);
      value_tail[value_count_ + v] = SwapValueList(v);
      other_tail[1 + v] = SwapByNewList(v);
    }
    auto append = [](std::vector<std::uint32_t>& next, std::vector<std::uint32_t>& prev,
                     std::uint32_t& tail, std::uint32_t u) {
      next[tail] = u;
      prev[u] = tail;
      tail = u;
    };
    earlier_twin_.assign(unknown_count_, kNone);
    std::map<std::tuple<Effect, std::uint32_t, std::uint32_t>, std::uint32_t> last_with_effect;
    for (std::uint32_t u = 0; u < unknown_count_; ++u) {
      const KeyOp& op = ops_[known_count_ + u];
      MERIDIAN_CHECK(!op.known);
      MERIDIAN_CHECK(op.effect == Effect::kSet || op.effect == Effect::kSwap);
      MERIDIAN_CHECK(op.a < value_count_);
      MERIDIAN_CHECK(op.b < value_count_);
      const bool blind = op.effect == Effect::kSet;
      const std::uint32_t b = blind ? kAbsent : op.b;
      auto [twin, first] = last_with_effect.try_emplace({op.effect, op.a, b}, u);
      if (!first) {
        earlier_twin_[u] = twin->second;
        twin->second = u;
      }
      append(value_next_, value_prev_, value_tail[(blind ? 0 : value_count_) + op.a], u);
      append(other_next_, other_prev_, other_tail[blind ? 0 : 1 + op.b], u);
    }
  }
  // List heads (sentinels) in value_next_ / other_next_.
  std::uint32_t BlindValueList(std::uint32_t value) const {
    return static_cast<std::uint32_t>(unknown_count_ + value);
  }
  std::uint32_t SwapValueList(std::uint32_t value) const {
    return static_cast<std::uint32_t>(unknown_count_ + value_count_ + value);
  }
  std::uint32_t BlindAllList() const { return static_cast<std::uint32_t>(unknown_count_); }
  std::uint32_t SwapByNewList(std::uint32_t value) const {
    return static_cast<std::uint32_t>(unknown_count_ + 1 + value);
  }

  // An unknown op is only worth trying where the value it leaves is wanted: accepted by some
  // candidate of the node (a known read or cas needing that value; an unknown cas expecting
  // it, if the value that one leaves is wanted in turn; a known refused cas, which accepts any
  // other value, when the current value blocks it) and different from the current value (else
  // it changes nothing). Plans the wanted values: listed, or any value but the current one
  // when a refused cas is blocked (then the unknown writes are scanned, not looked up by value).
  void PlanBlind(std::uint32_t state, std::uint64_t horizon) {
    ++epoch_;
    plan_values_.clear();
    plan_any_value_ = false;
    auto want = [&](std::uint32_t value) {
      if (value == state || mark_[value] == epoch_) return;
      mark_[value] = epoch_;
      plan_values_.push_back(value);
    };
    for (std::uint32_t e = next_[head_]; !is_return_[e]; e = next_[e]) {
      const KeyOp& op = ops_[entry_op_[e]];
      if (op.effect == Effect::kRead || op.effect == Effect::kSwap) want(op.a);
      if (op.effect == Effect::kNotEqual && op.a == state) plan_any_value_ = true;
    }
    if (!plan_any_value_) {
      // Breadth first, the values expected by the unknown cas that leave a wanted value.
      for (std::size_t i = 0; i < plan_values_.size(); ++i) {
        for (std::uint32_t u = other_next_[SwapByNewList(plan_values_[i])];
             u != kNone && ops_[known_count_ + u].call <= horizon; u = other_next_[u]) {
          want(ops_[known_count_ + u].a);
        }
      }
    }
    plan_scan_all_ = plan_any_value_;
    plan_state_ = state;
  }
  bool Wanted(std::uint32_t value) const {
    return value != plan_state_ && (plan_any_value_ || mark_[value] == epoch_);
  }
  // The first unknown write to try at a node (kNone: none); plans the node's unknown ops.
  std::uint32_t StartBlind(std::uint32_t state, std::uint64_t horizon, bool after_unknown) {
    if (unknown_count_ == 0) return kNone;
    PlanBlind(state, horizon);  // also for the unknown cas
    if (after_unknown) {
      plan_index_ = plan_values_.size();  // no unknown write right after an unknown op
      return kNone;
    }
    if (plan_scan_all_) return other_next_[BlindAllList()];
    plan_index_ = 0;
    return plan_values_.empty() ? kNone : value_next_[BlindValueList(plan_values_[0])];
  }
  // The unknown write after `unknown` at the node being resumed.
  std::uint32_t ResumeBlind(std::uint32_t unknown, std::uint32_t state, std::uint64_t horizon) {
    PlanBlind(state, horizon);
    if (plan_scan_all_) return other_next_[unknown];
    const auto it =
        std::find(plan_values_.begin(), plan_values_.end(), ops_[known_count_ + unknown].a);
    MERIDIAN_CHECK(it != plan_values_.end());
    plan_index_ = static_cast<std::size_t>(it - plan_values_.begin());
    return value_next_[unknown];
  }
  std::uint32_t NextBlind(std::uint32_t unknown) const {
    return plan_scan_all_ ? other_next_[unknown] : value_next_[unknown];
  }
  // From `cursor`, the first unknown write to try at the node (kNone: no more).
  std::uint32_t SkipUnwantedBlind(std::uint32_t cursor, std::uint64_t horizon) {
    while (true) {
      if (cursor != kNone && ops_[known_count_ + cursor].call <= horizon) {
        if (!plan_scan_all_ || Wanted(ops_[known_count_ + cursor].a)) return cursor;
        cursor = other_next_[cursor];
        continue;
      }
      if (plan_scan_all_ || ++plan_index_ >= plan_values_.size()) return kNone;
      cursor = value_next_[BlindValueList(plan_values_[plan_index_])];
    }
  }

  static void Remove(std::vector<std::uint32_t>& next, std::vector<std::uint32_t>& prev,
                     std::uint32_t e) {
    next[prev[e]] = next[e];
    if (next[e] != kNone) prev[next[e]] = prev[e];
  }
  static void Restore(std::vector<std::uint32_t>& next, std::vector<std::uint32_t>& prev,
                      std::uint32_t e) {
    next[prev[e]] = e;
    if (next[e] != kNone) prev[next[e]] = e;
  }
  void LiftKnown(std::uint32_t op) {
    Remove(next_, prev_, call_entry_[op]);
    Remove(next_, prev_, return_entry_[op]);
  }
  void UnliftKnown(std::uint32_t op) {
    Restore(next_, prev_, return_entry_[op]);
    Restore(next_, prev_, call_entry_[op]);
  }
  void LiftUnknown(std::uint32_t u) {
    Remove(other_next_, other_prev_, u);
    Remove(value_next_, value_prev_, u);
  }
  void UnliftUnknown(std::uint32_t u) {
    Restore(value_next_, value_prev_, u);
    Restore(other_next_, other_prev_, u);
  }

  void SaveIfLongest() {
    if (stack_.size() <= longest_.size()) return;
    longest_.clear();
    for (const Frame& frame : stack_) longest_.push_back(frame.op);
  }

  const std::vector<KeyOp>& ops_;
  const std::size_t known_count_;
  const std::size_t unknown_count_;
  const std::size_t value_count_;
  const std::uint64_t budget_;
  std::uint64_t steps_ = 0;

  // The known entries: indices [0, 2 * known) plus the head sentinel.
  std::uint32_t head_ = 0;
  std::vector<std::uint32_t> next_, prev_, entry_op_, call_entry_, return_entry_;
  std::vector<bool> is_return_;
  // The unknown ops not linearized: indices [0, unknown), then the list heads.
  std::vector<std::uint32_t> value_next_, value_prev_, other_next_, other_prev_;
  // The unknown op with the same effect called just before, or kNone.
  std::vector<std::uint32_t> earlier_twin_;

  Bits known_bits_;
  Bits unknown_bits_;
  VisitedSet visited_;
  std::vector<Frame> stack_;
  std::vector<std::uint32_t> longest_;

  // The plan of unknown writes to try at the current node (PlanBlind).
  std::vector<std::uint64_t> mark_;  // mark_[value] == epoch_: a known candidate wants it
  std::uint64_t epoch_ = 0;
  std::vector<std::uint32_t> plan_values_;
  std::size_t plan_index_ = 0;
  bool plan_scan_all_ = true;
  bool plan_any_value_ = false;
  std::uint32_t plan_state_ = kAbsent;
};

// ---------------------------------------------------------------------------------------------
// Explanations.
// ---------------------------------------------------------------------------------------------

constexpr std::size_t kQuotedValueLimit = 40;
constexpr std::size_t kPrefixShown = 8;
constexpr std::size_t kWritersShown = 4;
constexpr std::size_t kOthersShown = 5;

// "1 key", "2 keys".
std::string Count(std::size_t count, std::string_view noun) {
  return fmt::format("{} {}{}", count, noun, count == 1 ? "" : "s");
}

std::string Quote(const std::optional<std::string>& value) {
  if (!value) return "absent";
  std::string out = "\"";
  const std::string_view bytes = *value;
  const std::size_t shown = std::min(bytes.size(), kQuotedValueLimit);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (shown < bytes.size()) out += fmt::format("... ({} bytes)", bytes.size());
  return out;
}

std::string TimesText(const Operation& op) {
  std::string text = fmt::format("called at {}", op.call_time);
  switch (op.outcome) {
    case OpOutcome::kOk:
      text += fmt::format(", returned at {}", *op.return_time);
      break;
    case OpOutcome::kFailed:
      text += op.return_time ? fmt::format(", reported failed at {}", *op.return_time)
                             : std::string(", reported failed");
      break;
    case OpOutcome::kUnknown:
      text += ", outcome unknown";
      break;
  }
  return text;
}

// "op 12 write "v3"", for lists.
std::string ShortDescription(const Operation& op) {
  std::string text = fmt::format("op {} ", op.id);
  switch (op.kind) {
    case OpKind::kRead:
      text += "read " + (op.outcome == OpOutcome::kOk ? Quote(op.observed) : std::string("?"));
      break;
    case OpKind::kWrite:
      text += "write " + Quote(op.value);
      break;
    case OpKind::kDelete:
      text += "delete";
      break;
    case OpKind::kCas:
      text += "cas " + Quote(op.expected) + "->" + Quote(op.value);
      if (op.outcome == OpOutcome::kOk && !op.succeeded) text += " refused";
      break;
  }
  if (op.outcome == OpOutcome::kUnknown) text += " (outcome unknown)";
  return text;
}

// The context of one key's check, for explanations.
struct KeyContext {
  const std::vector<Operation>& history;
  const std::vector<std::size_t>& all_ops;  // every op of the key (history indices)
  const std::vector<KeyOp>& ops;            // the ops searched
};

using Value = std::optional<std::string>;

// The (interned) state after linearizing `prefix` (op indices).
std::uint32_t Replay(const KeyContext& context, const std::vector<std::uint32_t>& prefix) {
  std::uint32_t state = kAbsent;
  for (std::uint32_t op : prefix) {
    std::uint32_t next = kAbsent;
    MERIDIAN_CHECK(Apply(context.ops[op], state, next));
    state = next;
  }
  return state;
}

// The value after each op of `prefix`.
std::vector<Value> Values(const KeyContext& context, const std::vector<std::uint32_t>& prefix) {
  std::vector<Value> values;
  Value value;
  for (std::uint32_t op : prefix) {
    const Operation& operation = context.history[context.ops[op].history_index];
    const Effect effect = context.ops[op].effect;
    if (effect == Effect::kSet || effect == Effect::kSwap) value = operation.value;
    values.push_back(value);
  }
  return values;
}

std::string PrefixText(const KeyContext& context, const std::vector<std::uint32_t>& prefix) {
  std::string text = "[";
  std::size_t first = 0;
  if (prefix.size() > kPrefixShown) {
    first = prefix.size() - kPrefixShown;
    text += fmt::format("... {} earlier ops, ", first);
  }
  for (std::size_t i = first; i < prefix.size(); ++i) {
    if (i > first) text += ", ";
    text += ShortDescription(context.history[context.ops[prefix[i]].history_index]);
  }
  return text + "]";
}

// Whether `op` can leave the register holding `value` (nullopt: absent).
bool CanProduce(const Operation& op, const std::optional<std::string>& value) {
  switch (op.kind) {
    case OpKind::kRead:
      return false;
    case OpKind::kWrite:
      return op.value == value;
    case OpKind::kDelete:
      return !value.has_value();
    case OpKind::kCas:
      return op.value == value && !(op.outcome == OpOutcome::kOk && !op.succeeded);
  }
  return false;
}

// Where the register could have got `value` from, relative to `reader` (a history index), the
// longest prefix and the states after each of its ops.
std::string WritersText(const KeyContext& context, std::size_t reader,
                        const std::optional<std::string>& value,
                        const std::vector<std::uint32_t>& prefix,
                        const std::vector<Value>& states) {
  const Operation& read = context.history[reader];
  std::vector<std::string> parts;
  std::size_t writers = 0;
  for (std::size_t index : context.all_ops) {
    const Operation& writer = context.history[index];
    if (index == reader || !CanProduce(writer, value)) continue;
    if (++writers > kWritersShown) continue;
    std::string part = DescribeOperation(writer);
    const auto in_prefix = std::find_if(prefix.begin(), prefix.end(), [&](std::uint32_t op) {
      return context.ops[op].history_index == index;
    });
    if (writer.outcome == OpOutcome::kFailed) {
      part += " wrote it but was reported failed, so it is taken to have had no effect";
    } else if (in_prefix != prefix.end()) {
      const std::size_t position = in_prefix - prefix.begin();
      const Value& written = states[position];
      std::size_t overwriter = prefix.size();
      for (std::size_t i = position + 1; i < prefix.size(); ++i) {
        if (states[i] != written) {
          overwriter = i;
          break;
        }
      }
      if (overwriter < prefix.size()) {
        const Operation& over = context.history[context.ops[prefix[overwriter]].history_index];
        part += " wrote it, but in the prefix it is then overwritten by " + DescribeOperation(over);
        if (over.outcome == OpOutcome::kOk && *over.return_time < read.call_time) {
          part += fmt::format(", which returned before this operation was called (at {})",
                              read.call_time);
        }
      } else {
        part += " wrote it and is in the prefix";
      }
    } else if (read.return_time && read.outcome == OpOutcome::kOk &&
               *read.return_time < writer.call_time) {
      part += fmt::format(" wrote it, but was called after this operation returned (at {})",
                          *read.return_time);
    } else {
      part += " wrote it but cannot be placed in the prefix";
    }
    parts.push_back(std::move(part));
  }
  std::string text;
  if (!value) text = "the key is absent initially";
  if (writers == 0) {
    if (value) text = fmt::format("no operation on this key ever wrote {}", Quote(value));
    return text;
  }
  for (const std::string& part : parts) {
    if (!text.empty()) text += "; ";
    text += part;
  }
  if (writers > kWritersShown) text += fmt::format("; and {} more", writers - kWritersShown);
  return text;
}

// Why the op (index into context.ops) cannot come right after `prefix`, in state `state`
// (interned; `states`: the values after each op of `prefix`).
std::string BlockedText(const KeyContext& context, std::uint32_t blocked,
                        const std::vector<std::uint32_t>& prefix, const std::vector<Value>& states,
                        std::uint32_t state) {
  const KeyOp& key_op = context.ops[blocked];
  const Operation& op = context.history[key_op.history_index];
  const Value holds = states.empty() ? Value() : states.back();
  std::uint32_t ignored = 0;
  if (Apply(key_op, state, ignored)) {
    return "it is consistent with the register here, but no linearization continues from it";
  }
  switch (key_op.effect) {
    case Effect::kRead:
      return fmt::format("it saw {} while the register holds {}; ", Quote(op.observed),
                         Quote(holds)) +
             WritersText(context, key_op.history_index, op.observed, prefix, states);
    case Effect::kSwap:
      return fmt::format("it swapped, so the register must have held {}, but it holds {}; ",
                         Quote(op.expected), Quote(holds)) +
             WritersText(context, key_op.history_index, op.expected, prefix, states);
    case Effect::kNotEqual:
      return fmt::format("it was refused, so the register must not have held {}, but it does",
                         Quote(op.expected));
    case Effect::kSet:
      break;
  }
  return "it cannot be linearized here";
}

std::string HoldsText(const KeyContext& context, const std::vector<std::uint32_t>& prefix,
                      const std::vector<Value>& states) {
  std::string text = Quote(states.empty() ? Value() : states.back());
  // The op that last changed the state.
  for (std::size_t i = prefix.size(); i-- > 0;) {
    const Value before = i == 0 ? Value() : states[i - 1];
    if (states[i] != before) {
      return text + " (set by " +
             ShortDescription(context.history[context.ops[prefix[i]].history_index]) + ")";
    }
  }
  return text + " (the initial state)";
}

struct KeyVerdict {
  SearchResult result;
  std::uint64_t steps = 0;
  std::vector<std::uint64_t> prefix_ids;
  std::vector<std::uint64_t> blocked_ids;
  std::string explanation;
};

KeyVerdict CheckKey(const std::vector<Operation>& history, std::string_view key,
                    const std::vector<std::size_t>& indices, const CheckOptions& options) {
  // Intern the values: 0 is "absent", then one id per value some op tests the register for
  // (a read's observed value, a cas's expected value), and one more for all the others — no op
  // can tell them apart, so the search treats them as one.
  std::unordered_set<std::string_view> tested;
  for (std::size_t index : indices) {
    const Operation& op = history[index];
    if (op.outcome == OpOutcome::kFailed) continue;
    if (op.kind == OpKind::kRead && op.outcome == OpOutcome::kOk && op.observed) {
      tested.insert(*op.observed);
    }
    if (op.kind == OpKind::kCas && op.expected) tested.insert(*op.expected);
  }
  std::unordered_map<std::string_view, std::uint32_t> ids;
  std::uint32_t value_count = 1;
  std::uint32_t untested = kNone;
  auto intern = [&](const std::optional<std::string>& value) -> std::uint32_t {
    if (!value) return kAbsent;
    if (!tested.contains(*value)) {
      if (untested == kNone) untested = value_count++;
      return untested;
    }
    const auto [it, inserted] = ids.emplace(*value, value_count);
    if (inserted) ++value_count;
    return it->second;
  };
  std::vector<KeyOp> known;
  std::vector<KeyOp> unknown;
  for (std::size_t index : indices) {
    const Operation& op = history[index];
    if (op.outcome == OpOutcome::kFailed) continue;
    const bool is_known = op.outcome == OpOutcome::kOk;
    if (!is_known && op.kind == OpKind::kRead) continue;  // constrains nothing
    KeyOp key_op{index,   Effect::kRead, kAbsent,
                 kAbsent, op.call_time,  is_known ? *op.return_time : kNever,
                 is_known};
    switch (op.kind) {
      case OpKind::kRead:
        key_op.effect = Effect::kRead;
        key_op.a = intern(op.observed);
        break;
      case OpKind::kWrite:
        key_op.effect = Effect::kSet;
        key_op.a = intern(op.value);
        break;
      case OpKind::kDelete:
        key_op.effect = Effect::kSet;
        key_op.a = kAbsent;
        break;
      case OpKind::kCas:
        key_op.a = intern(op.expected);
        key_op.b = intern(op.value);
        // An unknown cas that did not swap changed nothing: the same as not linearizing it.
        key_op.effect = (!is_known || op.succeeded) ? Effect::kSwap : Effect::kNotEqual;
        break;
    }
    (is_known ? known : unknown).push_back(key_op);
  }
  auto by_call = [](const KeyOp& x, const KeyOp& y) {
    return x.call != y.call ? x.call < y.call : x.history_index < y.history_index;
  };
  std::sort(known.begin(), known.end(), by_call);
  std::sort(unknown.begin(), unknown.end(), by_call);
  const std::size_t known_count = known.size();
  const std::size_t unknown_count = unknown.size();
  std::vector<KeyOp> ops = std::move(known);
  ops.insert(ops.end(), unknown.begin(), unknown.end());

  KeySearch search(ops, known_count, value_count, options.step_budget);
  KeyVerdict verdict;
  verdict.result = search.Run();
  verdict.steps = search.steps();
  if (verdict.result == SearchResult::kLinearizable) return verdict;

  const KeyContext context{history, indices, ops};
  const std::vector<std::uint32_t>& prefix = search.longest();
  const std::vector<Value> states = Values(context, prefix);
  const std::uint32_t state = Replay(context, prefix);
  for (std::uint32_t op : prefix) verdict.prefix_ids.push_back(history[ops[op].history_index].id);

  if (verdict.result == SearchResult::kOutOfBudget) {
    verdict.explanation = fmt::format(
        "key \"{}\" is undecided: the search gave up after {} steps (the budget per key) on its "
        "{} ({} with an unknown outcome); the longest linearizable prefix found has {} {}. High "
        "concurrency on one key and operations with an unknown outcome make the search "
        "expensive; raise the step budget to try harder.",
        key, verdict.steps, Count(known_count + unknown_count, "operation"), unknown_count,
        Count(prefix.size(), "operation"), PrefixText(context, prefix));
    return verdict;
  }

  // The op whose return ended the search from the longest prefix, and the other candidates
  // that cannot be linearized there.
  std::vector<bool> linearized(ops.size(), false);
  for (std::uint32_t op : prefix) linearized[op] = true;
  std::uint32_t first_return = kNone;
  for (std::uint32_t i = 0; i < known_count; ++i) {
    if (linearized[i]) continue;
    if (first_return == kNone || ops[i].ret < ops[first_return].ret) first_return = i;
  }
  MERIDIAN_CHECK(first_return != kNone);
  const std::uint64_t horizon = ops[first_return].ret;
  std::vector<std::uint32_t> blocked{first_return};
  for (std::uint32_t i = 0; i < known_count; ++i) {
    std::uint32_t ignored = 0;
    if (linearized[i] || i == first_return || ops[i].call > horizon) continue;
    if (!Apply(ops[i], state, ignored)) blocked.push_back(i);
  }
  for (std::uint32_t op : blocked) verdict.blocked_ids.push_back(history[ops[op].history_index].id);

  const Operation& culprit = history[ops[first_return].history_index];
  std::string text = fmt::format("key \"{}\" is not linearizable. ", key);
  if (prefix.empty()) {
    text += "Not even a first operation can be linearized (the register starts absent): ";
  } else {
    text += fmt::format(
        "The longest linearizable prefix found has {} {}, after which the register holds {}. "
        "Then ",
        Count(prefix.size(), "operation"), PrefixText(context, prefix),
        HoldsText(context, prefix, states));
  }
  text += DescribeOperation(culprit) + ", the first to return of the operations left, cannot " +
          (prefix.empty() ? "come first: " : "come next: ") +
          BlockedText(context, first_return, prefix, states, state) + ".";
  if (blocked.size() > 1) {
    text += " Also concurrent with it and not linearizable there: ";
    for (std::size_t i = 1; i < blocked.size() && i <= kOthersShown; ++i) {
      if (i > 1) text += ", ";
      text += ShortDescription(history[ops[blocked[i]].history_index]);
    }
    if (blocked.size() - 1 > kOthersShown) {
      text += fmt::format(" and {} more", blocked.size() - 1 - kOthersShown);
    }
    text += ".";
  }
  verdict.explanation = std::move(text);
  return verdict;
}

}  // namespace

std::string_view OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kRead:
      return "read";
    case OpKind::kWrite:
      return "write";
    case OpKind::kDelete:
      return "delete";
    case OpKind::kCas:
      return "cas";
  }
  return "?";
}

std::string_view OpOutcomeName(OpOutcome outcome) {
  switch (outcome) {
    case OpOutcome::kOk:
      return "ok";
    case OpOutcome::kFailed:
      return "failed";
    case OpOutcome::kUnknown:
      return "unknown";
  }
  return "?";
}

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kLinearizable:
      return "linearizable";
    case Verdict::kViolation:
      return "violation";
    case Verdict::kUndecided:
      return "undecided";
  }
  return "?";
}

std::string DescribeOperation(const Operation& op) {
  std::string what;
  switch (op.kind) {
    case OpKind::kRead:
      what = "read";
      break;
    case OpKind::kWrite:
      what = "write " + Quote(op.value);
      break;
    case OpKind::kDelete:
      what = "delete";
      break;
    case OpKind::kCas:
      what = "cas " + Quote(op.expected) + " -> " + Quote(op.value);
      break;
  }
  std::string text =
      fmt::format("op {} ({} by client {}, {}", op.id, what, op.client, TimesText(op));
  if (op.outcome == OpOutcome::kOk && op.kind == OpKind::kRead) {
    text += ", saw " + Quote(op.observed);
  }
  if (op.outcome == OpOutcome::kOk && op.kind == OpKind::kCas) {
    text += op.succeeded ? ", swapped" : ", refused: precondition false";
  }
  return text + ")";
}

Status ValidateHistory(const std::vector<Operation>& history) {
  std::unordered_set<std::uint64_t> ids;
  for (const Operation& op : history) {
    const std::string name = fmt::format("op {}", op.id);
    if (!ids.insert(op.id).second) {
      return Status::InvalidArgument(fmt::format("duplicate operation id {}", op.id));
    }
    if (op.outcome == OpOutcome::kOk && !op.return_time) {
      return Status::InvalidArgument(name + ": an ok operation needs a return time");
    }
    if (op.outcome != OpOutcome::kUnknown && op.return_time && *op.return_time < op.call_time) {
      return Status::InvalidArgument(fmt::format("{}: returns (at {}) before it is called (at {})",
                                                 name, *op.return_time, op.call_time));
    }
    if (op.kind == OpKind::kWrite && !op.value) {
      return Status::InvalidArgument(name + ": a write needs a value");
    }
    if ((op.kind == OpKind::kRead || op.kind == OpKind::kDelete) && op.value) {
      return Status::InvalidArgument(name + ": a " + std::string(OpKindName(op.kind)) +
                                     " has no value");
    }
    if (op.kind != OpKind::kCas && op.expected) {
      return Status::InvalidArgument(name + ": only a cas has an expected value");
    }
    if (op.kind != OpKind::kRead && op.observed) {
      return Status::InvalidArgument(name + ": only a read has an observed value");
    }
  }
  return Status::Ok();
}

CheckResult CheckLinearizable(const std::vector<Operation>& history, const CheckOptions& options) {
  const Status valid = ValidateHistory(history);
  if (!valid.ok()) {
    std::fprintf(stderr, "CheckLinearizable: invalid history: %s\n", valid.message().c_str());
  }
  MERIDIAN_CHECK(valid.ok());

  std::map<std::string_view, std::vector<std::size_t>> by_key;
  std::size_t unknown = 0;
  std::size_t failed = 0;
  for (std::size_t i = 0; i < history.size(); ++i) {
    by_key[history[i].key].push_back(i);
    if (history[i].outcome == OpOutcome::kUnknown) ++unknown;
    if (history[i].outcome == OpOutcome::kFailed) ++failed;
  }

  CheckResult result;
  std::vector<std::string_view> undecided_keys;
  std::string undecided_explanation;
  for (const auto& [key, indices] : by_key) {
    KeyVerdict verdict = CheckKey(history, key, indices, options);
    result.steps += verdict.steps;
    ++result.keys_checked;
    if (verdict.result == SearchResult::kLinearizable) continue;
    if (verdict.result == SearchResult::kViolation || undecided_keys.empty()) {
      result.key = std::string(key);
      result.longest_prefix = std::move(verdict.prefix_ids);
      result.unlinearizable = std::move(verdict.blocked_ids);
    }
    if (verdict.result == SearchResult::kViolation) {
      result.verdict = Verdict::kViolation;
      result.explanation = "violation: " + verdict.explanation;
      return result;
    }
    if (undecided_keys.empty()) undecided_explanation = std::move(verdict.explanation);
    undecided_keys.push_back(key);
  }
  if (!undecided_keys.empty()) {
    result.verdict = Verdict::kUndecided;
    result.explanation = fmt::format(
        "undecided: {} of {} could not be decided within {} search steps each, and no key is a "
        "violation. The first: {}",
        undecided_keys.size(), Count(by_key.size(), "key"), options.step_budget,
        undecided_explanation);
    return result;
  }
  result.verdict = Verdict::kLinearizable;
  result.explanation = fmt::format(
      "linearizable: {} on {} ({} with an unknown outcome, {} failed and ignored), checked in {} "
      "search steps.",
      Count(history.size(), "operation"), Count(by_key.size(), "key"), unknown, failed,
      result.steps);
  return result;
}

}  // namespace meridian::sim
