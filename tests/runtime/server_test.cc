// runtime::Server: RocksDB-backed startup, the ready line, clean stop by request and by
// signal, and clear startup errors.
#include "runtime/server.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <future>
#include <regex>
#include <thread>

#include "node/metadata_keys.h"
#include "runtime/shard_count.h"
#include "storage/rocksdb_engine.h"
#include "storage/segment_ordered_objects.h"

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
    config.shards = 1;  // not the default (one per CPU): the same on every machine
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

// With the front ends on a thread of their own, every kind of request that crosses to the
// node's loop comes back: writes and reads in order on one connection, /metrics (the node's
// series are rendered on its loop), /health, and the stop drains both loops. (No ASSERT
// before the stop: the running server would outlive the test.)
TEST_F(ServerTest, FrontEndsOnAThreadOfTheirOwnServeEveryKindOfRequest) {
  ServerConfig config = Config();
  config.front_end_threads = 1;
  auto server = Server::Open(config);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto run = std::async(std::launch::async, [&] { return (*server)->Run(); });
  const std::uint16_t port = (*server)->http_port();
  for (int i = 0; i < 20; ++i) {
    const std::string target = "/v1/kv/b/k" + std::to_string(i);
    EXPECT_EQ(Request(port, http::verb::put, target, "v" + std::to_string(i)).result_int(), 204);
    auto get = Request(port, http::verb::get, target);
    EXPECT_EQ(get.result_int(), 200);
    EXPECT_EQ(get.body(), "v" + std::to_string(i));
  }
  EXPECT_EQ(Request(port, http::verb::get, "/health").result_int(), 200);
  auto metrics = Request(port, http::verb::get, "/metrics");
  EXPECT_EQ(metrics.result_int(), 200);
  // The front ends' own series and the node's, in one rendering.
  EXPECT_NE(metrics.body().find("meridian_requests_total{op=\"put\",status=\"204\"} 20"),
            std::string::npos);
  EXPECT_NE(metrics.body().find("meridian_input_budget_bytes "), std::string::npos);
  EXPECT_NE(metrics.body().find("meridian_event_loop_"), std::string::npos);
  (*server)->RequestStop();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(run.get().ok());
}

// A node of two shards (each its own loop, thread and RocksDB): object requests reach the
// shard of their partition and come back, a bucket's properties set through shard 0 hold for
// keys of both shards at once, a backup copies both shards, /metrics sums both shards, and
// everything (data and bucket properties) is there after a restart. Run with the front ends on
// shard 0's loop and on a thread of their own. (No ASSERT while a server runs: it would outlive the
// test.)
class ServerShardTest : public ServerTest, public ::testing::WithParamInterface<unsigned> {};

