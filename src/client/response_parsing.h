// Decoding of the server's replies (docs/api.md): base64 sibling values, the 300 JSON body,
// error bodies, bucket properties, the X-Meridian-Consistency header. Pure functions;
// thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "client/http_connection.h"
#include "meridian/client.h"

namespace meridian::client::internal {

// Strict RFC 4648 base64 with padding; nullopt for any malformed input.
std::optional<std::string> Base64Decode(std::string_view text);

// The Error for a reply whose status is not a success: the `error` and `message` fields of
// its JSON body when present, else a message built from the status.
Error ErrorFromResponse(const HttpResponse& response);

// The X-Meridian-Consistency header ("n=3; r=2; replies=2; primaries=2; fallbacks=0;
// behind=0", or with w, durable, hinted for a write): `r`/`w` fill `required`; fields a newer
// server adds are ignored; fields not sent stay 0. nullopt when empty or unreadable (a part
// that is not NAME=NUMBER, or no `n` or no `r`/`w`).
std::optional<Consistency> ParseConsistencyHeader(std::string_view text);

// A 200 (one value) or 300 (siblings JSON) reply of GET /v1/kv/... as a GetResult.
Result<GetResult> ParseGetResponse(const HttpResponse& response);

// The body of GET/PUT /v1/buckets/{bucket}: {"bucket": "...", "props": {...}}. Quorum
// settings arrive as numbers or as "one" | "quorum" | "all" and become text ("2", "quorum").
// conflict_policy and dw are required; the fields older servers do not send (n, r, w, pr,
// pw, sloppy_quorum) keep BucketProps' initial values when absent. A wrong type is
// kProtocolError.
Result<BucketProps> ParseBucketPropsBody(std::string_view body);

// The body of GET /v1/buckets: {"buckets": [{"bucket", "props", "sealed", "configured"}...]};
// each entry's props as in ParseBucketPropsBody. A missing or wrong field is kProtocolError.
Result<std::vector<BucketListing>> ParseBucketListBody(std::string_view body);

// The JSON body of PUT /v1/buckets/{bucket} for `update`: numeric quorum text as a JSON
// number, symbols as strings. Requires every quorum setting to be IsQuorumText.
std::string BucketPropsUpdateBody(const BucketPropsUpdate& update);

}  // namespace meridian::client::internal
