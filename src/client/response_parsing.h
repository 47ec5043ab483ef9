// Decoding of the server's replies (docs/api.md): base64 sibling values, the 300 JSON body,
// error bodies, bucket properties. Pure functions; thread-safe.
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

// A 200 (one value) or 300 (siblings JSON) reply of GET /v1/kv/... as a GetResult.
Result<GetResult> ParseGetResponse(const HttpResponse& response);

// The body of GET/PUT /v1/buckets/{bucket}: {"bucket": "...", "props": {...}}.
Result<BucketProps> ParseBucketPropsBody(std::string_view body);

// The JSON body of PUT /v1/buckets/{bucket} for `update`.
std::string BucketPropsUpdateBody(const BucketPropsUpdate& update);

}  // namespace meridian::client::internal
