// SlowRequests: the requests this node answered slowly, each with where its time went (which
// replica or coordinator answered when), for the operator's log: the owner drains them after
// every input and logs them (runtime/node_service.cc). A request is slow when it took
// threshold_ms or more from its arrival at this node's core to its answer; 0 turns the record
// off.
//
// Why (issue 10, item 7): a foreground tail of a few hundred milliseconds while a node rejoins
// was visible only in the client's histogram; the server said nothing of which step waited.
//
// Bounded: at most `capacity` lines wait to be taken; later ones are only counted. Sans-IO:
// times come in as milliseconds of the Env clock. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace meridian::node {

class SlowRequests {
 public:
  struct Line {
    std::uint64_t took_ms = 0;
    std::string description;  // what the request was and where its time went
  };

  explicit SlowRequests(std::uint64_t threshold_ms, std::size_t capacity = 64)
      : threshold_ms_(threshold_ms), capacity_(capacity) {}

  // Whether a request that took `took_ms` is recorded.
  bool IsSlow(std::uint64_t took_ms) const {
    return threshold_ms_ != 0 && took_ms >= threshold_ms_;
  }
  // Records a slow request (IsSlow(took_ms) must hold).
  void Add(std::uint64_t took_ms, std::string description);
  // The lines recorded since the last call, oldest first.
  std::vector<Line> Take();
  // The lines not taken yet, oldest first.
  const std::vector<Line>& lines() const { return lines_; }

  std::uint64_t threshold_ms() const { return threshold_ms_; }
  std::uint64_t count() const { return count_; }      // every slow request since start
  std::uint64_t dropped() const { return dropped_; }  // of which not kept: too many untaken

 private:
  std::uint64_t threshold_ms_;
  std::size_t capacity_;
  std::vector<Line> lines_;
  std::uint64_t count_ = 0;
  std::uint64_t dropped_ = 0;
};

// How long each replica took to answer one coordination, for its slow-request line. Index i is
// the coordination's target i; kNoAnswer until it answers.
class ReplicaTimes {
 public:
  static constexpr std::int64_t kNoAnswer = -1;

  ReplicaTimes(std::uint64_t started_ms, std::size_t targets)
      : started_ms_(started_ms), after_ms_(targets, kNoAnswer) {}

  // Target `index` answered at now_ms (its first answer counts).
  void Answered(std::size_t index, std::uint64_t now_ms);
  std::uint64_t started_ms() const { return started_ms_; }
  std::uint64_t Elapsed(std::uint64_t now_ms) const {
    return now_ms > started_ms_ ? now_ms - started_ms_ : 0;
  }
  // "node2 3 ms, node5 (fallback for node3) no answer, node1 (here) 0 ms" with the targets'
  // names and roles in `names`, one per target.
  std::string Describe(const std::vector<std::string>& names) const;

 private:
  std::uint64_t started_ms_;
  std::vector<std::int64_t> after_ms_;
};

}  // namespace meridian::node
