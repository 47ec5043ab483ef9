#include "sim/event_queue.h"

#include "core/assert.h"

namespace meridian::sim {

void EventQueue::Push(Event event) {
  MERIDIAN_CHECK(event.time_ms >= popped_time_ms_);
  MERIDIAN_CHECK(events_.size() < kEventCountMax);
  const auto key = std::make_pair(event.time_ms, next_sequence_++);
  events_.emplace(key, std::move(event));
}

Event EventQueue::Pop() {
  MERIDIAN_CHECK(!events_.empty());
  auto node = events_.extract(events_.begin());
  popped_time_ms_ = node.key().first;
  return std::move(node.mapped());
}

std::uint64_t EventQueue::next_time_ms() const {
  MERIDIAN_CHECK(!events_.empty());
  return events_.begin()->first.first;
}

}  // namespace meridian::sim
