#include "node/local_store.h"

#include <algorithm>
#include <utility>

#include "core/assert.h"
#include "core/byte_codec.h"
#include "core/causal_context.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "node/metadata_keys.h"
#include "node/shard_layout.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

using storage::Column;

// A random source that returns only zeros is broken; give up instead of spinning.
constexpr int kActorIdDrawAttemptsMax = 16;

// The fixed-width little-endian value stored at a metadata key; nullopt when absent,
// Corruption (naming the key) when the stored bytes have another width.
Result<std::optional<std::uint64_t>> ReadMetadataFixed(storage::Engine& engine,
                                                       std::string_view key, std::size_t width) {
  auto bytes = engine.Get(Column::kMetadata, key);
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return std::optional<std::uint64_t>();
  ByteReader reader(**bytes);
  std::uint64_t value = 0;
  std::uint32_t value32 = 0;
  const bool read = width == 4 ? reader.ReadFixed32(value32) : reader.ReadFixed64(value);
  if (!read || !reader.empty()) {
    return Status::Corruption("metadata \"" + std::string(key) + "\" is " +
                              std::to_string((*bytes)->size()) + " bytes, expected " +
                              std::to_string(width));
  }
  return std::optional<std::uint64_t>(width == 4 ? value32 : value);
}

// Whether this release reads a data directory of storage format `version`: FailedPrecondition
// naming both versions, the release that wrote it when known, and what to do otherwise.
Status CheckStorageFormat(storage::Engine& engine, std::uint64_t version) {
  const std::string reads = "this release (Meridian " MERIDIAN_VERSION ") reads formats " +
                            std::to_string(kMinStorageFormatVersion) + " to " +
                            std::to_string(kStorageFormatVersion);
  if (version > kStorageFormatVersion) {
    auto release = engine.Get(Column::kMetadata, kFormatReleaseKey);
    if (!release.ok()) return release.status();
    const std::string written_by =
        release->has_value() ? "Meridian " + **release : std::string("a newer Meridian release");
    return Status::FailedPrecondition(
        "the data directory has storage format version " + std::to_string(version) +
        ", newer than " + reads + "; it was last opened by " + written_by +
        ". Run that release or a newer one on it: once a release has written a newer storage "
        "format, older releases cannot read it (docs/operations.md, \"Upgrades\")");
  }
  if (version < kMinStorageFormatVersion) {
    return Status::FailedPrecondition("the data directory has storage format version " +
                                      std::to_string(version) + ", older than " + reads +
                                      ". Open it with an older release first, which migrates it "
                                      "(docs/operations.md, \"Upgrades\")");
  }
  return Status::Ok();
}

std::string EncodeFixed32(std::uint32_t value) {
  std::string out;
  PutFixed32(out, value);
  return out;
}

std::string EncodeFixed64(std::uint64_t value) {
  std::string out;
  PutFixed64(out, value);
  return out;
}

}  // namespace

LocalStore::LocalStore(const LocalStoreConfig& config, Env env, PartitionActors& actors)
    : config_(config), env_(env), actors_(actors) {
  MERIDIAN_CHECK(env_.clock != nullptr);
  MERIDIAN_CHECK(env_.random != nullptr);
  MERIDIAN_CHECK(env_.engine != nullptr);
}

