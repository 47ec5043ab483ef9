// MemoryEngine: an in-memory Engine for tests and the deterministic simulator.
// Models durability: writes are "unsynced" until a sync=true Write (which syncs everything
// before it, as a WAL sync does); DropUnsyncedWrites() simulates a crash by discarding
// every write not yet synced. Deterministic; not thread-safe.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage/engine.h"

namespace meridian::storage {

class MemoryEngine final : public Engine {
 public:
  Result<std::optional<std::string>> Get(Column column, std::string_view key) override;
  Status Write(const WriteBatch& batch, const WriteOptions& options) override;
  Status Scan(Column column, std::string_view begin, std::string_view end,
              const ScanVisitor& visitor) override;

  // Crash model: reverts to the state as of the last synced write.
  void DropUnsyncedWrites();

 private:
  using Table = std::map<std::string, std::string, std::less<>>;
  // What one unsynced op overwrote, so a crash can put it back.
  struct Undo {
    Column column;
    std::string key;
    std::optional<std::string> previous;  // nullopt: the key was absent
  };
  Table& TableOf(Column column);

  // The current state (what Get and Scan see).
  std::array<Table, kColumnCount> live_;
  // Undo records of every op since the last sync, oldest first. The synced state is live_
  // with these undone in reverse; a sync=true Write clears the log.
  std::vector<Undo> unsynced_;
};

}  // namespace meridian::storage
