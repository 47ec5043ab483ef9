#include "api/resp_commands.h"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "api/resp_parser.h"
#include "api/resp_writer.h"

namespace meridian::api {

namespace {

using Args = std::span<const std::string_view>;

// Metric labels of what is not a known command.
constexpr std::string_view kOpOther = "resp_other";
// Longest command name looked up (longer ones are unknown).
constexpr std::size_t kCommandNameMax = 24;
// Keys named in a multi-key command's error message, and bytes shown of each.
constexpr std::size_t kErrorKeysShown = 5;
constexpr std::size_t kErrorKeyBytesShown = 64;

std::int64_t NowNanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Whether the space-separated `flags` hold `flag`.
bool HasFlag(std::string_view flags, std::string_view flag) {
  while (!flags.empty()) {
    const std::size_t space = flags.find(' ');
    if (flags.substr(0, space) == flag) return true;
    if (space == std::string_view::npos) break;
    flags.remove_prefix(space + 1);
  }
  return false;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string LowerCopy(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = Lower(c);
  return out;
}

// The HTTP status the same error gets on the HTTP API (docs/api.md "Errors"), as the metric
// status of a failed command.
unsigned HttpStatusOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kCorruption:
    case StatusCode::kIoError:
    case StatusCode::kUnavailable:
    case StatusCode::kTimeout:
      return 503;
    case StatusCode::kInsufficientStorage:
      return 507;
    case StatusCode::kFailedPrecondition:
      return 412;
    case StatusCode::kInternal:
      break;
  }
  return 500;
}

std::string ErrorText(const Status& status) {
  return "ERR " + status.message();
}

// The value Redis clients see for a key with siblings: the one with the greatest HLC
// timestamp; on a tie the later in dot order (siblings come in dot order).
const node::SiblingValue* NewestSibling(const std::vector<node::SiblingValue>& values) {
  const node::SiblingValue* newest = nullptr;
  for (const node::SiblingValue& value : values) {
    if (newest == nullptr || value.timestamp >= newest->timestamp) newest = &value;
  }
  return newest;
}

// "'k1', 'k2' and 3 more": keys shown in an error message, each cut to a readable length.
std::string KeyList(const std::vector<std::string>& keys) {
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < kErrorKeysShown; ++i) {
    if (i > 0) out += ", ";
    out += "'" + keys[i].substr(0, kErrorKeyBytesShown) + "'";
  }
  if (keys.size() > kErrorKeysShown) {
    out += " and " + std::to_string(keys.size() - kErrorKeysShown) + " more";
  }
  return out;
}

// A client name as Redis accepts it: printable ASCII without spaces.
bool ValidClientName(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) { return c > ' ' && c <= '~'; });
}

// Parameters CONFIG GET reports (what redis-benchmark reads at start: save, appendonly).
constexpr std::pair<std::string_view, std::string_view> kConfigParameters[] = {
    {"appendonly", "no"},
    {"databases", "1"},
    {"save", ""},
};

}  // namespace

namespace {
struct Call;
}  // namespace

struct RespCommands::Command {
  std::string_view name;   // lower case
  int arity;               // Redis' convention: n = exactly n arguments, -n = at least n
  std::string_view op;     // metric label
  std::string_view flags;  // for COMMAND, space-separated
  int first_key;
  int last_key;
  int key_step;
  void (*run)(RespCommands& self, Args args, Call& call);
};

// The command implementations; a friend of RespCommands.
struct RespHandlers {
  static void Ping(RespCommands&, Args args, Call& call);
  static void Echo(RespCommands&, Args args, Call& call);
  static void Hello(RespCommands&, Args args, Call& call);
  static void Auth(RespCommands&, Args args, Call& call);
  static void Select(RespCommands&, Args args, Call& call);
  static void Quit(RespCommands&, Args args, Call& call);
  static void Client(RespCommands&, Args args, Call& call);
  static void CommandInfo(RespCommands&, Args args, Call& call);
  static void Config(RespCommands&, Args args, Call& call);
  static void Info(RespCommands& self, Args args, Call& call);
  static void Multi(RespCommands&, Args args, Call& call);
  static void Exec(RespCommands&, Args args, Call& call);
  static void Discard(RespCommands&, Args args, Call& call);
  static void Get(RespCommands& self, Args args, Call& call);
  static void Set(RespCommands& self, Args args, Call& call);
  static void Del(RespCommands& self, Args args, Call& call);
  static void Exists(RespCommands& self, Args args, Call& call);
  static void MGet(RespCommands& self, Args args, Call& call);
  static void MSet(RespCommands& self, Args args, Call& call);
  static void MeridianGet(RespCommands& self, Args args, Call& call);
  static void MeridianPut(RespCommands& self, Args args, Call& call);
  static void MeridianDel(RespCommands& self, Args args, Call& call);
  static void MeridianCas(RespCommands& self, Args args, Call& call);

