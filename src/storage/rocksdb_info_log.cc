#include "storage/rocksdb_info_log.h"

#include <rocksdb/env.h>

#include <sys/time.h>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>

namespace meridian::storage {
namespace {

class InfoLog final : public rocksdb::Logger {
 public:
  InfoLog(std::string db_path, std::size_t bytes_max)
      : Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
        path_(std::move(db_path) + "/LOG"),
        bytes_max_(bytes_max) {}
  ~InfoLog() override {
    std::lock_guard lock(mutex_);
    if (file_ != nullptr) std::fclose(file_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[4096];
    const int prefix = Timestamp(line, sizeof(line));
    const int written = std::vsnprintf(line + prefix, sizeof(line) - prefix - 1, format, ap);
    if (written < 0) return;
    std::size_t length = std::min(
        sizeof(line) - 2, static_cast<std::size_t>(prefix) + static_cast<std::size_t>(written));
    if (length == 0 || line[length - 1] != '\n') line[length++] = '\n';
    std::lock_guard lock(mutex_);
    if (file_ == nullptr || bytes_ >= bytes_max_) Reopen();
    if (file_ == nullptr) return;  // cannot write now: the line is dropped
    if (std::fwrite(line, 1, length, file_) != length || std::fflush(file_) != 0) {
      std::fclose(file_);  // a full disk: start over with a fresh file next time
      file_ = nullptr;
      return;
    }
    bytes_ += length;
  }
  void Flush() override {
    std::lock_guard lock(mutex_);
    if (file_ != nullptr) std::fflush(file_);
  }

 private:
  static int Timestamp(char* out, std::size_t size) {
    struct timeval now {};
    gettimeofday(&now, nullptr);
    struct tm parts {};
    localtime_r(&now.tv_sec, &parts);
    return std::snprintf(out, size, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", parts.tm_year + 1900,
                         parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                         static_cast<long>(now.tv_usec));
  }

  void Reopen() {
    if (file_ != nullptr) {
      std::fclose(file_);
      file_ = nullptr;
      std::error_code ignored;
      std::filesystem::rename(path_, path_ + ".old", ignored);
    }
    file_ = std::fopen(path_.c_str(), "a");
    if (file_ == nullptr) return;
    std::error_code ignored;
    const auto size = std::filesystem::file_size(path_, ignored);
    bytes_ = ignored ? 0 : static_cast<std::size_t>(size);
    if (bytes_ >= bytes_max_) {  // an old large LOG: rotate it at once
      std::fclose(file_);
      std::filesystem::rename(path_, path_ + ".old", ignored);
      file_ = std::fopen(path_.c_str(), "a");
      bytes_ = 0;
    }
  }

  const std::string path_;
  const std::size_t bytes_max_;
  std::mutex mutex_;
  std::FILE* file_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewRocksDbInfoLog(const std::string& db_path,
                                                   std::size_t bytes_max) {
  return std::make_shared<InfoLog>(db_path, bytes_max);
}

}  // namespace meridian::storage