Status LocalStore::Open() {
  if (!IsValidPartitionCount(config_.partition_count)) {
    return Status::InvalidArgument("partition_count=" + std::to_string(config_.partition_count) +
                                   " is not a power of two between 1 and 2^20");
  }
  storage::Engine& engine = *env_.engine;
  // Everything is read and checked before anything is written, so a refused Open leaves
  // the data directory untouched. What is missing is then written in one synced batch.
  storage::WriteBatch missing;

  auto version = ReadMetadataFixed(engine, kFormatVersionKey, 4);
  if (!version.ok()) return version.status();
  if (!version->has_value()) {
    missing.Put(Column::kMetadata, std::string(kFormatVersionKey),
                EncodeFixed32(kStorageFormatVersion));
  } else if (Status readable = CheckStorageFormat(engine, **version); !readable.ok()) {
    return readable;
  }
  // (Formats from kMinStorageFormatVersion up to this one are migrated here, in `missing`, and
  // the version raised; there is none to migrate yet: this release reads and writes format 1.)
  missing.Put(Column::kMetadata, std::string(kFormatReleaseKey), std::string(MERIDIAN_VERSION));

  auto stored_count = ReadMetadataFixed(engine, kPartitionCountKey, 4);
  if (!stored_count.ok()) return stored_count.status();
  if (!stored_count->has_value()) {
    missing.Put(Column::kMetadata, std::string(kPartitionCountKey),
                EncodeFixed32(config_.partition_count));
  } else if (**stored_count != config_.partition_count) {
    return Status::InvalidArgument(
        "the data directory was created with partition_count=" + std::to_string(**stored_count) +
        " but the configuration says partition_count=" + std::to_string(config_.partition_count) +
        "; the partition count is fixed when a node's data is created");
  }

  auto stored_layout = ReadMetadataFixed(engine, kShardLayoutKey, 8);
  if (!stored_layout.ok()) return stored_layout.status();
  // With more than one shard, bit 31 marks the placement of partitions by contiguous ranges
  // (node::ShardOfPartition); development builds of 0.2.0 before it placed them modulo the
  // shard count, and their directories are refused rather than misread.
  const std::uint64_t configured_layout =
      ShardLayoutValue(config_.shard_index, config_.shard_count);
  // A directory written before shards existed (a format version but no layout) is shard 0 of 1.
  const std::uint64_t layout =
      stored_layout->value_or(version->has_value() ? std::uint64_t{1} << 32 : configured_layout);
  if (ShardLayoutCount(layout) > 1 && (layout & kShardLayoutRangePlacement) == 0) {
    return Status::InvalidArgument(
        "the data directory was created by a development build of 0.2.0 that placed partitions "
        "on shards by another rule; this build cannot read it (recreate it, or restore a "
        "backup)");
  }
  if (layout != configured_layout) {
    const auto describe = [](std::uint64_t encoded) {
      return "shard " + std::to_string(ShardLayoutIndex(encoded)) + " of " +
             std::to_string(ShardLayoutCount(encoded));
    };
    return Status::InvalidArgument(
        "the data directory was created as " + describe(layout) +
        " but the configuration makes it " + describe(configured_layout) +
        "; the shard count is fixed when a node's data is created (shards=" +
        std::to_string(ShardLayoutCount(layout)) + " opens it)");
  }
  if (!stored_layout->has_value()) {
    missing.Put(Column::kMetadata, std::string(kShardLayoutKey), EncodeFixed64(layout));
  }

  auto stored_actor = ReadMetadataFixed(engine, kActorIdKey, 8);
  if (!stored_actor.ok()) return stored_actor.status();
  ActorId actor_id = stored_actor->value_or(0);
  if (stored_actor->has_value() && actor_id == 0) {
    return Status::Corruption("metadata \"node/actor_id\" is 0");
  }
  auto open_marker = engine.Get(Column::kMetadata, kOpenMarkerKey);
  if (!open_marker.ok()) return open_marker.status();
  const bool unclean_stop = open_marker->has_value();
  if (!stored_actor->has_value() || unclean_stop) {
    // No identity (a first start, or a wiped data directory), or the last run crashed and
    // may have lost unsynced writes whose dots it could otherwise mint again. A fresh id
    // means this node never re-issues a dot it minted in a previous life.
    actor_id = 0;
    for (int attempt = 0; attempt < kActorIdDrawAttemptsMax && actor_id == 0; ++attempt) {
      actor_id = env_.random->NextU64();
    }
    if (actor_id == 0) return Status::Internal("the random source returned only zeros");
    missing.Put(Column::kMetadata, std::string(kActorIdKey), EncodeFixed64(actor_id));
  }

  // The partition actors a clean Close saved: kept, unless this start follows a crash.
  actors_.Clear();
  auto saved_actors = engine.Get(Column::kMetadata, kPartitionActorsKey);
  if (!saved_actors.ok()) return saved_actors.status();
  if (saved_actors->has_value()) {
    if (!unclean_stop) MERIDIAN_RETURN_IF_ERROR(actors_.Decode(**saved_actors));
    missing.Delete(Column::kMetadata, std::string(kPartitionActorsKey));
  }

  missing.Put(Column::kMetadata, std::string(kOpenMarkerKey), std::string("1"));
  if (!missing.empty()) {
    // Synced before use, so every dot acknowledged under this id names an identity that
    // survives a crash (the node keeps its id for as long as it keeps its data).
    MERIDIAN_RETURN_IF_ERROR(engine.Write(missing, storage::WriteOptions{.sync = true}));
  }
  actor_id_ = actor_id;
  opened_ = true;
  return Status::Ok();
}

Status LocalStore::Close() {
  if (!opened_) return Status::Ok();
  opened_ = false;
  storage::WriteBatch batch;
  batch.Put(Column::kMetadata, std::string(kPartitionActorsKey), actors_.Encode());
  batch.Delete(Column::kMetadata, std::string(kOpenMarkerKey));
  return env_.engine->Write(batch, storage::WriteOptions{.sync = true});
}

