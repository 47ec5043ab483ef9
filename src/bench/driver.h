// Driver: how the load generator talks to one store. A driver owns `connections`
// connections on one event loop and runs reads and writes on them asynchronously; the
// runner calls it and gets completions on the loop's thread. Implementations:
// http_driver.cc (Meridian over HTTP through AsyncClient), resp_driver.cc (Meridian's RESP
// port and Redis), etcd_driver.cc (etcd's v3 JSON gateway).
//
// Not thread-safe: one driver per event-loop thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "bench/config.h"
#include "meridian/result.h"

namespace boost::asio {
class io_context;
}

namespace meridian::bench {

// How one request ended.
struct Outcome {
  bool ok = false;
  bool found = true;       // reads: false when the key does not exist (not an error)
  std::string_view error;  // !ok: one line naming the failure; valid during the call only
  bool conflict = false;   // conditional writes: refused, the version changed (not an error)
};

// Receives the completion of a request; lives until then.
class Completion {
 public:
  virtual ~Completion() = default;
  // `context`: the store's version token for a later write (Meridian HTTP); may be empty.
  virtual void OnRead(const Outcome& outcome, std::string_view context) = 0;
  virtual void OnWrite(const Outcome& outcome) = 0;
};

class Driver {
 public:
  virtual ~Driver() = default;

  // Blocking set-up before any phase (e.g. the bucket's conflict policy); called once, on a
  // driver of its own, before the event loops run.
  virtual client::Result<void> Setup() { return {}; }

  // Reads `key` on connection `connection` (< the driver's connections). Arguments are
  // copied before the call returns; `done` is called later on the loop's thread.
  virtual void Read(std::size_t connection, std::string_view key, Completion* done) = 0;
  // Writes `value` under `key`; `context` (possibly empty) from a previous read of the key.
  // `conditional`: only if the key's version is still `context` (absent when it is empty);
  // only drivers whose store has compare-and-set get it (config.cc checks).
  virtual void Write(std::size_t connection, std::string_view key, std::string_view value,
                     std::string_view context, Completion* done, bool conditional) = 0;

  // Closes every connection; completions not yet delivered are dropped.
  virtual void Close() = 0;
};

// A driver for `config.driver` on `loop` with `connections` connections.
client::Result<std::unique_ptr<Driver>> MakeDriver(const BenchConfig& config,
                                                   boost::asio::io_context& loop,
                                                   std::size_t connections);

// The per-kind constructors MakeDriver dispatches to.
client::Result<std::unique_ptr<Driver>> MakeHttpDriver(const BenchConfig& config,
                                                       boost::asio::io_context& loop,
                                                       std::size_t connections);
client::Result<std::unique_ptr<Driver>> MakeRespDriver(const BenchConfig& config,
                                                       boost::asio::io_context& loop,
                                                       std::size_t connections);
client::Result<std::unique_ptr<Driver>> MakeEtcdDriver(const BenchConfig& config,
                                                       boost::asio::io_context& loop,
                                                       std::size_t connections);

}  // namespace meridian::bench
