// JointQuorum: which sets of acceptors complete a phase of a strong bucket's consensus — a
// majority of every group. One group normally (a key's n primaries); two while the key's
// acceptors change (the current and the next ring's), so that every quorum of the transition
// intersects every quorum before and after it (docs/design/strong.md, "Membership changes").
//
// Acceptors are indices into the proposer's acceptor list; a group lists some of them.
#pragma once

#include <cstddef>
#include <vector>

namespace meridian::replication {

class JointQuorum {
 public:
  // A majority of acceptors 0..count-1.
  static JointQuorum Majority(std::size_t count);
  // Every group non-empty, every index < count, no index twice within a group (checked).
  JointQuorum(std::size_t count, std::vector<std::vector<std::size_t>> groups);

  std::size_t acceptors() const { return count_; }
  const std::vector<std::vector<std::size_t>>& groups() const { return groups_; }
  // The acceptors marked in `yes` (one flag per acceptor) hold a majority of every group.
  bool Reached(const std::vector<bool>& yes) const;
  // The acceptors marked in `no` leave some group without a possible majority.
  bool Lost(const std::vector<bool>& no) const;

 private:
  std::size_t count_;
  std::vector<std::vector<std::size_t>> groups_;
};

}  // namespace meridian::replication
