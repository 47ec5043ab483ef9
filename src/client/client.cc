#include "meridian/client.h"

#include <exception>
#include <utility>

#include "client/cluster_parsing.h"
#include "client/http_connection.h"
#include "client/object_requests.h"
#include "client/request_options.h"
#include "client/response_parsing.h"
#include "client/url.h"

namespace meridian::client {
namespace {

using internal::CheckBucket;
using internal::HttpRequest;
using internal::HttpResponse;

Error InvalidArgument(std::string message) {
  Error error;
  error.code = ErrorCode::kInvalidArgument;
  error.message = std::move(message);
  return error;
}

HttpRequest ClusterAdminRequest(std::string_view endpoint, std::string body, bool idempotent) {
  HttpRequest request;
  request.method = "POST";
  request.target = "/v1/cluster/" + std::string(endpoint);
  if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
  request.body = std::move(body);
  request.idempotent = idempotent;
  return request;
}

}  // namespace

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kTooLarge:
      return "too_large";
    case ErrorCode::kServerError:
      return "server_error";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kConnectionFailed:
      return "connection_failed";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kTlsError:
      return "tls_error";
    case ErrorCode::kProtocolError:
      return "protocol_error";
    case ErrorCode::kUnauthenticated:
      return "unauthenticated";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kInsufficientStorage:
      return "insufficient_storage";
    case ErrorCode::kPreconditionFailed:
      return "precondition_failed";
  }
  return "unknown";
}

std::string Error::ToString() const {
  std::string text = ErrorCodeName(code);
  if (http_status != 0) {
    text += " (HTTP " + std::to_string(http_status);
    if (!server_code.empty()) text += " " + server_code;
    text += ")";
  }
  return text + ": " + message;
}

class Client::Impl {
 public:
  explicit Impl(std::unique_ptr<internal::HttpConnection> connection)
      : connection_(std::move(connection)) {}

  Result<HttpResponse> Send(const HttpRequest& request) {
    try {
      return connection_->RoundTrip(request);
    } catch (const std::exception& e) {
      Error error;
      error.code = ErrorCode::kProtocolError;
      error.message = std::string("unexpected failure: ") + e.what();
      return error;
    }
  }

 private:
  std::unique_ptr<internal::HttpConnection> connection_;
};

Result<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  if (auto token = internal::ValidateToken(options.token); !token.ok()) return token.error();
  auto endpoint = internal::ParseEndpoint(options.endpoint);
  if (!endpoint.ok()) return endpoint.error();
  auto connection = internal::HttpConnection::Create(std::move(endpoint).value(), options);
  if (!connection.ok()) return connection.error();
  return std::unique_ptr<Client>(new Client(std::make_unique<Impl>(std::move(connection).value())));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<GetResult> Client::Get(std::string_view bucket, std::string_view key,
                              const GetOptions& options) {
  auto request = internal::BuildGetRequest(bucket, key, options);
  if (!request.ok()) return request.error();
  auto response = impl_->Send(*request);
  if (!response.ok()) return response.error();
  return internal::ParseGetReply(*response);
}

Result<WriteResult> Client::Put(std::string_view bucket, std::string_view key,
                                std::string_view value, const PutOptions& options) {
  auto request = internal::BuildWriteRequest(bucket, key, &value, options);
  if (!request.ok()) return request.error();
  auto response = impl_->Send(*request);
  if (!response.ok()) return response.error();
  return internal::ParseWriteReply(*response);
}

Result<WriteResult> Client::Delete(std::string_view bucket, std::string_view key,
                                   const DeleteOptions& options) {
  auto request = internal::BuildWriteRequest(bucket, key, nullptr, options);
  if (!request.ok()) return request.error();
  auto response = impl_->Send(*request);
  if (!response.ok()) return response.error();
  return internal::ParseWriteReply(*response);
}

