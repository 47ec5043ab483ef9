// Certificates for a Meridian cluster (issue 11): a cluster certificate authority, node
// certificates and client certificates, made with OpenSSL's API (`meridian cert`, `meridian
// dev`, tests), and the identity a certificate carries.
//
// Identity: a node certificate carries the subject alternative name
// URI:urn:meridian:node:<node id>, a client certificate URI:urn:meridian:user:<user name>;
// each carries exactly one such name (and the name as its common name, for people). Node
// certificates are good for TLS servers and clients (they accept and dial peers, and may serve
// HTTPS); client certificates for TLS clients only. Keys are ECDSA P-256; signatures SHA-256.
//
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct x509_st;  // OpenSSL's X509

namespace meridian::runtime {

inline constexpr std::string_view kNodeIdentityPrefix = "urn:meridian:node:";
inline constexpr std::string_view kUserIdentityPrefix = "urn:meridian:user:";

enum class CertificateKind : std::uint8_t { kAuthority, kNode, kClient };

// A certificate and its private key, both PEM.
struct CertificateAndKey {
  std::string certificate_pem;
  std::string private_key_pem;
};

struct CertificateRequest {
  CertificateKind kind = CertificateKind::kNode;  // kNode or kClient
  // Node id (cluster::ValidateNodeId) or user name (same characters, 1..128 bytes).
  std::string name;
  // Extra names a node certificate is valid for as a server (HTTPS): DNS names or IP
  // addresses. Not allowed on client certificates.
  std::vector<std::string> hosts;
  std::uint32_t valid_days = 825;
};

// A self-signed certificate authority named "<cluster_name> Meridian CA".
// InvalidArgument for an empty name or 0 days; Internal when OpenSSL fails.
Result<CertificateAndKey> CreateCertificateAuthority(std::string_view cluster_name,
                                                     std::uint32_t valid_days);

// A node or client certificate signed by `authority`. InvalidArgument for a bad name, host,
// kind or a malformed authority; Internal when OpenSSL fails.
Result<CertificateAndKey> IssueCertificate(const CertificateAndKey& authority,
                                           const CertificateRequest& request);

// The identity a certificate carries.
struct CertificateIdentity {
  CertificateKind kind = CertificateKind::kNode;  // kNode or kClient
  std::string name;
};

// The one Meridian identity in `certificate`'s subject alternative names. InvalidArgument
// when it has none, more than one, or one that is not a valid name. Does not verify the
// certificate (the TLS handshake does).
Result<CertificateIdentity> IdentityOfCertificate(x509_st* certificate);
// The same for the first certificate of a PEM text.
Result<CertificateIdentity> IdentityOfCertificatePem(std::string_view pem);

// The files `meridian cert` keeps in a directory: ca.crt + ca.key, node-<id>.crt + .key,
// client-<user>.crt + .key.
struct CertificatePaths {
  std::string certificate;
  std::string private_key;
};
CertificatePaths CertificatePathsIn(const std::string& dir, CertificateKind kind,
                                    std::string_view name);
// The CA kept in `dir`. InvalidArgument naming the file when it is missing or unreadable.
Result<CertificateAndKey> ReadAuthority(const std::string& dir);
// Writes both files (the key with mode 0600), refusing to replace either.
Status WriteCertificateAndKey(const CertificatePaths& paths, const CertificateAndKey& pair);

// Writes `contents` to `path` (mode 0600 when `secret`, else 0644), refusing to replace an
// existing file. InvalidArgument when it exists, IoError otherwise, naming the path.
Status WriteNewFile(const std::string& path, std::string_view contents, bool secret);

}  // namespace meridian::runtime
