// A partition's strong configurations and the rules every node applies to them
// (docs/design/strong.md, "Membership changes").
//
// A configuration is an epoch and an ordered member list; a key of a bucket with replication
// factor n uses the first min(n, members) members as its acceptors. Configurations form one
// history per partition: epoch 1 is written by the node that creates the cluster, and every
// later one is chosen by compare-and-set on the partition's configuration register, whose
// acceptors are all the members of the configuration before it (StrongMove).
//
// PartitionConfigState is what one node keeps of a partition: the register's acceptor state,
// the epoch it serves (`active`) and the highest epoch it stopped serving (`retired`). Pure
// functions; the node persists a changed state, synced, before it answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/node_id.h"
#include "replication/strong_register.h"

namespace meridian::replication {

struct StrongConfiguration {
  std::uint64_t epoch = 0;  // 0: none
  std::vector<cluster::NodeId> members;

  bool operator==(const StrongConfiguration&) const = default;
  // The acceptors of a key of a bucket with replication factor `n`.
  std::vector<cluster::NodeId> AcceptorsFor(std::uint32_t n) const;
};

struct PartitionConfigState {
  AcceptorState register_state;  // the configuration register at this node
  StrongConfiguration active;    // the configuration whose data this node holds and serves
  std::uint64_t retired = 0;     // the highest epoch this node stopped serving
  StrongConfiguration known;     // the newest chosen configuration this node was told about
  // The highest epoch this node left because a move from it succeeded here, or was found
  // established (Node::ObsoleteMove): its successor is installed on enough members. Evidence a
  // straggler of that epoch may act on (docs/design/strong.md, "Stragglers").
  std::uint64_t left = 0;

  bool operator==(const PartitionConfigState&) const = default;
};

// The state of the node that creates the cluster: `genesis` (epoch 1, itself alone), written
// as accepted at `version` (non-zero; `encoded` is the configuration's codec form), and active.
PartitionConfigState GenesisState(const StrongConfiguration& genesis, const Ballot& version,
                                  std::string encoded);

enum class EpochVerdict : std::uint8_t {
  kServe,      // serve the request
  kMoved,      // the partition is at a newer configuration (EpochCheck::newest)
  kNotReady,   // a member of the request's epoch without its copy yet
  kNotMember,  // no configuration of the partition here
};

struct EpochCheck {
  EpochVerdict verdict = EpochVerdict::kNotMember;
  StrongConfiguration newest;  // kMoved
  std::uint64_t left = 0;      // kMoved of a configuration register: PartitionConfigState::left
};

// The acceptor's rule for a data request at `epoch`: serve iff this node is active at exactly
// that epoch, has not retired it and its register accepted no newer configuration.
// `accepted` is the configuration in the register's accepted value (epoch 0 when none).
// Otherwise kMoved when it knows a newer chosen configuration, else kNotReady.
EpochCheck CheckEpoch(const std::optional<PartitionConfigState>& state,
                      const StrongConfiguration& accepted, std::uint64_t epoch);

// The newest chosen configuration `state` knows: the active one or the one it was told.
const StrongConfiguration& NewestKnown(const PartitionConfigState& state);

// A move's merge of two acceptors' records of one key: the higher accepted proposal wins
// (with its value), promises only rise. Keeps promised >= accepted >= value.version.
void MergeAcceptorState(AcceptorState& into, const AcceptorState& from);

// Whether the members of `from` that answered (one flag per member) hold, for every
// replication factor in `factors`, a majority of the acceptors of that factor.
bool CollectCovers(const StrongConfiguration& from, const std::vector<bool>& answered,
                   const std::vector<std::uint32_t>& factors);

}  // namespace meridian::replication
