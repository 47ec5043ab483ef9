// RespCommands through a RespConnection, without sockets, against a fake KvService: every
// command's requests and replies, the sibling choice of GET, MERIDIAN.* commands, errors,
// reply order under out-of-order completions, the pipelining bound, and metrics.
#include "api/resp_commands.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "api/resp_connection.h"
#include "api/resp_test_support.h"

namespace meridian::api {
namespace {

using test_support::Command;
using test_support::DecodeAll;
using test_support::RespValue;

// A KvService over an in-memory map that answers at once, or (deferred) holds every request
// until the test completes it, in any order.
class FakeKvService final : public KvService {
 public:
  struct Pending {
    node::ClientRequest request;
    Completion done;
  };

  void Submit(node::ClientRequest request, Completion done) override {
    requests.push_back(request);
    if (deferred) {
      pending.push_back({std::move(request), std::move(done)});
      return;
    }
    done(Answer(request));
  }

  // The reply the in-memory store gives (an error when `failing` names the key).
  node::ClientReply Answer(const node::ClientRequest& request) {
    node::ClientReply reply;
    if (const auto* get = std::get_if<node::GetRequest>(&request)) {
      if (Failing(get->id.key)) return Error();
      node::GetReply body;
      auto it = store.find(get->id.key);
      body.found = it != store.end() && !it->second.empty();
      if (it != store.end()) body.values = it->second;
      body.context = body.found ? "ctx-" + get->id.key : "";
      reply.body = body;
    } else if (const auto* put = std::get_if<node::PutRequest>(&request)) {
      if (Failing(put->id.key)) return Error();
      const bool exists = store.contains(put->id.key) && !store[put->id.key].empty();
      if ((put->condition == node::WriteCondition::kIfAbsent && exists) ||
          (put->condition == node::WriteCondition::kIfPresent && !exists) ||
          (put->condition == node::WriteCondition::kIfMatch &&
           (!exists || put->context != "ctx-" + put->id.key))) {
        reply.status = Status::FailedPrecondition("If-Match does not hold: nothing was written");
        return reply;
      }
      auto& values = store[put->id.key];
      if (put->overwrite || !put->context.empty()) values.clear();
      values.push_back({put->value, HlcTimestamp{++clock}});
      reply.body = node::WriteReply{put->value == "no-context" ? "" : "wctx-" + put->id.key};
    } else if (const auto* del = std::get_if<node::DeleteRequest>(&request)) {
      if (Failing(del->id.key)) return Error();
      store.erase(del->id.key);
      reply.body = node::WriteReply{"dctx-" + del->id.key};
    }
    return reply;
  }

  // Completes the pending request at `index` (in submission order among those pending).
  void Complete(std::size_t index) {
    ASSERT_LT(index, pending.size());
    Pending item = std::move(pending[index]);
    pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(index));
    item.done(Answer(item.request));
  }

  bool Failing(const std::string& key) const { return failing.count(key) > 0; }
  static node::ClientReply Error() {
    node::ClientReply reply;
    reply.status = Status::Unavailable("1 of 2 replicas answered in time");
    return reply;
  }

  bool deferred = false;
  std::map<std::string, std::vector<node::SiblingValue>> store;
  std::set<std::string> failing;
  std::vector<node::ClientRequest> requests;
  std::deque<Pending> pending;
  std::uint64_t clock = 0;
};

class RespCommandsTest : public ::testing::Test {
 protected:
  RespCommandsTest() { Connect(); }

  void Connect(RespConnectionLimits limits = {}) {
    connection_ = std::make_shared<RespConnection>(commands_, limits, 7);
    connection_->SetWakeup([this] { ++wakeups_; });
  }

  // Feeds `bytes`, runs what is complete, and returns the output produced so far.
  std::string Feed(const std::string& bytes) {
    std::span<char> space = connection_->InputSpace(bytes.size());
    std::copy(bytes.begin(), bytes.end(), space.begin());
    connection_->CommitInput(bytes.size());
    connection_->Process();
    return Output();
  }
  std::string Output() {
    std::string out;
    connection_->TakeOutput(out);
    return out;
  }
  // One command, exactly one reply.
  RespValue Run(const std::vector<std::string>& args) {
    bool complete = false;
    std::vector<RespValue> replies = DecodeAll(Feed(Command(args)), &complete);
    EXPECT_TRUE(complete);
    EXPECT_EQ(replies.size(), 1u);
    return replies.empty() ? RespValue{} : replies[0];
  }
  std::string ErrorOf(const std::vector<std::string>& args) {
    RespValue reply = Run(args);
    EXPECT_TRUE(reply.IsError()) << "reply type " << reply.type << ": " << reply.text;
    return reply.text;
  }
  void Store(const std::string& key, std::vector<node::SiblingValue> values) {
    service_.store[key] = std::move(values);
  }