  static const RespCommands::Command* Find(std::string_view name);
  static void WrongArity(std::string_view name, Call& call);
  static ObjectId Id(RespCommands& self, std::string_view key) {
    return ObjectId{self.settings_.bucket, std::string(key)};
  }
  static void Submit(RespCommands& self, node::ClientRequest request, KvService::Completion done) {
    self.service_.Submit(std::move(request), std::move(done));
  }
  static void AppendCommandEntry(std::string& out, const RespCommands::Command& command);
  static Metrics* MetricsOf(RespCommands& self) { return self.metrics_; }
};

namespace {

// One running command: its reply handle, metric label and start time.
struct Call {
  RespCommands* commands;  // kept alive by the connection the reply holds
  RespReply reply;
  std::string_view op;
  std::int64_t start_ns;

  void Record(unsigned status) const {
    Metrics* metrics = RespHandlers::MetricsOf(*commands);
    if (metrics == nullptr) return;
    metrics->RecordRequest(op, status, static_cast<double>(NowNanoseconds() - start_ns) / 1e9);
  }
  template <typename Append>
  void Ok(Append&& append) {
    Record(200);
    reply.Send(std::forward<Append>(append));
  }
  void Error(unsigned status, std::string_view message) {
    Record(status);
    reply.Send([message](std::string& out) { resp::AppendError(out, message); });
  }
  void Fail(const Status& status) { Error(HttpStatusOf(status), ErrorText(status)); }
};

// The command table. Order: the hot commands first (lookup is a linear scan).
const RespCommands::Command kCommands[] = {
    {"get", 2, "resp_get", "readonly fast", 1, 1, 1, &RespHandlers::Get},
    {"set", -3, "resp_set", "write denyoom", 1, 1, 1, &RespHandlers::Set},
    {"mget", -2, "resp_mget", "readonly fast", 1, -1, 1, &RespHandlers::MGet},
    {"mset", -3, "resp_mset", "write denyoom", 1, -1, 2, &RespHandlers::MSet},
    {"del", -2, "resp_del", "write", 1, -1, 1, &RespHandlers::Del},
    {"exists", -2, "resp_exists", "readonly fast", 1, -1, 1, &RespHandlers::Exists},
    {"ping", -1, "resp_ping", "fast stale", 0, 0, 0, &RespHandlers::Ping},
    {"echo", 2, "resp_echo", "fast", 0, 0, 0, &RespHandlers::Echo},
    {"hello", -1, "resp_hello", "noscript loading stale fast no_auth", 0, 0, 0,
     &RespHandlers::Hello},
    {"auth", -2, "resp_auth", "noscript loading stale fast no_auth", 0, 0, 0, &RespHandlers::Auth},
    {"select", 2, "resp_select", "loading stale fast", 0, 0, 0, &RespHandlers::Select},
    {"quit", -1, "resp_quit", "noscript loading stale fast no_auth", 0, 0, 0, &RespHandlers::Quit},
    {"client", -2, "resp_client", "noscript loading stale", 0, 0, 0, &RespHandlers::Client},
    {"command", -1, "resp_command", "loading stale", 0, 0, 0, &RespHandlers::CommandInfo},
    {"config", -2, "resp_config", "admin noscript loading stale", 0, 0, 0, &RespHandlers::Config},
    {"info", -1, "resp_info", "loading stale", 0, 0, 0, &RespHandlers::Info},
    {"multi", 1, "resp_multi", "noscript loading stale fast", 0, 0, 0, &RespHandlers::Multi},
    {"exec", 1, "resp_exec", "noscript loading stale", 0, 0, 0, &RespHandlers::Exec},
    {"discard", 1, "resp_discard", "noscript loading stale fast", 0, 0, 0, &RespHandlers::Discard},
    {"meridian.get", 2, "resp_meridian_get", "readonly", 1, 1, 1, &RespHandlers::MeridianGet},
    {"meridian.put", -3, "resp_meridian_put", "write denyoom", 1, 1, 1, &RespHandlers::MeridianPut},
    {"meridian.del", -2, "resp_meridian_del", "write", 1, 1, 1, &RespHandlers::MeridianDel},
    {"meridian.cas", 4, "resp_meridian_cas", "write denyoom", 1, 1, 1, &RespHandlers::MeridianCas},
};

}  // namespace

RespCommands::RespCommands(KvService& service, Metrics* metrics, RespSettings settings)
    : service_(service),
      metrics_(metrics),
      settings_(std::move(settings)),
      started_ns_(NowNanoseconds()) {}

