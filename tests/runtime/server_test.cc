// runtime::Server: RocksDB-backed startup, the ready line, clean stop by request and by
// signal, and clear startup errors.
#include "runtime/server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <future>
#include <regex>
#include <thread>

namespace meridian::runtime {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = std::filesystem::temp_directory_path() /
                ("meridian_server_test_" + std::to_string(::getpid()) + "_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(data_dir_);
  }
  void TearDown() override { std::filesystem::remove_all(data_dir_); }

  ServerConfig Config() const {
    ServerConfig config;
    config.data_dir = data_dir_.string();
    config.http_address = "127.0.0.1:0";
    config.node.partition_count = 16;
    config.rocksdb.block_cache_bytes = 8 << 20;
    return config;
  }

  static http::response<http::string_body> Request(std::uint16_t port, http::verb method,
                                                   const std::string& target,
                                                   const std::string& body = "") {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    request.body() = body;
    request.prepare_payload();
    http::write(stream, request);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    http::read(stream, buffer, response);
    return response;
  }

  std::filesystem::path data_dir_;
};

TEST_F(ServerTest, ServesUntilStopRequestedAndKeepsDataAcrossRestarts) {
  {
    auto server = Server::Open(Config());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    EXPECT_TRUE(std::regex_match((*server)->ReadyLine(),
                                 std::regex(R"(meridian ready: http=127\.0\.0\.1:[0-9]+)")))
        << (*server)->ReadyLine();
    EXPECT_TRUE(std::filesystem::exists(data_dir_ / "db"));
    auto run = std::async(std::launch::async, [&] { return (*server)->Run(); });
    const std::uint16_t port = (*server)->http_port();
    EXPECT_EQ(Request(port, http::verb::put, "/v1/kv/b/k", "kept").result_int(), 204);
    (*server)->RequestStop();
    ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(run.get().ok());
  }
  auto server = Server::Open(Config());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto run = std::async(std::launch::async, [&] { return (*server)->Run(); });
  auto get = Request((*server)->http_port(), http::verb::get, "/v1/kv/b/k");
  EXPECT_EQ(get.result_int(), 200);
  EXPECT_EQ(get.body(), "kept");
  (*server)->RequestStop();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(run.get().ok());
}

TEST_F(ServerTest, SigtermStopsRunCleanly) {
  auto server = Server::Open(Config());
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto run = std::async(std::launch::async, [&] { return (*server)->Run(); });
  EXPECT_EQ(Request((*server)->http_port(), http::verb::get, "/health").result_int(), 200);
  std::raise(SIGTERM);  // handled by the server's signal set, installed in Open()
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(run.get().ok());
}

TEST_F(ServerTest, SecondServerOnTheSameDataDirFailsClearly) {
  auto first = Server::Open(Config());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = Server::Open(Config());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot open RocksDB"), std::string::npos)
      << second.status().ToString();
}

TEST_F(ServerTest, PartitionCountMismatchIsAStartupError) {
  { ASSERT_TRUE(Server::Open(Config()).ok()); }
  ServerConfig config = Config();
  config.node.partition_count = 32;
  auto server = Server::Open(config);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("partition"), std::string::npos);
}

TEST_F(ServerTest, HttpsWithoutKeyOrWithUnreadableCertIsRefused) {
  ServerConfig config = Config();
  config.https_address = "127.0.0.1:0";
  EXPECT_EQ(Server::Open(config).status().code(), StatusCode::kInvalidArgument);
  config.tls_certificate_file = (data_dir_ / "missing-cert.pem").string();
  config.tls_private_key_file = (data_dir_ / "missing-key.pem").string();
  auto server = Server::Open(config);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("missing-cert.pem"), std::string::npos);
}

TEST_F(ServerTest, PortInUseIsAStartupError) {
  auto first = Server::Open(Config());
  ASSERT_TRUE(first.ok());
  ServerConfig config = Config();
  config.data_dir = (data_dir_ / "other").string();
  config.http_address = "127.0.0.1:" + std::to_string((*first)->http_port());
  auto second = Server::Open(config);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace meridian::runtime
