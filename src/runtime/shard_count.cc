#include "runtime/shard_count.h"

#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <thread>

#include "runtime/backup_manifest.h"

namespace meridian::runtime {

unsigned AvailableCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<unsigned>(count);
  }
  return std::max(std::thread::hardware_concurrency(), 1U);
}

unsigned ResolveShardCount(unsigned configured, const std::string& data_dir,
                           std::uint32_t partition_count, unsigned cpus) {
  if (configured != 0) return configured;
  const std::filesystem::path dir(data_dir);
  std::error_code error;
  if (std::filesystem::exists(dir / "db" / "CURRENT", error)) {
    unsigned count = 1;
    while (std::filesystem::exists(dir / ShardDatabaseDirectory(count) / "CURRENT", error)) {
      ++count;
    }
    return count;
  }
  return std::clamp(cpus, 1U, std::max<std::uint32_t>(partition_count, 1));
}

}  // namespace meridian::runtime
