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

#include "core/status.h"
#include "core/version_vector.h"
#include "node/client_request.h"
#include "node/env.h"
#include "node/local_store.h"

namespace meridian::node {

struct NodeConfig {
  std::uint32_t partition_count = 256;     // fixed at creation; power of two
  std::size_t key_bytes_max = 1024;        // longer keys are refused (TooLarge)
  std::size_t value_bytes_max = 8u << 20;  // larger values are refused (TooLarge)
  std::uint64_t tick_interval_ms = 100;    // how often the Env calls Tick()
};

class Node {
 public:
  Node(const NodeConfig& config, Env env);

  // Loads this node's identity (see LocalStore::Open): a fresh actor id on first start and
  // after an unclean stop. Fails with InvalidArgument when the stored partition count differs
  // from the configured one.
  Status Open();
  // Marks a clean stop (synced). Requests submitted afterwards get Unavailable.
  Status Close();

  // Handles one request and appends exactly one reply with the same id to the replies.
  // Before a successful Open() every request is answered with Unavailable.
  void Submit(RequestId id, ClientRequest request);
  // Called every tick_interval_ms of the Env's monotonic clock.
  void Tick();
  std::vector<ClientReply> TakeReplies();

  ActorId actor_id() const { return store_.actor_id(); }
  const NodeConfig& config() const { return config_; }

 private:
  void Reply(RequestId id, Result<ReplyBody> result);

  NodeConfig config_;
  Env env_;
  LocalStore store_;
  std::vector<ClientReply> replies_;
};

}  // namespace meridian::node
