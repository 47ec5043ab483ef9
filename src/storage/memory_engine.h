// MemoryEngine: an in-memory Engine for tests and the deterministic simulator.
//
// Models durability with the rule RocksDbEngine follows on a PowerLossFileSystem (the power
// cut of docs/design/power_loss.md; tests/storage/engine_conformance_test.cc checks both
// engines against one reference):
//   * without group commit, a sync=true Write makes every write before it durable, as a WAL
//     sync does;
//   * with group commit (MemoryEngineOptions::group_commit, as RocksDbOptions::group_commit),
//     no write is durable before CommitPending(), which makes every write so far durable when
//     one of them since the last commit asked for sync, and changes nothing otherwise;
//   * DropUnsyncedWrites() is the power cut: it discards every write not yet durable;
//   * MakeAllDurable() is what a clean close (with group commit) and the next open do to
//     RocksDB: the close syncs the WAL buffer, and recovery replays the WAL into a synced
//     table file, so everything written before is durable afterwards.
// It never keeps more than the rule says; RocksDB sometimes does (a memtable flush makes the
// unsynced writes it took durable), so what RocksDB keeps is always what this engine would
// keep had a sync come later. Deterministic; not thread-safe.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage/engine.h"

namespace meridian::storage {

struct MemoryEngineOptions {
  // Group commit, with the semantics of RocksDbOptions::group_commit (see above).
  bool group_commit = false;
};

class MemoryEngine final : public Engine {
 public:
  MemoryEngine() = default;
  explicit MemoryEngine(MemoryEngineOptions options) : options_(options) {}

  Result<std::optional<std::string>> Get(Column column, std::string_view key) override;
  Status Write(const WriteBatch& batch, const WriteOptions& options) override;
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visitor) override;
  // Exact: the sum of the keys' and values' sizes.
  Result<std::uint64_t> ApproximateBytes(Column column, std::string_view begin,
                                         std::string_view end) override;
  // Never fails.
  Status CommitPending() override;

  // The power cut: reverts to the last durable state.
  void DropUnsyncedWrites();
  // A clean close or a new open: everything written so far becomes durable.
  void MakeAllDurable();

 private:
  using Table = std::map<std::string, std::string, std::less<>>;
  // What one unsynced op overwrote, so a crash can put it back.
  struct Undo {
    Column column;
    std::string key;
    std::optional<std::string> previous;  // nullopt: the key was absent
  };
  Table& TableOf(Column column);

  MemoryEngineOptions options_;
  // The current state (what Get and Scan see).
  std::array<Table, kColumnCount> live_;
  // Undo records of every op not yet durable, oldest first. The durable state is live_ with
  // these undone in reverse; becoming durable clears the log.
  std::vector<Undo> unsynced_;
  // Group commit only: a write since the last CommitPending asked for sync.
  bool sync_pending_ = false;
};

}  // namespace meridian::storage
