// resp::Append*: the exact bytes of every RESP2 reply type.
#include "api/resp_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace meridian::api::resp {
namespace {

TEST(RespWriterTest, EncodesEveryType) {
  std::string out;
  AppendOk(out);
  AppendSimpleString(out, "PONG");
  AppendError(out, "ERR no");
  AppendInteger(out, 0);
  AppendInteger(out, -42);
  AppendBulkString(out, "hello");
  AppendBulkString(out, "");
  AppendNull(out);
  AppendArrayHeader(out, 2);
  AppendArrayHeader(out, 0);
  EXPECT_EQ(
      out, "+OK\r\n+PONG\r\n-ERR no\r\n:0\r\n:-42\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*2\r\n*0\r\n");
}

TEST(RespWriterTest, IntegersAtTheLimits) {
  std::string out;
  AppendInteger(out, std::numeric_limits<std::int64_t>::min());
  AppendInteger(out, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(out, ":-9223372036854775808\r\n:9223372036854775807\r\n");
}

TEST(RespWriterTest, BulkStringsAreBinarySafe) {
  std::string out;
  AppendBulkString(out, std::string("a\r\n\0b", 5));
  EXPECT_EQ(out, std::string("$5\r\na\r\n\0b\r\n", 11));
}

TEST(RespWriterTest, LineRepliesCannotBreakTheFraming) {
  std::string out;
  AppendError(out, "ERR bad\r\nkey");
  AppendSimpleString(out, "a\nb");
  EXPECT_EQ(out, "-ERR bad  key\r\n+a b\r\n");
}

TEST(RespWriterTest, AppendsToExistingBytes) {
  std::string out = "prefix";
  AppendInteger(out, 7);
  EXPECT_EQ(out, "prefix:7\r\n");
}

}  // namespace
}  // namespace meridian::api::resp
