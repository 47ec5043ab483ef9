#include "node/slow_requests.h"

#include <utility>

#include "core/assert.h"

namespace meridian::node {

void SlowRequests::Add(std::uint64_t took_ms, std::string description) {
  MERIDIAN_CHECK(IsSlow(took_ms));
  ++count_;
  if (lines_.size() >= capacity_) {
    ++dropped_;
    return;
  }
  lines_.push_back(Line{took_ms, std::move(description)});
}

std::vector<SlowRequests::Line> SlowRequests::Take() {
  return std::exchange(lines_, {});
}

void ReplicaTimes::Answered(std::size_t index, std::uint64_t now_ms) {
  MERIDIAN_CHECK(index < after_ms_.size());
  if (after_ms_[index] != kNoAnswer) return;
  after_ms_[index] = static_cast<std::int64_t>(Elapsed(now_ms));
}

std::string ReplicaTimes::Describe(const std::vector<std::string>& names) const {
  MERIDIAN_CHECK(names.size() == after_ms_.size());
  std::string out;
  for (std::size_t index = 0; index < after_ms_.size(); ++index) {
    if (!out.empty()) out += ", ";
    out += names[index];
    out += after_ms_[index] == kNoAnswer ? " no answer"
                                         : " " + std::to_string(after_ms_[index]) + " ms";
  }
  return out;
}

}  // namespace meridian::node
