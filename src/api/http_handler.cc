#include "api/http_handler.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/cluster_handler.h"
#include "api/console_assets.h"
#include "api/http_errors.h"
#include "api/http_target.h"
#include "api/json.h"
#include "core/object_id.h"

namespace meridian::api {

namespace {

constexpr std::string_view kObjectPrefix = "/v1/kv/";
constexpr std::string_view kBucketPrefix = "/v1/buckets/";
constexpr std::string_view kBucketListPath = "/v1/buckets";
constexpr std::string_view kClusterLocalPrefix = "/v1/cluster/local/";
constexpr std::string_view kConsolePath = "/console";
constexpr std::string_view kObjectMethods = "GET, PUT, DELETE";
constexpr std::string_view kBucketMethods = "GET, PUT";
constexpr std::string_view kContextHeader = "X-Meridian-Context";
constexpr std::string_view kDurableHeader = "X-Meridian-Durable";
constexpr std::string_view kConsistencyHeader = "X-Meridian-Consistency";

// Operation names used as the `op` metric label.
constexpr std::string_view kOpGet = "get";
constexpr std::string_view kOpPut = "put";
constexpr std::string_view kOpDelete = "delete";
constexpr std::string_view kOpGetBucket = "get_bucket";
constexpr std::string_view kOpSetBucket = "set_bucket";
constexpr std::string_view kOpListBuckets = "list_buckets";
constexpr std::string_view kOpHealth = "health";
constexpr std::string_view kOpMetrics = "metrics";
constexpr std::string_view kOpConsole = "console";
constexpr std::string_view kOpOther = "other";  // unknown paths, wrong methods, bad HTTP

std::int64_t NowNanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Which `error` an InvalidArgument / TooLarge from the node means, per operation. Everything
// else (bucket name, key, query, body size, JSON) is validated before submitting, so what the
// node still refuses with InvalidArgument is the context (objects) or the properties (buckets).
struct OperationErrors {
  std::string_view invalid_argument;
  std::string_view too_large;
};
OperationErrors ErrorsFor(std::string_view op) {
  if (op == kOpPut) return {error_code::kInvalidContext, error_code::kValueTooLarge};
  if (op == kOpDelete) return {error_code::kInvalidContext, error_code::kKeyTooLarge};
  if (op == kOpGet) return {error_code::kInvalidKey, error_code::kKeyTooLarge};
  if (op == kOpSetBucket) return {error_code::kInvalidProps, error_code::kBodyTooLarge};
  return {error_code::kInvalidBucket, error_code::kBodyTooLarge};
}

// ResolveQuorum's and ParseQuorumValue's refusals ("w=2 exceeds the key's 1 replica(s) ...",
// "r must be at least 1", "pr=3 exceeds r=quorum (2)"): the message starts with a quorum
// property's name followed by "=" or " must be". (Context errors start with "context".)
bool IsQuorumError(std::string_view message) {
  for (std::string_view property : {"r", "w", "pr", "pw", "dw", "sloppy_quorum"}) {
    if (!message.starts_with(property)) continue;
    std::string_view rest = message.substr(property.size());
    if (rest.starts_with("=") || rest.starts_with(" must be")) return true;
  }
  return false;
}

HttpResponse StatusResponse(std::string_view op, const Status& status) {
  const OperationErrors errors = ErrorsFor(op);
  // On an object request the node's InvalidArgument is either the context or a quorum
  // (request parameters or bucket settings) that the key's replicas cannot satisfy.
  const bool object_op = op == kOpGet || op == kOpPut || op == kOpDelete;
  if (object_op && status.code() == StatusCode::kInvalidArgument &&
      IsQuorumError(status.message())) {
    return ErrorResponse(400, error_code::kInvalidParameter, status.message());
  }
  return StatusErrorResponse(status, errors.invalid_argument, errors.too_large);
}

// "n=3; r=2; replies=2; primaries=2; fallbacks=0; behind=0" for a get;
// "n=3; w=2; replies=2; primaries=2; fallbacks=0; durable=0; hinted=0" for a write.
std::string ConsistencyHeaderValue(const node::ConsistencyReceipt& receipt, bool write) {
  auto field = [](std::string_view name, std::uint32_t value) {
    return std::string(name) + "=" + std::to_string(value);
  };
  std::string text = field("n", receipt.n) + "; " + field(write ? "w" : "r", receipt.required) +
                     "; " + field("replies", receipt.replies) + "; " +
                     field("primaries", receipt.primaries) + "; " +
                     field("fallbacks", receipt.fallbacks) + "; ";
  if (write)
    return text + field("durable", receipt.durable) + "; " + field("hinted", receipt.hinted);
  return text + field("behind", receipt.behind);
}

HttpResponse JsonResponse(unsigned status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(body);
  return response;
}

HttpResponse GetResponse(node::GetReply reply) {
  HttpResponse response;
  if (!reply.found || reply.values.empty()) {
    response = ErrorResponse(404, error_code::kNotFound, "key not found");
  } else if (reply.values.size() == 1) {
    response.status = 200;
    response.content_type = "application/octet-stream";
    response.body = std::move(reply.values.front().value);
  } else {
    response = JsonResponse(300, SiblingsJson(reply));
  }
  if (!reply.context.empty()) response.headers.emplace_back(kContextHeader, reply.context);
  response.headers.emplace_back(kConsistencyHeader, ConsistencyHeaderValue(reply.receipt, false));
  return response;
}

HttpResponse WriteResponse(const node::WriteReply& reply) {
  HttpResponse response;
  response.status = 204;
  response.headers.emplace_back(kContextHeader, reply.context);
  response.headers.emplace_back(kDurableHeader, reply.durable ? "true" : "false");
  response.headers.emplace_back(kConsistencyHeader, ConsistencyHeaderValue(reply.receipt, true));
  return response;
}

// A reply body of an unexpected kind is a bug in the service.
HttpResponse ReplyResponse(node::ClientReply reply) {
  if (auto* get = std::get_if<node::GetReply>(&reply.body)) return GetResponse(std::move(*get));
  if (auto* write = std::get_if<node::WriteReply>(&reply.body)) return WriteResponse(*write);
  if (auto* bucket = std::get_if<node::BucketReply>(&reply.body)) {
    return JsonResponse(200, BucketPropsJson(bucket->bucket, bucket->props));
  }
  return ErrorResponse(500, error_code::kInternal, "reply of an unknown kind");
}

// Validates the query of an object request: GET accepts r, pr, sloppy_quorum; PUT and
// DELETE accept w, pw, dw, sloppy_quorum; each at most once. Quorum values as
// ParseQuorumValue accepts them, sloppy_quorum true|false.
// If-Match: <context> (quoted as an entity-tag or bare) and If-None-Match: * (docs/api.md
// "Conditional writes"). If-Match's context becomes the write's context. One at most; weak
// tags, lists and If-None-Match with a tag are refused.
Result<node::WriteCondition> ParseWriteCondition(const HttpRequest& request, std::string& context) {
  if (request.if_match && request.if_none_match) {
    return Status::InvalidArgument("give If-Match or If-None-Match, not both");
  }
  if (request.if_none_match) {
    if (*request.if_none_match != "*") {
      return Status::InvalidArgument(
          "If-None-Match supports only \"*\" (create the key only if it does not exist)");
    }
    return node::WriteCondition::kIfAbsent;
  }
  if (!request.if_match) return node::WriteCondition::kNone;
  std::string_view tag = *request.if_match;
  if (tag == "*") return node::WriteCondition::kIfPresent;
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') {
    tag = tag.substr(1, tag.size() - 2);
  }
  if (tag.empty() || tag.find_first_of("\",* ") != std::string_view::npos) {
    return Status::InvalidArgument(
        "If-Match takes one context as a get returned it (X-Meridian-Context), optionally in "
        "double quotes, or \"*\"");
  }
  if (request.context && *request.context != tag) {
    return Status::InvalidArgument("If-Match and X-Meridian-Context name different versions");
  }
  context = std::string(tag);
  return node::WriteCondition::kIfMatch;
}

Result<node::RequestOptions> ParseRequestOptions(std::string_view method, std::string_view query) {
  auto parameters = ParseQuery(query);
  if (!parameters) return Status::InvalidArgument("malformed percent-encoding in the query");
  const bool get = method == "GET";
  const std::string_view accepted = get ? "r, pr, sloppy_quorum" : "w, pw, dw, sloppy_quorum";
  node::RequestOptions options;
  for (const auto& [name, value] : *parameters) {
    std::optional<QuorumValue>* quorum = nullptr;
    if (get && name == "r") quorum = &options.r;
    if (get && name == "pr") quorum = &options.pr;
    if (!get && name == "w") quorum = &options.w;
    if (!get && name == "pw") quorum = &options.pw;
    if (!get && name == "dw") quorum = &options.dw;
    if (quorum != nullptr) {
      if (quorum->has_value()) return Status::InvalidArgument(name + " given more than once");
      Result<QuorumValue> parsed = ParseQuorumValue(name, value);
      if (!parsed.ok()) return parsed.status();
      *quorum = *parsed;
    } else if (name == "sloppy_quorum") {
      if (options.sloppy_quorum) return Status::InvalidArgument(name + " given more than once");
      if (value != "true" && value != "false") {
        return Status::InvalidArgument("sloppy_quorum must be true or false");
      }
      options.sloppy_quorum = value == "true";
    } else {
      return Status::InvalidArgument("unknown query parameter for " + std::string(method) + ": " +
                                     name + " (accepted: " + std::string(accepted) + ")");
    }
  }
  return options;
}

// The answer to GET /console (a redirect to /console/) or GET /console/<asset>; `path` is at
// or under /console. The headers let a browser run the page under a strict policy: its own
// origin only, never framed, types as sent, revalidated on every load (a new binary may
// change the files).
HttpResponse ConsoleResponse(std::string_view path) {
  if (path == kConsolePath) {
    HttpResponse response;
    response.status = 301;
    response.headers.emplace_back("Location", "/console/");
    return response;
  }
  std::optional<ConsoleAsset> asset = ConsoleAssets::Find(path.substr(kConsolePath.size() + 1));
  if (!asset) return ErrorResponse(404, error_code::kNotFound, "no such console file");
  HttpResponse response;
  response.content_type = std::string(asset->content_type);
  response.body = std::string(asset->body);
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'self'; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

// Whether `path` is /console or under /console/ (and not, say, /consoles).
bool IsConsolePath(std::string_view path) {
  return path == kConsolePath ||
         (path.starts_with(kConsolePath) && path[kConsolePath.size()] == '/');
}

Status RequireNoQuery(std::string_view query) {
  auto parameters = ParseQuery(query);
  if (!parameters) return Status::InvalidArgument("malformed percent-encoding in the query");
  if (!parameters->empty()) {
    return Status::InvalidArgument("unknown query parameter: " + parameters->front().first);
  }
  return Status::Ok();
}

}  // namespace

HttpHandler::HttpHandler(KvService& service, Metrics& metrics, const HttpLimits& limits)
    : service_(service), metrics_(metrics), limits_(limits) {}

void HttpHandler::SetAccessControl(std::shared_ptr<const AccessControl> access,
                                   bool metrics_require_auth) {
  access_ = std::move(access);
  metrics_require_auth_ = metrics_require_auth;
}

std::optional<HttpResponse> HttpHandler::Authorize(const HttpRequest& request,
                                                   std::string_view path,
                                                   const User*& user_out) const {
  // What the request needs: the same routing as Handle, coarsely. Unknown paths need a user
  // (a stranger learns nothing, not even which paths exist).
  Access access = Access::kRead;
  std::string_view bucket;
  const bool reads = request.method == "GET" || request.method == "HEAD";
  if (path == "/health") return std::nullopt;
  if (IsConsolePath(path)) return std::nullopt;  // static files; the page's data needs a token
  if (path == "/metrics") {
    if (!metrics_require_auth_) return std::nullopt;
  } else if (path.starts_with(kObjectPrefix)) {
    std::string_view rest = path.substr(kObjectPrefix.size());
    bucket = rest.substr(0, rest.find('/'));
    access = reads ? Access::kRead : Access::kWrite;
  } else if (path.starts_with(kBucketPrefix)) {
    bucket = path.substr(kBucketPrefix.size());
    access = reads ? Access::kRead : Access::kAdmin;
  } else if (path.starts_with(kClusterLocalPrefix)) {
    access = Access::kAdmin;  // one replica's raw copy: an operator's tool
  } else if (path.starts_with(kClusterPrefix)) {
    access = reads ? Access::kRead : Access::kAdmin;
  }
  std::string_view token;
  if (request.authorization) {
    std::string_view header = *request.authorization;
    if (header.size() > 7 &&
        (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer ")) {
      token = header.substr(7);
    }
  }
  const User* user = token.empty() ? nullptr : access_->Authenticate(token);
  if (request.certificate_user) {
    // A verified client certificate is a credential of its own; a token sent with it must be
    // the same user's.
    const User* named = access_->FindUser(*request.certificate_user);
    std::string refusal;
    if (named == nullptr) {
      refusal = "the client certificate names user '" + *request.certificate_user +
                "', who is not in the users file";
    } else if (!token.empty() && user != named) {
      refusal = "the bearer token is not the client certificate's user ('" +
                *request.certificate_user + "')";
    }
    if (!refusal.empty()) {
      HttpResponse response = ErrorResponse(401, error_code::kUnauthenticated, refusal);
      response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"meridian\"");
      return response;
    }
    user = named;
  }
  if (user == nullptr) {
    HttpResponse response =
        ErrorResponse(401, error_code::kUnauthenticated,
                      token.empty() ? "authentication required: send Authorization: Bearer <token>"
                                    : "the bearer token is not valid");
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"meridian\"");
    return response;
  }
  if (!AccessControl::Allows(*user, access, bucket)) {
    std::string what = access == Access::kAdmin   ? "administer"
                       : access == Access::kWrite ? "write"
                                                  : "read";
    std::string message =
        "user '" + user->name + "' (" + std::string(RoleName(user->role)) + ") may not " + what;
    if (!bucket.empty() && access != Access::kAdmin)
      message += " bucket '" + std::string(bucket) + "'";
    return ErrorResponse(403, error_code::kForbidden, message);
  }
  user_out = user;
  return std::nullopt;
}

