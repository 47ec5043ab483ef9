#include "client/transport_errors.h"

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <utility>

namespace meridian::client::internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Error MakeError(ErrorCode code, std::string message, bool retryable) {
  Error error;
  error.code = code;
  error.message = std::move(message);
  error.retryable = retryable;
  return error;
}

Error TransportError(std::string_view what, const boost::system::error_code& ec,
                     const std::string& endpoint_text) {
  const std::string detail = std::string(what) + " " + endpoint_text + ": " + ec.message();
  if (ec == beast::error::timeout) {
    return MakeError(ErrorCode::kTimeout, "timed out: " + detail, true);
  }
  if (ec.category() == asio::error::get_ssl_category() ||
      ec.category() == asio::ssl::error::get_stream_category()) {
    return MakeError(ErrorCode::kTlsError, "TLS failure: " + detail, false);
  }
  if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
      ec != http::error::end_of_stream && ec != http::error::partial_message) {
    return MakeError(ErrorCode::kProtocolError, "bad reply: " + detail, false);
  }
  return MakeError(ErrorCode::kConnectionFailed, "connection failed: " + detail, true);
}

}  // namespace meridian::client::internal
