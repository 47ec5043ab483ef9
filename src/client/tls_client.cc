#include "client/tls_client.h"

#include <exception>

namespace meridian::client::internal {

namespace ssl = boost::asio::ssl;

Result<std::unique_ptr<ssl::context>> MakeTlsClientContext(const ClientOptions& options) {
  std::unique_ptr<ssl::context> context;
  try {
    context = std::make_unique<ssl::context>(ssl::context::tls_client);
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kTlsError, std::string("cannot create TLS context: ") + e.what(),
                     false);
  }
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                           ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                           ssl::context::no_tlsv1_1,
                       ec);
  if (!options.ca_file.empty()) {
    context->load_verify_file(options.ca_file, ec);
    if (ec) {
      return MakeError(ErrorCode::kTlsError,
                       "cannot load CA file " + options.ca_file + ": " + ec.message(), false);
    }
  } else {
    context->set_default_verify_paths(ec);
    if (ec) {
      return MakeError(ErrorCode::kTlsError,
                       "cannot load the system's trusted CAs: " + ec.message(), false);
    }
  }
  if (options.certificate_file.empty() != options.private_key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a client certificate needs both its certificate and key files", false);
  }
  if (!options.certificate_file.empty()) {
    context->use_certificate_chain_file(options.certificate_file, ec);
    if (ec) {
      return MakeError(
          ErrorCode::kTlsError,
          "cannot load the client certificate " + options.certificate_file + ": " + ec.message(),
          false);
    }
    context->use_private_key_file(options.private_key_file, ssl::context::pem, ec);
    if (ec) {
      return MakeError(
          ErrorCode::kTlsError,
          "cannot load the client key " + options.private_key_file + ": " + ec.message(), false);
    }
  }
  return context;
}

}  // namespace meridian::client::internal