Result<BucketProps> Client::GetBucketProps(std::string_view bucket) {
  if (auto valid = CheckBucket(bucket); !valid.ok()) return valid.error();
  HttpRequest request;
  request.method = "GET";
  request.target = "/v1/buckets/" + internal::PercentEncode(bucket);
  request.idempotent = true;
  auto response = impl_->Send(request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseBucketPropsBody(response->body);
}

Result<BucketProps> Client::SetBucketProps(std::string_view bucket,
                                           const BucketPropsUpdate& update) {
  if (auto valid = CheckBucket(bucket); !valid.ok()) return valid.error();
  const std::pair<const char*, const std::optional<std::string>*> quorums[] = {{"r", &update.r},
                                                                               {"w", &update.w},
                                                                               {"pr", &update.pr},
                                                                               {"pw", &update.pw},
                                                                               {"dw", &update.dw}};
  for (const auto& [name, value] : quorums) {
    if (value->has_value() && !internal::IsQuorumText(**value)) {
      return InvalidArgument(std::string(name) + " must be one, quorum, all or a number, not '" +
                             (*value)->substr(0, 32) + "'");
    }
  }
  HttpRequest request;
  request.method = "PUT";
  request.target = "/v1/buckets/" + internal::PercentEncode(bucket);
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = internal::BucketPropsUpdateBody(update);
  request.idempotent = true;  // setting properties twice has the effect of once
  auto response = impl_->Send(request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseBucketPropsBody(response->body);
}

Result<std::vector<BucketListing>> Client::ListBuckets() {
  HttpRequest request;
  request.method = "GET";
  request.target = "/v1/buckets";
  request.idempotent = true;
  auto response = impl_->Send(request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseBucketListBody(response->body);
}

Result<void> Client::Health() {
  HttpRequest request;
  request.method = "GET";
  request.target = "/health";
  request.idempotent = true;
  auto response = impl_->Send(request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return {};
}

Result<ClusterStatusResult> Client::ClusterStatus(bool reports) {
  HttpRequest request;
  request.method = "GET";
  request.target = reports ? "/v1/cluster/status" : "/v1/cluster/status?reports=false";
  request.idempotent = true;
  auto response = impl_->Send(request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseClusterStatusBody(response->body);
}

Result<ClusterRingResult> Client::ClusterRing(bool partitions) {
  HttpRequest request;
  request.method = "GET";
  request.target = partitions ? "/v1/cluster/ring?partitions=true" : "/v1/cluster/ring";
  request.idempotent = true;
  auto response = impl_->Send(request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseClusterRingBody(response->body);
}

namespace {
// GET /v1/cluster/<endpoint>/{bucket}/{key}.
Result<HttpRequest> KeyInspectionRequest(std::string_view endpoint, std::string_view bucket,
                                         std::string_view key) {
  if (auto valid = CheckBucket(bucket); !valid.ok()) return valid.error();
  if (key.empty()) return InvalidArgument("the key is empty");
  HttpRequest request;
  request.method = "GET";
  request.target = "/v1/cluster/" + std::string(endpoint) + "/" + internal::PercentEncode(bucket) +
                   "/" + internal::PercentEncode(key);
  request.idempotent = true;
  return request;
}
}  // namespace

Result<KeyLocation> Client::ClusterLocate(std::string_view bucket, std::string_view key) {
  auto request = KeyInspectionRequest("locate", bucket, key);
  if (!request.ok()) return request.error();
  auto response = impl_->Send(*request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseKeyLocationBody(response->body);
}

Result<LocalCopyResult> Client::ClusterLocal(std::string_view bucket, std::string_view key) {
  auto request = KeyInspectionRequest("local", bucket, key);
  if (!request.ok()) return request.error();
  auto response = impl_->Send(*request);
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseLocalCopyBody(response->body);
}

Result<ClusterAdminResult> Client::SendClusterAdmin(std::string_view endpoint, std::string body,
                                                    bool idempotent) {
  auto response = impl_->Send(ClusterAdminRequest(endpoint, std::move(body), idempotent));
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseClusterAdminBody(response->body);
}

Result<ClusterAdminResult> Client::ClusterJoin(const std::vector<std::string>& seeds) {
  if (seeds.empty()) return InvalidArgument("join needs at least one seed");
  for (const std::string& seed : seeds) {
    if (seed.empty()) return InvalidArgument("a seed address is empty");
  }
  // A join is not re-sent: it (re)starts the node's join through the seeds.
  return SendClusterAdmin("join", internal::ClusterJoinBody(seeds), /*idempotent=*/false);
}

Result<ClusterAdminResult> Client::ClusterLeave(std::string_view node) {
  return SendClusterAdmin("leave", internal::ClusterNodeBody(node), /*idempotent=*/true);
}

Result<ClusterAdminResult> Client::ClusterRemove(std::string_view node) {
  if (node.empty()) return InvalidArgument("the node id is empty");
  return SendClusterAdmin("remove", internal::ClusterNodeBody(node), /*idempotent=*/true);
}

Result<ClusterAdminResult> Client::ClusterSetWeight(std::string_view node, std::uint32_t weight) {
  if (node.empty()) return InvalidArgument("the node id is empty");
  if (weight == 0) return InvalidArgument("the weight must be positive");
  return SendClusterAdmin("weight", internal::ClusterWeightBody(node, weight),
                          /*idempotent=*/true);
}

Result<BackupResult> Client::Backup(std::string_view directory) {
  if (directory.empty()) return InvalidArgument("the backup directory is empty");
  // Not re-sent: a retry would find the directory the first attempt created.
  auto response = impl_->Send(
      ClusterAdminRequest("backup", internal::BackupBody(directory), /*idempotent=*/false));
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseBackupBody(response->body);
}

Result<BackgroundSetting> Client::ClusterBackground(std::optional<std::uint64_t> bytes_per_second,
                                                    std::optional<bool> paused) {
  // The same body sets the same values again: safe to re-send.
  auto response = impl_->Send(ClusterAdminRequest(
      "background", internal::BackgroundBody(bytes_per_second, paused), /*idempotent=*/true));
  if (!response.ok()) return response.error();
  if (response->status != 200) return internal::ErrorFromResponse(*response);
  return internal::ParseBackgroundBody(response->body);
}

}  // namespace meridian::client
