#include "replication/strong_configuration.h"

#include <algorithm>

#include "core/assert.h"

namespace meridian::replication {

std::vector<cluster::NodeId> StrongConfiguration::AcceptorsFor(std::uint32_t n) const {
  const std::size_t count = std::min<std::size_t>(n, members.size());
  return {members.begin(), members.begin() + static_cast<std::ptrdiff_t>(count)};
}

PartitionConfigState GenesisState(const StrongConfiguration& genesis, const Ballot& version,
                                  std::string encoded) {
  MERIDIAN_CHECK(!version.IsZero() && genesis.epoch == 1 && !genesis.members.empty());
  PartitionConfigState state;
  state.register_state.promised = version;
  state.register_state.accepted = version;
  state.register_state.value.present = true;
  state.register_state.value.bytes = std::move(encoded);
  state.register_state.value.version = version;
  state.register_state.value.recent = {version};
  state.active = genesis;
  state.known = genesis;
  return state;
}

const StrongConfiguration& NewestKnown(const PartitionConfigState& state) {
  return state.known.epoch > state.active.epoch ? state.known : state.active;
}

EpochCheck CheckEpoch(const std::optional<PartitionConfigState>& state,
                      const StrongConfiguration& accepted, std::uint64_t epoch) {
  if (!state.has_value()) return {EpochVerdict::kNotMember, {}};
  if (epoch != 0 && state->active.epoch == epoch && state->retired < epoch &&
      accepted.epoch <= epoch) {
    return {EpochVerdict::kServe, {}};
  }
  const StrongConfiguration& newest = NewestKnown(*state);
  if (newest.epoch > epoch) return {EpochVerdict::kMoved, newest};
  // A member of `epoch` without its copy yet, or one that retired it (or accepted the next
  // configuration) before the move told it the configuration chosen next.
  return {EpochVerdict::kNotReady, {}};
}

void MergeAcceptorState(AcceptorState& into, const AcceptorState& from) {
  if (from.accepted > into.accepted) {
    into.accepted = from.accepted;
    into.value = from.value;
  }
  into.promised = std::max({into.promised, from.promised, into.accepted});
  MERIDIAN_CHECK(into.promised >= into.accepted);
}

bool CollectCovers(const StrongConfiguration& from, const std::vector<bool>& answered,
                   const std::vector<std::uint32_t>& factors) {
  MERIDIAN_CHECK(answered.size() == from.members.size());
  if (from.members.empty()) return false;
  std::vector<std::uint32_t> all = factors;
  all.push_back(static_cast<std::uint32_t>(from.members.size()));
  for (std::uint32_t n : all) {
    const std::size_t count = std::min<std::size_t>(std::max<std::uint32_t>(n, 1), answered.size());
    const auto yes =
        std::count(answered.begin(), answered.begin() + static_cast<std::ptrdiff_t>(count), true);
    if (static_cast<std::size_t>(yes) < count / 2 + 1) return false;
  }
  return true;
}

}  // namespace meridian::replication
