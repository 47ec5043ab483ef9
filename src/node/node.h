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
#include <optional>
#include <string>
#include <vector>

#include "core/dvv_set.h"
#include "core/hlc.h"
#include "core/status.h"
#include "core/version_vector.h"
#include "node/client_request.h"
#include "node/env.h"

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

  // Loads this node's identity from the metadata column, or creates it on first start:
  // a fresh actor id drawn from Env::random, synced before use. After an unclean stop (no
  // Close) it also draws a new actor id, since dots of lost unsynced writes must never be
  // reused. Fails with InvalidArgument when the stored partition count differs from the
  // configured one.
  Status Open();
  // Marks a clean stop (synced), so the next Open keeps the actor id. No request may be
  // submitted afterwards (they get Unavailable).
  Status Close();

  // Handles one request and appends exactly one reply with the same id to the replies.
  // Before a successful Open() every request is answered with Unavailable.
  void Submit(RequestId id, ClientRequest request);
  // Called every tick_interval_ms. No step-1 component has a deadline, so it does nothing
  // yet; it exists for the timers of later steps (gossip, hinted handoff, request timeouts).
  void Tick();
  std::vector<ClientReply> TakeReplies();

  ActorId actor_id() const { return actor_id_; }
  const NodeConfig& config() const { return config_; }

 private:
  Result<ReplyBody> Handle(const GetRequest& request);
  Result<ReplyBody> Handle(PutRequest request);
  Result<ReplyBody> Handle(const DeleteRequest& request);
  Result<ReplyBody> Handle(const GetBucketRequest& request);
  Result<ReplyBody> Handle(const SetBucketRequest& request);
  // Put and Delete: validates, mints the dot and persists the new object state.
  Result<ReplyBody> HandleWrite(const ObjectId& id, std::string_view context,
                                const WriteOptions& options, bool tombstone, std::string value);

  Status ValidateObjectId(const ObjectId& id) const;
  // The object's key in the objects column (partition-prefixed).
  std::string ObjectStorageKey(const ObjectId& id) const;
  // nullopt when the object was never written; Corruption when its bytes do not decode.
  Result<std::optional<DvvSet>> LoadObject(const std::string& storage_key);
  // The defaults when the bucket was never configured.
  Result<BucketProps> LoadBucketProps(std::string_view bucket);

  NodeConfig config_;
  Env env_;
  bool opened_ = false;
  ActorId actor_id_ = 0;
  HybridLogicalClock hlc_;
  std::vector<ClientReply> replies_;
};

}  // namespace meridian::node