const RespCommands::Command* RespHandlers::Find(std::string_view name) {
  if (name.size() > kCommandNameMax) return nullptr;
  char lower[kCommandNameMax];
  for (std::size_t i = 0; i < name.size(); ++i) lower[i] = Lower(name[i]);
  const std::string_view key(lower, name.size());
  for (const RespCommands::Command& command : kCommands) {
    if (command.name == key) return &command;
  }
  return nullptr;
}

void RespHandlers::WrongArity(std::string_view name, Call& call) {
  call.Error(400, "ERR wrong number of arguments for '" + std::string(name) + "' command");
}

void RespCommands::Execute(std::span<const std::string_view> args, RespReply reply) {
  Call call{this, std::move(reply), kOpOther, NowNanoseconds()};
  const Command* command = RespHandlers::Find(args[0]);
  if (command == nullptr) {
    // As Redis words it: the name as sent, then the first arguments, 128 bytes at most.
    std::string message = "ERR unknown command '" + std::string(args[0].substr(0, 128)) +
                          "', with args beginning with: ";
    std::string shown;
    for (std::size_t i = 1; i < args.size() && shown.size() < 128; ++i) {
      shown += "'" + std::string(args[i].substr(0, 128 - shown.size())) + "' ";
    }
    call.Error(400, message + shown);
    return;
  }
  call.op = command->op;
  if (access_) {
    const bool no_auth = HasFlag(command->flags, "no_auth");
    const std::optional<User>& user = call.reply.connection().user();
    if (!user && !no_auth) return call.Error(401, "NOAUTH Authentication required.");
    const bool writes = HasFlag(command->flags, "write");
    const bool reads = HasFlag(command->flags, "readonly");
    if (user && (writes || reads) &&
        !AccessControl::Allows(*user, writes ? Access::kWrite : Access::kRead, settings_.bucket)) {
      return call.Error(403, "NOPERM User " + user->name + " has no permissions to run the '" +
                                 std::string(command->name) + "' command");
    }
  }
  if (call.reply.connection().in_transaction() && command->run != &RespHandlers::Exec &&
      command->run != &RespHandlers::Discard && command->run != &RespHandlers::Quit) {
    // Nothing runs inside a MULTI Meridian cannot honour, so a client that ignores the MULTI
    // error does not apply half a transaction.
    call.Error(400,
               "ERR command not run: MULTI is not supported (no transactions); send EXEC or "
               "DISCARD");
    return;
  }
  const int argc = static_cast<int>(args.size());
  if ((command->arity > 0 && argc != command->arity) ||
      (command->arity < 0 && argc < -command->arity)) {
    RespHandlers::WrongArity(command->name, call);
    return;
  }
  command->run(*this, args, call);
}

void RespCommands::ProtocolError(std::string_view message, RespReply reply) {
  Call call{this, std::move(reply), kOpOther, NowNanoseconds()};
  call.Error(400, "ERR " + std::string(message));
}

// ---- connection and introspection ----

void RespHandlers::Ping(RespCommands&, Args args, Call& call) {
  if (args.size() > 2) return WrongArity("ping", call);
  if (args.size() == 1) return call.Ok([](std::string& out) { out.append("+PONG\r\n"); });
  call.Ok([message = args[1]](std::string& out) { resp::AppendBulkString(out, message); });
}

void RespHandlers::Echo(RespCommands&, Args args, Call& call) {
  call.Ok([message = args[1]](std::string& out) { resp::AppendBulkString(out, message); });
}

namespace {
// AUTH [user] token / HELLO ... AUTH user token with authentication on: the connection's user
// on success; WRONGPASS (as Redis) otherwise.
bool Authenticate(const AccessControl& access, std::optional<std::string_view> name,
                  std::string_view token, Call& call) {
  const User* user = access.Authenticate(token);
  if (user == nullptr || (name && *name != user->name)) {
    call.Error(401, "WRONGPASS invalid username-password pair or user is disabled.");
    return false;
  }
  call.reply.connection().set_user(*user);
  return true;
}
}  // namespace

