// What the migration from storage format 1 to 2 costs at a node's first start of 0.2.0
// (node/storage_format_migration.h; docs/benchmarks.md "Storage format 2"): a RocksDB data
// directory of KEYS objects of 100-byte values (plus their anti-entropy index entries, as
// development builds kept them) in format 1's layout is closed, reopened, and migrated; prints
// the wall and CPU time and the rate. Then times the worst case of the bucket-data check in
// format 2 (a scan of every partition's objects for a bucket that has none).
// Usage: storage_migration_cost [--keys N] [--dir PATH]
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "core/byte_codec.h"
#include "core/object_codec.h"
#include "node/metadata_keys.h"
#include "node/storage_format_migration.h"
#include "storage/key_encoding.h"
#include "storage/rocksdb_engine.h"
#include "storage/segment_ordered_objects.h"

namespace {

using namespace meridian;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::unique_ptr<storage::RocksDbEngine> Open(const std::string& path) {
  auto opened = storage::RocksDbEngine::Open(path, storage::RocksDbOptions{});
  if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
  return std::move(opened).value();
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t keys = 1'000'000;
  std::string dir = "/tmp/meridian-migration-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--keys") keys = std::stoull(argv[i + 1]);
    if (flag == "--dir") dir = argv[i + 1];
  }
  std::filesystem::remove_all(dir);
  {
    auto engine = Open(dir);
    storage::WriteBatch batch;
    std::string version;
    PutFixed32(version, 1);
    batch.Put(storage::Column::kMetadata, std::string(node::kFormatVersionKey), version);
    for (std::uint64_t i = 0; i < keys; ++i) {
      DvvSet object;
      object.Update({}, 42, HlcTimestamp::FromParts(1'000 + i, 0), false, std::string(100, 'v'),
                    ConflictPolicy::kSiblings);
      const std::string key = storage::EncodeObjectKey(static_cast<std::uint32_t>(i % 256), "bench",
                                                       fmt::format("key:{:012}", i));
      batch.Put(storage::Column::kObjects, key, EncodeObject(object));
      batch.Put(storage::Column::kAntiEntropy, storage::EncodeAaeIndexKey(i % 256, 0, key),
                std::string(8, 'h'));
      if (batch.ops.size() >= 2'000) {
        if (!engine->Write(batch, {}).ok()) throw std::runtime_error("write");
        batch = {};
      }
    }
    if (!engine->Write(batch, storage::WriteOptions{.sync = true}).ok()) {
      throw std::runtime_error("write");
    }
  }
  auto engine = Open(dir);
  const auto started = std::chrono::steady_clock::now();
  const double cpu_before = CpuSeconds();
  auto report = node::MigrateToSegmentOrderedObjects(*engine);
  const double cpu = CpuSeconds() - cpu_before;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!report.ok()) throw std::runtime_error(report.status().ToString());
  fmt::print(
      "migrated {} objects and dropped {} index entries in {:.2f} s ({:.2f} s CPU, "
      "{:.0f} objects/s)\n",
      report->objects_moved, report->index_entries_dropped, wall, cpu,
      static_cast<double>(report->objects_moved) / wall);
  // The worst case of "does this shard hold data of bucket B" (a consistency or n change of a
  // bucket it holds none of): every partition's objects scanned, each key's bucket compared.
  {
    storage::SegmentOrderedObjects objects(*engine);
    const auto scan_started = std::chrono::steady_clock::now();
    std::uint64_t scanned = 0;
    bool found = false;
    for (std::uint32_t partition = 0; partition < 256 && !found; ++partition) {
      std::string prefix = storage::EncodeObjectKey(partition, "absent", "k");
      prefix.pop_back();
      const storage::KeyRange range = storage::PartitionRange(partition);
      const Status status = objects.Scan(storage::Column::kObjects, range.begin, range.end,
                                         [&](std::string_view key, std::string_view) {
                                           ++scanned;
                                           found = key.starts_with(prefix);
                                           return !found;
                                         });
      if (!status.ok()) throw std::runtime_error(status.ToString());
    }
    const double scan_wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - scan_started).count();
    fmt::print("a bucket check that finds nothing scanned {} objects in {:.2f} s\n", scanned,
               scan_wall);
  }
  engine.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
