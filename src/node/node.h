// Node: one server's protocol state machine. Inputs: client requests (Submit) and ticks;
// outputs: replies, drained with TakeReplies(). It reaches storage, time and randomness
// only through its Env (node/env.h), so the same code runs in the real runtime and in the
// deterministic simulator. Not thread-safe: the owner calls it from one thread.
//
// Ordering duty for the owner: after every Submit or Tick, drain TakeReplies() and deliver
// them. A reply for a write is produced only after the write reached the engine (synced
// first when the request or bucket asked for dw >= 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/hlc.h"
#include "core/status.h"
#include "core/version_vector.h"
#include "node/client_request.h"
#include "node/env.h"

namespace meridian::node {

struct NodeConfig {
  std::uint32_t partition_count = 256;            // fixed at creation; power of two
  std::size_t key_bytes_max = 1024;                // longer keys are refused (TooLarge)
  std::size_t value_bytes_max = 8u << 20;          // larger values are refused (TooLarge)
  std::uint64_t tick_interval_ms = 100;            // how often the Env calls Tick()
};

class Node {
 public:
  Node(const NodeConfig& config, Env env);

  // Loads this node's identity from the metadata column, or creates it on first start:
  // a fresh actor id drawn from Env::random, synced before use. Fails with InvalidArgument
  // when the stored partition count differs from the configured one.
  Status Open();

  void Submit(RequestId id, ClientRequest request);
  void Tick();
  std::vector<ClientReply> TakeReplies();

  ActorId actor_id() const { return actor_id_; }
  const NodeConfig& config() const { return config_; }

 private:
  NodeConfig config_;
  Env env_;
  ActorId actor_id_ = 0;
  HybridLogicalClock hlc_;
  std::vector<ClientReply> replies_;
};

}  // namespace meridian::node
