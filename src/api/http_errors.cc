#include "api/http_errors.h"

#include <string>

#include "api/json.h"

namespace meridian::api {

HttpResponse ErrorResponse(unsigned status, std::string_view error, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = ErrorJson(error, message);
  return response;
}

HttpResponse MethodNotAllowed(std::string_view allow) {
  HttpResponse response = ErrorResponse(405, error_code::kMethodNotAllowed,
                                        "method not allowed; allowed: " + std::string(allow));
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

HttpResponse StatusErrorResponse(const Status& status, std::string_view invalid_argument_error,
                                 std::string_view too_large_error) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ErrorResponse(400, invalid_argument_error, status.message());
    case StatusCode::kTooLarge:
      return ErrorResponse(413, too_large_error, status.message());
    case StatusCode::kNotFound:
      return ErrorResponse(404, error_code::kNotFound, status.message());
    case StatusCode::kCorruption:
    case StatusCode::kIoError:
      return ErrorResponse(503, error_code::kStorageError, status.message());
    case StatusCode::kUnavailable:
    case StatusCode::kTimeout:
      return ErrorResponse(503, error_code::kUnavailable, status.message());
    case StatusCode::kInsufficientStorage:
      return ErrorResponse(507, error_code::kInsufficientStorage, status.message());
    case StatusCode::kFailedPrecondition:
      return ErrorResponse(412, error_code::kPreconditionFailed, status.message());
    case StatusCode::kOk:
    case StatusCode::kInternal:
      break;
  }
  return ErrorResponse(500, error_code::kInternal, status.ToString());
}

}  // namespace meridian::api