void RespHandlers::Hello(RespCommands& self, Args args, Call& call) {
  if (args.size() >= 2) {
    std::int64_t version = 0;
    if (!ParseInteger(args[1], version)) {
      return call.Error(400, "ERR Protocol version is not an integer or out of range");
    }
    if (version != 2) {
      // Redis also speaks RESP3 (HELLO 3); Meridian speaks RESP2 only.
      return call.Error(400, "NOPROTO sorry, this protocol version is not supported");
    }
  }
  std::optional<std::string_view> name;
  for (std::size_t i = 2; i < args.size(); ++i) {
    if (EqualsIgnoreCase(args[i], "AUTH") && i + 2 < args.size()) {
      // Without authentication any credentials are accepted, as by Redis without a password.
      if (self.access_ && !Authenticate(*self.access_, args[i + 1], args[i + 2], call)) return;
      i += 2;
    } else if (EqualsIgnoreCase(args[i], "SETNAME") && i + 1 < args.size()) {
      name = args[++i];
    } else {
      return call.Error(400, "ERR Syntax error in HELLO option '" + std::string(args[i]) + "'");
    }
  }
  if (self.access_ && !call.reply.connection().user()) {
    return call.Error(401,
                      "NOAUTH HELLO must be called with the client already authenticated, "
                      "otherwise the HELLO <proto> AUTH <user> <pass> option can be used to "
                      "authenticate the client and select the RESP protocol version at the same "
                      "time");
  }
  if (name) {
    if (!ValidClientName(*name)) {
      return call.Error(400,
                        "ERR Client names cannot contain spaces, newlines or special characters.");
    }
    call.reply.connection().set_name(std::string(*name));
  }
  const std::int64_t id = static_cast<std::int64_t>(call.reply.connection().id());
  call.Ok([id](std::string& out) {
    resp::AppendArrayHeader(out, 14);
    resp::AppendBulkString(out, "server");
    resp::AppendBulkString(out, "redis");
    resp::AppendBulkString(out, "version");
    resp::AppendBulkString(out, kRespRedisVersion);
    resp::AppendBulkString(out, "proto");
    resp::AppendInteger(out, 2);
    resp::AppendBulkString(out, "id");
    resp::AppendInteger(out, id);
    resp::AppendBulkString(out, "mode");
    resp::AppendBulkString(out, "standalone");
    resp::AppendBulkString(out, "role");
    resp::AppendBulkString(out, "master");
    resp::AppendBulkString(out, "modules");
    resp::AppendArrayHeader(out, 0);
  });
}

void RespHandlers::Auth(RespCommands& self, Args args, Call& call) {
  if (self.access_) {
    if (args.size() != 2 && args.size() != 3) return call.Error(400, "ERR syntax error");
    const std::optional<std::string_view> name =
        args.size() == 3 ? std::optional<std::string_view>(args[1]) : std::nullopt;
    if (Authenticate(*self.access_, name, args.back(), call)) call.Ok(resp::AppendOk);
    return;
  }
  // Authentication is off; answer as Redis does when no password is configured.
  if (args.size() == 2) {
    return call.Error(400,
                      "ERR AUTH <password> called without any password configured for the "
                      "default user. Are you sure your configuration is correct?");
  }
  if (args.size() != 3) return call.Error(400, "ERR syntax error");
  if (args[1] != "default") {
    return call.Error(400, "WRONGPASS invalid username-password pair or user is disabled.");
  }
  call.Ok(resp::AppendOk);
}

void RespHandlers::Select(RespCommands&, Args args, Call& call) {
  std::int64_t index = 0;
  if (!ParseInteger(args[1], index)) {
    return call.Error(400, "ERR value is not an integer or out of range");
  }
  if (index != 0) return call.Error(400, "ERR DB index is out of range");
  call.Ok(resp::AppendOk);
}

void RespHandlers::Quit(RespCommands&, Args, Call& call) {
  RespConnection& connection = call.reply.connection();
  call.Ok(resp::AppendOk);
  connection.Close();
}

void RespHandlers::Client(RespCommands&, Args args, Call& call) {
  const std::string sub = LowerCopy(args[1]);
  RespConnection& connection = call.reply.connection();
  auto arity = [&](std::size_t expected) {
    if (args.size() == expected) return true;
    WrongArity("client|" + sub, call);
    return false;
  };
  if (sub == "setname") {
    if (!arity(3)) return;
    if (!ValidClientName(args[2])) {
      return call.Error(400,
                        "ERR Client names cannot contain spaces, newlines or special characters.");
    }
    connection.set_name(std::string(args[2]));
    return call.Ok(resp::AppendOk);
  }
  if (sub == "getname") {
    if (!arity(2)) return;
    return call.Ok([&connection](std::string& out) {
      if (connection.name().empty()) return resp::AppendNull(out);
      resp::AppendBulkString(out, connection.name());
    });
  }
  if (sub == "id") {
    if (!arity(2)) return;
    return call.Ok([id = connection.id()](std::string& out) {
      resp::AppendInteger(out, static_cast<std::int64_t>(id));
    });
  }
  if (sub == "setinfo") {
    if (!arity(4)) return;
    return call.Ok(resp::AppendOk);  // lib-name / lib-ver: accepted, not kept
  }
  call.Error(400, "ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) +
                      "'. Try CLIENT HELP.");
}