  FakeKvService service_;
  Metrics metrics_;
  std::shared_ptr<RespCommands> commands_ = std::make_shared<RespCommands>(
      service_, &metrics_, RespSettings{"bkt", "cluster", "node-a", 6380});
  std::shared_ptr<RespConnection> connection_;
  int wakeups_ = 0;
};

// ---- connection and introspection ----

TEST_F(RespCommandsTest, PingAndEcho) {
  EXPECT_EQ(Feed(Command({"PING"})), "+PONG\r\n");
  EXPECT_EQ(Feed(Command({"ping", "hi there"})), "$8\r\nhi there\r\n");
  EXPECT_EQ(Feed("PING\r\n"), "+PONG\r\n");  // inline
  EXPECT_EQ(Feed(Command({"EcHo", std::string("a\0b", 3)})), std::string("$3\r\na\0b\r\n", 9));
  EXPECT_EQ(ErrorOf({"PING", "a", "b"}), "ERR wrong number of arguments for 'ping' command");
  EXPECT_EQ(ErrorOf({"ECHO"}), "ERR wrong number of arguments for 'echo' command");
}

TEST_F(RespCommandsTest, UnknownCommandsAreNamedLikeRedis) {
  EXPECT_EQ(ErrorOf({"FOO", "a", "b"}),
            "ERR unknown command 'FOO', with args beginning with: 'a' 'b' ");
  EXPECT_EQ(ErrorOf({"foo"}), "ERR unknown command 'foo', with args beginning with: ");
  // Arguments are shown up to 128 bytes.
  const std::string shown = ErrorOf({"x", std::string(200, 'a'), "b"});
  EXPECT_EQ(shown,
            "ERR unknown command 'x', with args beginning with: '" + std::string(128, 'a') + "' ");
  EXPECT_EQ(ErrorOf({std::string(30, 'g')}).substr(0, 22), "ERR unknown command 'g");
}

TEST_F(RespCommandsTest, WrongArityNamesTheCommandInLowerCase) {
  EXPECT_EQ(ErrorOf({"GET"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(ErrorOf({"GET", "a", "b"}), "ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(ErrorOf({"Set", "a"}), "ERR wrong number of arguments for 'set' command");
  EXPECT_EQ(ErrorOf({"DEL"}), "ERR wrong number of arguments for 'del' command");
  EXPECT_EQ(ErrorOf({"MSET", "a"}), "ERR wrong number of arguments for 'mset' command");
  EXPECT_EQ(ErrorOf({"MSET", "a", "1", "b"}), "ERR wrong number of arguments for 'mset' command");
  EXPECT_EQ(ErrorOf({"MERIDIAN.PUT", "k", "v", "c", "x"}),
            "ERR wrong number of arguments for 'meridian.put' command");
  EXPECT_EQ(ErrorOf({"MERIDIAN.DEL", "k", "c", "x"}),
            "ERR wrong number of arguments for 'meridian.del' command");
  EXPECT_TRUE(service_.requests.empty());
}

TEST_F(RespCommandsTest, HelloAnswersTheRedis2MapAsAnArray) {
  for (const std::vector<std::string>& hello :
       {std::vector<std::string>{"HELLO"}, std::vector<std::string>{"HELLO", "2"}}) {
    RespValue reply = Run(hello);
    ASSERT_EQ(reply.type, '*');
    ASSERT_EQ(reply.elements.size(), 14u);
    std::map<std::string, RespValue> fields;
    for (std::size_t i = 0; i < 14; i += 2) fields[reply.elements[i].text] = reply.elements[i + 1];
    EXPECT_EQ(fields["server"].text, "redis");
    EXPECT_EQ(fields["version"].text, "7.0.0-meridian");
    EXPECT_EQ(fields["proto"].integer, 2);
    EXPECT_EQ(fields["id"].integer, 7);
    EXPECT_EQ(fields["mode"].text, "standalone");
    EXPECT_EQ(fields["role"].text, "master");
    EXPECT_EQ(fields["modules"].type, '*');
  }
  EXPECT_EQ(ErrorOf({"HELLO", "3"}), "NOPROTO sorry, this protocol version is not supported");
  EXPECT_EQ(ErrorOf({"HELLO", "1"}), "NOPROTO sorry, this protocol version is not supported");
  EXPECT_EQ(ErrorOf({"HELLO", "two"}), "ERR Protocol version is not an integer or out of range");
  EXPECT_EQ(ErrorOf({"HELLO", "2", "LOUD"}), "ERR Syntax error in HELLO option 'LOUD'");
  EXPECT_EQ(Run({"HELLO", "2", "AUTH", "default", "pw", "SETNAME", "app"}).type, '*');
  EXPECT_EQ(connection_->name(), "app");
}

TEST_F(RespCommandsTest, ClientSubcommands) {
  EXPECT_TRUE(Run({"CLIENT", "GETNAME"}).IsNil());
  EXPECT_EQ(Run({"CLIENT", "SETNAME", "worker-1"}).text, "OK");
  EXPECT_TRUE(Run({"client", "getname"}).IsBulk("worker-1"));
  EXPECT_EQ(Run({"CLIENT", "ID"}).integer, 7);
  EXPECT_EQ(Run({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}).text, "OK");
  EXPECT_EQ(ErrorOf({"CLIENT", "SETNAME", "a b"}),
            "ERR Client names cannot contain spaces, newlines or special characters.");
  EXPECT_EQ(ErrorOf({"CLIENT", "SETNAME"}),
            "ERR wrong number of arguments for 'client|setname' command");
  EXPECT_EQ(ErrorOf({"CLIENT", "KILL"}), "ERR unknown subcommand 'KILL'. Try CLIENT HELP.");
}

TEST_F(RespCommandsTest, SelectOnlyDatabaseZero) {
  EXPECT_EQ(Run({"SELECT", "0"}).text, "OK");
  EXPECT_EQ(ErrorOf({"SELECT", "1"}), "ERR DB index is out of range");
  EXPECT_EQ(ErrorOf({"SELECT", "x"}), "ERR value is not an integer or out of range");
}

TEST_F(RespCommandsTest, AuthAsRedisWithoutAPassword) {
  EXPECT_EQ(ErrorOf({"AUTH", "pw"}).substr(0, 50),
            "ERR AUTH <password> called without any password co");
  EXPECT_EQ(Run({"AUTH", "default", "pw"}).text, "OK");
  EXPECT_EQ(ErrorOf({"AUTH", "alice", "pw"}).substr(0, 9), "WRONGPASS");
}

TEST_F(RespCommandsTest, CommandIntrospection) {
  RespValue all = Run({"COMMAND"});
  ASSERT_EQ(all.type, '*');
  RespValue count = Run({"COMMAND", "COUNT"});
  EXPECT_EQ(count.integer, static_cast<std::int64_t>(all.elements.size()));
  bool found_get = false;
  for (const RespValue& entry : all.elements) {
    ASSERT_EQ(entry.elements.size(), 6u);
    if (entry.elements[0].text == "get") {
      found_get = true;
      EXPECT_EQ(entry.elements[1].integer, 2);
      EXPECT_EQ(entry.elements[3].integer, 1);
    }
  }
  EXPECT_TRUE(found_get);
  EXPECT_EQ(Feed(Command({"COMMAND", "DOCS"})), "*0\r\n");
  EXPECT_EQ(Feed(Command({"COMMAND", "DOCS", "get"})), "*0\r\n");
  RespValue info = Run({"COMMAND", "INFO", "set", "nope"});
  ASSERT_EQ(info.elements.size(), 2u);
  EXPECT_EQ(info.elements[0].elements[0].text, "set");
  EXPECT_TRUE(info.elements[1].null);
  EXPECT_EQ(ErrorOf({"COMMAND", "FOO"}), "ERR unknown subcommand 'FOO'. Try COMMAND HELP.");
}

TEST_F(RespCommandsTest, ConfigGetAnswersWhatRedisBenchmarkReads) {
  RespValue save = Run({"CONFIG", "GET", "save"});
  ASSERT_EQ(save.elements.size(), 2u);
  EXPECT_EQ(save.elements[0].text, "save");
  EXPECT_EQ(save.elements[1].text, "");
  RespValue appendonly = Run({"config", "get", "APPENDONLY"});
  ASSERT_EQ(appendonly.elements.size(), 2u);
  EXPECT_EQ(appendonly.elements[1].text, "no");
  EXPECT_EQ(Run({"CONFIG", "GET", "*"}).elements.size(), 6u);
  EXPECT_EQ(Run({"CONFIG", "GET", "save", "s*"}).elements.size(), 2u);  // no duplicates
  EXPECT_EQ(Feed(Command({"CONFIG", "GET", "maxmemory"})), "*0\r\n");
  EXPECT_EQ(ErrorOf({"CONFIG", "SET", "save", ""}).substr(0, 38),
            "ERR CONFIG set is not supported: confi");
}

TEST_F(RespCommandsTest, InfoHasServerAndKeyspaceSections) {
  RespValue info = Run({"INFO"});
  ASSERT_EQ(info.type, '$');
  EXPECT_NE(info.text.find("# Server\r\nredis_version:7.0.0-meridian\r\n"), std::string::npos);
  EXPECT_NE(info.text.find("meridian_version:" MERIDIAN_VERSION "\r\n"), std::string::npos);
  EXPECT_NE(info.text.find("mode:cluster\r\n"), std::string::npos);
  EXPECT_NE(info.text.find("tcp_port:6380\r\n"), std::string::npos);
  EXPECT_NE(info.text.find("bucket:bkt\r\n"), std::string::npos);
  EXPECT_NE(info.text.find("\r\n# Keyspace\r\n"), std::string::npos);
  RespValue server = Run({"INFO", "server"});
  EXPECT_EQ(server.text.find("# Keyspace"), std::string::npos);
  EXPECT_NE(server.text.find("# Server"), std::string::npos);
  EXPECT_EQ(Run({"INFO", "keyspace"}).text, "# Keyspace\r\n");
  EXPECT_EQ(Run({"INFO", "memory"}).text, "");
}

TEST_F(RespCommandsTest, QuitRepliesThenClosesAndRunsNothingAfter) {
  EXPECT_EQ(Feed(Command({"PING"}) + Command({"QUIT"}) + Command({"SET", "k", "v"})),
            "+PONG\r\n+OK\r\n");
  EXPECT_TRUE(connection_->closing());
  EXPECT_TRUE(connection_->finished());
  EXPECT_FALSE(connection_->WantsInput());
  EXPECT_TRUE(service_.requests.empty());
}

TEST_F(RespCommandsTest, MultiRefusesCommandsUntilExecOrDiscard) {
  EXPECT_EQ(ErrorOf({"EXEC"}), "ERR EXEC without MULTI");
  EXPECT_EQ(ErrorOf({"DISCARD"}), "ERR DISCARD without MULTI");
  EXPECT_EQ(ErrorOf({"MULTI"}).substr(0, 29), "ERR MULTI is not supported: M");
  EXPECT_EQ(ErrorOf({"SET", "k", "v"}).substr(0, 19), "ERR command not run");
  EXPECT_EQ(ErrorOf({"EXEC"}).substr(0, 10), "EXECABORT ");
  EXPECT_TRUE(service_.requests.empty());
  EXPECT_EQ(ErrorOf({"MULTI"}).substr(0, 9), "ERR MULTI");
  EXPECT_EQ(Run({"DISCARD"}).text, "OK");
  EXPECT_EQ(Run({"SET", "k", "v"}).text, "OK");
}

// ---- keys ----

TEST_F(RespCommandsTest, SetIsAnOverwritingPutInTheConfiguredBucket) {
  EXPECT_EQ(Feed(Command({"SET", "k", std::string("v\0", 2)})), "+OK\r\n");
  ASSERT_EQ(service_.requests.size(), 1u);
  const auto& put = std::get<node::PutRequest>(service_.requests[0]);
  EXPECT_EQ(put.id, (ObjectId{"bkt", "k"}));
  EXPECT_EQ(put.value, std::string("v\0", 2));
  EXPECT_TRUE(put.overwrite);
  EXPECT_TRUE(put.context.empty());
  EXPECT_TRUE(Run({"GET", "k"}).IsBulk(std::string("v\0", 2)));
  EXPECT_EQ(std::get<node::GetRequest>(service_.requests[1]).id, (ObjectId{"bkt", "k"}));
}

TEST_F(RespCommandsTest, SetOptionsAreRefusedClearly) {
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "NX", "XX"}), "ERR syntax error");
  const std::string ttl = "ERR SET EX/PX/EXAT/PXAT/KEEPTTL: TTL is not supported yet";
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "EX", "10"}), ttl);
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "px", "10"}), ttl);
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "EXAT", "10"}), ttl);
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "PXAT", "10"}), ttl);
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "KEEPTTL"}), ttl);
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "EX"}), "ERR syntax error");
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "FOO"}), "ERR syntax error");
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "EX", "10", "FOO"}), "ERR syntax error");
  EXPECT_EQ(ErrorOf({"SET", "k", "v", "GET"}), "ERR SET GET is not supported yet");
  EXPECT_TRUE(service_.requests.empty());
}

