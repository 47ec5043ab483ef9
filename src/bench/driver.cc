#include "bench/driver.h"

namespace meridian::bench {

client::Result<std::unique_ptr<Driver>> MakeDriver(const BenchConfig& config,
                                                   boost::asio::io_context& loop,
                                                   std::size_t connections) {
  switch (config.driver) {
    case DriverKind::kMeridianHttp:
      return MakeHttpDriver(config, loop, connections);
    case DriverKind::kMeridianResp:
    case DriverKind::kRedis:
      return MakeRespDriver(config, loop, connections);
    case DriverKind::kEtcd:
      return MakeEtcdDriver(config, loop, connections);
  }
  client::Error error;
  error.code = client::ErrorCode::kInvalidArgument;
  error.message = "unknown driver";
  return error;
}

}  // namespace meridian::bench
