#include "storage/memory_engine.h"

#include <utility>

#include "core/assert.h"

namespace meridian::storage {

MemoryEngine::Table& MemoryEngine::TableOf(Column column) {
  const auto index = static_cast<std::size_t>(column);
  MERIDIAN_CHECK(index < live_.size());
  return live_[index];
}

Result<std::optional<std::string>> MemoryEngine::Get(Column column, std::string_view key) {
  const Table& table = TableOf(column);
  const auto it = table.find(key);
  if (it == table.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryEngine::Write(const WriteBatch& batch, const WriteOptions& options) {
  // With group commit nothing is durable before CommitPending, not even a sync=true write.
  const bool synced_now = options.sync && !options_.group_commit;
  if (options_.group_commit && options.sync) sync_pending_ = true;
  for (const WriteBatch::Op& op : batch.ops) {
    Table& table = TableOf(op.column);
    auto it = table.find(op.key);
    std::optional<std::string> previous;
    if (it != table.end()) previous = it->second;
    if (!synced_now) unsynced_.push_back(Undo{op.column, op.key, std::move(previous)});
    if (op.value.has_value()) {
      if (it != table.end()) {
        it->second = *op.value;
      } else {
        table.emplace(op.key, *op.value);
      }
    } else if (it != table.end()) {
      table.erase(it);
    }
  }
  // A synced write makes everything before it durable too, as a WAL fsync does.
  if (synced_now) unsynced_.clear();
  return Status::Ok();
}

Status MemoryEngine::CommitPending() {
  // One fsync of the WAL covers every write so far, including those that did not ask.
  if (options_.group_commit && sync_pending_) unsynced_.clear();
  sync_pending_ = false;
  return Status::Ok();
}

void MemoryEngine::MakeAllDurable() {
  unsynced_.clear();
  sync_pending_ = false;
}

Status MemoryEngine::Scan(Column column, std::string_view begin, std::string_view end,
                          const ScanVisitor& visitor) {
  const Table& table = TableOf(column);
  for (auto it = table.lower_bound(begin); it != table.end(); ++it) {
    if (!end.empty() && std::string_view(it->first) >= end) break;
    if (!visitor(it->first, it->second)) break;
  }
  return Status::Ok();
}

Result<std::uint64_t> MemoryEngine::ApproximateBytes(Column column, std::string_view begin,
                                                     std::string_view end) {
  std::uint64_t bytes = 0;
  const Table& table = TableOf(column);
  for (auto it = table.lower_bound(begin); it != table.end(); ++it) {
    if (!end.empty() && std::string_view(it->first) >= end) break;
    bytes += it->first.size() + it->second.size();
  }
  return bytes;
}

void MemoryEngine::DropUnsyncedWrites() {
  for (auto undo = unsynced_.rbegin(); undo != unsynced_.rend(); ++undo) {
    Table& table = TableOf(undo->column);
    if (undo->previous.has_value()) {
      table.insert_or_assign(std::move(undo->key), std::move(*undo->previous));
    } else {
      table.erase(undo->key);
    }
  }
  unsynced_.clear();
  sync_pending_ = false;
}

}  // namespace meridian::storage
