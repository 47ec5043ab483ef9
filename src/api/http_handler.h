// HttpHandler: the HTTP API of docs/api.md as a function from a parsed request to a response.
// It routes, validates everything it can at the edge (bucket name, key encoding and size,
// query parameters, body size, bucket-property JSON), submits the request to a KvService and
// turns the reply or error into the response docs/api.md prescribes, recording metrics.
// Paths under /v1/cluster/ are delegated to HandleClusterRequest (api/cluster_handler.h);
// /console and /console/<file> serve the web console's static files (api/console_assets.h).
// No sockets and no Beast here: http_server.cc adapts it to connections, tests call it directly.
//
// Thread-safety: none; call it on the event-loop thread that runs the KvService. `respond`
// is invoked exactly once, possibly before Handle returns (e.g. for validation errors).
// The service and metrics must outlive every pending response.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "api/access_control.h"
#include "api/backup_service.h"
#include "api/http_limits.h"
#include "api/http_message.h"
#include "api/kv_service.h"
#include "api/metrics.h"

namespace meridian::api {

class HttpHandler {
 public:
  using Respond = std::function<void(HttpResponse)>;

  HttpHandler(KvService& service, Metrics& metrics, const HttpLimits& limits);

  void Handle(HttpRequest request, Respond respond);

  // Turns authentication on: every request but GET /health, the web console's static files
  // (/console, /console/*) and GET /metrics unless `metrics_require_auth`, needs "Authorization:
  // Bearer <token>" of a user whose role and buckets allow it — else 401 unauthenticated (with
  // WWW-Authenticate) or 403 forbidden. Null: no authentication (the default).
  void SetAccessControl(std::shared_ptr<const AccessControl> access, bool metrics_require_auth);

  // What GET /health reports beyond "the process answers": OK, or why this node refuses
  // writes (its disk is nearly full, its storage failed) — then /health answers 503
  // {"status":"read_only","reason":...}. Unset: always 200 {"status":"ok"}.
  using HealthCheck = std::function<Status()>;
  void SetHealthCheck(HealthCheck check) { health_check_ = std::move(check); }

  // Where POST /v1/cluster/backup goes (must outlive the handler's pending responses).
  // Null, the default: the endpoint answers 404 not_found.
  void SetBackupService(BackupService* backup) { backup_ = backup; }

  // Responses the connection layer produces itself (the request never reached Handle);
  // both are recorded in the metrics and close the connection.
  // 413 for a request whose declared or received body exceeds the limit for its target:
  // value_too_large on /v1/kv/..., body_too_large elsewhere.
  HttpResponse BodyTooLarge(std::string_view method, std::string_view target);
  // 503 unavailable for a request whose body (`bytes`) does not fit in what remains of the
  // node's input budget (`capacity` bytes for every request still arriving).
  HttpResponse InputBudgetExhausted(std::string_view method, std::string_view target,
                                    std::uint64_t bytes, std::uint64_t capacity);
  // 400 bad_request for bytes that are not a valid HTTP/1.1 request.
  HttpResponse MalformedRequest(std::string_view message);

  // The largest body accepted for `target` (what the connection layer may read).
  std::size_t BodyBytesMax(std::string_view target) const;

 private:
  void Finish(std::string_view op, std::int64_t start_ns, HttpResponse response,
              const Respond& respond);
  void HandleObject(std::string_view bucket, std::string_view raw_key, std::string_view query,
                    HttpRequest& request, std::int64_t start_ns, Respond respond);
  void HandleBucket(std::string_view bucket, std::string_view query, HttpRequest& request,
                    std::int64_t start_ns, Respond respond);
  // GET /v1/buckets: the configured buckets `user` may read (every one without access control).
  void HandleBucketList(std::optional<User> user, std::string_view query,
                        const HttpRequest& request, std::int64_t start_ns, Respond respond);

  // The 401/403 refusal, or nullopt with `user` set to who sent the request (owned by access_;
  // left null for what needs no user).
  std::optional<HttpResponse> Authorize(const HttpRequest& request, std::string_view path,
                                        const User*& user) const;

  std::shared_ptr<const AccessControl> access_;
  bool metrics_require_auth_ = false;
  HealthCheck health_check_;
  BackupService* backup_ = nullptr;
  KvService& service_;
  Metrics& metrics_;
  HttpLimits limits_;
};

}  // namespace meridian::api
