#include "replication/strong_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace meridian::replication {

void ToProto(const Ballot& ballot, proto::Ballot* out) {
  out->set_round(ballot.round);
  out->set_proposer(ballot.proposer);
  out->set_incarnation(ballot.incarnation);
  out->set_step(ballot.step);
}

Ballot BallotFromProto(const proto::Ballot& ballot) {
  return Ballot{ballot.round(), ballot.proposer(), ballot.incarnation(), ballot.step()};
}

void ToProto(const RegisterValue& value, proto::RegisterValue* out) {
  out->set_present(value.present);
  out->set_bytes(value.bytes);
  if (!value.version.IsZero()) ToProto(value.version, out->mutable_version());
  for (const Ballot& ballot : value.recent) ToProto(ballot, out->add_recent());
}

Result<RegisterValue> RegisterValueFromProto(const proto::RegisterValue& value,
                                             std::size_t value_bytes_max) {
  RegisterValue out;
  out.present = value.present();
  if (!out.present && !value.bytes().empty()) {
    return Status::Corruption("strong register: an absent value carries bytes");
  }
  if (value.bytes().size() > value_bytes_max) {
    return Status::Corruption(fmt::format("strong register: a value of {} bytes exceeds {}",
                                          value.bytes().size(), value_bytes_max));
  }
  out.bytes = value.bytes();
  out.version = BallotFromProto(value.version());
  if (static_cast<std::size_t>(value.recent_size()) > kRecentWrites) {
    return Status::Corruption(fmt::format("strong register: {} recent writes (at most {})",
                                          value.recent_size(), kRecentWrites));
  }
  for (const proto::Ballot& ballot : value.recent()) {
    Ballot recent = BallotFromProto(ballot);
    if (recent.IsZero() || (!out.recent.empty() && !(out.recent.back() < recent))) {
      return Status::Corruption("strong register: recent writes out of order");
    }
    out.recent.push_back(recent);
  }
  const bool consistent = out.version.IsZero()
                              ? out.recent.empty() && !out.present
                              : !out.recent.empty() && out.recent.back() == out.version;
  if (!consistent) {
    return Status::Corruption("strong register: the version is not the last recent write");
  }
  return out;
}

std::string EncodeAcceptorRecord(const AcceptorState& state) {
  proto::AcceptorRecord record;
  ToProto(state.promised, record.mutable_promised());
  ToProto(state.accepted, record.mutable_accepted());
  ToProto(state.value, record.mutable_value());
  return record.SerializeAsString();
}

Result<AcceptorState> DecodeAcceptorRecord(std::string_view bytes, std::size_t value_bytes_max) {
  proto::AcceptorRecord record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("acceptor record does not parse");
  }
  AcceptorState state;
  state.promised = BallotFromProto(record.promised());
  state.accepted = BallotFromProto(record.accepted());
  auto value = RegisterValueFromProto(record.value(), value_bytes_max);
  if (!value.ok()) return value.status();
  state.value = std::move(value).value();
  if (state.promised < state.accepted || state.accepted < state.value.version) {
    return Status::Corruption("acceptor record: ballots out of order");
  }
  return state;
}

void ToProto(const StrongConfiguration& configuration, proto::StrongConfiguration* out) {
  out->set_epoch(configuration.epoch);
  for (const cluster::NodeId& member : configuration.members) out->add_members(member);
}

Result<StrongConfiguration> ConfigurationFromProto(
    const proto::StrongConfiguration& configuration) {
  if (static_cast<std::size_t>(configuration.members_size()) > kConfigurationMembersMax) {
    return Status::Corruption("strong configuration with too many members");
  }
  StrongConfiguration out;
  out.epoch = configuration.epoch();
  for (const std::string& member : configuration.members()) {
    if (member.empty() ||
        std::find(out.members.begin(), out.members.end(), member) != out.members.end()) {
      return Status::Corruption("strong configuration with an empty or repeated member");
    }
    out.members.push_back(member);
  }
  if ((out.epoch == 0) != out.members.empty()) {
    return Status::Corruption("strong configuration: members without an epoch or the reverse");
  }
  return out;
}

std::string EncodeConfiguration(const StrongConfiguration& configuration) {
  proto::StrongConfiguration wire;
  ToProto(configuration, &wire);
  return wire.SerializeAsString();
}