TEST_F(RespCommandsTest, GetOfAMissingKeyIsNil) {
  EXPECT_EQ(Feed(Command({"GET", "missing"})), "$-1\r\n");
}

TEST_F(RespCommandsTest, GetChoosesTheSiblingWithTheGreatestTimestamp) {
  Store("k", {{"old", HlcTimestamp{5}}, {"newest", HlcTimestamp{9}}, {"middle", HlcTimestamp{7}}});
  EXPECT_TRUE(Run({"GET", "k"}).IsBulk("newest"));
  // On a tie, the later in dot order.
  Store("t", {{"first", HlcTimestamp{9}}, {"second", HlcTimestamp{9}}, {"early", HlcTimestamp{3}}});
  EXPECT_TRUE(Run({"GET", "t"}).IsBulk("second"));
}

TEST_F(RespCommandsTest, NodeErrorsBecomeErr) {
  service_.failing.insert("k");
  EXPECT_EQ(ErrorOf({"GET", "k"}), "ERR 1 of 2 replicas answered in time");
  EXPECT_EQ(ErrorOf({"SET", "k", "v"}), "ERR 1 of 2 replicas answered in time");
  EXPECT_EQ(ErrorOf({"MERIDIAN.GET", "k"}), "ERR 1 of 2 replicas answered in time");
  EXPECT_EQ(ErrorOf({"MERIDIAN.PUT", "k", "v"}), "ERR 1 of 2 replicas answered in time");
}

