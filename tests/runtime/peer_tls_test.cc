// Mutual TLS between nodes (issue 11, item 1): certificates made by runtime/certificates.h, the
// checks of PeerTlsContext::Load, and PeerTransport refusing every connection that does not
// present a node certificate of the cluster's CA naming the node it claims to be — before any
// message is read.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "peer_test_util.h"
#include "runtime/certificates.h"
#include "runtime/peer_tls.h"

namespace meridian::runtime::test {
namespace {

namespace ssl = boost::asio::ssl;

// A cluster CA with node certificates for node-a, node-b and node-c and a client certificate
// for alice, and a second ("stranger") CA with its own node-a certificate, all as files.
class Certificates {
 public:
  Certificates() {
    dir_ = std::filesystem::temp_directory_path() /
           ("meridian-peer-tls-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "cluster");
    std::filesystem::create_directories(dir_ / "stranger");
    Make("cluster", {"node-a", "node-b", "node-c"}, {"alice"});
    Make("stranger", {"node-a"}, {});
  }
  ~Certificates() { std::filesystem::remove_all(dir_); }

  PeerTlsFiles Files(const std::string& node, const std::string& ca = "cluster") const {
    const std::string dir = (dir_ / ca).string();
    const CertificatePaths paths = CertificatePathsIn(dir, CertificateKind::kNode, node);
    return {CertificatePathsIn(dir, CertificateKind::kAuthority, "").certificate, paths.certificate,
            paths.private_key};
  }
  PeerTlsFiles ClientFiles(const std::string& user) const {
    const std::string dir = (dir_ / "cluster").string();
    const CertificatePaths paths = CertificatePathsIn(dir, CertificateKind::kClient, user);
    return {CertificatePathsIn(dir, CertificateKind::kAuthority, "").certificate, paths.certificate,
            paths.private_key};
  }
  std::shared_ptr<PeerTlsContext> Context(const std::string& node,
                                          const std::string& ca = "cluster") const {
    Result<std::shared_ptr<PeerTlsContext>> context = PeerTlsContext::Load(Files(node, ca), node);
    EXPECT_TRUE(context.ok()) << context.status().ToString();
    return context.ok() ? *context : nullptr;
  }
  std::string dir() const { return dir_.string(); }

 private:
  void Make(const std::string& ca_name, const std::vector<std::string>& nodes,
            const std::vector<std::string>& users) {
    const std::string dir = (dir_ / ca_name).string();
    Result<CertificateAndKey> authority = CreateCertificateAuthority(ca_name, 30);
    ASSERT_TRUE(authority.ok()) << authority.status().ToString();
    ASSERT_TRUE(
        WriteCertificateAndKey(CertificatePathsIn(dir, CertificateKind::kAuthority, ""), *authority)
            .ok());
    auto issue = [&](CertificateKind kind, const std::string& name) {
      CertificateRequest request;
      request.kind = kind;
      request.name = name;
      request.valid_days = 30;
      Result<CertificateAndKey> issued = IssueCertificate(*authority, request);
      ASSERT_TRUE(issued.ok()) << issued.status().ToString();
      ASSERT_TRUE(WriteCertificateAndKey(CertificatePathsIn(dir, kind, name), *issued).ok());
    };
    for (const std::string& node : nodes) issue(CertificateKind::kNode, node);
    for (const std::string& user : users) issue(CertificateKind::kClient, user);
  }

  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

PeerTransportConfig TlsConfig(const Certificates& certificates, const std::string& node,
                              const std::string& ca = "cluster") {
  PeerTransportConfig config = Config(node);
  config.tls = certificates.Context(node, ca);
  return config;
}

TEST(CertificatesTest, NodeAndClientCertificatesCarryTheirIdentity) {
  Result<CertificateAndKey> authority = CreateCertificateAuthority("test", 10);
  ASSERT_TRUE(authority.ok()) << authority.status().ToString();
  CertificateRequest node;
  node.name = "n1:7000";
  node.hosts = {"127.0.0.1", "db1.example"};
  Result<CertificateAndKey> issued = IssueCertificate(*authority, node);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  Result<CertificateIdentity> identity = IdentityOfCertificatePem(issued->certificate_pem);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->kind, CertificateKind::kNode);
  EXPECT_EQ(identity->name, "n1:7000");

  CertificateRequest client;
  client.kind = CertificateKind::kClient;
  client.name = "alice";
  issued = IssueCertificate(*authority, client);
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  identity = IdentityOfCertificatePem(issued->certificate_pem);
  ASSERT_TRUE(identity.ok());
  EXPECT_EQ(identity->kind, CertificateKind::kClient);
  EXPECT_EQ(identity->name, "alice");

  // The CA itself is nobody.
  EXPECT_FALSE(IdentityOfCertificatePem(authority->certificate_pem).ok());
}

TEST(CertificatesTest, BadRequestsAreRefused) {
  Result<CertificateAndKey> authority = CreateCertificateAuthority("test", 10);
  ASSERT_TRUE(authority.ok());
  CertificateRequest request;
  request.name = "bad,name";  // would inject another subject alternative name
  EXPECT_EQ(IssueCertificate(*authority, request).status().code(), StatusCode::kInvalidArgument);
  request.name = "";
  EXPECT_EQ(IssueCertificate(*authority, request).status().code(), StatusCode::kInvalidArgument);
  request.name = "node";
  request.hosts = {"evil.example,URI:urn:meridian:node:other"};
  EXPECT_EQ(IssueCertificate(*authority, request).status().code(), StatusCode::kInvalidArgument);
  request.hosts.clear();
  request.kind = CertificateKind::kClient;
  request.hosts = {"127.0.0.1"};
  EXPECT_EQ(IssueCertificate(*authority, request).status().code(), StatusCode::kInvalidArgument);
  CertificateAndKey mismatched = *authority;
  Result<CertificateAndKey> other = CreateCertificateAuthority("other", 10);
  ASSERT_TRUE(other.ok());
  mismatched.private_key_pem = other->private_key_pem;
  request.hosts.clear();
  EXPECT_EQ(IssueCertificate(mismatched, request).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCertificateAuthority("", 10).status().code(), StatusCode::kInvalidArgument);
}

TEST(CertificatesTest, FilesAreNeverReplacedAndKeysArePrivate) {
  Certificates certificates;
  const PeerTlsFiles files = certificates.Files("node-a");
  const auto permissions = std::filesystem::status(files.private_key_file).permissions();
  EXPECT_EQ(permissions & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Status again = WriteNewFile(files.certificate_file, "x", false);
  EXPECT_EQ(again.code(), StatusCode::kInvalidArgument) << again.ToString();
  EXPECT_NE(again.message().find("exists already"), std::string::npos);
}

TEST(PeerTlsContextTest, LoadsOnlyThisNodesCertificateOfTheCluster) {
  Certificates certificates;
  EXPECT_TRUE(PeerTlsContext::Load(certificates.Files("node-a"), "node-a").ok());
  // Another node's certificate.
  Result<std::shared_ptr<PeerTlsContext>> other =
      PeerTlsContext::Load(certificates.Files("node-b"), "node-a");
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("is for node 'node-b'"), std::string::npos)
      << other.status().message();
  // A certificate of another CA than the one given.
  PeerTlsFiles mixed = certificates.Files("node-a", "stranger");
  mixed.ca_file = certificates.Files("node-a").ca_file;
  Result<std::shared_ptr<PeerTlsContext>> stranger = PeerTlsContext::Load(mixed, "node-a");
  ASSERT_FALSE(stranger.ok());
  EXPECT_NE(stranger.status().message().find("does not verify"), std::string::npos)
      << stranger.status().message();
  // A client certificate.
  Result<std::shared_ptr<PeerTlsContext>> client =
      PeerTlsContext::Load(certificates.ClientFiles("alice"), "alice");
  ASSERT_FALSE(client.ok());
  EXPECT_NE(client.status().message().find("user 'alice'"), std::string::npos);
  // Missing files and a key that is not the certificate's.
  PeerTlsFiles missing = certificates.Files("node-a");
  missing.certificate_file += ".absent";
  EXPECT_EQ(PeerTlsContext::Load(missing, "node-a").status().code(), StatusCode::kInvalidArgument);
  PeerTlsFiles wrong_key = certificates.Files("node-a");
  wrong_key.private_key_file = certificates.Files("node-b").private_key_file;
  EXPECT_EQ(PeerTlsContext::Load(wrong_key, "node-a").status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PeerTlsTransportTest, NodesOfOneCaExchangeMessagesOverTls) {
  Certificates certificates;
  asio::io_context io;
  TestNode a(io, TlsConfig(certificates, "node-a"));
  TestNode b(io, TlsConfig(certificates, "node-b"));
  ASSERT_TRUE(a.transport().uses_tls());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(a.transport().Send(b.address(), Request(i, 100000)).ok());
    ASSERT_TRUE(b.transport().Send(a.address(), Request(1000 + i)).ok());
  }
  ASSERT_TRUE(RunUntil(io, [&] { return a.received.size() == 20 && b.received.size() == 20; }));
  EXPECT_EQ(b.received[0].from_node_id, "node-a");
  EXPECT_EQ(b.received[19].message.kv_request().request_id(), 19u);
  EXPECT_EQ(b.received[19].message.kv_request().value().size(), 100000u);
  EXPECT_EQ(a.received[0].from_node_id, "node-b");
  EXPECT_EQ(b.transport().stats().tls_handshakes_failed, 0u);
}

// `dialer` cannot reach `listener`: nothing is delivered, the dialer counts refused handshakes
// and the listener failed TLS handshakes.
void ExpectTlsRefused(asio::io_context& io, TestNode& dialer, TestNode& listener) {
  ASSERT_TRUE(dialer.transport().Send(listener.address(), Request(1)).ok());
  ASSERT_TRUE(RunUntil(io, [&] {
    return dialer.stats_for(listener.address()).handshakes_rejected +
                   dialer.stats_for(listener.address()).connect_failures >
               0 &&
           listener.transport().stats().tls_handshakes_failed > 0;
  }));
  RunFor(io, milliseconds(200));
  EXPECT_TRUE(listener.received.empty());
  EXPECT_EQ(listener.transport().stats().handshakes_completed, 0u);
  EXPECT_FALSE(dialer.stats_for(listener.address()).connected);
}

TEST(PeerTlsTransportTest, ANodeOfAnotherCaIsRefusedInTheTlsHandshake) {
  Certificates certificates;
  asio::io_context io;
  TestNode stranger(io, TlsConfig(certificates, "node-a", "stranger"));
  TestNode b(io, TlsConfig(certificates, "node-b"));
  ExpectTlsRefused(io, stranger, b);
}

TEST(PeerTlsTransportTest, APlaintextNodeIsRefusedInTheTlsHandshake) {
  Certificates certificates;
  asio::io_context io;
  TestNode plaintext(io, Config("node-a"));
  TestNode b(io, TlsConfig(certificates, "node-b"));
  ExpectTlsRefused(io, plaintext, b);
}

TEST(PeerTlsTransportTest, ARawPlaintextHandshakeGetsNoReply) {
  Certificates certificates;
  asio::io_context io;
  TestNode b(io, TlsConfig(certificates, "node-b"));
  RawPeer raw(io, b.transport().bound_port());
  raw.Write(EncodeFrame(MakeHandshake("test", ProtocolRange{}, "raw", "127.0.0.1:9")));
  ASSERT_TRUE(raw.WaitClosed(io));
  EXPECT_EQ(raw.bytes().find("cluster"), std::string::npos);  // no handshake reply, no names
  EXPECT_EQ(b.transport().stats().tls_handshakes_failed, 1u);
  EXPECT_EQ(b.transport().stats().handshakes_completed, 0u);
}

// A TLS client run on its own thread with `files`' certificate: completes the TLS handshake
// and sends a peer handshake claiming `claimed_node_id`. Returns the handshake reply, or
// nullopt when the TLS handshake failed or no reply came.
std::optional<proto::HandshakeReply> ClaimOverTls(asio::io_context& io, std::uint16_t port,
                                                  const PeerTlsFiles& files,
                                                  const std::string& claimed_node_id) {
  std::optional<proto::HandshakeReply> reply;
  std::atomic<bool> done{false};
  std::thread client([&] {
    asio::io_context client_io;
    ssl::context context(ssl::context::tls_client);
    context.load_verify_file(files.ca_file);
    context.use_certificate_chain_file(files.certificate_file);
    context.use_private_key_file(files.private_key_file, ssl::context::pem);
    context.set_verify_mode(ssl::verify_peer);
    ssl::stream<tcp::socket> stream(client_io, context);
    boost::system::error_code ec;
    stream.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) stream.handshake(ssl::stream_base::client, ec);
    if (!ec) {
      const std::string hello =
          EncodeFrame(MakeHandshake("test", ProtocolRange{}, claimed_node_id, "127.0.0.1:9"));
      asio::write(stream, asio::buffer(hello), ec);
    }
    FrameHeader header;
    if (!ec) asio::read(stream, asio::buffer(header), ec);
    if (!ec) {
      std::string payload(DecodeFrameHeader(header), '\0');
      asio::read(stream, asio::buffer(payload), ec);
      proto::HandshakeReply parsed;
      if (!ec && parsed.ParseFromString(payload)) reply = parsed;
    }
    done = true;
  });
  RunUntil(io, [&] { return done.load(); });
  client.join();
  return reply;
}

TEST(PeerTlsTransportTest, ANodeCannotClaimAnotherNodesName) {
  Certificates certificates;
  asio::io_context io;
  TestNode b(io, TlsConfig(certificates, "node-b"));
  // node-c's valid certificate, claiming to be node-a: refused with the reason.
  std::optional<proto::HandshakeReply> lie =
      ClaimOverTls(io, b.transport().bound_port(), certificates.Files("node-c"), "node-a");
  ASSERT_TRUE(lie.has_value());
  ASSERT_TRUE(lie->has_rejected());
  EXPECT_NE(lie->rejected().reason().find("certificate is for node 'node-c'"), std::string::npos)
      << lie->rejected().reason();
  EXPECT_EQ(b.transport().stats().handshakes_completed, 0u);
  // Claiming its own name works.
  std::optional<proto::HandshakeReply> truth =
      ClaimOverTls(io, b.transport().bound_port(), certificates.Files("node-c"), "node-c");
  ASSERT_TRUE(truth.has_value());
  EXPECT_TRUE(truth->has_accepted());
  EXPECT_EQ(truth->accepted().node_id(), "node-b");
}

TEST(PeerTlsTransportTest, AClientCertificateIsNotANode) {
  Certificates certificates;
  asio::io_context io;
  TestNode b(io, TlsConfig(certificates, "node-b"));
  std::optional<proto::HandshakeReply> reply =
      ClaimOverTls(io, b.transport().bound_port(), certificates.ClientFiles("alice"), "alice");
  EXPECT_FALSE(reply.has_value());
  EXPECT_EQ(b.transport().stats().tls_handshakes_failed, 1u);
  EXPECT_EQ(b.transport().stats().handshakes_completed, 0u);
}

TEST(PeerTlsTransportTest, AReloadedCertificateServesNewConnections) {
  Certificates certificates;
  asio::io_context io;
  TestNode b(io, TlsConfig(certificates, "node-b"));
  // Rotation: b's new certificate comes from a CA that the clients of the old one do not
  // trust; after the reload a node of the old CA is refused, one of the new CA accepted.
  EXPECT_EQ(b.transport().ReloadTls(certificates.Context("node-a")).code(),
            StatusCode::kInvalidArgument);  // not b's name
  PeerTlsFiles rotated = certificates.Files("node-b");
  {
    // A node-b certificate of the stranger CA, written beside the others.
    Result<CertificateAndKey> authority = ReadAuthority(certificates.dir() + "/stranger");
    ASSERT_TRUE(authority.ok());
    CertificateRequest request;
    request.name = "node-b";
    Result<CertificateAndKey> issued = IssueCertificate(*authority, request);
    ASSERT_TRUE(issued.ok());
    const std::string dir = certificates.dir() + "/stranger";
    ASSERT_TRUE(
        WriteCertificateAndKey(CertificatePathsIn(dir, CertificateKind::kNode, "node-b"), *issued)
            .ok());
    rotated = certificates.Files("node-b", "stranger");
  }
  Result<std::shared_ptr<PeerTlsContext>> context = PeerTlsContext::Load(rotated, "node-b");
  ASSERT_TRUE(context.ok()) << context.status().ToString();
  ASSERT_TRUE(b.transport().ReloadTls(*context).ok());
  TestNode old_ca(io, TlsConfig(certificates, "node-c"));
  ExpectTlsRefused(io, old_ca, b);
  TestNode new_ca(io, TlsConfig(certificates, "node-a", "stranger"));
  ASSERT_TRUE(new_ca.transport().Send(b.address(), Request(7)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1; }));
  EXPECT_EQ(b.received[0].from_node_id, "node-a");

