// The client's transport failures as client::Error values, shared by the blocking
// HttpConnection and the pooled AsyncHttpPool.
#pragma once

#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>

#include "meridian/client.h"

namespace meridian::client::internal {

// The User-Agent both HTTP transports send.
inline constexpr std::string_view kUserAgent = "meridian-client";

Error MakeError(ErrorCode code, std::string message, bool retryable);

// A transport-level failure of `what` ("connect to", "send to", ...) at `endpoint_text`:
// kTimeout (retryable) for Beast's timeouts, kTlsError for TLS failures, kProtocolError for
// malformed replies, kConnectionFailed (retryable) otherwise.
Error TransportError(std::string_view what, const boost::system::error_code& ec,
                     const std::string& endpoint_text);

}  // namespace meridian::client::internal