std::size_t HttpHandler::BodyBytesMax(std::string_view target) const {
  std::string_view path = SplitTarget(target).path;
  if (path.starts_with(kObjectPrefix)) return limits_.value_bytes_max;
  return kBucketBodyBytesMax;
}

HttpResponse HttpHandler::BodyTooLarge(std::string_view method, std::string_view target) {
  std::string_view path = SplitTarget(target).path;
  HttpResponse response;
  std::string_view op = kOpOther;
  if (path.starts_with(kObjectPrefix)) {
    op = method == "PUT" ? kOpPut : kOpOther;
    response = ErrorResponse(413, error_code::kValueTooLarge,
                             "value exceeds " + std::to_string(limits_.value_bytes_max) + " bytes");
  } else {
    if (path.starts_with(kClusterPrefix)) op = ClusterOperation(method, path);
    if (path.starts_with(kBucketPrefix) && method == "PUT") op = kOpSetBucket;
    response = ErrorResponse(413, error_code::kBodyTooLarge,
                             "body exceeds " + std::to_string(BodyBytesMax(target)) + " bytes");
  }
  response.close_connection = true;
  metrics_.RecordRequest(op, response.status, 0);
  return response;
}

HttpResponse HttpHandler::InputBudgetExhausted(std::string_view method, std::string_view target,
                                               std::uint64_t bytes, std::uint64_t capacity) {
  std::string_view path = SplitTarget(target).path;
  std::string_view op = kOpOther;
  if (path.starts_with(kObjectPrefix) && method == "PUT") op = kOpPut;
  HttpResponse response = ErrorResponse(
      503, error_code::kUnavailable,
      "the node is busy: a body of " + std::to_string(bytes) +
          " bytes does not fit in the memory for requests still arriving (input_bytes_max = " +
          std::to_string(capacity) + " bytes, shared by every connection); retry shortly");
  response.headers.emplace_back("Retry-After", "1");
  response.close_connection = true;
  metrics_.RecordRequest(op, response.status, 0);
  return response;
}

