// EventQueue: the simulation's agenda. Events run in order of (time_ms, sequence), where the
// sequence number is assigned at Push in insertion order — so two events at the same virtual
// time always run in the order they were scheduled, never in an order that depends on memory
// addresses or hash-table layout. Bounded: Push fails the run (MERIDIAN_CHECK) beyond
// kEventCountMax pending events, since an unbounded agenda means a runaway protocol.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

namespace meridian::sim {

enum class EventKind : std::uint8_t {
  kTick,      // call Tick() on `address` (if that incarnation is still up)
  kDeliver,   // deliver `bytes` (a serialized PeerMessage) from `from_address` to `address`
  kCallback,  // run `callback` (fault schedules, workloads); `label` names it in the trace
  kWake,      // call Wake() on `address` (if that incarnation is still up)
};

struct Event {
  std::uint64_t time_ms = 0;
  EventKind kind = EventKind::kCallback;
  std::string address;
  std::string from_address;
  std::string bytes;
  std::uint64_t incarnation = 0;  // kTick, kWake: the incarnation that scheduled it
  std::string label;
  std::function<void()> callback;
};

class EventQueue {
 public:
  static constexpr std::size_t kEventCountMax = 1'000'000;

  // Requires event.time_ms >= the time of the last popped event.
  void Push(Event event);
  // Requires !empty().
  Event Pop();
  // Requires !empty().
  std::uint64_t next_time_ms() const;
  bool empty() const { return events_.empty(); }
  std::size_t size() const { return events_.size(); }

 private:
  std::map<std::pair<std::uint64_t, std::uint64_t>, Event> events_;
  std::uint64_t next_sequence_ = 0;
  std::uint64_t popped_time_ms_ = 0;
};

}  // namespace meridian::sim