void RespHandlers::AppendCommandEntry(std::string& out, const RespCommands::Command& command) {
  // The Redis 6 layout: name, arity, flags, first key, last key, step.
  resp::AppendArrayHeader(out, 6);
  resp::AppendBulkString(out, command.name);
  resp::AppendInteger(out, command.arity);
  std::vector<std::string_view> flags;
  for (std::size_t start = 0; start < command.flags.size();) {
    std::size_t end = std::min(command.flags.find(' ', start), command.flags.size());
    flags.push_back(command.flags.substr(start, end - start));
    start = end + 1;
  }
  resp::AppendArrayHeader(out, flags.size());
  for (std::string_view flag : flags) resp::AppendSimpleString(out, flag);
  resp::AppendInteger(out, command.first_key);
  resp::AppendInteger(out, command.last_key);
  resp::AppendInteger(out, command.key_step);
}

void RespHandlers::CommandInfo(RespCommands&, Args args, Call& call) {
  if (args.size() == 1) {
    return call.Ok([](std::string& out) {
      resp::AppendArrayHeader(out, std::size(kCommands));
      for (const RespCommands::Command& command : kCommands) AppendCommandEntry(out, command);
    });
  }
  const std::string sub = LowerCopy(args[1]);
  if (sub == "count") {
    if (args.size() != 2) return WrongArity("command|count", call);
    return call.Ok([](std::string& out) {
      resp::AppendInteger(out, static_cast<std::int64_t>(std::size(kCommands)));
    });
  }
  if (sub == "docs") {
    // Documentation is optional for clients (redis-cli falls back to its own help).
    return call.Ok([](std::string& out) { resp::AppendArrayHeader(out, 0); });
  }
  if (sub == "list") {
    return call.Ok([](std::string& out) {
      resp::AppendArrayHeader(out, std::size(kCommands));
      for (const RespCommands::Command& command : kCommands) {
        resp::AppendBulkString(out, command.name);
      }
    });
  }
  if (sub == "info") {
    return call.Ok([args](std::string& out) {
      resp::AppendArrayHeader(out, args.size() - 2);
      for (std::size_t i = 2; i < args.size(); ++i) {
        const RespCommands::Command* command = Find(args[i]);
        if (command == nullptr) {
          out.append("*-1\r\n");  // Redis answers a nil array for an unknown name
        } else {
          AppendCommandEntry(out, *command);
        }
      }
    });
  }
  call.Error(400, "ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) +
                      "'. Try COMMAND HELP.");
}

void RespHandlers::Config(RespCommands&, Args args, Call& call) {
  const std::string sub = LowerCopy(args[1]);
  if (sub == "get") {
    if (args.size() < 3) return WrongArity("config|get", call);
    std::vector<std::pair<std::string_view, std::string_view>> matched;
    for (const auto& parameter : kConfigParameters) {
      const std::string name(parameter.first);
      for (std::size_t i = 2; i < args.size(); ++i) {
        if (fnmatch(std::string(args[i]).c_str(), name.c_str(), FNM_CASEFOLD) == 0) {
          matched.push_back(parameter);
          break;
        }
      }
    }
    return call.Ok([&matched](std::string& out) {
      resp::AppendArrayHeader(out, matched.size() * 2);
      for (const auto& [name, value] : matched) {
        resp::AppendBulkString(out, name);
        resp::AppendBulkString(out, value);
      }
    });
  }
  if (sub == "set" || sub == "resetstat" || sub == "rewrite") {
    return call.Error(400, "ERR CONFIG " + LowerCopy(args[1]) +
                               " is not supported: configure Meridian with `meridian serve` "
                               "flags or its TOML file");
  }
  call.Error(400, "ERR unknown subcommand '" + std::string(args[1].substr(0, 128)) +
                      "'. Try CONFIG HELP.");
}

void RespHandlers::Info(RespCommands& self, Args args, Call& call) {
  bool server = args.size() == 1;
  bool keyspace = args.size() == 1;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string section = LowerCopy(args[i]);
    if (section == "server") server = true;
    if (section == "keyspace") keyspace = true;
    if (section == "default" || section == "all" || section == "everything") {
      server = keyspace = true;
    }
  }
  std::string text;
  if (server) {
    const RespSettings& settings = self.settings_;
    const std::int64_t uptime_s = (NowNanoseconds() - self.started_ns_) / 1'000'000'000;
    text += "# Server\r\n";
    text += "redis_version:" + std::string(kRespRedisVersion) + "\r\n";
    text += "redis_mode:standalone\r\n";
    text += "meridian_version:" MERIDIAN_VERSION "\r\n";
    text += "mode:" + settings.mode + "\r\n";
    text += "node_id:" + settings.node_id + "\r\n";
    text += "bucket:" + settings.bucket + "\r\n";
    text += "process_id:" + std::to_string(::getpid()) + "\r\n";
    text += "tcp_port:" + std::to_string(settings.tcp_port) + "\r\n";
    text += "uptime_in_seconds:" + std::to_string(uptime_s) + "\r\n";
  }
  if (keyspace) {
    if (!text.empty()) text += "\r\n";
    text += "# Keyspace\r\n";
  }
  call.Ok([&text](std::string& out) { resp::AppendBulkString(out, text); });
}

