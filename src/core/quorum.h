// Quorum settings: how many replicas a request waits for. A value is a number or a symbol
// (`one`, `quorum`, `all`) resolved against the number of replicas a key has, so the defaults
// (`quorum`) stay meaningful on a one-node or two-node cluster.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace meridian {

// The most replicas a bucket may ask for.
inline constexpr std::uint32_t kReplicasMax = 9;

struct QuorumValue {
  enum class Kind : std::uint8_t { kNumber, kOne, kQuorum, kAll };
  Kind kind = Kind::kNumber;
  std::uint32_t number = 0;  // kNumber only

  static QuorumValue Number(std::uint32_t n) { return {Kind::kNumber, n}; }
  static QuorumValue One() { return {Kind::kOne, 0}; }
  static QuorumValue Quorum() { return {Kind::kQuorum, 0}; }
  static QuorumValue All() { return {Kind::kAll, 0}; }

  // one -> 1, quorum -> n/2 + 1, all -> n, a number -> itself. Requires n >= 1.
  std::uint32_t Resolve(std::uint32_t n) const;

  friend bool operator==(const QuorumValue&, const QuorumValue&) = default;
};

// "one" | "quorum" | "all" | the decimal number.
std::string FormatQuorumValue(const QuorumValue& value);
// Accepts what FormatQuorumValue produces (numbers 0..kReplicasMax). InvalidArgument naming
// `property` (e.g. "w") and the accepted forms otherwise.
Result<QuorumValue> ParseQuorumValue(std::string_view property, std::string_view text);

// Per-request overrides of a bucket's quorum settings; unset fields use the bucket's.
struct QuorumOverrides {
  std::optional<QuorumValue> r;
  std::optional<QuorumValue> w;
  std::optional<QuorumValue> pr;
  std::optional<QuorumValue> pw;
  std::optional<QuorumValue> dw;
  std::optional<bool> sloppy_quorum;

  friend bool operator==(const QuorumOverrides&, const QuorumOverrides&) = default;
};

// The numbers one request works with.
struct ResolvedQuorum {
  std::uint32_t n = 1;  // replicas of the key: the bucket's n, capped by the nodes that exist
  std::uint32_t r = 1;
  std::uint32_t w = 1;
  std::uint32_t pr = 0;
  std::uint32_t pw = 0;
  std::uint32_t dw = 0;
  bool sloppy_quorum = true;

  friend bool operator==(const ResolvedQuorum&, const ResolvedQuorum&) = default;
};

}  // namespace meridian
