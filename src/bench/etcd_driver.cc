// The etcd driver: etcd's v3 API through its JSON gateway (grpc-gateway), POST /v3/kv/range
// for reads and POST /v3/kv/put for writes, keys and values base64-encoded, over the client
// library's keep-alive connection pool (src/client/async_http_pool.h). etcd 3.4 (Debian 12's
// etcd-server) serves the gateway under /v3/ on its client port (2379).
#include <boost/asio/io_context.hpp>
#include <string>
#include <utility>

#include "bench/driver.h"
#include "client/async_http_pool.h"
#include "client/url.h"

namespace meridian::bench {
namespace {

using client::internal::AsyncHttpPool;
using client::internal::HttpRequest;
using client::internal::HttpResponse;

void AppendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    const unsigned n = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const unsigned n = (static_cast<unsigned char>(bytes[i]) << 16) |
                       (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
}

class EtcdDriver final : public Driver {
 public:
  EtcdDriver(std::unique_ptr<AsyncHttpPool> pool) : pool_(std::move(pool)) {}

  void Read(std::size_t, std::string_view key, Completion* done) override {
    HttpRequest request = NewRequest("/v3/kv/range");
    request.body = "{\"key\":\"";
    AppendBase64(request.body, key);
    request.body += "\"}";
    request.idempotent = true;
    pool_->Send(std::move(request), [this, done](client::Result<HttpResponse> response) {
      const Outcome outcome = Check(response);
      if (!outcome.ok) return done->OnRead(outcome, {});
      // A range reply lists the matches under "kvs"; the gateway omits the field when empty.
      done->OnRead(Outcome{true, response->body.find("\"kvs\"") != std::string::npos, {}}, {});
    });
  }

  void Write(std::size_t, std::string_view key, std::string_view value, std::string_view,
             Completion* done, bool /*conditional: refused by Validate*/) override {
    HttpRequest request = NewRequest("/v3/kv/put");
    request.body.reserve(32 + (key.size() + value.size()) * 4 / 3);
    request.body = "{\"key\":\"";
    AppendBase64(request.body, key);
    request.body += "\",\"value\":\"";
    AppendBase64(request.body, value);
    request.body += "\"}";
    request.idempotent = false;
    pool_->Send(std::move(request), [this, done](client::Result<HttpResponse> response) {
      done->OnWrite(Check(response));
    });
  }

  void Close() override { pool_.reset(); }

 private:
  static HttpRequest NewRequest(const char* target) {
    HttpRequest request;
    request.method = "POST";
    request.target = target;
    request.headers.emplace_back("Content-Type", "application/json");
    return request;
  }

  // Success for a 200 reply; else the failure, in error_text_.
  Outcome Check(const client::Result<HttpResponse>& response) {
    if (!response.ok()) {
      error_text_ = response.error().ToString();
      return Outcome{false, true, error_text_};
    }
    if (response->status != 200) {
      error_text_ =
          "HTTP " + std::to_string(response->status) + ": " + response->body.substr(0, 200);
      return Outcome{false, true, error_text_};
    }
    return Outcome{true, true, {}};
  }

  std::unique_ptr<AsyncHttpPool> pool_;
  std::string error_text_;
};

}  // namespace

client::Result<std::unique_ptr<Driver>> MakeEtcdDriver(const BenchConfig& config,
                                                       boost::asio::io_context& loop,
                                                       std::size_t connections) {
  auto endpoint = client::internal::ParseEndpoint("http://" + config.address);
  if (!endpoint.ok()) return endpoint.error();
  client::ClientOptions options;
  options.timeout_ms = config.timeout_ms;
  client::PoolOptions pool;
  pool.connections = static_cast<std::uint32_t>(connections);
  pool.pipeline_depth = config.pipeline;
  auto created = AsyncHttpPool::Create(loop, std::move(endpoint).value(), options, pool);
  if (!created.ok()) return created.error();
  return std::unique_ptr<Driver>(new EtcdDriver(std::move(created).value()));
}

}  // namespace meridian::bench
