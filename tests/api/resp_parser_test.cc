// RespParser: multibulk and inline commands, fragmented and pipelined input, every malformed
// case and every limit.
#include "api/resp_parser.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "api/resp_test_support.h"

namespace meridian::api {
namespace {

using test_support::Command;
using Args = std::vector<std::string>;

Args ToArgs(std::span<const std::string_view> views) {
  return Args(views.begin(), views.end());
}

// Feeds `stream` in chunks of `chunk` bytes, as a connection would (keeping unconsumed bytes
// and passing them again), and returns every command; `error` gets the first error.
std::vector<Args> ParseStream(const std::string& stream, std::size_t chunk,
                              const RespParserLimits& limits = {}, std::string* error = nullptr) {
  RespParser parser(limits);
  std::vector<Args> commands;
  std::string pending;
  for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
    pending += stream.substr(offset, chunk);
    for (;;) {
      RespParser::Outcome outcome = parser.Parse(pending);
      if (outcome == RespParser::Outcome::kNeedMore) break;
      if (outcome == RespParser::Outcome::kError) {
        if (error != nullptr) *error = parser.error();
        return commands;
      }
      if (!parser.args().empty()) commands.push_back(ToArgs(parser.args()));
      // Move the rest to a new buffer: the parser must not rely on addresses.
      pending = std::string(pending.substr(parser.consumed()));
      if (pending.empty()) break;
    }
  }
  return commands;
}

// The error of parsing `input` as one chunk; empty when there is none.
std::string ErrorOf(const std::string& input, const RespParserLimits& limits = {}) {
  std::string error;
  ParseStream(input, input.size(), limits, &error);
  return error;
}

TEST(RespParserTest, ParsesAMultibulkCommand) {
  RespParser parser;
  const std::string input = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  ASSERT_EQ(parser.Parse(input), RespParser::Outcome::kCommand);
  EXPECT_EQ(ToArgs(parser.args()), (Args{"GET", "key"}));
  EXPECT_EQ(parser.consumed(), input.size());
}

TEST(RespParserTest, BulkStringsCarryAnyBytes) {
  const std::string binary("a\r\nb\0c$*\n", 10);
  const std::vector<Args> commands = ParseStream(Command({"SET", binary, ""}), 1 << 20);
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0], (Args{"SET", binary, ""}));
}

TEST(RespParserTest, EmptyAndNullArraysAreSkippedCommands) {
  RespParser parser;
  ASSERT_EQ(parser.Parse("*0\r\n"), RespParser::Outcome::kCommand);
  EXPECT_TRUE(parser.args().empty());
  EXPECT_EQ(parser.consumed(), 4u);
  ASSERT_EQ(parser.Parse("*-1\r\nrest"), RespParser::Outcome::kCommand);
  EXPECT_TRUE(parser.args().empty());
  EXPECT_EQ(parser.consumed(), 5u);
}

TEST(RespParserTest, PipelinedCommandsInOneInput) {
  const std::string stream =
      Command({"SET", "a", "1"}) + Command({"GET", "a"}) + "PING\r\n" + Command({"DEL", "a", "b"});
  const std::vector<Args> expected = {{"SET", "a", "1"}, {"GET", "a"}, {"PING"}, {"DEL", "a", "b"}};
  EXPECT_EQ(ParseStream(stream, stream.size()), expected);
}

TEST(RespParserTest, FragmentedInputByteByByte) {
  const std::string value(300, 'v');
  const std::string stream = Command({"SET", "key", value}) + "ECHO \"x y\"\r\n" +
                             Command({"MGET", "a", "", "c"}) + "*0\r\n" + Command({"PING"});
  const std::vector<Args> expected = {
      {"SET", "key", value}, {"ECHO", "x y"}, {"MGET", "a", "", "c"}, {"PING"}};
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u, 1000u}) {
    EXPECT_EQ(ParseStream(stream, chunk), expected) << "chunk " << chunk;
  }
}

TEST(RespParserTest, IncompleteInputNeedsMoreAtEveryPrefix) {
  const std::string command = Command({"SET", "k", "value"});
  for (std::size_t size = 1; size < command.size(); ++size) {
    RespParser parser;
    EXPECT_EQ(parser.Parse(command.substr(0, size)), RespParser::Outcome::kNeedMore) << size;
  }
}

RC_GTEST_PROP(RespParserProperty, AnyCommandsInAnyChunkingParseBack,
              (const std::vector<std::vector<std::string>>& raw, unsigned chunk_seed)) {
  std::vector<Args> expected;
  std::string stream;
  for (const auto& args : raw) {
    if (args.empty()) continue;  // an empty array is skipped, not returned
    expected.push_back(args);
    stream += Command(args);
  }
  const std::size_t chunk = 1 + chunk_seed % 97;
  RC_ASSERT(ParseStream(stream, chunk) == expected);
}

TEST(RespParserTest, InlineCommands) {
  EXPECT_EQ(ParseStream("PING\r\n", 100), (std::vector<Args>{{"PING"}}));
  EXPECT_EQ(ParseStream("set  a\tb\n", 100), (std::vector<Args>{{"set", "a", "b"}}));
  EXPECT_EQ(ParseStream("\r\n\n  \r\nPING\r\n", 100), (std::vector<Args>{{"PING"}}));
  EXPECT_EQ(ParseStream(R"(SET "a b" 'c\'d' "\x41\n\"" "")"
                        "\r\n",
                        100),
            (std::vector<Args>{{"SET", "a b", "c'd", "A\n\"", ""}}));
}