Result<StrongConfiguration> DecodeConfiguration(std::string_view bytes) {
  proto::StrongConfiguration wire;
  if (!wire.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("strong configuration does not parse");
  }
  return ConfigurationFromProto(wire);
}

StrongConfiguration AcceptedConfiguration(const PartitionConfigState& state) {
  if (!state.register_state.value.present) return {};
  auto decoded = DecodeConfiguration(state.register_state.value.bytes);
  return decoded.ok() ? std::move(decoded).value() : StrongConfiguration{};
}

std::string EncodePartitionConfig(const PartitionConfigState& state) {
  proto::PartitionConfigRecord record;
  proto::AcceptorRecord* reg = record.mutable_config_register();
  ToProto(state.register_state.promised, reg->mutable_promised());
  ToProto(state.register_state.accepted, reg->mutable_accepted());
  ToProto(state.register_state.value, reg->mutable_value());
  ToProto(state.active, record.mutable_active());
  record.set_retired(state.retired);
  record.set_left(state.left);
  ToProto(state.known, record.mutable_known());
  return record.SerializeAsString();
}

Result<PartitionConfigState> DecodePartitionConfig(std::string_view bytes) {
  proto::PartitionConfigRecord record;
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Corruption("partition configuration record does not parse");
  }
  PartitionConfigState state;
  auto reg = DecodeAcceptorRecord(record.config_register().SerializeAsString(), 64 * 1024);
  if (!reg.ok()) return reg.status();
  state.register_state = std::move(reg).value();
  if (state.register_state.value.present) {
    auto configuration = DecodeConfiguration(state.register_state.value.bytes);
    if (!configuration.ok()) return configuration.status();
  }
  auto known = ConfigurationFromProto(record.known());
  if (!known.ok()) return known.status();
  state.known = std::move(known).value();
  auto active = ConfigurationFromProto(record.active());
  if (!active.ok()) return active.status();
  state.active = std::move(active).value();
  state.retired = record.retired();
  state.left = record.left();
  return state;
}

std::string StrongContext(const Ballot& version) {
  return "s." + BallotText(version);
}

namespace {
bool ParseField(std::string_view text, int base, std::uint64_t& out) {
  if (text.empty() || (text.size() > 1 && text[0] == '0')) return false;  // one spelling only
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return error == std::errc() && end == text.data() + text.size();
}
}  // namespace

Result<Ballot> ParseStrongContext(std::string_view text) {
  const auto invalid = [&] {
    return Status::InvalidArgument(
        "not a context of a strong bucket (expected s.<round>.<proposer>.<incarnation>.<step>, "
        "as a get returns it)");
  };
  if (text.substr(0, 2) != "s.") return invalid();
  text.remove_prefix(2);
  std::uint64_t fields[4] = {};
  for (int i = 0; i < 4; ++i) {
    const std::size_t dot = i < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos) return invalid();
    if (!ParseField(text.substr(0, dot), i == 1 ? 16 : 10, fields[i])) return invalid();
    text.remove_prefix(std::min(text.size(), dot + 1));
    if (i < 3 && text.empty()) return invalid();
  }
  return Ballot{fields[0], fields[1], fields[2], fields[3]};
}

proto::StrongRequest::Kind ToProto(StrongRequest::Kind kind) {
  switch (kind) {
    case StrongRequest::Kind::kPrepare:
      return proto::StrongRequest::KIND_PREPARE;
    case StrongRequest::Kind::kPropose:
      return proto::StrongRequest::KIND_PROPOSE;
    case StrongRequest::Kind::kQuery:
      return proto::StrongRequest::KIND_QUERY;
  }
  return proto::StrongRequest::KIND_UNSPECIFIED;
}

Result<StrongRequest::Kind> KindFromProto(proto::StrongRequest::Kind kind) {
  switch (kind) {
    case proto::StrongRequest::KIND_PREPARE:
      return StrongRequest::Kind::kPrepare;
    case proto::StrongRequest::KIND_PROPOSE:
      return StrongRequest::Kind::kPropose;
    case proto::StrongRequest::KIND_QUERY:
      return StrongRequest::Kind::kQuery;
    default:
      return Status::InvalidArgument(
          fmt::format("unknown strong request kind {}", static_cast<int>(kind)));
  }
}

}  // namespace meridian::replication
