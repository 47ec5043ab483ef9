// AsyncHttpPool: up to PoolOptions::connections keep-alive HTTP/1.1 connections (plain TCP or
// TLS) to one endpoint on a caller's Boost.Asio event loop, with optional pipelining. The
// transport of AsyncClient, also usable for raw requests (the bench's etcd driver).
//
// Not thread-safe: call it, and run the loop, on one thread. Boost.Beast stays in the .cc.
// Connection reuse, re-sending and timeouts: see AsyncClient in meridian/client.h.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "client/http_connection.h"
#include "client/url.h"
#include "meridian/client.h"

namespace meridian::client::internal {

class AsyncHttpPool {
 public:
  using Callback = std::function<void(Result<HttpResponse>)>;

  // Loads the CA file for https (kTlsError when unreadable); kInvalidArgument for zero
  // connections or pipeline depth. Does not connect. `loop` must outlive the pool.
  static Result<std::unique_ptr<AsyncHttpPool>> Create(boost::asio::io_context& loop,
                                                       Endpoint endpoint,
                                                       const ClientOptions& options,
                                                       const PoolOptions& pool);
  // Closes every connection; the callbacks of pending requests are dropped, not called.
  ~AsyncHttpPool();
  AsyncHttpPool(const AsyncHttpPool&) = delete;
  AsyncHttpPool& operator=(const AsyncHttpPool&) = delete;

  // Queues `request` (Host, User-Agent and Content-Length are added); `done` runs on the loop
  // thread with the whole reply or the failure, never inside Send.
  void Send(HttpRequest request, Callback done);

  // Requests whose callbacks have not run yet.
  std::size_t Pending() const;

  // Connections opened so far (each reconnection counts), for tests and reports.
  std::size_t ConnectionsOpened() const;

  class Impl;  // the pool's state; named here so that the .cc's connection types can use it

 private:
  explicit AsyncHttpPool(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace meridian::client::internal