TEST_F(RespCommandsTest, ExistsCountsFoundKeysAsRedisDoes) {
  Store("a", {{"1", HlcTimestamp{1}}});
  Store("b", {{"2", HlcTimestamp{2}}});
  EXPECT_EQ(Run({"EXISTS", "a", "b", "c"}).integer, 2);
  EXPECT_EQ(Run({"EXISTS", "a", "a"}).integer, 2);  // a key given twice counts twice
  EXPECT_EQ(Run({"EXISTS", "zzz"}).integer, 0);
}

TEST_F(RespCommandsTest, DelReadsThenDeletesTheKeysFound) {
  Store("a", {{"1", HlcTimestamp{1}}});
  Store("b", {{"2", HlcTimestamp{2}}});
  EXPECT_EQ(Run({"DEL", "a", "b", "c", "a"}).integer, 2);
  EXPECT_TRUE(service_.store.empty());
  int gets = 0;
  int deletes = 0;
  for (const node::ClientRequest& request : service_.requests) {
    gets += std::holds_alternative<node::GetRequest>(request);
    if (const auto* del = std::get_if<node::DeleteRequest>(&request)) {
      ++deletes;
      EXPECT_TRUE(del->context.empty());  // everything the coordinator holds
      EXPECT_EQ(del->id.bucket, "bkt");
    }
  }
  EXPECT_EQ(gets, 3);     // each distinct key once
  EXPECT_EQ(deletes, 2);  // only the ones found
  EXPECT_EQ(Run({"DEL", "a"}).integer, 0);
}

