#include "sim/trace.h"

#include <xxhash.h>

#include <fmt/format.h>

namespace meridian::sim {
namespace {

void AppendU64(std::string& out, std::uint64_t value) {
  for (int byte = 0; byte < 8; ++byte) out.push_back(static_cast<char>(value >> (8 * byte)));
}

void AppendField(std::string& out, std::string_view field) {
  AppendU64(out, field.size());
  out.append(field);
}

}  // namespace

std::string_view TraceKindName(TraceKind kind) {
  switch (kind) {
    case TraceKind::kStart:
      return "start";
    case TraceKind::kStartFailed:
      return "start-failed";
    case TraceKind::kTick:
      return "tick";
    case TraceKind::kSend:
      return "send";
    case TraceKind::kDeliver:
      return "deliver";
    case TraceKind::kDropLoss:
      return "drop-loss";
    case TraceKind::kDropPartition:
      return "drop-partition";
    case TraceKind::kDropDown:
      return "drop-down";
    case TraceKind::kDropUnknown:
      return "drop-unknown";
    case TraceKind::kDuplicate:
      return "duplicate";
    case TraceKind::kCrash:
      return "crash";
    case TraceKind::kRestart:
      return "restart";
    case TraceKind::kStop:
      return "stop";
    case TraceKind::kPartition:
      return "partition";
    case TraceKind::kPartitionOneWay:
      return "partition-one-way";
    case TraceKind::kHeal:
      return "heal";
    case TraceKind::kLoss:
      return "loss";
    case TraceKind::kClockSkew:
      return "clock-skew";
    case TraceKind::kCallback:
      return "callback";
    case TraceKind::kDropStalled:
      return "drop-stalled";
    case TraceKind::kInvoke:
      return "invoke";
    case TraceKind::kFailure:
      return "failure";
    case TraceKind::kWake:
      return "wake";
  }
  return "unknown";
}

std::string FormatTraceRecord(const TraceRecord& record) {
  std::string text = fmt::format("t={}ms {}", record.time_ms, TraceKindName(record.kind));
  if (!record.from.empty() || !record.to.empty()) {
    text += fmt::format(" {}", record.from);
    if (!record.to.empty()) text += fmt::format("->{}", record.to);
  }
  const bool message = record.kind == TraceKind::kSend || record.kind == TraceKind::kDeliver;
  if (message) {
    text += fmt::format(" ({} bytes)", record.bytes.size());
  } else if (!record.bytes.empty()) {
    text += fmt::format(" {}", record.bytes);
  }
  return text;
}

void TraceHash::Add(const TraceRecord& record) {
  scratch_.clear();
  AppendU64(scratch_, record.time_ms);
  scratch_.push_back(static_cast<char>(record.kind));
  AppendField(scratch_, record.from);
  AppendField(scratch_, record.to);
  AppendField(scratch_, record.bytes);
  value_ = XXH3_64bits_withSeed(scratch_.data(), scratch_.size(), value_);
  ++record_count_;
}

}  // namespace meridian::sim