  TestNode plaintext(io, Config("node-d"));
  EXPECT_EQ(plaintext.transport().ReloadTls(*context).code(), StatusCode::kInvalidArgument);
}

TEST(PeerTlsTransportTest, StrangersHoldingHandshakesCannotKeepANodeOut) {
  Certificates certificates;
  asio::io_context io;
  PeerTransportConfig config = TlsConfig(certificates, "node-b");
  config.pending_handshakes_max = 4;
  config.handshake_timeout_ms = 60000;  // the strangers would hold their slots for a minute
  TestNode b(io, config);
  std::vector<std::unique_ptr<RawPeer>> strangers;
  for (int i = 0; i < 10; ++i) {
    strangers.push_back(std::make_unique<RawPeer>(io, b.transport().bound_port()));
  }
  ASSERT_TRUE(RunUntil(io, [&] { return b.transport().stats().connections_accepted == 10; }));
  EXPECT_EQ(b.transport().stats().pending_handshakes, 4u);
  EXPECT_EQ(b.transport().stats().pending_evicted, 6u);
  // The six oldest were closed to make room.
  ASSERT_TRUE(RunUntil(io, [&] {
    return std::count_if(strangers.begin(), strangers.end(),
                         [](const auto& raw) { return raw->closed(); }) == 6;
  }));
  EXPECT_TRUE(strangers.front()->closed());
  EXPECT_FALSE(strangers.back()->closed());
  // A member still gets in (evicting the oldest stranger) and stays once authenticated.
  TestNode a(io, TlsConfig(certificates, "node-a"));
  ASSERT_TRUE(a.transport().Send(b.address(), Request(1)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 1; }));
  for (int i = 0; i < 8; ++i) {
    strangers.push_back(std::make_unique<RawPeer>(io, b.transport().bound_port()));
  }
  ASSERT_TRUE(RunUntil(io, [&] { return b.transport().stats().connections_accepted == 19; }));
  EXPECT_EQ(b.transport().stats().pending_handshakes, 4u);
  ASSERT_TRUE(a.transport().Send(b.address(), Request(2)).ok());
  ASSERT_TRUE(RunUntil(io, [&] { return b.received.size() == 2; }));
  EXPECT_EQ(a.stats_for(b.address()).connects, 1u);  // the same connection, never evicted
}

TEST(PeerTlsTransportTest, AConfigWhoseCertificateNamesAnotherNodeIsInvalid) {
  Certificates certificates;
  PeerTransportConfig config = Config("node-a");
  config.tls = certificates.Context("node-b");
  Status valid = config.Validate();
  EXPECT_EQ(valid.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(valid.message().find("node-b"), std::string::npos);
}

}  // namespace
}  // namespace meridian::runtime::test
