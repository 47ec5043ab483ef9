// LocalStore: this node's identity (node actor id, clean-stop marker, the partition actors
// kept over a clean stop) and its own copy of the objects it holds — reads, and the minting
// of versioned writes (DVV dots under a partition actor, see partition_actors.h) that
// node::Node coordinates.
// It knows nothing of other nodes: node::Node decides which requests reach it.
// It reaches storage, time and randomness only through its Env. Not thread-safe.
//
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
#include "node/partition_actors.h"

namespace meridian::node {

struct LocalStoreConfig {
  std::uint32_t partition_count = 256;     // fixed at creation; power of two
  std::size_t key_bytes_max = 1024;        // longer keys are refused (TooLarge)
  std::size_t value_bytes_max = 8u << 20;  // larger values are refused (TooLarge)
  // Which shard of its node this store is (NodeConfig::shard_index, shard_count); fixed at
  // creation like the partition count.
  std::uint32_t shard_index = 0;
  std::uint32_t shard_count = 1;
};

class LocalStore {
 public:
  // `actors` must outlive the store.
  LocalStore(const LocalStoreConfig& config, Env env, PartitionActors& actors);

  // Loads this node's identity from the metadata column, or creates it on first start:
  // a fresh actor id drawn from Env::random, synced before use. After an unclean stop (no
  // Close) it also draws a new actor id, and every partition actor starts fresh, since dots
  // of lost unsynced writes must never be reused; after a clean stop the partition actors
  // Close saved are restored (and the saved copy deleted, so a crash in this life cannot
  // bring them back). Fails with InvalidArgument when the stored partition count or shard layout
  // differs from the configured one.
  Status Open();
  // Marks a clean stop and saves the partition actors (synced), so the next Open keeps
  // them. No request may be submitted afterwards (they get Unavailable).
  Status Close();

  // InvalidArgument/TooLarge unless the bucket name and key are valid.
  Status ValidateObjectId(const ObjectId& id) const;
  // The storage key of an object (partition-prefixed), and its partition.
  std::string ObjectStorageKey(const ObjectId& id) const;
  std::uint32_t PartitionOfObject(const ObjectId& id) const;

  // This node's stored copy (objects column); nullopt when it has none, Corruption when the
  // stored bytes do not decode.
  Result<std::optional<DvvSet>> Load(std::string_view storage_key);

  // A client write coordinated here: validates the value size and the context (bound to the
  // object's bucket and key), then applies the write to `current` (this node's copy, merged
  // with any hinted copy) by minting the next dot of the partition actor for `role`. The
  // caller must persist the result (into the objects column for kReplica, a hint for
  // kFallback) before minting again for the same key. A write without a context
  // supersedes everything in `current` when `supersede_current` (deletes and overwrites),
  // else it adds a sibling. Nothing is written here.
  // A fresh fixed version for a write this node forwards: a new single-use actor drawn from
  // Env::random and this node's next timestamp.
  FixedVersion DrawFixedVersion();

  struct MintedWrite {
    DvvSet object;
    // With a fixed version: false when `current` already covered its dot (applied here
    // before, or superseded); `object` is then `current`.
    bool applied = true;
    // Covers exactly the request's context plus the new write; empty when another write
    // coordinated here came in between (see WriteReply::context).
    std::string context;
  };
  // With `fixed`, the write is applied under that version instead of minting one
  // (DvvSet::Apply).
  Result<MintedWrite> Mint(const ObjectId& id, MintRole role, std::string_view context,
                           bool tombstone, bool supersede_current, std::string value,
                           std::optional<DvvSet> current, ConflictPolicy policy,
                           const std::optional<FixedVersion>& fixed = std::nullopt);

  // The client's view of an object state: live siblings and a context covering them.
  static GetReply ReplyOf(const ObjectId& id, const std::optional<DvvSet>& object);

  bool opened() const { return opened_; }
  // The node's identity for this data directory (redrawn after an unclean stop). Dots are
  // minted under partition actors, not under it.
  ActorId actor_id() const { return actor_id_; }
  const LocalStoreConfig& config() const { return config_; }

 private:
  LocalStoreConfig config_;
  Env env_;
  PartitionActors& actors_;
  bool opened_ = false;
  ActorId actor_id_ = 0;
  HybridLogicalClock hlc_;
};

}  // namespace meridian::node
