// SegmentOrderedMemoryEngine: a MemoryEngine seen as a node's components see their storage —
// the objects column in segment order (storage::SegmentOrderedObjects, storage format 2) — for
// tests of those components without a Node. DropUnsyncedWrites/MakeAllDurable reach the
// MemoryEngine underneath; bare() is it (physical keys).
#pragma once

#include <string>
#include <string_view>

#include "storage/memory_engine.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::storage::test_support {

namespace internal {
// Base-from-member: the MemoryEngine is built before the wrapper that refers to it.
struct OwnedMemoryEngine {
  explicit OwnedMemoryEngine(MemoryEngineOptions options) : memory(options) {}
  MemoryEngine memory;
};
}  // namespace internal

class SegmentOrderedMemoryEngine final : private internal::OwnedMemoryEngine,
                                         public SegmentOrderedObjects {
 public:
  explicit SegmentOrderedMemoryEngine(MemoryEngineOptions options = {})
      : OwnedMemoryEngine(options), SegmentOrderedObjects(memory) {}

  // Stores `record` at object key `key` as is, even one that does not decode (the wrapper's
  // Write refuses those): a corrupt copy on disk.
  Status PutRecordUnchecked(std::string_view key, std::string_view record) {
    WriteBatch batch;
    batch.Put(Column::kObjectsBySegment, PhysicalObjectKey(key),
              std::string(8, '\0') + std::string(record));
    return memory.Write(batch, {});
  }
  void DropUnsyncedWrites() { memory.DropUnsyncedWrites(); }
  void MakeAllDurable() { memory.MakeAllDurable(); }
  MemoryEngine& bare() { return memory; }
};

}  // namespace meridian::storage::test_support
