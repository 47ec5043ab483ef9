#include "core/quorum.h"

#include <charconv>

#include "core/assert.h"

namespace meridian {

std::uint32_t QuorumValue::Resolve(std::uint32_t n) const {
  MERIDIAN_CHECK(n >= 1);
  switch (kind) {
    case Kind::kOne:
      return 1;
    case Kind::kQuorum:
      return n / 2 + 1;
    case Kind::kAll:
      return n;
    case Kind::kNumber:
      return number;
  }
  return number;
}

std::string FormatQuorumValue(const QuorumValue& value) {
  switch (value.kind) {
    case QuorumValue::Kind::kOne:
      return "one";
    case QuorumValue::Kind::kQuorum:
      return "quorum";
    case QuorumValue::Kind::kAll:
      return "all";
    case QuorumValue::Kind::kNumber:
      return std::to_string(value.number);
  }
  return std::to_string(value.number);
}

Result<QuorumValue> ParseQuorumValue(std::string_view property, std::string_view text) {
  if (text == "one") return QuorumValue::One();
  if (text == "quorum") return QuorumValue::Quorum();
  if (text == "all") return QuorumValue::All();
  std::uint32_t number = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, number);
  if (!text.empty() && error == std::errc() && ptr == end && number <= kReplicasMax) {
    return QuorumValue::Number(number);
  }
  return Status::InvalidArgument(std::string(property) + " must be one, quorum, all or a number " +
                                 "from 0 to " + std::to_string(kReplicasMax) + ", not \"" +
                                 std::string(text.substr(0, 32)) + "\"");
}

}  // namespace meridian
