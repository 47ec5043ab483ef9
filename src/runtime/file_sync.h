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

// `path` made absolute and lexically normal, without a trailing separator ("/var/lib/m/" ->
// "/var/lib/m"), so that "<it>.suffix" names a sibling of the directory, never an entry inside
// it. InvalidArgument naming `what` when it is empty or cannot be made absolute.
Result<std::string> AbsoluteDirectoryPath(const std::string& path, const std::string& what);

}  // namespace meridian::runtime
