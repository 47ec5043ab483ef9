// StoredBuckets: the buckets a shard's storage has ever held data of (objects, hints or strong
// records), persisted, so "does this shard hold data of bucket b" — asked before a bucket's
// consistency or n changes — is answered at once for a bucket it never stored. In storage
// format 2 a bucket's objects are not one key range (storage::SegmentOrderedObjects), so
// without it every such question scanned every object of the shard (0.54 s per million).
//
// The rule that makes a "no" safe: a bucket's record is written before the first batch that
// puts data of the bucket (WriteObservingEngine, which every write passes), in an earlier write
// of the same engine, so whatever survives a crash of the data survives of the record too.
// Records are never removed: a bucket whose data was all deleted stays "may hold", and the
// caller then looks at the data itself.
//
// A data directory written before the records existed has no completion record: Load builds
// the set once by scanning every object, hint and strong record, then writes the completion.
// ON-DISK FORMAT (docs/format/storage.md; node/metadata_keys.h): metadata keys
// "buckets/stored/<bucket>" (empty values) and "buckets/complete" (empty). Not thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "core/status.h"
#include "storage/engine.h"

namespace meridian::node {

class StoredBuckets {
 public:
  // Reads the records from `engine` (logical object keys: the engine above
  // SegmentOrderedObjects), or builds them when the directory has none yet (one full scan,
  // written synced). Returns the buckets found by a build, 0 when the records were there.
  Result<std::uint64_t> Load(storage::Engine& engine);

  // False only when this storage never held data of `bucket`.
  bool MayHold(std::string_view bucket) const;

  // The records to write before `batch`: one per bucket it puts data of that has none yet.
  // Empty (the common case) when every such bucket is known.
  storage::WriteBatch RecordsBefore(const storage::WriteBatch& batch) const;
  // `records` (from RecordsBefore) were written.
  void Written(const storage::WriteBatch& records);

  bool loaded() const { return loaded_; }
  std::size_t size() const { return buckets_.size(); }

 private:
  bool loaded_ = false;
  std::set<std::string, std::less<>> buckets_;
};

}  // namespace meridian::node
