#include "runtime/peer_tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/ssl/context.hpp>
#include <utility>

#include "runtime/certificates.h"

namespace meridian::runtime {

namespace ssl = boost::asio::ssl;

PeerTlsContext::PeerTlsContext(PeerTlsFiles files, std::string node_id,
                               std::unique_ptr<ssl::context> context)
    : files_(std::move(files)), node_id_(std::move(node_id)), context_(std::move(context)) {}

PeerTlsContext::~PeerTlsContext() = default;

Result<std::shared_ptr<PeerTlsContext>> PeerTlsContext::Load(const PeerTlsFiles& files,
                                                             std::string_view node_id) {
  if (files.ca_file.empty() || files.certificate_file.empty() || files.private_key_file.empty()) {
    return Status::InvalidArgument("peer TLS needs a CA file, a certificate file and a key file");
  }
  auto context = std::make_unique<ssl::context>(ssl::context::tls);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1) {
    ERR_clear_error();
    return Status::Internal("cannot restrict peer TLS to version 1.3");
  }
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  boost::system::error_code ec;
  context->load_verify_file(files.ca_file, ec);
  if (ec) {
    ERR_clear_error();
    return Status::InvalidArgument("peer TLS CA file " + files.ca_file + ": " + ec.message());
  }
  context->use_certificate_chain_file(files.certificate_file, ec);
  if (ec) {
    ERR_clear_error();
    return Status::InvalidArgument("peer TLS certificate file " + files.certificate_file + ": " +
                                   ec.message());
  }
  context->use_private_key_file(files.private_key_file, ssl::context::pem, ec);
  if (ec) {
    ERR_clear_error();
    return Status::InvalidArgument("peer TLS key file " + files.private_key_file + ": " +
                                   ec.message());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("peer TLS key file " + files.private_key_file +
                                   " does not belong to the certificate in " +
                                   files.certificate_file);
  }
  X509* own = SSL_CTX_get0_certificate(native);
  Result<CertificateIdentity> identity = IdentityOfCertificate(own);
  if (!identity.ok()) {
    return Status::InvalidArgument("peer TLS certificate file " + files.certificate_file + ": " +
                                   identity.status().message());
  }
  if (identity->kind != CertificateKind::kNode || identity->name != node_id) {
    return Status::InvalidArgument(
        "peer TLS certificate file " + files.certificate_file + " is for " +
        (identity->kind == CertificateKind::kNode ? "node '" : "user '") + identity->name +
        "', not for this node '" + std::string(node_id) +
        "' (make one with: meridian cert node --name " + std::string(node_id) + ")");
  }
  // The node's own certificate must verify against the CA it will check its peers with:
  // otherwise every peer would refuse it, which is better said now.
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> verify(X509_STORE_CTX_new(),
                                                                         X509_STORE_CTX_free);
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(native, &chain);
  if (!verify ||
      X509_STORE_CTX_init(verify.get(), SSL_CTX_get_cert_store(native), own, chain) != 1) {
    ERR_clear_error();
    return Status::Internal("cannot verify the peer TLS certificate");
  }
  if (X509_verify_cert(verify.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(verify.get());
    ERR_clear_error();
    return Status::InvalidArgument("peer TLS certificate file " + files.certificate_file +
                                   " does not verify against the CA in " + files.ca_file + ": " +
                                   X509_verify_cert_error_string(error));
  }
  context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return std::shared_ptr<PeerTlsContext>(
      new PeerTlsContext(files, std::string(node_id), std::move(context)));
}

Result<std::string> VerifiedPeerNodeId(ssl_st* ssl) {
  if (ssl == nullptr) return Status::InvalidArgument("no TLS session");
  X509* certificate = SSL_get0_peer_certificate(ssl);
  if (certificate == nullptr) return Status::InvalidArgument("the peer presented no certificate");
  if (const long verified = SSL_get_verify_result(ssl); verified != X509_V_OK) {
    return Status::InvalidArgument(std::string("the peer's certificate did not verify: ") +
                                   X509_verify_cert_error_string(verified));
  }
  Result<CertificateIdentity> identity = IdentityOfCertificate(certificate);
  if (!identity.ok()) return identity.status();
  if (identity->kind != CertificateKind::kNode) {
    return Status::InvalidArgument("the peer presented a client certificate (user '" +
                                   identity->name + "'), not a node certificate");
  }
  return identity->name;
}

}  // namespace meridian::runtime