TEST_P(ServerShardTest, TwoShardsServeEveryKindOfRequestAndKeepItAcrossRestarts) {
  ServerConfig config = Config();
  config.shards = 2;
  config.front_end_threads = GetParam();
  constexpr int kKeys = 40;
  {
    auto server = Server::Open(config);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    EXPECT_TRUE(std::filesystem::exists(data_dir_ / "db-shard-1"));
    auto run = std::async(std::launch::async, [&] { return (*server)->Run(); });
    const std::uint16_t port = (*server)->http_port();
    EXPECT_EQ(Request(port, http::verb::put, "/v1/buckets/lww", R"({"conflict_policy":"lww"})")
                  .result_int(),
              200);
    for (int i = 0; i < kKeys; ++i) {
      const std::string target = "/v1/kv/lww/k" + std::to_string(i);
      // Two blind writes: last-write-wins on whichever shard owns the key leaves one value.
      EXPECT_EQ(Request(port, http::verb::put, target, "old").result_int(), 204);
      EXPECT_EQ(Request(port, http::verb::put, target, "v" + std::to_string(i)).result_int(), 204);
      auto get = Request(port, http::verb::get, target);
      EXPECT_EQ(get.result_int(), 200) << target;
      EXPECT_EQ(get.body(), "v" + std::to_string(i));
    }
    // A change of consistency: made once both shards were checked; strong keys on both shards
    // then work. The lww bucket holds data on both shards: its n cannot change.
    auto strong = Request(port, http::verb::put, "/v1/buckets/s", R"({"consistency":"strong"})");
    EXPECT_EQ(strong.result_int(), 200) << strong.body();
    for (int i = 0; i < 10; ++i) {
      const std::string target = "/v1/kv/s/k" + std::to_string(i);
      EXPECT_EQ(Request(port, http::verb::put, target, "strong").result_int(), 204) << target;
      EXPECT_EQ(Request(port, http::verb::get, target).body(), "strong") << target;
    }
    auto n_change = Request(port, http::verb::put, "/v1/buckets/lww", R"({"n":1})");
    EXPECT_EQ(n_change.result_int(), 400) << n_change.body();
    EXPECT_NE(n_change.body().find("holds data"), std::string::npos) << n_change.body();
    // A backup copies both shards' databases.
    auto backup = Request(port, http::verb::post, "/v1/cluster/backup",
                          R"({"directory":")" + (data_dir_ / "backup").string() + R"("})");
    EXPECT_EQ(backup.result_int(), 200) << backup.body();
    EXPECT_TRUE(std::filesystem::exists(data_dir_ / "backup" / "db" / "CURRENT"));
    EXPECT_TRUE(std::filesystem::exists(data_dir_ / "backup" / "db-shard-1" / "CURRENT"));
    EXPECT_EQ(Request(port, http::verb::get, "/health").result_int(), 200);
    auto metrics = Request(port, http::verb::get, "/metrics");
    EXPECT_EQ(metrics.result_int(), 200);
    // Both shards' block caches (8 MiB shared out), summed.
    EXPECT_NE(metrics.body().find("meridian_rocksdb_block_cache_capacity_bytes 8388608"),
              std::string::npos)
        << metrics.body();
    EXPECT_NE(metrics.body().find("meridian_storage_writable 1"), std::string::npos);
    (*server)->RequestStop();
    ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    EXPECT_TRUE(run.get().ok());
  }
  // Each shard stored a share of the keys.
  for (const char* db : {"db", "db-shard-1"}) {
    auto engine =
        storage::RocksDbEngine::Open((data_dir_ / db).string(), storage::RocksDbOptions{});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    int objects = 0;
    ASSERT_TRUE(storage::SegmentOrderedObjects(**engine)
                    .Scan(storage::Column::kObjects, "", "",
                          [&](std::string_view, std::string_view) {
                            ++objects;
                            return true;
                          })
                    .ok());
    EXPECT_GT(objects, kKeys / 5) << db;
    EXPECT_LT(objects, kKeys) << db;
  }
  auto server = Server::Open(config);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto run = std::async(std::launch::async, [&] { return (*server)->Run(); });
  const std::uint16_t port = (*server)->http_port();
  for (int i = 0; i < kKeys; ++i) {
    auto get = Request(port, http::verb::get, "/v1/kv/lww/k" + std::to_string(i));
    EXPECT_EQ(get.result_int(), 200);
    EXPECT_EQ(get.body(), "v" + std::to_string(i));
  }
  auto bucket = Request(port, http::verb::get, "/v1/buckets/lww");
  EXPECT_NE(bucket.body().find(R"("conflict_policy":"lww")"), std::string::npos) << bucket.body();
  (*server)->RequestStop();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(run.get().ok());
}

INSTANTIATE_TEST_SUITE_P(FrontEndThreads, ServerShardTest, ::testing::Values(0u, 1u));

TEST_F(ServerTest, TheShardCountIsFixedWhenTheDataDirectoryIsCreated) {
  { ASSERT_TRUE(Server::Open(Config()).ok()); }
  ServerConfig two = Config();
  two.shards = 2;
  // One shard's data: opening it as two would leave shard 1 empty while its keys sit in db.
  auto more = Server::Open(two);
  ASSERT_FALSE(more.ok());
  EXPECT_EQ(more.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(more.status().message().find("created with fewer shards"), std::string::npos)
      << more.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(data_dir_ / "db-shard-1"));

  std::filesystem::remove_all(data_dir_);
  { ASSERT_TRUE(Server::Open(two).ok()); }
  auto fewer = Server::Open(Config());
  ASSERT_FALSE(fewer.ok());
  EXPECT_EQ(fewer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fewer.status().message().find("created as shard 0 of 2"), std::string::npos)
      << fewer.status().ToString();
  // A lost shard directory is refused, not recreated empty.
  std::filesystem::remove_all(data_dir_ / "db-shard-1");
  auto lost = Server::Open(two);
  ASSERT_FALSE(lost.ok());
  EXPECT_NE(lost.status().message().find("db-shard-1"), std::string::npos)
      << lost.status().ToString();
  // So is a lost shard 0 beside the others: it would start empty.
  std::filesystem::remove_all(data_dir_);
  { ASSERT_TRUE(Server::Open(two).ok()); }
  std::filesystem::remove_all(data_dir_ / "db");
  auto no_shard_zero = Server::Open(two);
  ASSERT_FALSE(no_shard_zero.ok());
  EXPECT_NE(no_shard_zero.status().message().find("no db/ for shard 0"), std::string::npos)
      << no_shard_zero.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(data_dir_ / "db"));
}

