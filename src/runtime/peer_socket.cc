#include "runtime/peer_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace meridian::runtime {
namespace {

Status SetIntOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    const int error = errno;
    return Status::IoError(std::string("setsockopt ") + what + "=" + std::to_string(value) + ": " +
                           std::strerror(error));
  }
  return Status::Ok();
}

}  // namespace

Status ApplyPeerSocketOptions(int native_handle, const PeerSocketOptions& options) {
  MERIDIAN_RETURN_IF_ERROR(SetIntOption(native_handle, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"));
  MERIDIAN_RETURN_IF_ERROR(
      SetIntOption(native_handle, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"));
  MERIDIAN_RETURN_IF_ERROR(SetIntOption(native_handle, IPPROTO_TCP, TCP_KEEPIDLE,
                                        static_cast<int>(options.keepalive_idle_s),
                                        "TCP_KEEPIDLE"));
  MERIDIAN_RETURN_IF_ERROR(SetIntOption(native_handle, IPPROTO_TCP, TCP_KEEPINTVL,
                                        static_cast<int>(options.keepalive_interval_s),
                                        "TCP_KEEPINTVL"));
  MERIDIAN_RETURN_IF_ERROR(SetIntOption(native_handle, IPPROTO_TCP, TCP_KEEPCNT,
                                        static_cast<int>(options.keepalive_probes), "TCP_KEEPCNT"));
  return SetIntOption(native_handle, IPPROTO_TCP, TCP_USER_TIMEOUT,
                      static_cast<int>(options.user_timeout_ms), "TCP_USER_TIMEOUT");
}

}  // namespace meridian::runtime
