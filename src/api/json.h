// JSON bodies of the HTTP API (docs/api.md) and the base64 used inside them.
// Stateless functions over nlohmann::json, which stays inside json.cc; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/bucket_props.h"
#include "core/status.h"
#include "node/client_request.h"

namespace meridian::api {

// {"error": "<error>", "message": "<message>"}; line breaks in message become spaces.
std::string ErrorJson(std::string_view error, std::string_view message);
// {"status":"read_only","error":"insufficient_storage","reason":...}: GET /health of a node
// that refuses writes.
std::string ReadOnlyHealthJson(std::string_view error, std::string_view reason);

// {"bucket": "<bucket>", "props": {"conflict_policy": "siblings", "dw": 0, "n": 3, "pr": 0,
//  "pw": 0, "r": "quorum", "sloppy_quorum": true, "w": "quorum"}}: quorum values are JSON
// numbers when numeric and strings ("one", "quorum", "all") when symbolic.
std::string BucketPropsJson(std::string_view bucket, const BucketProps& props);

// One entry of GET /v1/buckets; `configured` is false for a bucket listed with the defaults
// because the user may use it, though no properties were ever set for it.
struct ListedBucket {
  std::string bucket;
  BucketProps props;
  bool configured = true;
};
// GET /v1/buckets: {"buckets": [{"bucket": ..., "props": {...}, "sealed": bool, "configured":
// bool}...], "defaults": {...}} with the entries in the order given and props as in
// BucketPropsJson.
std::string BucketListJson(const std::vector<ListedBucket>& buckets, const BucketProps& defaults);

// Parses the body of PUT /v1/buckets/{bucket}: a JSON object whose members are properties
// to change. InvalidArgument (naming the problem) for bad JSON, a non-object, an unknown
// property, a wrong type, or a value that cannot be represented: n a non-negative integer;
// r, w, pr, pw, dw an integer 0..kReplicasMax or "one" | "quorum" | "all"; sloppy_quorum a
// boolean; conflict_policy "siblings" | "lww". Checks across properties and n's range (e.g.
// r <= n) are the node's (ApplyBucketPropsPatch).
Result<BucketPropsPatch> ParseBucketPropsPatch(std::string_view body);

// The 300 body: {"context": "...", "siblings": [{"value": "<base64>", "timestamp_ms": N}...]}
// in the reply's sibling order.
std::string SiblingsJson(const node::GetReply& reply);

// GET /v1/cluster/locate/{bucket}/{key} (fields in this order): {"bucket": "...", "key": "...",
// "partition": P, "n": N, "owner": "id", "pending_owner": "id" | null, "primaries": ["id"...],
// "fallbacks": ["id"...]}. Bytes of the key that are not UTF-8 are replaced (U+FFFD).
std::string KeyLocationJson(const node::LocateReply& reply);

// GET /v1/cluster/local/{bucket}/{key}: {"node": "id", "partition": P, "holds_replica": bool,
// "object": OBJECT | null, "hint": {"targets": ["id"...], "object": OBJECT} | null}, where
// OBJECT is {"clock": [["actor", counter]...], "siblings": [{"actor": "...", "counter": C,
// "timestamp_ms": T, "tombstone": bool, "value_base64": "..."}...]} with actor ids as decimal
// strings (64-bit ids do not fit a JSON number exactly in every client), in dot order.
std::string LocalCopyJson(const node::LocalCopyReply& reply);

// Standard base64 (RFC 4648 section 4) with padding.
std::string Base64Encode(std::string_view bytes);

}  // namespace meridian::api
