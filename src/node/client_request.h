// Client requests a Node accepts and the replies it produces. Requests are validated at
// the edge (api/) for syntax; the Node validates semantics and limits again, so any
// transport that reaches it gets the same errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/bucket_props.h"
#include "core/hlc.h"
#include "core/object_id.h"
#include "core/status.h"

namespace meridian::node {

// Chosen by the submitter; echoed in the reply. Unique among requests in flight.
using RequestId = std::uint64_t;

struct WriteOptions {
  std::optional<std::uint32_t> dw;  // overrides the bucket's dw for this request
};

struct GetRequest {
  ObjectId id;
};
struct PutRequest {
  ObjectId id;
  std::string value;
  std::string context;  // token from a previous get; empty = blind write (may create a sibling)
  WriteOptions options;
};
// A delete writes a tombstone. With an empty context it supersedes everything the node
// currently holds for the key ("delete what is there now").
struct DeleteRequest {
  ObjectId id;
  std::string context;
  WriteOptions options;
};
struct GetBucketRequest {
  std::string bucket;
};
struct SetBucketRequest {
  std::string bucket;
  BucketPropsPatch patch;
};

using ClientRequest =
    std::variant<GetRequest, PutRequest, DeleteRequest, GetBucketRequest, SetBucketRequest>;

struct SiblingValue {
  std::string value;
  HlcTimestamp timestamp;
};

// `found` is false for a missing or deleted key; `context` is then still set when the key
// has a history (a tombstone), so a client can write after the delete without a sibling.
struct GetReply {
  bool found = false;
  std::vector<SiblingValue> values;  // live siblings, in dot order; size > 1 means siblings
  std::string context;               // covers every sibling returned
};
// `context` covers exactly the request's context plus the new write, so passing it to the
// next write overwrites this one. It is empty when no such token exists: when another write
// coordinated by the same node came in after the request's context was issued, the only
// token covering the new write would also cover that intervening write, which the client has
// not seen (and a later write with it would silently discard it). Then the client should get
// the key again before its next write.
struct WriteReply {
  std::string context;
  bool durable = false;  // synced to disk before the reply
};
struct BucketReply {
  std::string bucket;
  BucketProps props;
};

using ReplyBody = std::variant<GetReply, WriteReply, BucketReply>;

struct ClientReply {
  RequestId id = 0;
  Status status;  // body is meaningful only when status.ok()
  ReplyBody body;
};

}  // namespace meridian::node
