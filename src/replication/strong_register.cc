#include "replication/strong_register.h"

#include <algorithm>

#include "core/assert.h"

namespace meridian::replication {

RegisterValue RegisterValue::Written(Ballot ballot, bool present_after,
                                     std::string bytes_after) const {
  MERIDIAN_CHECK(ballot > version);
  RegisterValue next;
  next.present = present_after;
  next.bytes = present_after ? std::move(bytes_after) : std::string();
  next.version = ballot;
  next.recent = recent;
  next.recent.push_back(ballot);
  if (next.recent.size() > kRecentWrites) {
    next.recent.erase(
        next.recent.begin(),
        next.recent.begin() + static_cast<std::ptrdiff_t>(next.recent.size() - kRecentWrites));
  }
  return next;
}

bool RegisterValue::WroteRecently(const Ballot& write) const {
  return std::find(recent.begin(), recent.end(), write) != recent.end();
}

bool HandlePrepare(AcceptorState& state, const Ballot& ballot, AcceptorReply& reply) {
  MERIDIAN_CHECK(state.promised >= state.accepted);
  if (ballot <= state.promised) {
    reply = AcceptorReply{false, state.promised, {}};
    return false;
  }
  state.promised = ballot;
  reply = AcceptorReply{true, state.accepted, state.value};
  return true;
}

bool HandlePropose(AcceptorState& state, const Ballot& ballot, const RegisterValue& value,
                   AcceptorReply& reply) {
  MERIDIAN_CHECK(state.promised >= state.accepted);
  if (ballot < state.promised || ballot < state.accepted) {
    reply = AcceptorReply{false, std::max(state.promised, state.accepted), {}};
    return false;
  }
  if (ballot == state.accepted) {
    // A duplicate: ballots are unique, so this is the proposal already accepted.
    reply = AcceptorReply{true, ballot, {}};
    return false;
  }
  state.promised = ballot;
  state.accepted = ballot;
  state.value = value;
  reply = AcceptorReply{true, ballot, {}};
  return true;
}

AcceptorReply HandleQuery(const AcceptorState& state) {
  return AcceptorReply{true, state.accepted, state.value};
}

}  // namespace meridian::replication
