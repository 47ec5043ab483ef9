// RESP2 command encoding and incremental reply parsing for the RESP driver.
#include "bench/resp_reply.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::bench {
namespace {

TEST(RespReplyTest, EncodesCommandsAsArraysOfBulkStrings) {
  std::string out;
  AppendRespCommand(out, {"SET", "k", std::string_view("a\r\nb", 4)});
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
  const std::size_t first = out.size();
  AppendRespCommand(out, {"GET", ""});
  EXPECT_EQ(out.substr(first), "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(RespReplyTest, ParsesEachReplyKind) {
  RespReply reply;
  EXPECT_EQ(ParseRespReply("+OK\r\n", reply), 5);
  EXPECT_EQ(reply.kind, RespKind::kSimple);
  EXPECT_EQ(reply.text, "OK");
  EXPECT_EQ(ParseRespReply("-ERR nope\r\n", reply), 11);
  EXPECT_EQ(reply.kind, RespKind::kError);
  EXPECT_EQ(reply.text, "ERR nope");
  EXPECT_EQ(ParseRespReply(":42\r\n", reply), 5);
  EXPECT_EQ(reply.kind, RespKind::kInteger);
  EXPECT_EQ(ParseRespReply("$5\r\nhe\r\no\r\n", reply), 11);
  EXPECT_EQ(reply.kind, RespKind::kBulk);
  EXPECT_EQ(reply.text, "he\r\no");
  EXPECT_EQ(ParseRespReply("$-1\r\n", reply), 5);
  EXPECT_EQ(reply.kind, RespKind::kNil);
  EXPECT_EQ(ParseRespReply("*2\r\n$1\r\na\r\n*1\r\n:1\r\n", reply), 19);
  EXPECT_EQ(reply.kind, RespKind::kArray);
  EXPECT_EQ(ParseRespReply("*-1\r\n", reply), 5);
  EXPECT_EQ(reply.kind, RespKind::kNil);
}

TEST(RespReplyTest, EveryPrefixIsIncompleteAndTheWholeParses) {
  const std::string replies[] = {"+OK\r\n", "$3\r\nabc\r\n", "*2\r\n$1\r\na\r\n$-1\r\n",
                                 "-ERR x\r\n"};
  for (const std::string& whole : replies) {
    RespReply reply;
    for (std::size_t size = 0; size < whole.size(); ++size) {
      EXPECT_EQ(ParseRespReply(std::string_view(whole).substr(0, size), reply), 0)
          << whole << " at " << size;
    }
    EXPECT_EQ(ParseRespReply(whole + "+NEXT\r\n", reply),
              static_cast<std::ptrdiff_t>(whole.size()));
  }
}

TEST(RespReplyTest, RejectsWhatIsNotResp) {
  RespReply reply;
  EXPECT_EQ(ParseRespReply("HTTP/1.1 200 OK\r\n", reply), -1);
  EXPECT_EQ(ParseRespReply("$x\r\n", reply), -1);
  EXPECT_EQ(ParseRespReply("$-2\r\n", reply), -1);
  EXPECT_EQ(ParseRespReply("$1\r\nab\r\n", reply), -1);  // no CRLF after the payload
  EXPECT_EQ(ParseRespReply("+OK\rX", reply), -1);
}

}  // namespace
}  // namespace meridian::bench