HttpResponse HttpHandler::MalformedRequest(std::string_view message) {
  HttpResponse response = ErrorResponse(400, error_code::kBadRequest, message);
  response.close_connection = true;
  metrics_.RecordRequest(kOpOther, response.status, 0);
  return response;
}

void HttpHandler::Finish(std::string_view op, std::int64_t start_ns, HttpResponse response,
                         const Respond& respond) {
  double seconds = static_cast<double>(NowNanoseconds() - start_ns) / 1e9;
  metrics_.RecordRequest(op, response.status, seconds);
  respond(std::move(response));
}

void HttpHandler::Handle(HttpRequest request, Respond respond) {
  const std::int64_t start_ns = NowNanoseconds();
  const std::string target = request.target;
  auto [path, query] = SplitTarget(target);
  const User* user = nullptr;  // who sent it, when the node authenticates (access_ owns it)
  if (access_) {
    if (std::optional<HttpResponse> refused = Authorize(request, path, user)) {
      return Finish(kOpOther, start_ns, std::move(*refused), respond);
    }
  }

  if (path == "/health" || path == "/metrics") {
    std::string_view op = path == "/health" ? kOpHealth : kOpMetrics;
    if (request.method != "GET")
      return Finish(kOpOther, start_ns, MethodNotAllowed("GET"), respond);
    if (Status status = RequireNoQuery(query); !status.ok()) {
      return Finish(op, start_ns,
                    ErrorResponse(400, error_code::kInvalidParameter, status.message()), respond);
    }
    if (op == kOpHealth) {
      const Status health = health_check_ ? health_check_() : Status::Ok();
      if (health.ok())
        return Finish(op, start_ns, JsonResponse(200, R"({"status":"ok"})"), respond);
      const std::string_view error = health.code() == StatusCode::kInsufficientStorage
                                         ? error_code::kInsufficientStorage
                                         : error_code::kStorageError;
      return Finish(op, start_ns, JsonResponse(503, ReadOnlyHealthJson(error, health.message())),
                    respond);
    }
    return metrics_.RenderPrometheus(
        [this, op, start_ns, respond = std::move(respond)](std::string text) {
          HttpResponse response;
          response.content_type = "text/plain; version=0.0.4; charset=utf-8";
          response.body = std::move(text);
          Finish(op, start_ns, std::move(response), respond);
        });
  }
  if (IsConsolePath(path)) {
    if (request.method != "GET")
      return Finish(kOpOther, start_ns, MethodNotAllowed("GET"), respond);
    return Finish(kOpConsole, start_ns, ConsoleResponse(path), respond);
  }
  if (path.starts_with(kObjectPrefix)) {
    std::string_view rest = path.substr(kObjectPrefix.size());
    std::size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      return HandleObject(rest.substr(0, slash), rest.substr(slash + 1), query, request, start_ns,
                          std::move(respond));
    }
  } else if (path.starts_with(kClusterPrefix)) {
    return HandleClusterRequest(
        service_, backup_, request, path, query, limits_.key_bytes_max,
        [this, start_ns, respond = std::move(respond)](std::string_view op, HttpResponse response) {
          Finish(op, start_ns, std::move(response), respond);
        });
  } else if (path == kBucketListPath) {
    // A copy: the reply may come after a reload replaced the users.
    return HandleBucketList(user ? std::optional<User>(*user) : std::nullopt, query, request,
                            start_ns, std::move(respond));
  } else if (path.starts_with(kBucketPrefix)) {
    std::string_view bucket = path.substr(kBucketPrefix.size());
    if (bucket.find('/') == std::string_view::npos) {
      return HandleBucket(bucket, query, request, start_ns, std::move(respond));
    }
  }
  Finish(kOpOther, start_ns, ErrorResponse(404, error_code::kNotFound, "no such endpoint"),
         respond);
}