TEST_F(ServerTest, ShardsAreRefusedOutsideTheirRange) {
  ServerConfig too_many = Config();
  too_many.shards = 17;  // more than the 16 partitions
  EXPECT_EQ(Server::Open(too_many).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(data_dir_ / "db"));
}

// 0 (the default): one shard per available CPU for a new data directory, at most the
// partition count; the count it was created with afterwards (runtime/shard_count.h).
TEST_F(ServerTest, ZeroShardsTakesOneShardPerCpuThenTheDataDirectorysCount) {
  ServerConfig automatic = Config();
  automatic.shards = 0;
  const unsigned want = std::min(AvailableCpus(), 16U);
  {
    auto server = Server::Open(automatic);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
  }
  EXPECT_EQ(std::filesystem::exists(data_dir_ / "db-shard-1"), want > 1);
  EXPECT_FALSE(std::filesystem::exists(data_dir_ / ("db-shard-" + std::to_string(want))));
  auto again = Server::Open(automatic);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

TEST_F(ServerTest, MoreThanOneFrontEndThreadIsRefused) {
  ServerConfig config = Config();
  config.front_end_threads = 2;
  auto server = Server::Open(config);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("front_end_threads"), std::string::npos);
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

// A data directory stamped with a newer storage format, as a newer release leaves it (written
// here through the storage engine): the server refuses to start with the reason, and the real
// binary exits with code 1 (startup failed) and says why, leaving the directory as it was.
TEST_F(ServerTest, ADataDirectoryOfANewerStorageFormatIsRefused) {
  { ASSERT_TRUE(Server::Open(Config()).ok()); }
  const std::string db = (data_dir_ / "db").string();
  const std::string newer_format("\x03\0\0\0", 4);  // format 3, 4 bytes LE
  {
    auto engine = storage::RocksDbEngine::Open(db, storage::RocksDbOptions{});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    storage::WriteBatch batch;
    batch.Put(storage::Column::kMetadata, std::string(node::kFormatVersionKey), newer_format);
    batch.Put(storage::Column::kMetadata, std::string(node::kFormatReleaseKey), "7.0.0");
    ASSERT_TRUE((*engine)->Write(batch, storage::WriteOptions{.sync = true}).ok());
  }
  auto server = Server::Open(Config());
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kFailedPrecondition);
  const std::string reason = "storage format version 3, newer than this release (Meridian " +
                             std::string(MERIDIAN_VERSION) + ") reads formats 1 to 2";
  EXPECT_NE(server.status().message().find(reason), std::string::npos)
      << server.status().ToString();
  EXPECT_NE(server.status().message().find("last opened by Meridian 7.0.0"), std::string::npos);

  // The binary (bounded by timeout(1), should it ever start serving).
  const std::string command = "timeout 60 '" + std::string(MERIDIAN_BIN) + "' serve --data-dir '" +
                              data_dir_.string() + "' --http 127.0.0.1:0 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[4096];
  for (std::size_t got; (got = std::fread(chunk, 1, sizeof chunk, pipe)) > 0;) {
    output.append(chunk, got);
  }
  const int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find(reason), std::string::npos) << output;

  auto engine = storage::RocksDbEngine::Open(db, storage::RocksDbOptions{});
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto stamped = (*engine)->Get(storage::Column::kMetadata, node::kFormatVersionKey);
  ASSERT_TRUE(stamped.ok() && stamped->has_value());
  EXPECT_EQ(**stamped, newer_format);
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
