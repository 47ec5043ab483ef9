#include "runtime/certificates.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "api/access_control.h"
#include "cluster/node_id.h"

namespace meridian::runtime {

namespace {

struct FreeKey {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct FreeX509 {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct FreeBio {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct FreeNames {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, FreeKey>;
using X509Ptr = std::unique_ptr<X509, FreeX509>;
using BioPtr = std::unique_ptr<BIO, FreeBio>;

// OpenSSL's queued errors as text (and the queue cleared).
std::string OpenSslErrors() {
  std::string text;
  while (unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text.empty() ? "unknown OpenSSL error" : text;
}

Status OpenSslFailure(std::string_view what) {
  return Status::Internal(std::string(what) + ": " + OpenSslErrors());
}

Status ValidateName(CertificateKind kind, std::string_view name) {
  if (kind == CertificateKind::kNode) return cluster::ValidateNodeId(name);
  return api::ValidateUserName(name);
}

// DNS names and IP addresses: letters, digits, '.', '-', ':' (IPv6), '*' (wildcard DNS).
Status ValidateHost(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return Status::InvalidArgument("host must be 1..253 bytes");
  }
  for (char c : host) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' || c == '*';
    if (!allowed) {
      return Status::InvalidArgument("host '" + std::string(host) +
                                     "' may contain only letters, digits, '.', '-', ':' and '*'");
    }
  }
  return Status::Ok();
}

bool IsIpAddress(std::string_view host) {
  ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(std::string(host).c_str());
  if (parsed == nullptr) {
    ERR_clear_error();
    return false;
  }
  ASN1_OCTET_STRING_free(parsed);
  return true;
}

Result<KeyPtr> NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslFailure("cannot generate a P-256 key");
  return key;
}

Status AddExtension(X509* certificate, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
  if (extension == nullptr) return OpenSslFailure("cannot make extension '" + value + "'");
  const int added = X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) return OpenSslFailure("cannot add extension '" + value + "'");
  return Status::Ok();
}

// A certificate with a random 127-bit serial, the validity window, `key`'s public key and the
// subject CN=common_name; not yet signed or extended.
Result<X509Ptr> NewCertificate(EVP_PKEY* key, const std::string& common_name,
                               std::uint32_t valid_days) {
  X509Ptr certificate(X509_new());
  if (!certificate) return OpenSslFailure("X509_new");
  if (X509_set_version(certificate.get(), X509_VERSION_3) != 1) {
    return OpenSslFailure("X509_set_version");
  }
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(certificate.get())) == nullptr) {
    return OpenSslFailure("cannot draw a serial number");
  }
  // Valid from an hour ago: clocks of the cluster's machines may be a little apart.
  if (X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(certificate.get()),
                      static_cast<long>(valid_days) * 24 * 3600) == nullptr) {
    return OpenSslFailure("cannot set the validity");
  }
  if (X509_set_pubkey(certificate.get(), key) != 1) return OpenSslFailure("X509_set_pubkey");
  X509_NAME* subject = X509_get_subject_name(certificate.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return OpenSslFailure("cannot set the common name");
  }
  return certificate;
}

Result<std::string> CertificatePem(X509* certificate) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) {
    return OpenSslFailure("cannot encode a certificate");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Result<std::string> PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslFailure("cannot encode a private key");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Result<X509Ptr> ParseCertificate(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr certificate(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!certificate) {
    ERR_clear_error();
    return Status::InvalidArgument("not a PEM certificate");
  }
  return certificate;
}

Result<KeyPtr> ParsePrivateKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  KeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    ERR_clear_error();
    return Status::InvalidArgument("not a PEM private key");
  }
  return key;
}

Result<CertificateAndKey> Sign(X509* certificate, EVP_PKEY* signer, EVP_PKEY* key) {
  if (X509_sign(certificate, signer, EVP_sha256()) <= 0) {
    return OpenSslFailure("cannot sign the certificate");
  }
  Result<std::string> certificate_pem = CertificatePem(certificate);
  if (!certificate_pem.ok()) return certificate_pem.status();
  Result<std::string> key_pem = PrivateKeyPem(key);
  if (!key_pem.ok()) return key_pem.status();
  return CertificateAndKey{std::move(*certificate_pem), std::move(*key_pem)};
}

}  // namespace