void HttpHandler::HandleObject(std::string_view bucket, std::string_view raw_key,
                               std::string_view query, HttpRequest& request, std::int64_t start_ns,
                               Respond respond) {
  std::string_view op;
  if (request.method == "GET") {
    op = kOpGet;
  } else if (request.method == "PUT") {
    op = kOpPut;
  } else if (request.method == "DELETE") {
    op = kOpDelete;
  } else {
    return Finish(kOpOther, start_ns, MethodNotAllowed(kObjectMethods), respond);
  }
  auto fail = [&](unsigned status, std::string_view error, std::string_view message) {
    Finish(op, start_ns, ErrorResponse(status, error, message), respond);
  };
  if (Status status = ValidateBucketName(bucket); !status.ok()) {
    return fail(400, error_code::kInvalidBucket, status.message());
  }
  std::optional<std::string> key = PercentDecode(raw_key);
  if (!key) return fail(400, error_code::kInvalidKey, "malformed percent-encoding in the key");
  if (Status status = ValidateKey(*key, limits_.key_bytes_max); !status.ok()) {
    if (status.code() == StatusCode::kTooLarge) {
      return fail(413, error_code::kKeyTooLarge, status.message());
    }
    return fail(400, error_code::kInvalidKey, status.message());
  }
  ObjectId id{std::string(bucket), std::move(*key)};

  Result<node::RequestOptions> options = ParseRequestOptions(request.method, query);
  if (!options.ok()) return fail(400, error_code::kInvalidParameter, options.status().message());
  node::ClientRequest client_request;
  if (op == kOpGet) {
    client_request = node::GetRequest{std::move(id), *options};
  } else {
    std::string context = request.context.value_or("");
    auto condition = ParseWriteCondition(request, context);
    if (!condition.ok()) {
      return fail(400, error_code::kInvalidParameter, condition.status().message());
    }
    if (op == kOpPut) {
      if (request.body.size() > limits_.value_bytes_max) {
        return fail(413, error_code::kValueTooLarge,
                    "value exceeds " + std::to_string(limits_.value_bytes_max) + " bytes");
      }
      client_request = node::PutRequest{
          std::move(id), std::move(request.body), std::move(context), *options, false, *condition};
    } else {
      client_request = node::DeleteRequest{std::move(id), std::move(context), *options, *condition};
    }
  }
  service_.Submit(std::move(client_request),
                  [this, op, start_ns, respond = std::move(respond)](node::ClientReply reply) {
                    HttpResponse response = reply.status.ok() ? ReplyResponse(std::move(reply))
                                                              : StatusResponse(op, reply.status);
                    Finish(op, start_ns, std::move(response), respond);
                  });
}

