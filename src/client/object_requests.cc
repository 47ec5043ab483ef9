#include "client/object_requests.h"

#include <utility>

#include "client/request_options.h"
#include "client/response_parsing.h"
#include "client/url.h"

namespace meridian::client::internal {
namespace {

constexpr std::string_view kContextHeader = "X-Meridian-Context";
constexpr std::string_view kConsistencyHeader = "X-Meridian-Consistency";

Error InvalidArgument(std::string message) {
  Error error;
  error.code = ErrorCode::kInvalidArgument;
  error.message = std::move(message);
  return error;
}

Result<void> CheckObjectName(std::string_view bucket, std::string_view key) {
  if (auto bucket_ok = CheckBucket(bucket); !bucket_ok.ok()) return bucket_ok;
  if (key.empty()) return InvalidArgument("the key is empty");
  return {};
}

}  // namespace

Result<void> CheckBucket(std::string_view bucket) {
  if (!IsValidBucketName(bucket)) {
    return InvalidArgument("invalid bucket name '" + std::string(bucket) +
                           "': 1-64 bytes of [A-Za-z0-9_.-]");
  }
  return {};
}

Result<HttpRequest> BuildGetRequest(std::string_view bucket, std::string_view key,
                                    const GetOptions& options) {
  if (auto valid = CheckObjectName(bucket, key); !valid.ok()) return valid.error();
  auto query = GetQuery(options);
  if (!query.ok()) return query.error();
  HttpRequest request;
  request.method = "GET";
  request.target = ObjectTarget(bucket, key) + *query;
  request.idempotent = true;
  return request;
}

Result<HttpRequest> BuildWriteRequest(std::string_view bucket, std::string_view key,
                                      const std::string_view* value, const WriteOptions& options) {
  if (auto valid = CheckObjectName(bucket, key); !valid.ok()) return valid.error();
  auto query = WriteQuery(options);
  if (!query.ok()) return query.error();
  HttpRequest request;
  request.method = value != nullptr ? "PUT" : "DELETE";
  request.target = ObjectTarget(bucket, key) + *query;
  switch (options.condition) {
    case WriteOptions::Condition::kNone:
      if (!options.context.empty()) request.headers.emplace_back(kContextHeader, options.context);
      break;
    case WriteOptions::Condition::kIfMatch:
      if (options.context.empty()) {
        return InvalidArgument("a write conditional on a version (kIfMatch) needs its context");
      }
      request.headers.emplace_back("If-Match", "\"" + options.context + "\"");
      break;
    case WriteOptions::Condition::kIfAbsent:
    case WriteOptions::Condition::kIfPresent:
      if (!options.context.empty()) request.headers.emplace_back(kContextHeader, options.context);
      request.headers.emplace_back(
          options.condition == WriteOptions::Condition::kIfAbsent ? "If-None-Match" : "If-Match",
          "*");
      break;
  }
  if (value != nullptr) {
    request.headers.emplace_back("Content-Type", "application/octet-stream");
    request.body = std::string(*value);
    request.idempotent = false;  // a repeated blind PUT would add a sibling
  } else {
    // A repeated delete leaves the key deleted, but a repeated conditional one answers 412.
    request.idempotent = options.condition == WriteOptions::Condition::kNone;
  }
  return request;
}

Result<GetResult> ParseGetReply(const HttpResponse& response) {
  if (response.status == 404) {
    auto error = ErrorFromResponse(response);
    // Only the object's own 404 means "missing"; any other 404 is a wrong endpoint.
    if (error.server_code != "not_found") return error;
    GetResult missing;
    missing.context = response.Header(kContextHeader);
    missing.consistency = ParseConsistencyHeader(response.Header(kConsistencyHeader));
    return missing;
  }
  return ParseGetResponse(response);
}

Result<WriteResult> ParseWriteReply(const HttpResponse& response) {
  if (response.status != 204 && response.status != 200) return ErrorFromResponse(response);
  WriteResult result;
  result.context = response.Header(kContextHeader);
  result.durable = response.Header("X-Meridian-Durable") == "true";
  result.consistency = ParseConsistencyHeader(response.Header(kConsistencyHeader));
  return result;
}

}  // namespace meridian::client::internal
