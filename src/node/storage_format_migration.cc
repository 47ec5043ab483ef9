#include "node/storage_format_migration.h"

#include <string>
#include <utility>

#include "core/byte_codec.h"
#include "node/metadata_keys.h"
#include "storage/segment_ordered_objects.h"

namespace meridian::node {

using storage::Column;

namespace {
constexpr std::uint32_t kFormatBefore = 1;
constexpr std::uint32_t kFormatAfter = 2;  // segment-ordered objects, no index
}  // namespace

Result<StorageMigrationReport> MigrateToSegmentOrderedObjects(storage::Engine& bare,
                                                              std::size_t batch_objects_max) {
  StorageMigrationReport report;
  auto version = bare.Get(Column::kMetadata, kFormatVersionKey);
  if (!version.ok()) return version.status();
  std::uint32_t stored = 0;
  if (version->has_value()) {
    ByteReader reader(**version);
    if (!reader.ReadFixed32(stored) || !reader.empty()) {
      return Status::Corruption("metadata \"format/version\" is not 4 bytes");
    }
  }
  if (stored != kFormatBefore) return report;  // LocalStore::Open wrote or accepted a later one
  report.migrated = true;

  // The objects: each batch moves what it takes (put under the new key, delete the old one).
  // The next batch resumes at the first key not taken: scanning from the start again would
  // step over every deletion made so far (quadratic in the objects).
  std::string resume;
  for (bool more = true; more;) {
    storage::WriteBatch batch;
    std::size_t taken = 0;
    more = false;
    Status bad = Status::Ok();
    MERIDIAN_RETURN_IF_ERROR(
        bare.Scan(Column::kObjects, resume, "", [&](std::string_view key, std::string_view record) {
          if (taken == batch_objects_max) {
            resume = std::string(key);
            more = true;
            return false;
          }
          auto value = storage::PhysicalObjectValue(record);
          if (key.size() < 4 || !value.ok()) {
            bad = Status::Corruption(
                "the migration to storage format 2 cannot move object record " + std::string(key) +
                ": " +
                (value.ok() ? std::string("its key is too short") : value.status().message()));
            return false;
          }
          batch.Put(Column::kObjectsBySegment, storage::PhysicalObjectKey(key),
                    std::move(value).value());
          batch.Delete(Column::kObjects, std::string(key));
          ++taken;
          return true;
        }));
    MERIDIAN_RETURN_IF_ERROR(bad);
    if (batch.empty()) break;
    MERIDIAN_RETURN_IF_ERROR(bare.Write(batch, {}));
    report.objects_moved += taken;
  }
  // The index format 2 has no use for.
  resume.clear();
  for (bool more = true; more;) {
    storage::WriteBatch batch;
    more = false;
    MERIDIAN_RETURN_IF_ERROR(
        bare.Scan(Column::kAntiEntropy, resume, "", [&](std::string_view key, std::string_view) {
          if (batch.ops.size() == batch_objects_max) {
            resume = std::string(key);
            more = true;
            return false;
          }
          batch.Delete(Column::kAntiEntropy, std::string(key));
          return true;
        }));
    if (batch.empty()) break;
    MERIDIAN_RETURN_IF_ERROR(bare.Write(batch, {}));
    report.index_entries_dropped += batch.ops.size();
  }
  storage::WriteBatch done;
  done.Delete(Column::kMetadata, std::string(kAntiEntropyIndexKey));
  std::string encoded;
  PutFixed32(encoded, kFormatAfter);
  done.Put(Column::kMetadata, std::string(kFormatVersionKey), std::move(encoded));
  MERIDIAN_RETURN_IF_ERROR(bare.Write(done, storage::WriteOptions{.sync = true}));
  if (report.objects_moved + report.index_entries_dropped > 0) {
    bare.RequestCompaction().IgnoreError();  // a hint: the old columns' space returns soon
  }
  return report;
}

}  // namespace meridian::node