TEST(RespParserTest, InlineQuotesMustBalance) {
  EXPECT_EQ(ErrorOf("SET \"a b\r\n"), "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ErrorOf("SET 'a\r\n"), "Protocol error: unbalanced quotes in request");
  EXPECT_EQ(ErrorOf("SET \"a\"b\r\n"), "Protocol error: unbalanced quotes in request");
}

TEST(RespParserTest, InlineLineOverTheLimit) {
  RespParserLimits limits;
  limits.inline_bytes_max = 16;
  EXPECT_EQ(ErrorOf(std::string(17, 'a'), limits), "Protocol error: too big inline request");
  EXPECT_EQ(ErrorOf(std::string(20, 'a') + "\r\n", limits),
            "Protocol error: too big inline request");
  EXPECT_EQ(ErrorOf(std::string(10, 'a') + "\r\n", limits), "");
}

TEST(RespParserTest, ElementsMustBeBulkStrings) {
  for (char type : {'+', '-', ':', '*', 'x'}) {
    EXPECT_EQ(ErrorOf("*1\r\n" + std::string(1, type) + "3\r\nabc\r\n"),
              "Protocol error: expected '$', got '" + std::string(1, type) + "'");
  }
  EXPECT_EQ(ErrorOf(std::string("*1\r\n\x01", 5)), "Protocol error: expected '$', got '\\x01'");
}

TEST(RespParserTest, MalformedLengths) {
  EXPECT_EQ(ErrorOf("*x\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*1x\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*+1\r\n"), "Protocol error: invalid multibulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$x\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$-1\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$-5\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\r\n$99999999999999999999\r\n"), "Protocol error: invalid bulk length");
  EXPECT_EQ(ErrorOf("*1\rx"), "Protocol error: expected '\\r\\n' after a length");
  EXPECT_EQ(ErrorOf("*" + std::string(40, '1')), "Protocol error: too big mbulk count string");
  EXPECT_EQ(ErrorOf("*1\r\n$" + std::string(40, '1')), "Protocol error: too big bulk count string");
}

TEST(RespParserTest, BulkDataMustEndWithCrlf) {
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nGETxx"), "Protocol error: expected '\\r\\n' after a bulk string");
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nGET\n\r"),
            "Protocol error: expected '\\r\\n' after a bulk string");
}

TEST(RespParserTest, BulkOverTheLimitIsRefusedBeforeItsData) {
  RespParserLimits limits;
  limits.bulk_bytes_max = 10;
  // Only the header has arrived: the refusal does not wait for (or buffer) the data.
  EXPECT_EQ(ErrorOf("*2\r\n$3\r\nSET\r\n$11\r\n", limits),
            "Protocol error: invalid bulk length (11 bytes; at most 10)");
  EXPECT_EQ(ErrorOf(Command({"SET", std::string(10, 'v')}), limits), "");
  EXPECT_EQ(ErrorOf("*1\r\n$999999999999\r\n"),
            "Protocol error: invalid bulk length (999999999999 bytes; at most 8388608)");
}

TEST(RespParserTest, TooManyArguments) {
  RespParserLimits limits;
  limits.args_max = 3;
  EXPECT_EQ(ErrorOf("*4\r\n", limits),
            "Protocol error: invalid multibulk length (4 arguments; at most 3)");
  EXPECT_EQ(ErrorOf(Command({"a", "b", "c"}), limits), "");
  EXPECT_EQ(ErrorOf("*1048577\r\n"),
            "Protocol error: invalid multibulk length (1048577 arguments; at most 1048576)");
  EXPECT_EQ(ErrorOf("*2147483648\r\n").substr(0, 40), "Protocol error: invalid multibulk length");
}

TEST(RespParserTest, CommandOverTheTotalLimit) {
  RespParserLimits limits;
  limits.bulk_bytes_max = 10;
  limits.command_bytes_max = 25;
  EXPECT_EQ(ErrorOf(Command({"MSET", "k1", "0123456789", "k2", "0123456789"}), limits),
            "Protocol error: command too large (more than 25 bytes of arguments)");
  EXPECT_EQ(ErrorOf(Command({"MSET", "k1", "0123456789", "k2", "01234"}), limits), "");
}

TEST(RespParserTest, NeedsMoreResumesAfterTheBufferMoved) {
  RespParser parser;
  const std::string command = Command({"SET", "key", "value"});
  std::string first = command.substr(0, 17);
  ASSERT_EQ(parser.Parse(first), RespParser::Outcome::kNeedMore);
  const std::string moved = first + command.substr(17);  // another buffer, same bytes
  ASSERT_EQ(parser.Parse(moved), RespParser::Outcome::kCommand);
  EXPECT_EQ(ToArgs(parser.args()), (Args{"SET", "key", "value"}));
  EXPECT_EQ(parser.consumed(), command.size());
}

TEST(RespParserTest, ParsesAgainAfterACompletedCommand) {
  RespParser parser;
  ASSERT_EQ(parser.Parse(Command({"PING"})), RespParser::Outcome::kCommand);
  ASSERT_EQ(parser.Parse("PING\r\n"), RespParser::Outcome::kCommand);
  EXPECT_EQ(ToArgs(parser.args()), (Args{"PING"}));
  EXPECT_EQ(parser.Parse(""), RespParser::Outcome::kNeedMore);
}

}  // namespace
}  // namespace meridian::api