TEST_F(RespCommandsTest, MGetAnswersNilsForMissingKeys) {
  Store("a", {{"1", HlcTimestamp{1}}, {"1b", HlcTimestamp{4}}});
  Store("c", {{"3", HlcTimestamp{3}}});
  RespValue reply = Run({"MGET", "a", "b", "c", "a"});
  ASSERT_EQ(reply.elements.size(), 4u);
  EXPECT_TRUE(reply.elements[0].IsBulk("1b"));
  EXPECT_TRUE(reply.elements[1].IsNil());
  EXPECT_TRUE(reply.elements[2].IsBulk("3"));
  EXPECT_TRUE(reply.elements[3].IsBulk("1b"));
}

TEST_F(RespCommandsTest, MultiKeyErrorsNameTheFailedKeys) {
  service_.failing = {"b", "d"};
  EXPECT_EQ(ErrorOf({"MGET", "a", "b", "c", "d"}),
            "ERR MGET failed for 2 of 4 key(s) ('b', 'd'): 1 of 2 replicas answered in time");
  EXPECT_EQ(ErrorOf({"MSET", "a", "1", "b", "2"}),
            "ERR MSET failed for 1 of 2 key(s) ('b'): 1 of 2 replicas answered in time");
  EXPECT_EQ(service_.store.count("a"), 1u);  // the others were written
  EXPECT_EQ(ErrorOf({"DEL", "a", "d"}),
            "ERR DEL failed for 1 of 2 key(s) ('d'): 1 of 2 replicas answered in time");
  EXPECT_EQ(ErrorOf({"EXISTS", "b"}),
            "ERR EXISTS failed for 1 of 1 key(s) ('b'): 1 of 2 replicas answered in time");
  service_.failing.clear();
  std::vector<std::string> many = {"MGET"};
  for (int i = 0; i < 8; ++i) {
    many.push_back("k" + std::to_string(i));
    service_.failing.insert("k" + std::to_string(i));
  }
  EXPECT_TRUE(ErrorOf(many).starts_with(
      "ERR MGET failed for 8 of 8 key(s) ('k0', 'k1', 'k2', 'k3', 'k4' and 3 more): "));
}

TEST_F(RespCommandsTest, MSetWritesEveryPairAndTheLastValueOfARepeatedKey) {
  EXPECT_EQ(Run({"MSET", "a", "1", "b", "2", "a", "3"}).text, "OK");
  ASSERT_EQ(service_.requests.size(), 2u);
  for (const node::ClientRequest& request : service_.requests) {
    EXPECT_TRUE(std::get<node::PutRequest>(request).overwrite);
  }
  EXPECT_TRUE(Run({"GET", "a"}).IsBulk("3"));
  EXPECT_TRUE(Run({"GET", "b"}).IsBulk("2"));
}

// ---- siblings and contexts ----

TEST_F(RespCommandsTest, MeridianGetReturnsTheContextAndEverySibling) {
  Store("k", {{"one", HlcTimestamp{5}}, {"two", HlcTimestamp{3}}});
  RespValue reply = Run({"MERIDIAN.GET", "k"});
  ASSERT_EQ(reply.elements.size(), 3u);
  EXPECT_TRUE(reply.elements[0].IsBulk("ctx-k"));
  EXPECT_TRUE(reply.elements[1].IsBulk("one"));
  EXPECT_TRUE(reply.elements[2].IsBulk("two"));
  RespValue missing = Run({"meridian.get", "nope"});
  ASSERT_EQ(missing.elements.size(), 1u);
  EXPECT_TRUE(missing.elements[0].IsBulk(""));
}

