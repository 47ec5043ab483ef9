// `meridian cert`: makes the certificates of a cluster (issue 11) with OpenSSL's API —
//   meridian cert ca     --dir DIR [--cluster-name NAME] [--days N]   DIR/ca.crt, DIR/ca.key
//   meridian cert node   --dir DIR --name ID [--host H]... [--days N]  DIR/node-ID.crt/.key
//   meridian cert client --dir DIR --name USER [--days N]              DIR/client-USER.crt/.key
// Node and client certificates are signed by the CA in DIR. Existing files are never
// replaced. Keys are written with mode 0600.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "runtime/certificates.h"

namespace meridian::cli {
namespace {

constexpr int kExitFailed = 1;

struct CertOptions {
  std::string dir = "certs";
  std::string cluster_name = "meridian";
  std::string name;
  std::vector<std::string> hosts;
  std::uint32_t days = 0;  // 0: the kind's default
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "meridian cert: %s\n", message.c_str());
  return kExitFailed;
}

Status MakeDirectory(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return Status::IoError("cannot create " + dir + ": " + error.message());
  return Status::Ok();
}

int RunCa(const CertOptions& options) {
  if (Status made = MakeDirectory(options.dir); !made.ok()) return Fail(made.message());
  const runtime::CertificatePaths paths =
      runtime::CertificatePathsIn(options.dir, runtime::CertificateKind::kAuthority, "");
  Result<runtime::CertificateAndKey> authority = runtime::CreateCertificateAuthority(
      options.cluster_name, options.days == 0 ? 3650 : options.days);
  if (!authority.ok()) return Fail(authority.status().message());
  if (Status written = runtime::WriteCertificateAndKey(paths, *authority); !written.ok()) {
    return Fail(written.message());
  }
  std::printf("cluster CA: %s (key %s; keep the key off the nodes)\n", paths.certificate.c_str(),
              paths.private_key.c_str());
  return 0;
}

int RunLeaf(const CertOptions& options, runtime::CertificateKind kind) {
  Result<runtime::CertificateAndKey> authority = runtime::ReadAuthority(options.dir);
  if (!authority.ok()) return Fail(authority.status().message());
  runtime::CertificateRequest request;
  request.kind = kind;
  request.name = options.name;
  request.hosts = options.hosts;
  if (options.days != 0) request.valid_days = options.days;
  Result<runtime::CertificateAndKey> issued = runtime::IssueCertificate(*authority, request);
  if (!issued.ok()) return Fail(issued.status().message());
  const runtime::CertificatePaths paths =
      runtime::CertificatePathsIn(options.dir, kind, options.name);
  if (Status written = runtime::WriteCertificateAndKey(paths, *issued); !written.ok()) {
    return Fail(written.message());
  }
  const runtime::CertificatePaths ca =
      runtime::CertificatePathsIn(options.dir, runtime::CertificateKind::kAuthority, "");
  if (kind == runtime::CertificateKind::kNode) {
    std::printf("node certificate for '%s': %s (key %s)\n", options.name.c_str(),
                paths.certificate.c_str(), paths.private_key.c_str());
    std::printf("serve with: --name %s --peer-tls-ca %s --peer-tls-cert %s --peer-tls-key %s\n",
                options.name.c_str(), ca.certificate.c_str(), paths.certificate.c_str(),
                paths.private_key.c_str());
  } else {
    std::printf("client certificate for user '%s': %s (key %s)\n", options.name.c_str(),
                paths.certificate.c_str(), paths.private_key.c_str());
  }
  return 0;
}

}  // namespace

void AddCertCommand(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<CertOptions>();
  CLI::App* cert = app.add_subcommand(
      "cert", "Make a cluster CA and node or client certificates (mutual TLS between nodes)");
  cert->require_subcommand(1);

  CLI::App* ca = cert->add_subcommand("ca", "Create the cluster's certificate authority in --dir");
  ca->add_option("--dir", options->dir, "Directory for ca.crt and ca.key")->capture_default_str();
  ca->add_option("--cluster-name", options->cluster_name, "Named in the CA's subject")
      ->capture_default_str();
  ca->add_option("--days", options->days, "Validity in days (default 3650)");
  ca->callback([options, &exit_code] { exit_code = RunCa(*options); });

  CLI::App* node = cert->add_subcommand(
      "node", "Issue a node certificate (for `serve --peer-tls-*`), signed by the CA in --dir");
  node->add_option("--dir", options->dir, "Directory holding ca.crt and ca.key")
      ->capture_default_str();
  node->add_option("--name", options->name, "The node's id (serve --name)")->required();
  node->add_option("--host", options->hosts,
                   "DNS name or IP address the certificate also serves HTTPS for (repeatable)");
  node->add_option("--days", options->days, "Validity in days (default 825)");
  node->callback(
      [options, &exit_code] { exit_code = RunLeaf(*options, runtime::CertificateKind::kNode); });

  CLI::App* client =
      cert->add_subcommand("client", "Issue a client certificate, signed by the CA in --dir");
  client->add_option("--dir", options->dir, "Directory holding ca.crt and ca.key")
      ->capture_default_str();
  client->add_option("--name", options->name, "The user name")->required();
  client->add_option("--days", options->days, "Validity in days (default 825)");
  client->callback(
      [options, &exit_code] { exit_code = RunLeaf(*options, runtime::CertificateKind::kClient); });
}

}  // namespace meridian::cli
