// DropWatchingEngine: an Engine that passes every call through to another and reports each
// object or hint record a write deletes to PartitionActors, which retires the actor of that
// partition and role (see partition_actors.h for why). It is the one place that sees every
// deletion, whichever component makes it (handoff, hint delivery, orphan and partition drops,
// tombstone reaping), so no deletion path can forget to report. Not thread-safe, like the
// engines it wraps; both referents must outlive it.
#pragma once

#include "node/partition_actors.h"
#include "storage/engine.h"

namespace meridian::node {

class DropWatchingEngine final : public storage::Engine {
 public:
  DropWatchingEngine(storage::Engine& inner, PartitionActors& actors)
      : inner_(inner), actors_(actors) {}

  Result<std::optional<std::string>> Get(storage::Column column, std::string_view key) override {
    return inner_.Get(column, key);
  }
  // Retires before writing: a failed write may still have deleted (conservative).
  Status Write(const storage::WriteBatch& batch, const storage::WriteOptions& options) override;
  Status Scan(storage::Column column, std::string_view begin, std::string_view end,
              const storage::ScanVisitor& visitor) override {
    return inner_.Scan(column, begin, end, visitor);
  }
  Status CommitPending() override { return inner_.CommitPending(); }

 private:
  storage::Engine& inner_;
  PartitionActors& actors_;
};

}  // namespace meridian::node
