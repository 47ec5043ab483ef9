// The meridian-http driver: Meridian's object API through the client library's AsyncClient
// (a pool of `connections` keep-alive connections, pipelined `pipeline` deep). Reads are
// GETs, writes PUTs carrying the context of the read before them (read-modify-write) or none.
#include <boost/asio/io_context.hpp>
#include <optional>
#include <string>
#include <utility>

#include "bench/driver.h"
#include "meridian/client.h"

namespace meridian::bench {
namespace {

class HttpDriver final : public Driver {
 public:
  HttpDriver(const BenchConfig& config, std::unique_ptr<client::AsyncClient> client)
      : config_(config), client_(std::move(client)) {
    if (!config.r.empty()) get_options_.r = config.r;
    if (!config.w.empty()) put_options_.w = config.w;
    if (!config.dw.empty()) put_options_.dw = config.dw;
  }

  client::Result<void> Setup() override {
    client::ClientOptions options;
    options.endpoint = Endpoint(config_);
    options.timeout_ms = config_.timeout_ms;
    options.token = config_.token;
    auto created = client::Client::Create(options);
    if (!created.ok()) return created.error();
    if (auto health = (*created)->Health(); !health.ok()) return health;
    if (config_.set_lww || !config_.consistency.empty()) {
      client::BucketPropsUpdate update;
      if (config_.set_lww) update.conflict_policy = "lww";
      if (!config_.consistency.empty()) update.consistency = config_.consistency;
      if (auto props = (*created)->SetBucketProps(config_.bucket, update); !props.ok()) {
        return props.error();
      }
    }
    return {};
  }

  void Read(std::size_t, std::string_view key, Completion* done) override {
    client_->Get(config_.bucket, key, get_options_,
                 [this, done](client::Result<client::GetResult> result) {
                   if (!result.ok()) {
                     error_text_ = result.error().ToString();
                     done->OnRead(Outcome{false, false, error_text_}, {});
                     return;
                   }
                   done->OnRead(Outcome{true, result->found, {}}, result->context);
                 });
  }

  void Write(std::size_t, std::string_view key, std::string_view value, std::string_view context,
             Completion* done, bool conditional) override {
    put_options_.context.assign(context);
    using Condition = client::PutOptions::Condition;
    put_options_.condition = !conditional      ? Condition::kNone
                             : context.empty() ? Condition::kIfAbsent
                                               : Condition::kIfMatch;
    client_->Put(
        config_.bucket, key, value, put_options_,
        [this, done](client::Result<client::WriteResult> result) {
          if (!result.ok() && result.error().code == client::ErrorCode::kPreconditionFailed) {
            Outcome lost{true, true, {}};
            lost.conflict = true;
            done->OnWrite(lost);
            return;
          }
          if (!result.ok()) {
            error_text_ = result.error().ToString();
            done->OnWrite(Outcome{false, true, error_text_});
            return;
          }
          done->OnWrite(Outcome{true, true, {}});
        });
  }

  void Close() override { client_.reset(); }

  static std::string Endpoint(const BenchConfig& config) { return "http://" + config.address; }

 private:
  const BenchConfig& config_;
  std::unique_ptr<client::AsyncClient> client_;
  client::GetOptions get_options_;
  client::PutOptions put_options_;
  std::string error_text_;
};

}  // namespace

client::Result<std::unique_ptr<Driver>> MakeHttpDriver(const BenchConfig& config,
                                                       boost::asio::io_context& loop,
                                                       std::size_t connections) {
  client::ClientOptions options;
  options.endpoint = "http://" + config.address;
  options.timeout_ms = config.timeout_ms;
  options.token = config.token;
  client::PoolOptions pool;
  pool.connections = static_cast<std::uint32_t>(connections);
  pool.pipeline_depth = config.pipeline;
  auto created = client::AsyncClient::Create(loop, options, pool);
  if (!created.ok()) return created.error();
  return std::unique_ptr<Driver>(new HttpDriver(config, std::move(created).value()));
}

}  // namespace meridian::bench