Result<CertificateAndKey> CreateCertificateAuthority(std::string_view cluster_name,
                                                     std::uint32_t valid_days) {
  if (cluster_name.empty()) return Status::InvalidArgument("cluster name is empty");
  if (valid_days == 0) return Status::InvalidArgument("validity must be at least 1 day");
  Result<KeyPtr> key = NewKey();
  if (!key.ok()) return key.status();
  Result<X509Ptr> certificate =
      NewCertificate(key->get(), std::string(cluster_name) + " Meridian CA", valid_days);
  if (!certificate.ok()) return certificate.status();
  X509* self = certificate->get();
  if (X509_set_issuer_name(self, X509_get_subject_name(self)) != 1) {
    return OpenSslFailure("X509_set_issuer_name");
  }
  MERIDIAN_RETURN_IF_ERROR(AddExtension(self, self, NID_basic_constraints, "critical,CA:TRUE"));
  MERIDIAN_RETURN_IF_ERROR(AddExtension(self, self, NID_key_usage, "critical,keyCertSign,cRLSign"));
  MERIDIAN_RETURN_IF_ERROR(AddExtension(self, self, NID_subject_key_identifier, "hash"));
  return Sign(self, key->get(), key->get());
}

Result<CertificateAndKey> IssueCertificate(const CertificateAndKey& authority,
                                           const CertificateRequest& request) {
  if (request.kind != CertificateKind::kNode && request.kind != CertificateKind::kClient) {
    return Status::InvalidArgument("only node and client certificates are issued");
  }
  if (request.valid_days == 0) return Status::InvalidArgument("validity must be at least 1 day");
  MERIDIAN_RETURN_IF_ERROR(ValidateName(request.kind, request.name));
  if (request.kind == CertificateKind::kClient && !request.hosts.empty()) {
    return Status::InvalidArgument("client certificates carry no hosts");
  }
  for (const std::string& host : request.hosts) MERIDIAN_RETURN_IF_ERROR(ValidateHost(host));
  Result<X509Ptr> ca_certificate = ParseCertificate(authority.certificate_pem);
  if (!ca_certificate.ok()) return Status::InvalidArgument("authority: not a PEM certificate");
  Result<KeyPtr> ca_key = ParsePrivateKey(authority.private_key_pem);
  if (!ca_key.ok()) return Status::InvalidArgument("authority: not a PEM private key");
  if (X509_check_private_key(ca_certificate->get(), ca_key->get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("authority: the key does not belong to the certificate");
  }

  Result<KeyPtr> key = NewKey();
  if (!key.ok()) return key.status();
  Result<X509Ptr> certificate = NewCertificate(key->get(), request.name, request.valid_days);
  if (!certificate.ok()) return certificate.status();
  X509* issuer = ca_certificate->get();
  X509* leaf = certificate->get();
  if (X509_set_issuer_name(leaf, X509_get_subject_name(issuer)) != 1) {
    return OpenSslFailure("X509_set_issuer_name");
  }
  const bool node = request.kind == CertificateKind::kNode;
  std::string names =
      "URI:" + std::string(node ? kNodeIdentityPrefix : kUserIdentityPrefix) + request.name;
  for (const std::string& host : request.hosts) {
    names += (IsIpAddress(host) ? ",IP:" : ",DNS:") + host;
  }
  MERIDIAN_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_basic_constraints, "critical,CA:FALSE"));
  MERIDIAN_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_key_usage, "critical,digitalSignature"));
  MERIDIAN_RETURN_IF_ERROR(
      AddExtension(leaf, issuer, NID_ext_key_usage, node ? "serverAuth,clientAuth" : "clientAuth"));
  MERIDIAN_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_subject_alt_name, names));
  MERIDIAN_RETURN_IF_ERROR(AddExtension(leaf, issuer, NID_authority_key_identifier, "keyid"));
  return Sign(leaf, ca_key->get(), key->get());
}

