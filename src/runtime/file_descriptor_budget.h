// FileDescriptorBudget: how a node shares its file descriptors between RocksDB's open files,
// peer connections and client (HTTP, RESP) connections, so that no kind of user can take the
// descriptors another needs — in particular, idle client connections must never leave RocksDB
// unable to open a file ("Too many open files": writes failing while /health said 200).
//
// At start the server raises its soft RLIMIT_NOFILE to the hard limit, then plans within it:
// a fixed base for the process itself (listeners, logs, RocksDB's WAL, MANIFEST and LOG, the
// event loop, accepting one more connection to refuse it), a share for RocksDB's table files
// (max_open_files), and the rest for connections. Caps that fit are kept as configured; caps
// that do not are lowered (and the plan says which), never raised.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace meridian::runtime {

struct FileDescriptorWants {
  std::size_t http_connections_max = 0;
  std::size_t resp_connections_max = 0;  // 0: no RESP listener
  std::size_t peer_connections_max = 0;  // inbound peer connections (0: standalone)
  std::size_t peer_pending_max = 0;      // unauthenticated inbound peer connections
};

struct FileDescriptorPlan {
  std::uint64_t limit = 0;     // the soft limit the plan fits in
  int rocksdb_open_files = 0;  // RocksDB's max_open_files
  std::size_t http_connections_max = 0;
  std::size_t resp_connections_max = 0;
  std::size_t peer_connections_max = 0;
  std::size_t peer_pending_max = 0;
  std::vector<std::string> lowered;  // "http connections 1024 -> 300", one per lowered cap
};

// Descriptors kept for the process itself, whatever else is planned.
inline constexpr std::uint64_t kFileDescriptorsBase = 128;
// RocksDB's table files: a quarter of what is left after the base, within these bounds.
inline constexpr int kRocksDbOpenFilesMin = 64;
inline constexpr int kRocksDbOpenFilesMax = 4096;

// The plan for `limit` descriptors. InvalidArgument when the limit cannot hold even the base,
// RocksDB's minimum and one connection of each kind wanted (the message says which limit to
// raise and how).
Result<FileDescriptorPlan> PlanFileDescriptors(std::uint64_t limit,
                                               const FileDescriptorWants& wants);

// Raises the soft RLIMIT_NOFILE to the hard limit; returns {previous soft, new soft}.
struct FileDescriptorLimit {
  std::uint64_t previous = 0;
  std::uint64_t current = 0;
};
Result<FileDescriptorLimit> RaiseFileDescriptorLimit();

}  // namespace meridian::runtime
