#include "node/partition_actors.h"

#include <algorithm>

#include "core/assert.h"
#include "core/byte_codec.h"

namespace meridian::node {
namespace {
constexpr std::size_t kRoles = 2;
// A random source that returns only zeros is broken; give up instead of spinning.
constexpr int kDrawAttemptsMax = 16;
}  // namespace

PartitionActors::PartitionActors(std::uint32_t partition_count, Random* random)
    : partition_count_(partition_count),
      random_(random),
      actors_(static_cast<std::size_t>(partition_count) * kRoles, 0) {
  MERIDIAN_CHECK(random_ != nullptr);
}

std::size_t PartitionActors::Slot(std::uint32_t partition, MintRole role) const {
  MERIDIAN_CHECK(partition < partition_count_);
  return static_cast<std::size_t>(partition) * kRoles + static_cast<std::size_t>(role);
}

ActorId PartitionActors::Current(std::uint32_t partition, MintRole role) {
  ActorId& actor = actors_[Slot(partition, role)];
  if (actor != 0) return actor;
  for (int attempt = 0; attempt < kDrawAttemptsMax && actor == 0; ++attempt) {
    actor = random_->NextU64();
  }
  MERIDIAN_CHECK(actor != 0);
  ++drawn_;
  return actor;
}

void PartitionActors::Retire(std::uint32_t partition, MintRole role) {
  actors_[Slot(partition, role)] = 0;
}

void PartitionActors::RetireAll(MintRole role) {
  for (std::uint32_t partition = 0; partition < partition_count_; ++partition) {
    Retire(partition, role);
  }
}

void PartitionActors::Clear() {
  std::fill(actors_.begin(), actors_.end(), 0);
}

std::string PartitionActors::Encode() const {
  std::string out;
  const auto count = static_cast<std::uint64_t>(
      std::count_if(actors_.begin(), actors_.end(), [](ActorId actor) { return actor != 0; }));
  PutVarint64(out, count);
  for (std::size_t slot = 0; slot < actors_.size(); ++slot) {
    if (actors_[slot] == 0) continue;
    PutFixed32(out, static_cast<std::uint32_t>(slot / kRoles));
    out.push_back(static_cast<char>(slot % kRoles));
    PutFixed64(out, actors_[slot]);
  }
  return out;
}

Status PartitionActors::Decode(std::string_view bytes) {
  ByteReader reader(bytes);
  std::uint64_t count = 0;
  if (!reader.ReadVarint64(count) || count > actors_.size()) {
    return Status::Corruption("partition actors: bad count");
  }
  std::vector<ActorId> decoded(actors_.size(), 0);
  for (std::uint64_t index = 0; index < count; ++index) {
    std::uint32_t partition = 0;
    std::uint64_t actor = 0;
    std::uint8_t role_value = 0;
    if (!reader.ReadFixed32(partition) || !reader.ReadByte(role_value) ||
        !reader.ReadFixed64(actor)) {
      return Status::Corruption("partition actors: truncated entry " + std::to_string(index));
    }
    if (partition >= partition_count_ || role_value >= kRoles || actor == 0) {
      return Status::Corruption("partition actors: entry " + std::to_string(index) +
                                " names partition " + std::to_string(partition) + ", role " +
                                std::to_string(role_value) + ", actor " + std::to_string(actor));
    }
    decoded[static_cast<std::size_t>(partition) * kRoles + role_value] = actor;
  }
  if (!reader.empty()) return Status::Corruption("partition actors: trailing bytes");
  actors_ = std::move(decoded);
  return Status::Ok();
}

}  // namespace meridian::node
