// BenchConfig validation, driver names and HOST:PORT parsing.
#include "bench/config.h"

#include <gtest/gtest.h>

namespace meridian::bench {
namespace {

BenchConfig Valid() {
  BenchConfig config;
  config.address = "127.0.0.1:8080";
  return config;
}

TEST(BenchConfigTest, DriversRoundTripTheirNames) {
  for (DriverKind kind : {DriverKind::kMeridianHttp, DriverKind::kMeridianResp, DriverKind::kRedis,
                          DriverKind::kEtcd}) {
    auto parsed = ParseDriver(DriverName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
    EXPECT_TRUE(ParseHostPort(DefaultAddress(kind)).ok());
  }
  EXPECT_FALSE(ParseDriver("memcached").ok());
}

TEST(BenchConfigTest, ParsesHostPort) {
  auto plain = ParseHostPort("localhost:6379");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host, "localhost");
  EXPECT_EQ(plain->port, 6379);
  auto v6 = ParseHostPort("[::1]:2379");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 2379);
  for (const char* bad : {"localhost", ":80", "host:", "host:0", "host:65536", "host:8o"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(BenchConfigTest, ValidatesSettings) {
  EXPECT_TRUE(Validate(Valid()).ok());
  const auto invalid = [](auto change) {
    BenchConfig config = Valid();
    change(config);
    return !Validate(config).ok();
  };
  EXPECT_TRUE(invalid([](BenchConfig& c) { c.record_count = 0; }));
  EXPECT_TRUE(invalid([](BenchConfig& c) { c.connections = 0; }));
  EXPECT_TRUE(invalid([](BenchConfig& c) { c.pipeline = 0; }));
  EXPECT_TRUE(invalid([](BenchConfig& c) { c.threads = 51; }));
  EXPECT_TRUE(invalid([](BenchConfig& c) {
    c.duration_s = 0;
    c.operations = 0;
  }));
  EXPECT_TRUE(invalid([](BenchConfig& c) { c.max_error_rate = 2; }));
  EXPECT_TRUE(invalid([](BenchConfig& c) { c.address = "nowhere"; }));
  EXPECT_TRUE(invalid([](BenchConfig& c) {
    c.driver = DriverKind::kRedis;
    c.w = "all";
  }));
  // A load-only run needs no run bound.
  EXPECT_FALSE(invalid([](BenchConfig& c) {
    c.duration_s = 0;
    c.phases = PhaseSelection::kLoad;
  }));
}

}  // namespace
}  // namespace meridian::bench