TEST_F(RespCommandsTest, MeridianPutIsACausalWrite) {
  RespValue blind = Run({"MERIDIAN.PUT", "k", "v1"});
  EXPECT_TRUE(blind.IsBulk("wctx-k"));
  const auto& first = std::get<node::PutRequest>(service_.requests[0]);
  EXPECT_FALSE(first.overwrite);
  EXPECT_TRUE(first.context.empty());
  EXPECT_EQ(first.id, (ObjectId{"bkt", "k"}));
  Run({"MERIDIAN.PUT", "k", "v2"});
  EXPECT_EQ(Run({"MERIDIAN.GET", "k"}).elements.size(), 3u);  // two siblings
  EXPECT_TRUE(Run({"MERIDIAN.PUT", "k", "merged", "ctx-k"}).IsBulk("wctx-k"));
  EXPECT_EQ(std::get<node::PutRequest>(service_.requests.back()).context, "ctx-k");
  EXPECT_EQ(Run({"MERIDIAN.GET", "k"}).elements.size(), 2u);
  // No context to give back: nil.
  EXPECT_TRUE(Run({"MERIDIAN.PUT", "k", "no-context"}).IsNil());
}

TEST_F(RespCommandsTest, MeridianDelPassesItsContext) {
  Store("k", {{"v", HlcTimestamp{1}}});
  EXPECT_TRUE(Run({"MERIDIAN.DEL", "k", "ctx-k"}).IsBulk("dctx-k"));
  const auto& del = std::get<node::DeleteRequest>(service_.requests.back());
  EXPECT_EQ(del.context, "ctx-k");
  EXPECT_TRUE(Run({"MERIDIAN.DEL", "k"}).IsBulk("dctx-k"));
  EXPECT_TRUE(std::get<node::DeleteRequest>(service_.requests.back()).context.empty());
}

TEST_F(RespCommandsTest, SetNxAndXxAreConditionalWritesAnsweringNilWhenUnmet) {
  EXPECT_TRUE(Run({"SET", "k", "v1", "XX"}).IsNil());  // absent: not written
  EXPECT_EQ(std::get<node::PutRequest>(service_.requests.back()).condition,
            node::WriteCondition::kIfPresent);
  EXPECT_TRUE(Run({"GET", "k"}).IsNil());
  EXPECT_EQ(Feed(Command({"SET", "k", "v1", "nx"})), "+OK\r\n");
  EXPECT_EQ(std::get<node::PutRequest>(service_.requests.back()).condition,
            node::WriteCondition::kIfAbsent);
  EXPECT_TRUE(Run({"SET", "k", "v2", "NX"}).IsNil());  // exists: not written
  EXPECT_TRUE(Run({"GET", "k"}).IsBulk("v1"));
  EXPECT_EQ(Feed(Command({"SET", "k", "v3", "XX"})), "+OK\r\n");
  EXPECT_TRUE(Run({"GET", "k"}).IsBulk("v3"));
  // Other failures stay errors.
  service_.failing.insert("bad");
  EXPECT_EQ(ErrorOf({"SET", "bad", "v", "NX"}), "ERR 1 of 2 replicas answered in time");
}

TEST_F(RespCommandsTest, MeridianCasWritesOverAContextOrCreates) {
  EXPECT_TRUE(Run({"MERIDIAN.CAS", "k", "", "v1"}).IsBulk("wctx-k"));  // "": create only
  EXPECT_EQ(std::get<node::PutRequest>(service_.requests.back()).condition,
            node::WriteCondition::kIfAbsent);
  EXPECT_EQ(ErrorOf({"MERIDIAN.CAS", "k", "", "v2"}),
            "CONFLICT If-Match does not hold: nothing was written");
  EXPECT_TRUE(Run({"MERIDIAN.CAS", "k", "ctx-k", "v3"}).IsBulk("wctx-k"));
  const auto& cas = std::get<node::PutRequest>(service_.requests.back());
  EXPECT_EQ(cas.condition, node::WriteCondition::kIfMatch);
  EXPECT_EQ(cas.context, "ctx-k");
  EXPECT_FALSE(cas.overwrite);
  EXPECT_EQ(ErrorOf({"MERIDIAN.CAS", "k", "stale", "v4"}),
            "CONFLICT If-Match does not hold: nothing was written");
  EXPECT_TRUE(Run({"GET", "k"}).IsBulk("v3"));
  EXPECT_EQ(ErrorOf({"MERIDIAN.CAS", "k", "ctx-k"}),
            "ERR wrong number of arguments for 'meridian.cas' command");
}

// ---- pipelining ----

