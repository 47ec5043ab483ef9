// TLS settings of the client's HTTP transports (HttpConnection and AsyncHttpPool): one
// context per endpoint (TLS 1.2 or later, the CA file or the system's trusted CAs) and, per
// connection, SNI and host-name verification. Include only from the transports' .cc files
// (it brings in Asio's SSL headers).
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/verify_mode.hpp>
#include <memory>
#include <string>

#include "client/transport_errors.h"
#include "meridian/client.h"

namespace meridian::client::internal {

// A client context for an https endpoint: kTlsError when the CA file (options.ca_file) or the
// system's trusted CAs cannot be loaded.
Result<std::unique_ptr<boost::asio::ssl::context>> MakeTlsClientContext(
    const ClientOptions& options);

// Before the handshake of `stream` (an asio::ssl::stream or beast::ssl_stream) to `host`: the
// server name for SNI (host names only, RFC 6066) and, with verify_peer, certificate and
// host-name verification. kTlsError when OpenSSL refuses the server name.
template <typename SslStream>
Result<void> PrepareTlsClientStream(SslStream& stream, const std::string& host, bool verify_peer) {
  namespace ssl = boost::asio::ssl;
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  const bool host_is_address = !ec;
  if (!host_is_address && SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1) {
    return MakeError(ErrorCode::kTlsError, "cannot set TLS server name " + host, false);
  }
  if (verify_peer) {
    stream.set_verify_mode(ssl::verify_peer);
    stream.set_verify_callback(ssl::host_name_verification(host));
  } else {
    stream.set_verify_mode(ssl::verify_none);
  }
  return {};
}

}  // namespace meridian::client::internal