void HttpHandler::HandleBucket(std::string_view bucket, std::string_view query,
                               HttpRequest& request, std::int64_t start_ns, Respond respond) {
  std::string_view op;
  if (request.method == "GET") {
    op = kOpGetBucket;
  } else if (request.method == "PUT") {
    op = kOpSetBucket;
  } else {
    return Finish(kOpOther, start_ns, MethodNotAllowed(kBucketMethods), respond);
  }
  auto fail = [&](unsigned status, std::string_view error, std::string_view message) {
    Finish(op, start_ns, ErrorResponse(status, error, message), respond);
  };
  if (Status status = ValidateBucketName(bucket); !status.ok()) {
    return fail(400, error_code::kInvalidBucket, status.message());
  }
  if (Status status = RequireNoQuery(query); !status.ok()) {
    return fail(400, error_code::kInvalidParameter, status.message());
  }
  node::ClientRequest client_request;
  if (op == kOpGetBucket) {
    client_request = node::GetBucketRequest{std::string(bucket)};
  } else {
    if (request.body.size() > kBucketBodyBytesMax) {
      return fail(413, error_code::kBodyTooLarge,
                  "body exceeds " + std::to_string(kBucketBodyBytesMax) + " bytes");
    }
    Result<BucketPropsPatch> patch = ParseBucketPropsPatch(request.body);
    if (!patch.ok()) return fail(400, error_code::kInvalidProps, patch.status().message());
    client_request = node::SetBucketRequest{std::string(bucket), *patch};
  }
  service_.Submit(std::move(client_request),
                  [this, op, start_ns, respond = std::move(respond)](node::ClientReply reply) {
                    HttpResponse response = reply.status.ok() ? ReplyResponse(std::move(reply))
                                                              : StatusResponse(op, reply.status);
                    Finish(op, start_ns, std::move(response), respond);
                  });
}