void RespHandlers::Multi(RespCommands&, Args, Call& call) {
  call.reply.connection().set_in_transaction(true);
  call.Error(400,
             "ERR MULTI is not supported: Meridian has no transactions; commands are refused "
             "until EXEC or DISCARD (pipelines without MULTI/EXEC work, e.g. redis-py "
             "pipeline(transaction=False))");
}

void RespHandlers::Exec(RespCommands&, Args, Call& call) {
  if (!call.reply.connection().in_transaction()) return call.Error(400, "ERR EXEC without MULTI");
  call.reply.connection().set_in_transaction(false);
  call.Error(400, "EXECABORT Transaction discarded: MULTI is not supported; nothing was run");
}

void RespHandlers::Discard(RespCommands&, Args, Call& call) {
  if (!call.reply.connection().in_transaction()) {
    return call.Error(400, "ERR DISCARD without MULTI");
  }
  call.reply.connection().set_in_transaction(false);
  call.Ok(resp::AppendOk);
}

// ---- keys ----

void RespHandlers::Get(RespCommands& self, Args args, Call& call) {
  Submit(self, node::GetRequest{Id(self, args[1]), {}},
         [call = std::move(call)](node::ClientReply reply) mutable {
           if (!reply.status.ok()) return call.Fail(reply.status);
           const auto& get = std::get<node::GetReply>(reply.body);
           const node::SiblingValue* newest = get.found ? NewestSibling(get.values) : nullptr;
           call.Ok([newest](std::string& out) {
             if (newest == nullptr) return resp::AppendNull(out);
             resp::AppendBulkString(out, newest->value);
           });
         });
}

void RespHandlers::Set(RespCommands& self, Args args, Call& call) {
  node::WriteCondition condition = node::WriteCondition::kNone;  // NX / XX
  bool ttl = false;                                              // EX / PX / EXAT / PXAT / KEEPTTL
  bool get = false;                                              // GET (reply the old value)
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string option = LowerCopy(args[i]);
    if (option == "nx" || option == "xx") {
      const node::WriteCondition given =
          option == "nx" ? node::WriteCondition::kIfAbsent : node::WriteCondition::kIfPresent;
      if (condition != node::WriteCondition::kNone && condition != given) {
        return call.Error(400, "ERR syntax error");  // NX and XX together, as Redis says
      }
      condition = given;
    } else if (option == "ex" || option == "px" || option == "exat" || option == "pxat") {
      if (i + 1 >= args.size()) return call.Error(400, "ERR syntax error");
      ++i;
      ttl = true;
    } else if (option == "keepttl") {
      ttl = true;
    } else if (option == "get") {
      get = true;
    } else {
      return call.Error(400, "ERR syntax error");
    }
  }
  if (ttl) {
    return call.Error(400, "ERR SET EX/PX/EXAT/PXAT/KEEPTTL: TTL is not supported yet");
  }
  if (get) return call.Error(400, "ERR SET GET is not supported yet");
  node::PutRequest put{Id(self, args[1]), std::string(args[2]), {}, {}};
  put.overwrite = true;
  put.condition = condition;
  Submit(self, std::move(put), [call = std::move(call)](node::ClientReply reply) mutable {
    // As Redis: a SET NX/XX whose condition does not hold answers nil, not an error.
    if (reply.status.code() == StatusCode::kFailedPrecondition) return call.Ok(resp::AppendNull);
    if (!reply.status.ok()) return call.Fail(reply.status);
    call.Ok(resp::AppendOk);
  });
}

namespace {

// The shared state of a command over several keys: one request per key, one reply when the
// last is done. Failed keys are named in the error.
// Keys of one multi-key command in flight at once: a command of a million keys is sent a
// window at a time, as replies come back (the NodeService releases them after its group
// commit, on a later turn of the loop), so it never holds the event loop for long (issue 11).
constexpr std::size_t kMultiKeyWindow = 256;

struct MultiKey {
  explicit MultiKey(Call c, std::string_view command_name)
      : call(std::move(c)), command(command_name) {}

  // Sends keys[next..] with `submit` while fewer than kMultiKeyWindow are in flight. Called
  // once to start and again after every key's completion; re-entry (a synchronous completion)
  // returns at once and the outer loop goes on.
  static void Pump(const std::shared_ptr<MultiKey>& state) {
    if (state->pumping) return;
    state->pumping = true;
    while (state->next < state->keys.size() && state->in_flight < kMultiKeyWindow) {
      ++state->in_flight;
      state->submit(state, state->next++);
    }
    state->pumping = false;
  }

