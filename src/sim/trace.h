// Trace: what happened in a simulation, event by event, and the running 64-bit hash over it.
// Every observable step (a tick, a send, a delivery, a drop and why, a crash, a partition…)
// is one TraceRecord; TraceHash chains xxh3-64 over each record's fields, so two runs of one
// seed are identical exactly when their final hashes are equal (up to 2^-64 collisions).
// Records are hashed from their fields in a fixed little-endian, length-prefixed layout, so
// the hash depends on nothing but the sequence of records. Not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::sim {

enum class TraceKind : std::uint8_t {
  kStart = 1,        // a process incarnation started (address)
  kStartFailed,      // its Start() failed (address, bytes = message)
  kTick,             // address
  kSend,             // from -> to, bytes = serialized PeerMessage
  kDeliver,          // from -> to, bytes
  kDropLoss,         // random loss (from -> to)
  kDropPartition,    // the link from -> to is cut (at send or delivery time)
  kDropDown,         // the receiver was not running at delivery time
  kDropUnknown,      // no process has that address
  kDuplicate,        // the network made a second copy (from -> to)
  kCrash,            // address
  kRestart,          // address (followed by kStart or kStartFailed)
  kStop,             // address: clean shutdown
  kPartition,        // from = one side, to = other side (addresses joined by ',')
  kPartitionOneWay,  // from side cannot reach to side
  kHeal,
  kLoss,         // bytes = loss ppm, or "duplicate <ppm>" for the duplication rate
  kClockSkew,    // address, bytes = "offset_ms/drift_ppm"
  kCallback,     // bytes = label
  kInvoke,       // address, bytes = label
  kFailure,      // bytes = message
  kDropStalled,  // the link from -> to was healed but its connection has not recovered yet
  kWake,         // address: the process asked to run again (Process::WakeAfterMs)
};

std::string_view TraceKindName(TraceKind kind);

struct TraceRecord {
  std::uint64_t time_ms = 0;
  TraceKind kind = TraceKind::kTick;
  std::string_view from;  // or the process's address for single-address kinds
  std::string_view to;
  std::string_view bytes;
};

// "t=1200ms send a->b (31 bytes)"
std::string FormatTraceRecord(const TraceRecord& record);

class TraceHash {
 public:
  void Add(const TraceRecord& record);
  std::uint64_t value() const { return value_; }
  std::uint64_t record_count() const { return record_count_; }

 private:
  std::uint64_t value_ = 0;
  std::uint64_t record_count_ = 0;
  std::string scratch_;  // reused encoding buffer
};

}  // namespace meridian::sim
