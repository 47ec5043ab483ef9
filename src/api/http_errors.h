// Error responses of the HTTP API: the `error` codes of docs/api.md ("Errors" table) and
// the JSON body every error carries: {"error": "<code>", "message": "<one line>"}.
// Stateless functions; thread-safe.
#pragma once

#include <string_view>

#include "core/status.h"

#include "api/http_message.h"

namespace meridian::api {

// The `error` strings of docs/api.md. WIRE FORMAT: clients match on them.
namespace error_code {
inline constexpr std::string_view kInvalidBucket = "invalid_bucket";
inline constexpr std::string_view kInvalidKey = "invalid_key";
inline constexpr std::string_view kInvalidContext = "invalid_context";
inline constexpr std::string_view kInvalidProps = "invalid_props";
inline constexpr std::string_view kInvalidParameter = "invalid_parameter";
inline constexpr std::string_view kBadRequest = "bad_request";
inline constexpr std::string_view kNotFound = "not_found";
inline constexpr std::string_view kMethodNotAllowed = "method_not_allowed";
inline constexpr std::string_view kKeyTooLarge = "key_too_large";
inline constexpr std::string_view kValueTooLarge = "value_too_large";
inline constexpr std::string_view kBodyTooLarge = "body_too_large";
inline constexpr std::string_view kInternal = "internal";
inline constexpr std::string_view kUnavailable = "unavailable";
inline constexpr std::string_view kStorageError = "storage_error";
inline constexpr std::string_view kInsufficientStorage = "insufficient_storage";
inline constexpr std::string_view kPreconditionFailed = "precondition_failed";
inline constexpr std::string_view kUnauthenticated = "unauthenticated";
inline constexpr std::string_view kForbidden = "forbidden";
}  // namespace error_code

// A JSON error response. Line breaks in `message` are replaced by spaces (one line).
HttpResponse ErrorResponse(unsigned status, std::string_view error, std::string_view message);

// The response for a non-OK Status from the node. What InvalidArgument and TooLarge mean
// depends on the request, so the caller names their `error` codes; the rest is fixed:
// NotFound 404, Corruption/IoError 503 storage_error, Unavailable/Timeout 503 unavailable,
// anything else 500 internal.
HttpResponse StatusErrorResponse(const Status& status, std::string_view invalid_argument_error,
                                 std::string_view too_large_error);

// 405 with `Allow: <allow>`.
HttpResponse MethodNotAllowed(std::string_view allow);

}  // namespace meridian::api
