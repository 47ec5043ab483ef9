// Conversions between client requests/replies (node/client_request.h) and the peer messages
// that carry them when a node forwards a request to the key's owner (proto/peer.proto).
// Pure functions.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "node/client_request.h"
#include "proto/peer.pb.h"

namespace meridian::node {

// "get", "put", "delete" (for logs).
const char* OpName(proto::KvRequest::Op op);

// Only object requests (get, put, delete) are forwarded; requires one of those alternatives.
proto::KvRequest EncodeKvRequest(std::uint64_t request_id, const ClientRequest& request,
                                 std::uint32_t hops);
// InvalidArgument for an unknown op.
Result<ClientRequest> DecodeKvRequest(const proto::KvRequest& message);

proto::KvReply EncodeKvReply(std::uint64_t request_id, const ClientReply& reply);
// The reply for client request `client_id`; `op` selects the reply body type. A status code
// outside StatusCode's range becomes Internal.
ClientReply DecodeKvReply(RequestId client_id, proto::KvRequest::Op op,
                          const proto::KvReply& message);

}  // namespace meridian::node
