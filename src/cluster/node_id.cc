#include "cluster/node_id.h"

namespace meridian::cluster {

Status ValidateNodeId(std::string_view id) {
  if (id.empty()) return Status::InvalidArgument("node id is empty");
  if (id.size() > kNodeIdBytesMax) {
    return Status::InvalidArgument("node id is longer than " + std::to_string(kNodeIdBytesMax) +
                                   " bytes");
  }
  for (char c : id) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
    if (!allowed) return Status::InvalidArgument("node id may contain only A-Z a-z 0-9 _ . : -");
  }
  return Status::Ok();
}

}  // namespace meridian::cluster