void HttpHandler::HandleBucketList(std::optional<User> user, std::string_view query,
                                   const HttpRequest& request, std::int64_t start_ns,
                                   Respond respond) {
  const std::string_view op = kOpListBuckets;
  if (request.method != "GET") return Finish(kOpOther, start_ns, MethodNotAllowed("GET"), respond);
  if (Status status = RequireNoQuery(query); !status.ok()) {
    return Finish(op, start_ns, ErrorResponse(400, error_code::kInvalidParameter, status.message()),
                  respond);
  }
  service_.Submit(
      node::ListBucketsRequest{}, [this, op, start_ns, user = std::move(user),
                                   respond = std::move(respond)](node::ClientReply reply) {
        const auto* list = std::get_if<node::BucketListReply>(&reply.body);
        if (!reply.status.ok() || list == nullptr) {
          return Finish(op, start_ns,
                        reply.status.ok()
                            ? ErrorResponse(500, error_code::kInternal, "reply of an unknown kind")
                            : StatusResponse(op, reply.status),
                        respond);
        }
        // Only what the user may read. A user limited to named buckets also sees those it may
        // use but nobody configured, with the defaults.
        std::vector<ListedBucket> listed;
        for (const node::BucketReply& bucket : list->buckets) {
          if (!user || AccessControl::Allows(*user, Access::kRead, bucket.bucket)) {
            listed.push_back({bucket.bucket, bucket.props, true});
          }
        }
        if (user && user->role != Role::kAdmin) {
          for (const std::string& allowed : user->buckets) {
            const bool present = std::any_of(listed.begin(), listed.end(),
                                             [&](const auto& b) { return b.bucket == allowed; });
            if (!present) listed.push_back({allowed, list->defaults, false});
          }
          std::sort(listed.begin(), listed.end(),
                    [](const auto& a, const auto& b) { return a.bucket < b.bucket; });
        }
        Finish(op, start_ns, JsonResponse(200, BucketListJson(listed, list->defaults)), respond);
      });
}

}  // namespace meridian::api