TEST_F(RespCommandsTest, RepliesKeepCommandOrderUnderOutOfOrderCompletions) {
  service_.deferred = true;
  Store("a", {{"A", HlcTimestamp{1}}});
  Store("b", {{"B", HlcTimestamp{1}}});
  Store("c", {{"C", HlcTimestamp{1}}});
  EXPECT_EQ(Feed(Command({"GET", "a"}) + Command({"GET", "b"}) + Command({"PING"}) +
                 Command({"GET", "c"})),
            "");
  EXPECT_EQ(connection_->in_flight(), 4u);
  ASSERT_EQ(service_.pending.size(), 3u);
  service_.Complete(2);  // c
  EXPECT_EQ(Output(), "");
  service_.Complete(1);  // b
  EXPECT_EQ(Output(), "");
  service_.Complete(0);  // a: now a, b, PONG and c are all ready, in order
  EXPECT_EQ(Output(), "$1\r\nA\r\n$1\r\nB\r\n+PONG\r\n$1\r\nC\r\n");
  EXPECT_EQ(connection_->in_flight(), 0u);
  EXPECT_EQ(wakeups_, 3);  // each asynchronous completion woke the server
}

RC_GTEST_PROP(RespCommandsProperty, RepliesFollowCommandOrderForAnyCompletionOrder,
              (std::vector<std::uint8_t> keys, std::vector<std::size_t> picks)) {
  FakeKvService service;
  service.deferred = true;
  auto commands = std::make_shared<RespCommands>(service, nullptr, RespSettings{});
  RespConnectionLimits limits;
  limits.pipeline_max = 1000;
  auto connection = std::make_shared<RespConnection>(commands, limits, 1);
  std::string input;
  std::string expected;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const std::string key = "k" + std::to_string(keys[i] % 8);
    if (keys[i] % 3 == 0) {  // a local command between the asynchronous ones
      input += Command({"ECHO", key});
      expected += "$" + std::to_string(key.size()) + "\r\n" + key + "\r\n";
    } else {
      service.store[key] = {{"v" + key, HlcTimestamp{1}}};
      input += Command({"GET", key});
      expected += "$" + std::to_string(key.size() + 1) + "\r\nv" + key + "\r\n";
    }
  }
  std::span<char> space = connection->InputSpace(input.size());
  std::copy(input.begin(), input.end(), space.begin());
  connection->CommitInput(input.size());
  connection->Process();
  std::string output;
  std::string chunk;
  connection->TakeOutput(chunk);
  output += chunk;
  for (std::size_t i = 0; !service.pending.empty(); ++i) {
    const std::size_t pick = i < picks.size() ? picks[i] : 0;
    service.Complete(pick % service.pending.size());
    connection->TakeOutput(chunk);
    output += chunk;
    // Output so far is always a prefix of the in-order replies.
    RC_ASSERT(expected.compare(0, output.size(), output) == 0);
  }
  RC_ASSERT(output == expected);
  RC_ASSERT(connection->in_flight() == 0u);
}

TEST_F(RespCommandsTest, AReplyNextInOrderIsOutputAtOnce) {
  service_.deferred = true;
  Feed(Command({"GET", "a"}) + Command({"GET", "b"}));
  service_.Complete(0);
  EXPECT_EQ(Output(), "$-1\r\n");
  service_.Complete(0);
  EXPECT_EQ(Output(), "$-1\r\n");
}

TEST_F(RespCommandsTest, MultiKeyCommandsInterleaveInOrder) {
  service_.deferred = true;
  Store("a", {{"A", HlcTimestamp{1}}});
  Feed(Command({"MGET", "a", "b"}) + Command({"EXISTS", "a"}));
  ASSERT_EQ(service_.pending.size(), 3u);
  service_.Complete(2);  // EXISTS a
  service_.Complete(1);  // MGET b
  EXPECT_EQ(Output(), "");
  service_.Complete(0);  // MGET a
  EXPECT_EQ(Output(), "*2\r\n$1\r\nA\r\n$-1\r\n:1\r\n");
}

TEST_F(RespCommandsTest, PipelineBoundPausesInputUntilRepliesDrain) {
  RespConnectionLimits limits;
  limits.pipeline_max = 2;
  Connect(limits);
  service_.deferred = true;
  std::string stream;
  for (const char* key : {"a", "b", "c", "d"}) stream += Command({"GET", key});
  EXPECT_EQ(Feed(stream), "");
  EXPECT_EQ(service_.pending.size(), 2u);  // only two run; the rest stay buffered
  EXPECT_FALSE(connection_->WantsInput());
  EXPECT_GT(connection_->buffered_input(), 0u);
  service_.Complete(0);
  EXPECT_TRUE(connection_->WantsInput());
  connection_->Process();  // what the server does on a wakeup
  EXPECT_EQ(service_.pending.size(), 2u);
  EXPECT_EQ(std::get<node::GetRequest>(service_.pending.back().request).id.key, "c");
  while (!service_.pending.empty()) {
    service_.Complete(0);
    connection_->Process();
  }
  EXPECT_EQ(Output(), "$-1\r\n$-1\r\n$-1\r\n$-1\r\n");
  EXPECT_EQ(connection_->buffered_input(), 0u);
}

