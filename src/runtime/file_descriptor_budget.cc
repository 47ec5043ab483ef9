#include "runtime/file_descriptor_budget.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace meridian::runtime {
namespace {

constexpr rlim_t kUnlimitedTarget = 1u << 20;

// Lowers `cap` to at most `fits` (at least 1), noting it in the plan.
std::size_t Fit(std::size_t cap, std::size_t fits, const char* what, FileDescriptorPlan& plan) {
  if (cap <= fits) return cap;
  const std::size_t lowered = std::max<std::size_t>(fits, 1);
  plan.lowered.push_back(std::string(what) + " " + std::to_string(cap) + " -> " +
                         std::to_string(lowered));
  return lowered;
}

}  // namespace

Result<FileDescriptorPlan> PlanFileDescriptors(std::uint64_t limit,
                                               const FileDescriptorWants& wants) {
  const std::uint64_t kinds =
      1 + (wants.resp_connections_max > 0 ? 1 : 0) + (wants.peer_connections_max > 0 ? 2 : 0);
  const std::uint64_t needed = kFileDescriptorsBase + kRocksDbOpenFilesMin + kinds;
  if (limit < needed) {
    return Status::InvalidArgument("the file-descriptor limit (" + std::to_string(limit) +
                                   ") is too low for a node: it "
                                   "needs at least " +
                                   std::to_string(needed) +
                                   " (raise it with `ulimit -n` or "
                                   "LimitNOFILE= in the service unit; 65536 is a good value)");
  }
  FileDescriptorPlan plan;
  plan.limit = limit;
  const std::uint64_t available = limit - kFileDescriptorsBase;
  plan.rocksdb_open_files = static_cast<int>(
      std::clamp<std::uint64_t>(available / 4, kRocksDbOpenFilesMin, kRocksDbOpenFilesMax));
  std::uint64_t left = available - static_cast<std::uint64_t>(plan.rocksdb_open_files);

  // Peers first (a node locked out of its cluster is worse than a busy front end), but at
  // most a quarter of what is left when that does not hold them all.
  if (wants.peer_connections_max > 0) {
    const std::uint64_t peers_want = wants.peer_connections_max + wants.peer_pending_max;
    if (peers_want <= std::max<std::uint64_t>(left / 4, 2)) {
      plan.peer_connections_max = wants.peer_connections_max;
      plan.peer_pending_max = wants.peer_pending_max;
    } else {
      const std::uint64_t peers = std::max<std::uint64_t>(left / 4, 2);
      // Unauthenticated handshakes get at most an eighth of the peers' share (at least one).
      plan.peer_pending_max = Fit(wants.peer_pending_max,
                                  static_cast<std::size_t>(std::max<std::uint64_t>(peers / 8, 1)),
                                  "pending peer handshakes", plan);
      plan.peer_connections_max =
          Fit(wants.peer_connections_max, static_cast<std::size_t>(peers - plan.peer_pending_max),
              "peer connections", plan);
    }
    left -= std::min<std::uint64_t>(left, plan.peer_connections_max + plan.peer_pending_max);
  }
  // Clients: when HTTP and RESP do not both fit, RESP keeps at most half of the rest.
  const std::uint64_t resp_share = std::min<std::uint64_t>(wants.resp_connections_max, left / 2);
  plan.http_connections_max =
      Fit(wants.http_connections_max, static_cast<std::size_t>(left - resp_share),
          "HTTP connections", plan);
  if (wants.resp_connections_max > 0) {
    plan.resp_connections_max =
        Fit(wants.resp_connections_max, static_cast<std::size_t>(left - plan.http_connections_max),
            "RESP connections", plan);
  }
  return plan;
}

Result<FileDescriptorLimit> RaiseFileDescriptorLimit() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Status::IoError(std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  FileDescriptorLimit result{.previous = limit.rlim_cur, .current = limit.rlim_cur};
  if (limit.rlim_cur == limit.rlim_max) return result;
  struct rlimit raised = limit;
  // An unlimited hard limit still stops at the kernel's nr_open (1048576 by default).
  raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? kUnlimitedTarget : limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    return Status::IoError(std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  }
  result.current = raised.rlim_cur;
  return result;
}

}  // namespace meridian::runtime
