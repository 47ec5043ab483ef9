#include "runtime/file_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace meridian::runtime {

Status ErrnoStatus(const std::string& what) {
  return Status::IoError(what + ": " + std::strerror(errno));
}

Status SyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open " + path);
  const int synced = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (synced != 0) {
    errno = saved;
    return ErrnoStatus("fsync " + path);
  }
  return Status::Ok();
}

Result<std::string> AbsoluteDirectoryPath(const std::string& path, const std::string& what) {
  if (path.empty()) return Status::InvalidArgument(what + " is empty");
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error).lexically_normal();
  if (error) return Status::InvalidArgument("bad " + what + ": " + error.message());
  if (!absolute.has_filename() && absolute.has_relative_path()) absolute = absolute.parent_path();
  return absolute.string();
}

}  // namespace meridian::runtime
