// RespCommands: the Redis commands Meridian answers (docs/api.md "RESP (Redis protocol)"),
// run against a KvService. Keys map to one bucket (RespSettings::bucket).
//
//   PING ECHO HELLO AUTH SELECT QUIT CLIENT COMMAND CONFIG INFO   connection and introspection
//   GET SET DEL EXISTS MGET MSET                                  keys, one value per key
//   MERIDIAN.GET MERIDIAN.PUT MERIDIAN.DEL                        siblings and contexts
//
// One value per key: GET answers the sibling with the greatest HLC timestamp (on a tie, the
// later in dot order); SET is an overwriting put (node::PutRequest::overwrite). Multi-key
// commands submit one request per key at once and reply when all are done; DEL reads each
// key, then deletes the ones found (not atomic). Node errors become "-ERR <message>".
//
// Every command is recorded in the Metrics as op "resp_<command>" ("resp_other" for unknown
// commands and protocol errors) with status 200 on success, else the HTTP status the same
// error gets (400, 404, 413, 500, 503).
//
// Threading: single-threaded, on the KvService's event loop. Held by shared_ptr by the server
// and every connection; the service and metrics must outlive every pending completion.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "api/access_control.h"
#include "api/kv_service.h"
#include "api/metrics.h"
#include "api/resp_connection.h"

namespace meridian::api {

// What the commands report about the server (INFO, HELLO) and the bucket keys live in.
struct RespSettings {
  std::string bucket = "default";
  std::string mode = "standalone";  // "standalone" or "cluster" (the node has peers)
  std::string node_id;
  std::uint16_t tcp_port = 0;  // the RESP listener's bound port
};

// The version Redis clients see (INFO redis_version, HELLO version).
inline constexpr std::string_view kRespRedisVersion = "7.0.0-meridian";

class RespCommands {
 public:
  // `metrics` may be null (nothing recorded).
  RespCommands(KvService& service, Metrics* metrics, RespSettings settings);

  // Runs one command (args[0] is its name, any case); replies exactly once through `reply`,
  // possibly before returning.
  void Execute(std::span<const std::string_view> args, RespReply reply);
  // Replies "-ERR <message>" to input that is not RESP; the caller then closes.
  void ProtocolError(std::string_view message, RespReply reply);

  RespSettings& settings() { return settings_; }
  // Turns authentication on (null: off, the default): every command but AUTH, HELLO and QUIT
  // needs an authenticated connection ("-NOAUTH"), and reads and writes of the bucket need a
  // user whose role and buckets allow them ("-NOPERM"). AUTH takes a user's token as the
  // password (`AUTH <token>` or `AUTH <user> <token>`).
  void SetAccessControl(std::shared_ptr<const AccessControl> access) {
    access_ = std::move(access);
  }

  struct Command;  // one entry of the command table (resp_commands.cc)

 private:
  friend struct RespHandlers;
  KvService& service_;
  Metrics* metrics_;
  RespSettings settings_;
  std::shared_ptr<const AccessControl> access_;
  std::int64_t started_ns_;  // for INFO uptime
};

}  // namespace meridian::api
