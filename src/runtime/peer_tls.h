// PeerTls: the TLS settings of node-to-node connections (issue 11, item 1): mutual TLS 1.3,
// both ends verified against the cluster's certificate authority, each node's certificate
// naming its node id (runtime/certificates.h).
//
// Contract:
//   * PeerTlsContext::Load reads the CA, this node's certificate chain and key, and checks
//     that the certificate is a node certificate for `node_id` signed by that CA. The context
//     offers and accepts TLS 1.3 only and requires and verifies the other side's certificate.
//   * After a handshake, VerifiedPeerNodeId names the node the other side's certificate was
//     issued to; a client (user) certificate or one without a Meridian identity is refused.
//   * A context is immutable once loaded; a reload (SIGHUP) loads a new one, and connections
//     keep the context they were made with.
// Thread-safety: Load is thread-safe; a context is used on the io thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl
struct ssl_st;  // OpenSSL's SSL

namespace meridian::runtime {

struct PeerTlsFiles {
  std::string ca_file;           // PEM: the cluster's CA certificate
  std::string certificate_file;  // PEM: this node's certificate (chain)
  std::string private_key_file;  // PEM: its key
};

class PeerTlsContext {
 public:
  // InvalidArgument (naming the file and what is wrong) when a file is missing or unreadable,
  // the key does not match, or the certificate is not a node certificate for `node_id`
  // issued by the CA.
  static Result<std::shared_ptr<PeerTlsContext>> Load(const PeerTlsFiles& files,
                                                      std::string_view node_id);
  ~PeerTlsContext();
  PeerTlsContext(const PeerTlsContext&) = delete;
  PeerTlsContext& operator=(const PeerTlsContext&) = delete;

  boost::asio::ssl::context& context() { return *context_; }
  const PeerTlsFiles& files() const { return files_; }
  const std::string& node_id() const { return node_id_; }

 private:
  PeerTlsContext(PeerTlsFiles files, std::string node_id,
                 std::unique_ptr<boost::asio::ssl::context> context);

  PeerTlsFiles files_;
  std::string node_id_;
  std::unique_ptr<boost::asio::ssl::context> context_;
};

// The node id in the verified certificate the other side of `ssl` presented. InvalidArgument
// when verification did not succeed, there is no certificate, or it is not a node certificate.
Result<std::string> VerifiedPeerNodeId(ssl_st* ssl);

}  // namespace meridian::runtime