TEST_F(RespCommandsTest, OutputBoundPausesInputUntilTheOutputIsTaken) {
  RespConnectionLimits limits;
  limits.output_bytes_max = 20;
  Connect(limits);
  std::string stream;
  for (int i = 0; i < 10; ++i) stream += Command({"ECHO", "0123456789"});
  std::string out = Feed(stream);
  EXPECT_EQ(out, "$10\r\n0123456789\r\n$10\r\n0123456789\r\n");  // 34 bytes: over 20
  EXPECT_GT(connection_->buffered_input(), 0u);
  std::size_t replies = 2;
  while (connection_->buffered_input() > 0) {
    connection_->Process();
    replies += DecodeAll(Output()).size();
  }
  EXPECT_EQ(replies, 10u);
}

TEST_F(RespCommandsTest, ProtocolErrorFollowsEarlierRepliesThenCloses) {
  service_.deferred = true;
  EXPECT_EQ(Feed(Command({"GET", "a"}) + "*1\r\n$x\r\n" + Command({"PING"})), "");
  EXPECT_TRUE(connection_->closing());
  EXPECT_FALSE(connection_->finished());  // GET a is still in flight
  service_.Complete(0);
  EXPECT_EQ(Output(), "$-1\r\n-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(connection_->finished());
  EXPECT_EQ(service_.requests.size(), 1u);  // PING after the error never ran
}

TEST_F(RespCommandsTest, AConnectionOutlivesItsServerSideUser) {
  service_.deferred = true;
  Feed(Command({"GET", "a"}));
  connection_->SetWakeup(nullptr);
  std::weak_ptr<RespConnection> weak = connection_;
  connection_.reset();  // the socket is gone; the pending completion holds the connection
  EXPECT_FALSE(weak.expired());
  service_.Complete(0);
  EXPECT_TRUE(weak.expired());
}

TEST_F(RespCommandsTest, MetricsRecordEveryCommand) {
  Run({"SET", "k", "v"});
  Run({"GET", "k"});
  Run({"GET", "k"});
  ErrorOf({"GET"});
  ErrorOf({"NOPE"});
  service_.failing.insert("x");
  ErrorOf({"GET", "x"});
  Feed("*1\r\n$x\r\n");
  EXPECT_EQ(metrics_.requests("resp_set", 200), 1u);
  EXPECT_EQ(metrics_.requests("resp_get", 200), 2u);
  EXPECT_EQ(metrics_.requests("resp_get", 400), 1u);
  EXPECT_EQ(metrics_.requests("resp_get", 503), 1u);
  EXPECT_EQ(metrics_.requests("resp_other", 400), 2u);  // unknown command, protocol error
}

}  // namespace
}  // namespace meridian::api

namespace meridian::api {
namespace {

// Issue 11: a multi-key command of many keys is sent a window (256) at a time as replies
// come back, so it never holds the event loop for long; the reply is the same.
TEST_F(RespCommandsTest, ManyKeyCommandsAreSentAWindowAtATime) {
  constexpr std::size_t kKeys = 1000;
  std::vector<std::string> mset = {"MSET"};
  std::vector<std::string> mget = {"MGET"};
  std::vector<std::string> exists = {"EXISTS"};
  for (std::size_t i = 0; i < kKeys; ++i) {
    mset.push_back("k" + std::to_string(i));
    mset.push_back("v" + std::to_string(i));
    mget.push_back("k" + std::to_string(i));
    exists.push_back("k" + std::to_string(i));
  }
  service_.deferred = true;
  for (const auto& command : {mset, mget, exists}) {
    const std::size_t before = service_.requests.size();
    EXPECT_EQ(Feed(Command(command)), "");
    EXPECT_EQ(service_.pending.size(), 256u) << command[0];
    std::size_t most_pending = 0;
    while (!service_.pending.empty()) {  // bounded: one completion per key
      most_pending = std::max(most_pending, service_.pending.size());
      service_.Complete(0);
    }
    EXPECT_EQ(most_pending, 256u);
    EXPECT_EQ(service_.requests.size() - before, kKeys) << command[0];
    bool complete = false;
    std::vector<RespValue> replies = DecodeAll(Output(), &complete);
    ASSERT_TRUE(complete);
    ASSERT_EQ(replies.size(), 1u);
    if (command[0] == "MGET") {
      ASSERT_EQ(replies[0].elements.size(), kKeys);
      EXPECT_EQ(replies[0].elements[999].text, "v999");
    } else if (command[0] == "EXISTS") {
      EXPECT_EQ(replies[0].integer, static_cast<std::int64_t>(kKeys));
    } else {
      EXPECT_EQ(replies[0].text, "OK");
    }
  }
  // MSET's values were copied: the input buffer they came in is long gone.
  EXPECT_EQ(service_.store.at("k500").front().value, "v500");
}

}  // namespace
}  // namespace meridian::api
