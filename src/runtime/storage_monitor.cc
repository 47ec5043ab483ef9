#include "runtime/storage_monitor.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace meridian::runtime {
namespace {

constexpr std::uint64_t kMarginMax = 64ull << 20;

std::string Mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

Result<StorageSpace> ProbeFileSystem(const std::string& path) {
  struct statvfs info {};
  if (statvfs(path.c_str(), &info) != 0) {
    return Status::IoError("statvfs " + path + ": " + std::strerror(errno));
  }
  const std::uint64_t block = info.f_frsize != 0 ? info.f_frsize : info.f_bsize;
  return StorageSpace{.free_bytes = static_cast<std::uint64_t>(info.f_bavail) * block,
                      .total_bytes = static_cast<std::uint64_t>(info.f_blocks) * block};
}

StorageMonitor::StorageMonitor(std::uint64_t reserve_bytes, StorageSpaceProbe probe,
                               storage::Engine& engine)
    : probe_(std::move(probe)), engine_(engine) {
  stats_.reserve_bytes = reserve_bytes;
}

std::uint64_t StorageMonitor::margin() const {
  return std::min(stats_.reserve_bytes / 10, kMarginMax);
}

Status StorageMonitor::Check(bool try_recover) {
  if (Result<StorageSpace> space = probe_(); space.ok()) {
    stats_.space = *space;
    probed_ = true;
  } else {
    ++stats_.probe_failures;
    spdlog::warn("cannot read the free space of the data directory: {}", space.status().ToString());
  }
  const std::uint64_t free = stats_.space.free_bytes;
  const std::uint64_t reserve = stats_.reserve_bytes;
  if (probed_) {
    if (!stats_.below_reserve && free < reserve) {
      stats_.below_reserve = true;
      spdlog::error(
          "free disk space {} is below the reserve of {}: refusing new data (writes answer 507 "
          "Insufficient Storage; reads go on) until at least {} is free",
          Mib(free), Mib(reserve), Mib(reserve + margin()));
    } else if (stats_.below_reserve && free >= reserve + margin()) {
      stats_.below_reserve = false;
      spdlog::info("free disk space {} is back above the reserve of {}: taking writes again",
                   Mib(free), Mib(reserve));
    }
  }

  Status failure = engine_.Failure();
  if (!failure.ok() && try_recover && !stats_.below_reserve) {
    if (Status recovered = engine_.Recover(); recovered.ok()) {
      failure = Status::Ok();
    } else if (recovered.message() != last_recovery_error_) {
      last_recovery_error_ = recovered.message();  // logged once per distinct reason
      spdlog::warn("storage is still failed ({}); recovery is tried again every second",
                   recovered.ToString());
    }
  }
  if (!failure.ok() && !stats_.engine_failed) {
    spdlog::error("storage failed ({}): refusing new data until it recovers", failure.ToString());
  } else if (failure.ok() && stats_.engine_failed) {
    ++stats_.recoveries;  // by Recover here, or by RocksDB itself once space returned
    last_recovery_error_.clear();
    spdlog::info("storage recovered: taking writes again");
  }
  stats_.engine_failed = !failure.ok();

  if (!failure.ok()) {
    const StatusCode code = failure.code() == StatusCode::kInsufficientStorage
                                ? StatusCode::kInsufficientStorage
                                : StatusCode::kIoError;
    condition_ = Status(code, "this node's storage failed (" + failure.message() +
                                  "); it takes no new data until it recovers (reads go on)");
  } else if (stats_.below_reserve) {
    condition_ = Status::InsufficientStorage(
        "this node's disk is nearly full: " + Mib(free) + " free is below the reserve of " +
        Mib(reserve) + " (storage_reserve_bytes); it takes no new data until " +
        Mib(reserve + margin()) + " is free (reads go on)");
  } else {
    condition_ = Status::Ok();
  }
  return condition_;
}

}  // namespace meridian::runtime
