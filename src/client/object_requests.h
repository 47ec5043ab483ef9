// Building object requests (GET/PUT/DELETE /v1/kv/...) and reading their replies: shared by
// the blocking Client and the AsyncClient so both check and encode exactly alike. Pure
// functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "client/http_connection.h"
#include "meridian/client.h"

namespace meridian::client::internal {

// kInvalidArgument for a bucket name that is not 1-64 bytes of [A-Za-z0-9_.-].
Result<void> CheckBucket(std::string_view bucket);

// A GET of the object; kInvalidArgument for a bad bucket, an empty key or a bad option.
Result<HttpRequest> BuildGetRequest(std::string_view bucket, std::string_view key,
                                    const GetOptions& options);

// A PUT (with `value` as the body) or, when `value` is null, a DELETE of the object;
// kInvalidArgument as for BuildGetRequest.
Result<HttpRequest> BuildWriteRequest(std::string_view bucket, std::string_view key,
                                      const std::string_view* value, const WriteOptions& options);

// The reply to BuildGetRequest: 200/300 as values, the object's own 404 as found == false.
Result<GetResult> ParseGetReply(const HttpResponse& response);

// The reply to BuildWriteRequest: 200/204 with the new context.
Result<WriteResult> ParseWriteReply(const HttpResponse& response);

}  // namespace meridian::client::internal