Result<CertificateIdentity> IdentityOfCertificate(x509_st* certificate) {
  if (certificate == nullptr) return Status::InvalidArgument("no certificate");
  std::unique_ptr<GENERAL_NAMES, FreeNames> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr)));
  std::optional<CertificateIdentity> found;
  const int count = names ? sk_GENERAL_NAME_num(names.get()) : 0;
  for (int i = 0; i < count; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    const std::string_view text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                                static_cast<std::size_t>(ASN1_STRING_length(uri)));
    CertificateIdentity identity;
    if (text.starts_with(kNodeIdentityPrefix)) {
      identity.kind = CertificateKind::kNode;
      identity.name = std::string(text.substr(kNodeIdentityPrefix.size()));
    } else if (text.starts_with(kUserIdentityPrefix)) {
      identity.kind = CertificateKind::kClient;
      identity.name = std::string(text.substr(kUserIdentityPrefix.size()));
    } else {
      continue;
    }
    if (found)
      return Status::InvalidArgument("certificate carries more than one Meridian identity");
    if (Status valid = ValidateName(identity.kind, identity.name); !valid.ok()) {
      return Status::InvalidArgument("certificate identity: " + valid.message());
    }
    found = std::move(identity);
  }
  if (!found) {
    return Status::InvalidArgument("certificate carries no Meridian identity (" +
                                   std::string(kNodeIdentityPrefix) + "... or " +
                                   std::string(kUserIdentityPrefix) + "...)");
  }
  return *found;
}

Result<CertificateIdentity> IdentityOfCertificatePem(std::string_view pem) {
  Result<X509Ptr> certificate = ParseCertificate(pem);
  if (!certificate.ok()) return certificate.status();
  return IdentityOfCertificate(certificate->get());
}

CertificatePaths CertificatePathsIn(const std::string& dir, CertificateKind kind,
                                    std::string_view name) {
  const std::string base = dir + "/";
  switch (kind) {
    case CertificateKind::kAuthority:
      return {base + "ca.crt", base + "ca.key"};
    case CertificateKind::kNode:
      return {base + "node-" + std::string(name) + ".crt",
              base + "node-" + std::string(name) + ".key"};
    case CertificateKind::kClient:
      break;
  }
  return {base + "client-" + std::string(name) + ".crt",
          base + "client-" + std::string(name) + ".key"};
}

namespace {
Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read " + path);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}
}  // namespace

Result<CertificateAndKey> ReadAuthority(const std::string& dir) {
  const CertificatePaths paths = CertificatePathsIn(dir, CertificateKind::kAuthority, "");
  Result<std::string> certificate = ReadWholeFile(paths.certificate);
  if (!certificate.ok()) {
    return Status::InvalidArgument(certificate.status().message() +
                                   " (make a CA first: meridian cert ca --dir " + dir + ")");
  }
  Result<std::string> key = ReadWholeFile(paths.private_key);
  if (!key.ok()) return key.status();
  return CertificateAndKey{std::move(*certificate), std::move(*key)};
}

Status WriteCertificateAndKey(const CertificatePaths& paths, const CertificateAndKey& pair) {
  std::error_code ignored;
  if (std::filesystem::exists(paths.certificate, ignored)) {
    return Status::InvalidArgument(paths.certificate +
                                   " exists already; remove it first to replace it");
  }
  MERIDIAN_RETURN_IF_ERROR(WriteNewFile(paths.private_key, pair.private_key_pem, true));
  return WriteNewFile(paths.certificate, pair.certificate_pem, false);
}

Status WriteNewFile(const std::string& path, std::string_view contents, bool secret) {
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
  if (fd < 0) {
    const int error = errno;
    if (error == EEXIST) {
      return Status::InvalidArgument(path + " exists already; remove it first to replace it");
    }
    return Status::IoError("cannot create " + path + ": " + std::strerror(error));
  }
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return Status::IoError("cannot write " + path + ": " + std::strerror(error));
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Status::IoError("cannot sync " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace meridian::runtime
