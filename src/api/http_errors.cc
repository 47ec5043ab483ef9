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

}  // namespace meridian::api
