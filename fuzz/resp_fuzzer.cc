// RESP path: bytes as one Redis client connection sends them.
//
// Contract, whatever the bytes:
//   * RespParser is incremental as its header promises: fed the stream in fragments (each call
//     given the whole unconsumed input again, in a fresh buffer) it yields exactly the commands
//     and the error it yields for the stream in one piece;
//   * RespConnection + RespCommands, answered by a real standalone Node (completions at once,
//     or held and completed out of order), never crash or trip ASan/UBSan, and their output is
//     well-formed RESP: complete replies only, one per command run (plus one for a protocol
//     error), none after QUIT.
//
// Input: byte 0 holds flags (bit 0: small parser limits, so every limit is reachable; bit 1:
// deferred completions; bit 2: authentication on; bit 3: pipeline of 2 and a small output
// bound); byte 1 seeds the fragment sizes and the completion order; the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/access_control.h"
#include "api/metrics.h"
#include "api/resp_commands.h"
#include "api/resp_connection.h"
#include "api/resp_parser.h"
#include "api/resp_test_support.h"
#include "core/seeded_random.h"
#include "fuzz_support.h"

namespace meridian::fuzz {
namespace {

struct ParseLog {
  std::vector<std::vector<std::string>> commands;  // empty commands are skipped
  std::optional<std::string> error;
};

// The whole stream at once.
ParseLog ParseWhole(std::string_view stream, const api::RespParserLimits& limits) {
  ParseLog log;
  api::RespParser parser(limits);
  for (;;) {
    const auto outcome = parser.Parse(stream);
    if (outcome == api::RespParser::Outcome::kNeedMore) break;
    if (outcome == api::RespParser::Outcome::kError) {
      log.error = parser.error();
      break;
    }
    MERIDIAN_FUZZ_CHECK(parser.consumed() > 0 && parser.consumed() <= stream.size());
    if (!parser.args().empty())
      log.commands.emplace_back(parser.args().begin(), parser.args().end());
    stream.remove_prefix(parser.consumed());
  }
  return log;
}

// The stream in fragments: each call sees the unconsumed bytes received so far, copied to a new
// buffer (they "may have moved in memory"), so a parser that kept a pointer into an old buffer
// reads freed memory.
ParseLog ParseFragmented(std::string_view stream, const api::RespParserLimits& limits,
                         std::uint64_t seed) {
  ParseLog log;
  api::RespParser parser(limits);
  SplitMix64Random random(seed);
  std::size_t start = 0;     // first unconsumed byte
  std::size_t received = 0;  // bytes "arrived" so far
  while (received < stream.size()) {
    received = std::min(stream.size(), received + 1 + random.Uniform(16));
    for (;;) {
      const std::string buffer(stream.substr(start, received - start));
      const auto outcome = parser.Parse(buffer);
      if (outcome == api::RespParser::Outcome::kNeedMore) break;
      if (outcome == api::RespParser::Outcome::kError) {
        log.error = parser.error();
        return log;
      }
      if (!parser.args().empty()) {
        log.commands.emplace_back(parser.args().begin(), parser.args().end());
      }
      start += parser.consumed();
    }
  }
  return log;
}

std::shared_ptr<const api::AccessControl> FuzzUsers() {
  static const std::shared_ptr<const api::AccessControl> users = [] {
    std::vector<api::User> list = {
        {"admin", api::Role::kAdmin, api::TokenSha256("admin-token"), {}},
        {"reader", api::Role::kReadOnly, api::TokenSha256("ro-token"), {}},
    };
    auto access = api::AccessControl::FromUsers(std::move(list));
    MERIDIAN_FUZZ_CHECK(access.ok());
    return std::make_shared<const api::AccessControl>(std::move(*access));
  }();
  return users;
}

bool IsQuit(const std::vector<std::string>& command) {
  if (command.empty() || command[0].size() != 4) return false;
  std::string name = command[0];
  for (char& c : name) c = static_cast<char>(c | 0x20);
  return name == "quit";
}

}  // namespace
}  // namespace meridian::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace meridian;
  using namespace meridian::fuzz;
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::uint64_t seed = data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  api::RespConnectionLimits limits;
  if ((flags & 1) != 0) {
    limits.parser.bulk_bytes_max = 64;
    limits.parser.args_max = 16;
    limits.parser.command_bytes_max = 256;
    limits.parser.inline_bytes_max = 128;
  }
  if ((flags & 8) != 0) {
    limits.pipeline_max = 2;
    limits.output_bytes_max = 64;
  }

  // 1. The parser's incremental contract.
  const ParseLog whole = ParseWhole(stream, limits.parser);
  const ParseLog fragmented = ParseFragmented(stream, limits.parser, seed);
  MERIDIAN_FUZZ_CHECK(whole.commands == fragmented.commands);
  MERIDIAN_FUZZ_CHECK(whole.error == fragmented.error);

  // 2. The connection, its commands and a real node behind them.
  NodeKvService service;
  service.set_deferred((flags & 2) != 0);
  api::Metrics metrics;
  auto commands = std::make_shared<api::RespCommands>(
      service, &metrics, api::RespSettings{"default", "standalone", "node1", 6379});
  if ((flags & 4) != 0) commands->SetAccessControl(FuzzUsers());
  auto connection = std::make_shared<api::RespConnection>(commands, limits, 1);
  SplitMix64Random random(seed ^ 0x5eed);
  std::string output;
  std::size_t fed = 0;
  const auto drain = [&] {
    std::string out;
    connection->TakeOutput(out);
    output += out;
  };
  for (int turn = 0; turn < 1'000'000; ++turn) {
    bool progress = false;
    if (connection->WantsInput() && fed < stream.size()) {
      const std::size_t bytes = std::min<std::size_t>(stream.size() - fed, 1 + random.Uniform(64));
      std::span<char> space = connection->InputSpace(bytes);
      MERIDIAN_FUZZ_CHECK(space.size() >= bytes);
      std::memcpy(space.data(), stream.data() + fed, bytes);
      connection->CommitInput(bytes);
      fed += bytes;
      progress = true;
    }
    connection->Process();
    if (connection->has_output()) {
      drain();
      progress = true;
    }
    if (service.CompleteAt(random.NextU64())) progress = true;
    if (!progress) break;
  }
  service.Settle();
  connection->Process();
  drain();
  MERIDIAN_FUZZ_CHECK(service.waiting() == 0 && service.ready() == 0);

  bool complete = false;
  const std::vector<api::test_support::RespValue> replies =
      api::test_support::DecodeAll(output, &complete);
  MERIDIAN_FUZZ_CHECK(complete);
  // Commands run: up to the first QUIT (which always closes the connection: it needs no
  // authentication and runs inside MULTI too), or all of them; a protocol error after them
  // gets one more reply, unless a QUIT came first.
  std::size_t expected = whole.commands.size();
  bool quit = false;
  for (std::size_t i = 0; i < whole.commands.size(); ++i) {
    if (IsQuit(whole.commands[i])) {
      expected = i + 1;
      quit = true;
      break;
    }
  }
  if (whole.error && !quit) ++expected;
  MERIDIAN_FUZZ_CHECK(replies.size() == expected);
  return 0;
}
