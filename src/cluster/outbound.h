// Outbound: a message a protocol component wants sent to another node. Components return
// these from their TakeOutbound(); the environment (the real transport, or the simulator's
// network) delivers them at most once, in no guaranteed order, possibly never.
// Messages are addressed by peer address ("host:port"), because a joining node knows only
// its seeds' addresses, not their node ids.
#pragma once

#include <string>

#include "proto/peer.pb.h"

namespace meridian::cluster {

struct Outbound {
  std::string to_address;
  proto::PeerMessage message;
};

}  // namespace meridian::cluster
