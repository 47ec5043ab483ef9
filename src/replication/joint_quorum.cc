#include "replication/joint_quorum.h"

#include <algorithm>

#include "core/assert.h"

namespace meridian::replication {

namespace {

std::size_t CountMarked(const std::vector<std::size_t>& group, const std::vector<bool>& marks) {
  return static_cast<std::size_t>(
      std::count_if(group.begin(), group.end(), [&](std::size_t i) { return marks[i]; }));
}

}  // namespace

JointQuorum JointQuorum::Majority(std::size_t count) {
  std::vector<std::size_t> all(count);
  for (std::size_t i = 0; i < count; ++i) all[i] = i;
  return JointQuorum(count, {std::move(all)});
}

JointQuorum::JointQuorum(std::size_t count, std::vector<std::vector<std::size_t>> groups)
    : count_(count), groups_(std::move(groups)) {
  MERIDIAN_CHECK(!groups_.empty());
  for (const auto& group : groups_) {
    MERIDIAN_CHECK(!group.empty());
    std::vector<bool> seen(count_, false);
    for (std::size_t i : group) {
      MERIDIAN_CHECK(i < count_);
      MERIDIAN_CHECK(!seen[i]);
      seen[i] = true;
    }
  }
}

bool JointQuorum::Reached(const std::vector<bool>& yes) const {
  MERIDIAN_CHECK(yes.size() == count_);
  return std::all_of(groups_.begin(), groups_.end(), [&](const auto& group) {
    return CountMarked(group, yes) >= group.size() / 2 + 1;
  });
}

bool JointQuorum::Lost(const std::vector<bool>& no) const {
  MERIDIAN_CHECK(no.size() == count_);
  return std::any_of(groups_.begin(), groups_.end(), [&](const auto& group) {
    return group.size() - CountMarked(group, no) < group.size() / 2 + 1;
  });
}

}  // namespace meridian::replication