Status LocalStore::ValidateObjectId(const ObjectId& id) const {
  MERIDIAN_RETURN_IF_ERROR(ValidateBucketName(id.bucket));
  return ValidateKey(id.key, config_.key_bytes_max);
}

std::uint32_t LocalStore::PartitionOfObject(const ObjectId& id) const {
  return PartitionOf(ObjectHash(id.bucket, id.key), config_.partition_count);
}

std::string LocalStore::ObjectStorageKey(const ObjectId& id) const {
  return storage::EncodeObjectKey(PartitionOfObject(id), id.bucket, id.key);
}

Result<std::optional<DvvSet>> LocalStore::Load(std::string_view storage_key) {
  auto bytes = env_.engine->Get(Column::kObjects, storage_key);
  if (!bytes.ok()) return bytes.status();
  if (!bytes->has_value()) return std::optional<DvvSet>();
  auto object = DecodeObject(**bytes);
  if (!object.ok()) {
    return Status::Corruption("stored object is unreadable: " + object.status().message());
  }
  return std::optional<DvvSet>(std::move(object).value());
}

GetReply LocalStore::ReplyOf(const ObjectId& id, const std::optional<DvvSet>& object) {
  GetReply reply;
  if (!object.has_value()) return reply;  // never written: no history
  for (const Sibling& sibling : object->siblings()) {
    if (!sibling.tombstone) reply.values.push_back(SiblingValue{sibling.value, sibling.timestamp});
  }
  reply.found = !reply.values.empty();
  // Also for a tombstone: the client can then write after the delete without a sibling.
  reply.context = EncodeContext(object->clock(), id.bucket, id.key);
  return reply;
}

FixedVersion LocalStore::DrawFixedVersion() {
  FixedVersion fixed;
  do {
    fixed.actor = env_.random->NextU64();
  } while (fixed.actor == 0);
  fixed.timestamp = hlc_.Now(env_.clock->WallMillis());
  return fixed;
}

Result<LocalStore::MintedWrite> LocalStore::Mint(const ObjectId& id, MintRole role,
                                                 std::string_view context, bool tombstone,
                                                 bool supersede_current, std::string value,
                                                 std::optional<DvvSet> current,
                                                 ConflictPolicy policy,
                                                 const std::optional<FixedVersion>& fixed) {
  if (!opened_) return Status::Unavailable("the node is not open");
  // Validation first: a refused request writes nothing.
  MERIDIAN_RETURN_IF_ERROR(ValidateObjectId(id));
  if (value.size() > config_.value_bytes_max) {
    return Status::TooLarge("value is " + std::to_string(value.size()) + " bytes; the limit is " +
                            std::to_string(config_.value_bytes_max));
  }
  auto client_context = DecodeContext(context, id.bucket, id.key);
  if (!client_context.ok()) return client_context.status();

  MintedWrite minted;
  minted.object = current.value_or(DvvSet{});
  DvvSet& object = minted.object;
  // A delete (or an overwrite) without a context supersedes everything the node holds now.
  VersionVector write_context =
      supersede_current && context.empty() ? object.clock() : std::move(client_context).value();

  const std::uint64_t wall_ms = env_.clock->WallMillis();
  if (fixed.has_value()) {
    // Every node that applies it makes the same sibling; this node's later writes still get
    // later timestamps.
    MERIDIAN_CHECK(fixed->actor != 0);
    hlc_.Observe(fixed->timestamp, wall_ms);
    const Dot dot{fixed->actor, kSingleUseCounter};
    minted.applied =
        object.Apply(write_context, dot, fixed->timestamp, tombstone, std::move(value), policy);
    write_context.Advance(dot.actor, dot.counter);
    minted.context = EncodeContext(write_context, id.bucket, id.key);
    return minted;
  }
  // Timestamps of stored siblings may come from before a restart (or a clock that has since
  // stepped back); observing them makes this write's timestamp exceed them, so under lww a
  // later write on this node always wins.
  for (const Sibling& sibling : object.siblings()) hlc_.Observe(sibling.timestamp, wall_ms);
  const HlcTimestamp timestamp = hlc_.Now(wall_ms);
  const ActorId actor = actors_.Current(PartitionOfObject(id), role);
  const Dot dot =
      object.Update(write_context, actor, timestamp, tombstone, std::move(value), policy);

  // The dot directly follows the context's entry for this node only when no other write
  // coordinated here came in between; then the context plus the dot is exactly "what the
  // client saw and its own write". Otherwise the advanced vector would also cover the
  // intervening write, which the client never saw, so no context is returned.
  if (dot.counter == write_context.Get(actor) + 1) {
    write_context.Advance(actor, dot.counter);
    minted.context = EncodeContext(write_context, id.bucket, id.key);
  }
  return minted;
}

}  // namespace meridian::node
