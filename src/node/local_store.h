// LocalStore: this node's own copy of the objects it holds — reads and versioned writes (it
// mints DVV dots under the node's actor id) against the local engine.
// It knows nothing of other nodes: node::Node decides which requests reach it.
// It reaches storage, time and randomness only through its Env. Not thread-safe.
//
// A reply for a write is produced only after the write reached the engine (synced first when
// the request or bucket asked for dw >= 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
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

struct LocalStoreConfig {
  std::uint32_t partition_count = 256;     // fixed at creation; power of two
  std::size_t key_bytes_max = 1024;        // longer keys are refused (TooLarge)
  std::size_t value_bytes_max = 8u << 20;  // larger values are refused (TooLarge)
};

class LocalStore {
 public:
  // Bucket properties are cluster-wide configuration kept by the caller (node::Node keeps
  // them in the gossiped cluster state); writes read them through this lookup.
  using BucketPropsLookup = std::function<BucketProps(std::string_view bucket)>;

  LocalStore(const LocalStoreConfig& config, Env env, BucketPropsLookup bucket_props);

  // Loads this node's identity from the metadata column, or creates it on first start:
  // a fresh actor id drawn from Env::random, synced before use. After an unclean stop (no
  // Close) it also draws a new actor id, since dots of lost unsynced writes must never be
  // reused. Fails with InvalidArgument when the stored partition count differs from the
  // configured one.
  Status Open();
  // Marks a clean stop (synced), so the next Open keeps the actor id. No request may be
  // submitted afterwards (they get Unavailable).
  Status Close();

  // Object and bucket requests. Before a successful Open() each gets Unavailable.
  Result<ReplyBody> Handle(const GetRequest& request);
  Result<ReplyBody> Handle(PutRequest request);
  Result<ReplyBody> Handle(const DeleteRequest& request);

  // InvalidArgument/TooLarge unless the bucket name and key are valid.
  Status ValidateObjectId(const ObjectId& id) const;
  // The storage key of an object (partition-prefixed), and its partition.
  std::string ObjectStorageKey(const ObjectId& id) const;
  std::uint32_t PartitionOfObject(const ObjectId& id) const;

  bool opened() const { return opened_; }
  ActorId actor_id() const { return actor_id_; }
  const LocalStoreConfig& config() const { return config_; }

 private:
  // Put and Delete: validates, mints the dot and persists the new object state.
  Result<ReplyBody> HandleWrite(const ObjectId& id, std::string_view context,
                                const WriteOptions& options, bool tombstone, std::string value);

  // nullopt when the object was never written; Corruption when its bytes do not decode.
  Result<std::optional<DvvSet>> LoadObject(const std::string& storage_key);
  // The defaults when the bucket was never configured.

  LocalStoreConfig config_;
  BucketPropsLookup bucket_props_;
  Env env_;
  bool opened_ = false;
  ActorId actor_id_ = 0;
  HybridLogicalClock hlc_;
};

}  // namespace meridian::node
