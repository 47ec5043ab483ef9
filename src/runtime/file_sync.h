// Durable file operations on paths for the runtime's offline tools (backup and restore).
#pragma once

#include <string>

#include "core/status.h"

namespace meridian::runtime {

// IoError "<what>: <strerror(errno)>", from the current errno.
Status ErrnoStatus(const std::string& what);

// Opens `path` with `flags` (O_RDONLY for a file, O_RDONLY | O_DIRECTORY for a directory) and
// fsyncs it: its data, or a directory's entries, are on disk when this returns Ok.
Status SyncPath(const std::string& path, int flags);

}  // namespace meridian::runtime
