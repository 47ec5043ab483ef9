// Strong buckets' consensus state and messages to and from their protobuf form
// (proto/strong.proto), with validation: whatever arrives from a peer or the disk is checked
// before the protocol sees it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"
#include "proto/strong.pb.h"
#include "replication/ballot.h"
#include "replication/strong_configuration.h"
#include "replication/strong_proposer.h"
#include "replication/strong_register.h"

namespace meridian::replication {

void ToProto(const Ballot& ballot, proto::Ballot* out);
Ballot BallotFromProto(const proto::Ballot& ballot);

void ToProto(const RegisterValue& value, proto::RegisterValue* out);
// Corruption unless well formed: bytes only when present, at most `value_bytes_max` of them;
// at most kRecentWrites recent versions, strictly increasing, the last one `version` (none
// when `version` is zero).
Result<RegisterValue> RegisterValueFromProto(const proto::RegisterValue& value,
                                             std::size_t value_bytes_max);

// The record of the `strong` column (docs/format/storage.md).
std::string EncodeAcceptorRecord(const AcceptorState& state);
// Corruption unless the bytes parse and promised >= accepted >= value.version.
Result<AcceptorState> DecodeAcceptorRecord(std::string_view bytes, std::size_t value_bytes_max);

// Configurations (the configuration register's value bytes and the wire form). Corruption
// unless: at most kConfigurationMembersMax members, none empty or repeated.
inline constexpr std::size_t kConfigurationMembersMax = 64;
void ToProto(const StrongConfiguration& configuration, proto::StrongConfiguration* out);
Result<StrongConfiguration> ConfigurationFromProto(const proto::StrongConfiguration& configuration);
std::string EncodeConfiguration(const StrongConfiguration& configuration);
Result<StrongConfiguration> DecodeConfiguration(std::string_view bytes);

// The record at a partition's reserved key of the `strong` column (docs/format/storage.md).
std::string EncodePartitionConfig(const PartitionConfigState& state);
// Corruption unless it parses, its register is a valid acceptor record whose value (if any)
// is a configuration, and its other configurations are well formed.
Result<PartitionConfigState> DecodePartitionConfig(std::string_view bytes);
// The configuration the register holds (epoch 0 when it holds none).
StrongConfiguration AcceptedConfiguration(const PartitionConfigState& state);

// The context of a strong bucket's value, as clients see it: "s." + round.proposer.incarnation
// .step (decimal, proposer in hex). Parse: InvalidArgument unless exactly that form.
std::string StrongContext(const Ballot& version);
Result<Ballot> ParseStrongContext(std::string_view text);

// The request kind on the wire; InvalidArgument for an unknown kind.
proto::StrongRequest::Kind ToProto(StrongRequest::Kind kind);
Result<StrongRequest::Kind> KindFromProto(proto::StrongRequest::Kind kind);

}  // namespace meridian::replication