  // Records one key's outcome; replies once every key is done.
  template <typename Reply>
  void Done(std::size_t index, const Status& status, Reply&& reply) {
    --in_flight;
    if (!status.ok()) {
      if (first_error.ok()) first_error = status;
      failed.push_back(index);
    }
    if (--remaining > 0) return;
    if (!failed.empty()) {
      std::sort(failed.begin(), failed.end());
      std::vector<std::string> names;
      for (std::size_t i : failed) names.push_back(keys[i]);
      return call.Error(HttpStatusOf(first_error),
                        "ERR " + std::string(command) + " failed for " +
                            std::to_string(failed.size()) + " of " + std::to_string(keys.size()) +
                            " key(s) (" + KeyList(names) + "): " + first_error.message());
    }
    call.Ok(std::forward<Reply>(reply));
  }

  Call call;
  std::string_view command;
  std::vector<std::string> keys;
  std::size_t remaining = 0;
  std::vector<std::size_t> failed;
  Status first_error;
  std::vector<const node::SiblingValue*> newest;  // MGET
  std::vector<node::GetReply> replies;            // MGET: keeps `newest` alive
  std::int64_t count = 0;                         // EXISTS, DEL
  std::vector<std::string> values;                // MSET, by key
  // Sends key `index` (its completion calls Done, then Pump).
  std::function<void(const std::shared_ptr<MultiKey>&, std::size_t)> submit;
  std::size_t next = 0;  // the next key to send
  std::size_t in_flight = 0;
  bool pumping = false;
};

// Distinct keys of args[1..] in order of first appearance.
std::vector<std::string> DistinctKeys(Args args) {
  std::vector<std::string> keys;
  std::unordered_set<std::string_view> seen;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (seen.insert(args[i]).second) keys.emplace_back(args[i]);
  }
  return keys;
}

}  // namespace

void RespHandlers::Exists(RespCommands& self, Args args, Call& call) {
  // Redis counts a key given twice twice.
  auto state = std::make_shared<MultiKey>(std::move(call), "EXISTS");
  for (std::size_t i = 1; i < args.size(); ++i) state->keys.emplace_back(args[i]);
  state->remaining = state->keys.size();
  RespCommands* commands = &self;  // kept alive by the connection the reply holds
  state->submit = [commands](const std::shared_ptr<MultiKey>& state, std::size_t i) {
    Submit(*commands, node::GetRequest{Id(*commands, state->keys[i]), {}},
           [state, i](node::ClientReply reply) {
             if (reply.status.ok() && std::get<node::GetReply>(reply.body).found) ++state->count;
             state->Done(i, reply.status,
                         [state](std::string& out) { resp::AppendInteger(out, state->count); });
             MultiKey::Pump(state);
           });
  };
  MultiKey::Pump(state);
}

void RespHandlers::MGet(RespCommands& self, Args args, Call& call) {
  auto state = std::make_shared<MultiKey>(std::move(call), "MGET");
  for (std::size_t i = 1; i < args.size(); ++i) state->keys.emplace_back(args[i]);
  state->remaining = state->keys.size();
  state->replies.resize(state->keys.size());
  state->newest.resize(state->keys.size(), nullptr);
  RespCommands* commands = &self;  // kept alive by the connection the reply holds
  state->submit = [commands](const std::shared_ptr<MultiKey>& state, std::size_t i) {
    Submit(*commands, node::GetRequest{Id(*commands, state->keys[i]), {}},
           [state, i](node::ClientReply reply) {
             if (reply.status.ok()) {
               state->replies[i] = std::move(std::get<node::GetReply>(reply.body));
               if (state->replies[i].found)
                 state->newest[i] = NewestSibling(state->replies[i].values);
             }
             state->Done(i, reply.status, [state](std::string& out) {
               resp::AppendArrayHeader(out, state->newest.size());
               for (const node::SiblingValue* value : state->newest) {
                 if (value == nullptr) {
                   resp::AppendNull(out);
                 } else {
                   resp::AppendBulkString(out, value->value);
                 }
               }
             });
             MultiKey::Pump(state);
           });
  };
  MultiKey::Pump(state);
}

void RespHandlers::Del(RespCommands& self, Args args, Call& call) {
  // Read each distinct key, then delete the ones found (with an empty context: everything the
  // coordinating replica holds). Not atomic: a write between the two steps is deleted too.
  auto state = std::make_shared<MultiKey>(std::move(call), "DEL");
  state->keys = DistinctKeys(args);
  state->remaining = state->keys.size();
  RespCommands* commands = &self;  // kept alive by the connection the reply holds
  state->submit = [commands](const std::shared_ptr<MultiKey>& state, std::size_t i) {
    auto reply_count = [state](std::string& out) { resp::AppendInteger(out, state->count); };
    Submit(*commands, node::GetRequest{Id(*commands, state->keys[i]), {}},
           [state, i, commands, reply_count](node::ClientReply reply) {
             if (!reply.status.ok() || !std::get<node::GetReply>(reply.body).found) {
               state->Done(i, reply.status, reply_count);
               return MultiKey::Pump(state);
             }
             Submit(*commands, node::DeleteRequest{Id(*commands, state->keys[i]), {}, {}},
                    [state, i, reply_count](node::ClientReply deleted) {
                      if (deleted.status.ok()) ++state->count;
                      state->Done(i, deleted.status, reply_count);
                      MultiKey::Pump(state);
                    });
           });
  };
  MultiKey::Pump(state);
}

