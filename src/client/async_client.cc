// AsyncClient (meridian/client.h): object requests built and parsed as Client does, sent
// through an AsyncHttpPool on the caller's event loop or on one of its own.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <utility>

#include "client/async_http_pool.h"
#include "client/object_requests.h"
#include "meridian/client.h"

namespace meridian::client {

class AsyncClient::Impl {
 public:
  Impl(std::unique_ptr<boost::asio::io_context> owned_loop, boost::asio::io_context& loop)
      : owned_loop_(std::move(owned_loop)), loop_(loop) {}

  // Reports a request rejected before sending, from the loop (never inside the call).
  template <typename T>
  void Reject(Error error, std::function<void(Result<T>)> done) {
    ++rejected_pending_;
    boost::asio::post(
        loop_, [this, alive = alive_, error = std::move(error), done = std::move(done)]() mutable {
          if (!*alive) return;
          --rejected_pending_;
          done(std::move(error));
        });
  }

  // Field order matters: the pool closes its connections before an owned loop goes away.
  std::unique_ptr<boost::asio::io_context> owned_loop_;
  boost::asio::io_context& loop_;
  std::unique_ptr<internal::AsyncHttpPool> pool_;
  std::size_t rejected_pending_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

namespace {

Result<std::unique_ptr<internal::AsyncHttpPool>> MakePool(boost::asio::io_context& loop,
                                                          const ClientOptions& options,
                                                          const PoolOptions& pool) {
  if (auto token = internal::ValidateToken(options.token); !token.ok()) return token.error();
  auto endpoint = internal::ParseEndpoint(options.endpoint);
  if (!endpoint.ok()) return endpoint.error();
  return internal::AsyncHttpPool::Create(loop, std::move(endpoint).value(), options, pool);
}

}  // namespace

Result<std::unique_ptr<AsyncClient>> AsyncClient::Create(ClientOptions options, PoolOptions pool) {
  auto loop = std::make_unique<boost::asio::io_context>(1);
  auto& loop_ref = *loop;
  auto made = MakePool(loop_ref, options, pool);
  if (!made.ok()) return made.error();
  auto impl = std::make_unique<Impl>(std::move(loop), loop_ref);
  impl->pool_ = std::move(made).value();
  return std::unique_ptr<AsyncClient>(new AsyncClient(std::move(impl)));
}

Result<std::unique_ptr<AsyncClient>> AsyncClient::Create(boost::asio::io_context& loop,
                                                         ClientOptions options, PoolOptions pool) {
  auto made = MakePool(loop, options, pool);
  if (!made.ok()) return made.error();
  auto impl = std::make_unique<Impl>(nullptr, loop);
  impl->pool_ = std::move(made).value();
  return std::unique_ptr<AsyncClient>(new AsyncClient(std::move(impl)));
}

AsyncClient::AsyncClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AsyncClient::~AsyncClient() {
  *impl_->alive_ = false;
}

void AsyncClient::Get(std::string_view bucket, std::string_view key, const GetOptions& options,
                      GetCallback done) {
  auto request = internal::BuildGetRequest(bucket, key, options);
  if (!request.ok()) return impl_->Reject(request.error(), std::move(done));
  impl_->pool_->Send(std::move(request).value(),
                     [done = std::move(done)](Result<internal::HttpResponse> response) {
                       if (!response.ok()) return done(response.error());
                       done(internal::ParseGetReply(*response));
                     });
}

void AsyncClient::Put(std::string_view bucket, std::string_view key, std::string_view value,
                      const PutOptions& options, WriteCallback done) {
  auto request = internal::BuildWriteRequest(bucket, key, &value, options);
  if (!request.ok()) return impl_->Reject(request.error(), std::move(done));
  impl_->pool_->Send(std::move(request).value(),
                     [done = std::move(done)](Result<internal::HttpResponse> response) {
                       if (!response.ok()) return done(response.error());
                       done(internal::ParseWriteReply(*response));
                     });
}

void AsyncClient::Delete(std::string_view bucket, std::string_view key,
                         const DeleteOptions& options, WriteCallback done) {
  auto request = internal::BuildWriteRequest(bucket, key, nullptr, options);
  if (!request.ok()) return impl_->Reject(request.error(), std::move(done));
  impl_->pool_->Send(std::move(request).value(),
                     [done = std::move(done)](Result<internal::HttpResponse> response) {
                       if (!response.ok()) return done(response.error());
                       done(internal::ParseWriteReply(*response));
                     });
}

std::size_t AsyncClient::Pending() const {
  return impl_->pool_->Pending() + impl_->rejected_pending_;
}

void AsyncClient::Run() {
  while (Pending() > 0) {
    if (impl_->loop_.stopped()) impl_->loop_.restart();
    // No work left although requests are pending: nothing could ever complete them.
    if (impl_->loop_.run_one() == 0) break;
  }
}

}  // namespace meridian::client
