#include "api/cluster_handler.h"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <variant>

#include "api/http_errors.h"
#include "api/http_limits.h"
#include "api/http_server.h"
#include "api/http_target.h"
#include "api/json.h"
#include "cluster/node_id.h"
#include "core/object_id.h"

namespace meridian::api {

namespace {

using Json = nlohmann::ordered_json;  // keeps fields in the documented order

constexpr std::string_view kOpStatus = "cluster_status";
constexpr std::string_view kOpRing = "cluster_ring";
constexpr std::string_view kOpAdmin = "cluster_admin";
constexpr std::string_view kOpLocate = "cluster_locate";
constexpr std::string_view kOpLocal = "cluster_local";
constexpr std::string_view kOpBackup = "cluster_backup";
constexpr std::string_view kOpOther = "other";

// The endpoints: path after kClusterPrefix, the one method it accepts, its metrics op, and
// whether the path continues with /{bucket}/{key} (the key endpoints).
struct Endpoint {
  std::string_view name;
  std::string_view method;
  std::string_view op;
  bool names_a_key = false;
};
constexpr Endpoint kEndpoints[] = {
    {"status", "GET", kOpStatus},       {"ring", "GET", kOpRing},
    {"join", "POST", kOpAdmin},         {"leave", "POST", kOpAdmin},
    {"remove", "POST", kOpAdmin},       {"weight", "POST", kOpAdmin},
    {"locate", "GET", kOpLocate, true}, {"local", "GET", kOpLocal, true},
    {"backup", "POST", kOpBackup},      {"background", "POST", kOpAdmin},
};

// The longest backup directory accepted (Linux's PATH_MAX).
constexpr std::size_t kBackupDirectoryBytesMax = 4096;

// The endpoint of `path`, or nullptr. For a key endpoint, `object_path` receives what follows
// its name: "{bucket}/{key}", still percent-encoded. As for /v1/kv/, a path without the key
// segment (no '/' after the bucket) names no endpoint.
const Endpoint* FindEndpoint(std::string_view path, std::string_view* object_path = nullptr) {
  if (!path.starts_with(kClusterPrefix)) return nullptr;
  const std::string_view name = path.substr(kClusterPrefix.size());
  for (const Endpoint& endpoint : kEndpoints) {
    if (!endpoint.names_a_key) {
      if (endpoint.name == name) return &endpoint;
      continue;
    }
    if (!name.starts_with(endpoint.name)) continue;
    std::string_view rest = name.substr(endpoint.name.size());
    if (!rest.starts_with('/')) continue;
    rest.remove_prefix(1);
    if (rest.find('/') == std::string_view::npos) continue;
    if (object_path != nullptr) *object_path = rest;
    return &endpoint;
  }
  return nullptr;
}

// Dumps with invalid UTF-8 replaced, so arbitrary bytes never make dump() throw.
std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

HttpResponse JsonResponse(std::string body) {
  HttpResponse response;
  response.status = 200;
  response.content_type = "application/json";
  response.body = std::move(body);
  return response;
}

HttpResponse JsonResponse(const Json& body) {
  return JsonResponse(Dump(body));
}

HttpResponse NodeErrorResponse(const Status& status) {
  return StatusErrorResponse(status, kClusterInvalidArgument, error_code::kBodyTooLarge);
}

Json MemberJson(const node::MemberView& member) {
  // phi is capped by the detector; a non-finite value would not be valid JSON.
  const double phi = std::isfinite(member.phi) ? member.phi : 0.0;
  return Json{{"id", member.id},
              {"peer_address", member.peer_address},
              {"http_address", member.http_address},
              {"zone", member.zone},
              {"weight", member.weight},
              {"status", member.status},
              {"incarnation", member.incarnation},
              {"alive", member.alive},
              {"phi", phi},
              {"partitions_owned", member.partitions_owned},
              {"partitions_incoming", member.partitions_incoming},
              {"shards", member.shards}};
}

Json TransferJson(const node::TransferView& transfer) {
  const std::optional<double> eta = transfer.EtaSeconds();
  return Json{{"partition", transfer.partition},
              {"kind", transfer.replica_copy ? "replica_copy" : "ownership"},
              {"peer", transfer.peer},
              {"bytes_done", transfer.bytes_done},
              {"bytes_total", transfer.bytes_total},
              {"objects_done", transfer.objects_done},
              {"elapsed_seconds", static_cast<double>(transfer.elapsed_ms) / 1000.0},
              {"bytes_per_second", transfer.BytesPerSecond()},
              {"eta_seconds", eta.has_value() ? Json(*eta) : Json(nullptr)}};
}

Json ReportJson(const node::MemberReport& report) {
  Json transfers = Json::array();
  for (const node::TransferView& transfer : report.transfers) {
    transfers.push_back(TransferJson(transfer));
  }
  Json json{{"hints", Json{{"pending", report.hints_pending}, {"bytes", report.hint_bytes}}},
            {"transfers", std::move(transfers)},
            {"copies_queued", report.copies_queued},
            {"anti_entropy", Json{{"exchanges", report.aae_exchanges},
                                  {"exchanges_failed", report.aae_exchanges_failed},
                                  {"keys_repaired", report.aae_keys_repaired}}}};
  if (report.load.has_value()) {
    const node::LocalLoad& load = *report.load;
    json["disk"] = Json{{"used_bytes", load.disk_used_bytes},
                        {"capacity_bytes", load.disk_capacity_bytes},
                        {"available_bytes", load.disk_available_bytes}};
    json["requests"] = Json{{"window_seconds", load.window_seconds},
                            {"per_second", load.requests_per_second},
                            {"errors_per_second", load.errors_per_second},
                            {"p50_ms", load.p50_ms},
                            {"p99_ms", load.p99_ms}};
  }
  return json;
}

Json MembersJson(const std::vector<node::MemberView>& members) {
  Json array = Json::array();
  for (const node::MemberView& member : members) {
    Json json = MemberJson(member);
    if (member.report.has_value() || !member.report_missing.empty()) {
      // With reports (cluster status): the member's release, from its report; null without
      // one, or from release 0.1.0 (whose reports do not carry it).
      const bool known = member.report.has_value() && !member.report->meridian_version.empty();
      json["meridian_version"] = known ? Json(member.report->meridian_version) : Json(nullptr);
    }
    if (member.report.has_value()) json["report"] = ReportJson(*member.report);
    if (!member.report_missing.empty()) json["report_missing"] = member.report_missing;
    array.push_back(std::move(json));
  }
  return array;
}

Json StatusJson(const node::ClusterStatusReply& reply) {
  return Json{{"cluster_name", reply.cluster_name},
              {"self", reply.self},
              {"claimant", reply.claimant},
              {"ring_version", reply.ring_version},
              {"partition_count", reply.partition_count},
              {"members", MembersJson(reply.members)}};
}

Json RingJson(const node::RingReply& reply, bool include_partitions) {
  Json body{{"partition_count", reply.partition_count},
            {"version", reply.version},
            {"members", MembersJson(reply.members)}};
  if (include_partitions) {
    Json partitions = Json::array();
    for (std::size_t partition = 0; partition < reply.partitions.size(); ++partition) {
      partitions.push_back(Json{{"partition", partition},
                                {"owner", reply.partitions[partition].owner},
                                {"pending_owner", reply.partitions[partition].pending_owner}});
    }
    body["partitions"] = std::move(partitions);
  }
  return body;
}

HttpResponse ReplyResponse(const node::ClientReply& reply, bool include_partitions) {
  if (!reply.status.ok()) return NodeErrorResponse(reply.status);
  if (const auto* status = std::get_if<node::ClusterStatusReply>(&reply.body)) {
    return JsonResponse(StatusJson(*status));
  }
  if (const auto* ring = std::get_if<node::RingReply>(&reply.body)) {
    return JsonResponse(RingJson(*ring, include_partitions));
  }
  if (const auto* admin = std::get_if<node::AdminReply>(&reply.body)) {
    return JsonResponse(Json{{"message", admin->message}});
  }
  if (const auto* location = std::get_if<node::LocateReply>(&reply.body)) {
    return JsonResponse(KeyLocationJson(*location));
  }
  if (const auto* copy = std::get_if<node::LocalCopyReply>(&reply.body)) {
    return JsonResponse(LocalCopyJson(*copy));
  }
  if (const auto* background = std::get_if<node::BackgroundReply>(&reply.body)) {
    return JsonResponse(Json{{"bytes_per_second", background->bytes_per_second},
                             {"paused", background->paused},
                             {"shards", background->shards}});
  }
  return ErrorResponse(500, error_code::kInternal, "reply of an unknown kind");
}

// A query with one optional parameter, `flag`=true|false, at most once (the ring's
// partitions, the status's reports).
Result<bool> ParseFlagQuery(std::string_view query, std::string_view flag, bool fallback) {
  auto parameters = ParseQuery(query);
  if (!parameters) return Status::InvalidArgument("malformed percent-encoding in the query");
  std::optional<bool> given;
  const std::string name_of_flag(flag);
  for (const auto& [name, value] : *parameters) {
    if (name != flag) return Status::InvalidArgument("unknown query parameter: " + name);
    if (given) return Status::InvalidArgument(name_of_flag + " given more than once");
    if (value != "true" && value != "false") {
      return Status::InvalidArgument(name_of_flag + " must be true or false");
    }
    given = value == "true";
  }
  return given.value_or(fallback);
}

Status RequireNoQuery(std::string_view query) {
  auto parameters = ParseQuery(query);
  if (!parameters) return Status::InvalidArgument("malformed percent-encoding in the query");
  if (!parameters->empty()) {
    return Status::InvalidArgument("unknown query parameter: " + parameters->front().first);
  }
  return Status::Ok();
}

// The body as a JSON object with no fields beyond `allowed`.
Result<Json> ParseObject(std::string_view body, std::initializer_list<std::string_view> allowed) {
  Json document = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Status::InvalidArgument("body is not valid JSON");
  if (!document.is_object()) return Status::InvalidArgument("body must be a JSON object");
  for (const auto& [name, value] : document.items()) {
    bool known = false;
    for (std::string_view field : allowed) known = known || field == name;
    if (!known) return Status::InvalidArgument("unknown field: " + name);
  }
  return document;
}

// The member id in `document[field]`: a string that is a valid node id.
Result<std::string> NodeField(const Json& document, std::string_view field) {
  const auto found = document.find(std::string(field));
  if (found == document.end()) {
    return Status::InvalidArgument("missing field: " + std::string(field));
  }
  if (!found->is_string()) return Status::InvalidArgument(std::string(field) + " must be a string");
  const std::string& id = found->get_ref<const std::string&>();
  if (Status valid = cluster::ValidateNodeId(id); !valid.ok()) {
    return Status::InvalidArgument(std::string(field) + ": " + valid.message());
  }
  return id;
}

Result<node::ClusterJoinRequest> ParseJoin(std::string_view body) {
  Result<Json> document = ParseObject(body, {"seeds"});
  if (!document.ok()) return document.status();
  const auto seeds = document->find("seeds");
  if (seeds == document->end()) return Status::InvalidArgument("missing field: seeds");
  if (!seeds->is_array()) return Status::InvalidArgument("seeds must be an array of strings");
  if (seeds->empty()) return Status::InvalidArgument("seeds must not be empty");
  node::ClusterJoinRequest request;
  for (const Json& seed : *seeds) {
    if (!seed.is_string()) return Status::InvalidArgument("seeds must be an array of strings");
    const std::string& address = seed.get_ref<const std::string&>();
    Result<ListenAddress> parsed = ParseListenAddress(address);
    if (!parsed.ok()) {
      return Status::InvalidArgument("seed '" + address + "': " + parsed.status().message());
    }
    if (parsed->port == 0) return Status::InvalidArgument("seed '" + address + "': port 0");
    request.seeds.push_back(address);
  }
  return request;
}

bool IsBlank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

Result<node::ClusterLeaveRequest> ParseLeave(std::string_view body) {
  node::ClusterLeaveRequest request;  // an empty node: this node
  if (IsBlank(body)) return request;
  Result<Json> document = ParseObject(body, {"node"});
  if (!document.ok()) return document.status();
  if (!document->contains("node")) return request;
  Result<std::string> node = NodeField(*document, "node");
  if (!node.ok()) return node.status();
  request.node = std::move(*node);
  return request;
}

Result<node::ClusterRemoveRequest> ParseRemove(std::string_view body) {
  Result<Json> document = ParseObject(body, {"node"});
  if (!document.ok()) return document.status();
  Result<std::string> node = NodeField(*document, "node");
  if (!node.ok()) return node.status();
  return node::ClusterRemoveRequest{std::move(*node)};
}

Result<node::ClusterSetWeightRequest> ParseSetWeight(std::string_view body) {
  Result<Json> document = ParseObject(body, {"node", "weight"});
  if (!document.ok()) return document.status();
  Result<std::string> node = NodeField(*document, "node");
  if (!node.ok()) return node.status();
  const auto weight = document->find("weight");
  if (weight == document->end()) return Status::InvalidArgument("missing field: weight");
  if (!weight->is_number_integer()) return Status::InvalidArgument("weight must be an integer");
  if (!weight->is_number_unsigned() || weight->get<std::uint64_t>() == 0) {
    return Status::InvalidArgument("weight must be positive");
  }
  if (weight->get<std::uint64_t>() > std::numeric_limits<std::uint32_t>::max()) {
    return Status::InvalidArgument("weight is out of range");
  }
  return node::ClusterSetWeightRequest{std::move(*node),
                                       static_cast<std::uint32_t>(weight->get<std::uint64_t>())};
}

// {"bytes_per_second": N, "paused": bool}, each optional ({} reads the setting).
Result<node::ClusterBackgroundRequest> ParseBackground(std::string_view body) {
  node::ClusterBackgroundRequest request;
  if (IsBlank(body)) return request;
  Result<Json> document = ParseObject(body, {"bytes_per_second", "paused"});
  if (!document.ok()) return document.status();
  if (const auto rate = document->find("bytes_per_second"); rate != document->end()) {
    if (!rate->is_number_unsigned()) {
      return Status::InvalidArgument(
          "bytes_per_second must be a non-negative integer (0: unlimited)");
    }
    request.bytes_per_second = rate->get<std::uint64_t>();
  }
  if (const auto paused = document->find("paused"); paused != document->end()) {
    if (!paused->is_boolean()) return Status::InvalidArgument("paused must be true or false");
    request.paused = paused->get<bool>();
  }
  return request;
}

// The node request of an admin POST to `endpoint`, validated.
Result<node::ClientRequest> ParseAdminBody(std::string_view endpoint, std::string_view body) {
  const auto wrap = [](auto parsed) -> Result<node::ClientRequest> {
    if (!parsed.ok()) return parsed.status();
    return node::ClientRequest(std::move(*parsed));
  };
  if (endpoint == "join") return wrap(ParseJoin(body));
  if (endpoint == "leave") return wrap(ParseLeave(body));
  if (endpoint == "remove") return wrap(ParseRemove(body));
  if (endpoint == "background") return wrap(ParseBackground(body));
  return wrap(ParseSetWeight(body));
}

// {"directory": "/absolute/path"}: absolute, without "." or ".." segments (the path names
// exactly one place), no NUL byte. Whether it exists is the node's to check.
Result<BackupRequest> ParseBackup(std::string_view body) {
  Result<Json> document = ParseObject(body, {"directory"});
  if (!document.ok()) return document.status();
  const auto directory = document->find("directory");
  if (directory == document->end()) return Status::InvalidArgument("missing field: directory");
  if (!directory->is_string()) return Status::InvalidArgument("directory must be a string");
  const std::string& path = directory->get_ref<const std::string&>();
  if (path.empty()) return Status::InvalidArgument("directory must not be empty");
  if (path.size() > kBackupDirectoryBytesMax) {
    return Status::InvalidArgument("directory is longer than " +
                                   std::to_string(kBackupDirectoryBytesMax) + " bytes");
  }
  if (path.front() != '/') {
    return Status::InvalidArgument("directory must be an absolute path on the node's machine");
  }
  if (path.find('\0') != std::string::npos) {
    return Status::InvalidArgument("directory contains a NUL byte");
  }
  std::string_view rest(path);
  while (!rest.empty()) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "." || segment == "..") {
      return Status::InvalidArgument("directory must not contain '.' or '..' segments");
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return BackupRequest{path};
}

Json BackupJson(const BackupReport& report) {
  return Json{{"directory", report.directory},
              {"node", report.node_id},
              {"cluster_name", report.cluster_name},
              {"ring_version", report.ring_version},
              {"bytes", report.bytes},
              {"files", report.files},
              {"milliseconds", report.milliseconds}};
}

// POST /v1/cluster/backup: validation at the edge, then the backup service's report.
void HandleBackupRequest(BackupService* backup, const HttpRequest& request, std::string_view query,
                         ClusterFinish finish) {
  const std::string_view op = kOpBackup;
  if (backup == nullptr) {
    return finish(op,
                  ErrorResponse(404, error_code::kNotFound, "this server does not take backups"));
  }
  if (Status status = RequireNoQuery(query); !status.ok()) {
    return finish(op, ErrorResponse(400, error_code::kInvalidParameter, status.message()));
  }
  if (request.body.size() > kBucketBodyBytesMax) {
    return finish(op,
                  ErrorResponse(413, error_code::kBodyTooLarge,
                                "body exceeds " + std::to_string(kBucketBodyBytesMax) + " bytes"));
  }
  Result<BackupRequest> parsed = ParseBackup(request.body);
  if (!parsed.ok()) {
    return finish(op, ErrorResponse(400, kClusterInvalidArgument, parsed.status().message()));
  }
  backup->Backup(std::move(*parsed), [op, finish = std::move(finish)](Result<BackupReport> done) {
    if (!done.ok()) return finish(op, NodeErrorResponse(done.status()));
    finish(op, JsonResponse(BackupJson(*done)));
  });
}

// The object named by a key endpoint's "{bucket}/{key}", validated as for /v1/kv/ requests:
// the bucket as it appears in the path, the key percent-decoded. The error response otherwise.
std::variant<ObjectId, HttpResponse> ParseObjectPath(std::string_view object_path,
                                                     std::size_t key_bytes_max) {
  const std::size_t slash = object_path.find('/');
  const std::string_view bucket = object_path.substr(0, slash);
  if (Status status = ValidateBucketName(bucket); !status.ok()) {
    return ErrorResponse(400, error_code::kInvalidBucket, status.message());
  }
  std::optional<std::string> key = PercentDecode(object_path.substr(slash + 1));
  if (!key)
    return ErrorResponse(400, error_code::kInvalidKey, "malformed percent-encoding in the key");
  if (Status status = ValidateKey(*key, key_bytes_max); !status.ok()) {
    if (status.code() == StatusCode::kTooLarge) {
      return ErrorResponse(413, error_code::kKeyTooLarge, status.message());
    }
    return ErrorResponse(400, error_code::kInvalidKey, status.message());
  }
  return ObjectId{std::string(bucket), std::move(*key)};
}

// A key endpoint: validation at the edge (path, then query), then the node's read-only
// answer. The node validates the object id again; its refusal is about the key.
void HandleKeyRequest(KvService& service, const Endpoint& endpoint, std::string_view object_path,
                      std::string_view query, std::size_t key_bytes_max, ClusterFinish finish) {
  const std::string_view op = endpoint.op;
  std::variant<ObjectId, HttpResponse> parsed = ParseObjectPath(object_path, key_bytes_max);
  if (auto* error = std::get_if<HttpResponse>(&parsed)) return finish(op, std::move(*error));
  if (Status status = RequireNoQuery(query); !status.ok()) {
    return finish(op, ErrorResponse(400, error_code::kInvalidParameter, status.message()));
  }
  ObjectId id = std::move(std::get<ObjectId>(parsed));
  node::ClientRequest request;
  if (op == kOpLocate) {
    request = node::ClusterLocateRequest{std::move(id)};
  } else {
    request = node::ClusterLocalRequest{std::move(id)};
  }
  service.Submit(std::move(request), [op, finish = std::move(finish)](node::ClientReply reply) {
    if (!reply.status.ok()) {
      return finish(
          op, StatusErrorResponse(reply.status, error_code::kInvalidKey, error_code::kKeyTooLarge));
    }
    finish(op, ReplyResponse(reply, /*include_partitions=*/false));
  });
}

}  // namespace

std::string_view ClusterOperation(std::string_view method, std::string_view path) {
  const Endpoint* endpoint = FindEndpoint(path);
  if (endpoint == nullptr || endpoint->method != method) return kOpOther;
  return endpoint->op;
}

void HandleClusterRequest(KvService& service, BackupService* backup, HttpRequest& request,
                          std::string_view path, std::string_view query, std::size_t key_bytes_max,
                          ClusterFinish finish) {
  std::string_view object_path;
  const Endpoint* endpoint = FindEndpoint(path, &object_path);
  if (endpoint == nullptr) {
    return finish(kOpOther, ErrorResponse(404, error_code::kNotFound, "no such endpoint"));
  }
  if (request.method != endpoint->method) {
    return finish(kOpOther, MethodNotAllowed(endpoint->method));
  }
  if (endpoint->names_a_key) {
    return HandleKeyRequest(service, *endpoint, object_path, query, key_bytes_max,
                            std::move(finish));
  }
  if (endpoint->op == kOpBackup) {
    return HandleBackupRequest(backup, request, query, std::move(finish));
  }
  const std::string_view op = endpoint->op;
  const auto fail = [&](unsigned status, std::string_view error, std::string_view message) {
    finish(op, ErrorResponse(status, error, message));
  };

  node::ClientRequest client_request;
  bool include_partitions = false;
  if (op == kOpRing) {
    Result<bool> partitions = ParseFlagQuery(query, "partitions", false);
    if (!partitions.ok()) {
      return fail(400, error_code::kInvalidParameter, partitions.status().message());
    }
    include_partitions = *partitions;
    client_request = node::ClusterRingRequest{include_partitions};
  } else if (op == kOpStatus) {
    Result<bool> reports = ParseFlagQuery(query, "reports", true);
    if (!reports.ok()) return fail(400, error_code::kInvalidParameter, reports.status().message());
    client_request = node::ClusterStatusRequest{*reports};
  } else {
    if (Status status = RequireNoQuery(query); !status.ok()) {
      return fail(400, error_code::kInvalidParameter, status.message());
    }
    if (request.body.size() > kBucketBodyBytesMax) {
      return fail(413, error_code::kBodyTooLarge,
                  "body exceeds " + std::to_string(kBucketBodyBytesMax) + " bytes");
    }
    Result<node::ClientRequest> parsed = ParseAdminBody(endpoint->name, request.body);
    if (!parsed.ok()) return fail(400, kClusterInvalidArgument, parsed.status().message());
    client_request = std::move(*parsed);
  }
  service.Submit(std::move(client_request),
                 [op, include_partitions, finish = std::move(finish)](node::ClientReply reply) {
                   finish(op, ReplyResponse(reply, include_partitions));
                 });
}

}  // namespace meridian::api
