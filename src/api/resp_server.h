// RespServer: a Redis-protocol (RESP2) listener on plain TCP, serving the commands of
// api/resp_commands.h over a KvService (docs/api.md "RESP (Redis protocol)").
//
// Concurrency model: as HttpServer — everything (listener, sessions, commands, the
// KvService's completions) runs on the one thread that runs the io_context passed in. Each
// connection reads whenever its RespConnection wants input, runs every complete command in
// what it read (pipelining), and writes all replies that are ready in one write; replies go
// out in command order. Limits:
//   * connections over connections_max get "-ERR max number of clients reached" and are closed;
//   * a connection on which nothing moves (no byte read or written) for idle_timeout_ms while
//     no command is in flight is closed (a client that stops reading its replies included);
//   * malformed RESP or input over a parser limit: "-ERR Protocol error: ...", then close;
//   * at most connection.pipeline_max commands in flight per connection: reading pauses.
// Exceptions never escape a session: they are logged and the connection is closed.
//
// Not thread-safe: construct, Listen, Stop and destroy on the io_context's thread (or before
// it runs). The service and metrics must outlive the server; sessions keep the server's
// shared state alive (as HttpServer's do).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "api/access_control.h"
#include "api/kv_service.h"
#include "api/metrics.h"
#include "api/resp_commands.h"
#include "api/resp_connection.h"
#include "core/byte_budget.h"
#include "core/status.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace meridian::api {

struct RespServerLimits {
  RespConnectionLimits connection;
  std::size_t connections_max = 1024;
  std::uint64_t idle_timeout_ms = 60'000;
  // A command must arrive whole within this from its first byte; bytes that trickle in do not
  // extend it (issue 11).
  std::uint64_t command_timeout_ms = 10'000;
};

class RespServer {
 public:
  // `metrics` may be null. `settings.tcp_port` is filled in by Listen.
  RespServer(boost::asio::io_context& io, KvService& service, Metrics* metrics,
             RespSettings settings, const RespServerLimits& limits);
  ~RespServer();
  RespServer(const RespServer&) = delete;
  RespServer& operator=(const RespServer&) = delete;

  // Binds `address` ("HOST:PORT", as ParseListenAddress accepts) and starts accepting.
  // InvalidArgument for a malformed address, IoError when binding fails.
  Status Listen(std::string_view address);

  // The bound endpoint as "IP:PORT" and its port; empty / 0 before Listen.
  std::string endpoint() const;
  std::uint16_t port() const;

  // Graceful stop: closes the listener; every connection runs no more commands, finishes
  // those in flight, writes their replies and closes. Idempotent.
  void Stop();

  // Open connections.
  std::size_t connection_count() const;
  // Authentication of new commands (RespCommands::SetAccessControl).
  void SetAccessControl(std::shared_ptr<const AccessControl> access);
  // Input buffers (commands still arriving) are held under `budget`, shared with the node's
  // other front ends: a command that does not fit is answered -BUSY and the connection closed.
  void SetInputBudget(std::shared_ptr<ByteBudget> budget);

  // Defined in resp_server.cc; public only so the session code there can name it.
  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace meridian::api