void RespHandlers::MSet(RespCommands& self, Args args, Call& call) {
  if (args.size() % 2 == 0) return WrongArity("mset", call);
  // A key given twice gets its last value, as in Redis: only that pair is written.
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  std::unordered_set<std::string_view> seen;
  for (std::size_t i = args.size() - 1; i >= 2; i -= 2) {
    if (seen.insert(args[i - 1]).second) pairs.emplace_back(args[i - 1], args[i]);
  }
  std::reverse(pairs.begin(), pairs.end());
  auto state = std::make_shared<MultiKey>(std::move(call), "MSET");
  // Copied: keys after the first window are sent after the input buffer moved on.
  for (const auto& pair : pairs) {
    state->keys.emplace_back(pair.first);
    state->values.emplace_back(pair.second);
  }
  state->remaining = pairs.size();
  RespCommands* commands = &self;  // kept alive by the connection the reply holds
  state->submit = [commands](const std::shared_ptr<MultiKey>& state, std::size_t i) {
    node::PutRequest put{Id(*commands, state->keys[i]), std::move(state->values[i]), {}, {}};
    put.overwrite = true;
    Submit(*commands, std::move(put), [state, i](node::ClientReply reply) {
      state->Done(i, reply.status, resp::AppendOk);
      MultiKey::Pump(state);
    });
  };
  MultiKey::Pump(state);
}

// ---- siblings and contexts ----

void RespHandlers::MeridianGet(RespCommands& self, Args args, Call& call) {
  Submit(self, node::GetRequest{Id(self, args[1]), {}},
         [call = std::move(call)](node::ClientReply reply) mutable {
           if (!reply.status.ok()) return call.Fail(reply.status);
           const auto& get = std::get<node::GetReply>(reply.body);
           call.Ok([&get](std::string& out) {
             const std::size_t values = get.found ? get.values.size() : 0;
             resp::AppendArrayHeader(out, 1 + values);
             resp::AppendBulkString(out, get.context);
             for (std::size_t i = 0; i < values; ++i) {
               resp::AppendBulkString(out, get.values[i].value);
             }
           });
         });
}

namespace {

void ReplyContext(Call& call, node::ClientReply& reply) {
  if (!reply.status.ok()) return call.Fail(reply.status);
  const auto& write = std::get<node::WriteReply>(reply.body);
  call.Ok([&write](std::string& out) {
    if (write.context.empty()) return resp::AppendNull(out);
    resp::AppendBulkString(out, write.context);
  });
}

}  // namespace

void RespHandlers::MeridianPut(RespCommands& self, Args args, Call& call) {
  if (args.size() > 4) return WrongArity("meridian.put", call);
  node::PutRequest put{Id(self, args[1]),
                       std::string(args[2]),
                       args.size() == 4 ? std::string(args[3]) : std::string(),
                       {}};
  Submit(self, std::move(put),
         [call = std::move(call)](node::ClientReply reply) mutable { ReplyContext(call, reply); });
}

void RespHandlers::MeridianCas(RespCommands& self, Args args, Call& call) {
  // MERIDIAN.CAS key context value: If-Match <context>; an empty context is If-None-Match: *.
  node::PutRequest put{Id(self, args[1]), std::string(args[3]), std::string(args[2]), {}};
  put.condition =
      args[2].empty() ? node::WriteCondition::kIfAbsent : node::WriteCondition::kIfMatch;
  Submit(self, std::move(put), [call = std::move(call)](node::ClientReply reply) mutable {
    if (reply.status.code() == StatusCode::kFailedPrecondition) {
      return call.Error(412, "CONFLICT " + reply.status.message());
    }
    ReplyContext(call, reply);
  });
}

void RespHandlers::MeridianDel(RespCommands& self, Args args, Call& call) {
  if (args.size() > 3) return WrongArity("meridian.del", call);
  node::DeleteRequest del{Id(self, args[1]), args.size() == 3 ? std::string(args[2]) : "", {}};
  Submit(self, std::move(del),
         [call = std::move(call)](node::ClientReply reply) mutable { ReplyContext(call, reply); });
}

}  // namespace meridian::api
