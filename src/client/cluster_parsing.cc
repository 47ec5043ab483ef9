#include "client/cluster_parsing.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "client/response_parsing.h"

namespace meridian::client::internal {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Error ProtocolError(std::string message) {
  Error error;
  error.code = ErrorCode::kProtocolError;
  error.message = std::move(message);
  error.http_status = 200;
  return error;
}

// Reads typed fields of one JSON object; remembers the first missing or mistyped field.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string what) : object_(object), what_(std::move(what)) {}

  void String(const char* name, std::string& out) {
    const Json* value = Find(name);
    if (value == nullptr) return;
    if (!value->is_string()) return Fail(name, "a string");
    out = value->get<std::string>();
  }
  void Bool(const char* name, bool& out) {
    const Json* value = Find(name);
    if (value == nullptr) return;
    if (!value->is_boolean()) return Fail(name, "a boolean");
    out = value->get<bool>();
  }
  void Number(const char* name, double& out) {
    const Json* value = Find(name);
    if (value == nullptr) return;
    if (!value->is_number()) return Fail(name, "a number");
    out = value->get<double>();
  }
  template <typename Unsigned>
  void Count(const char* name, Unsigned& out) {
    const Json* value = Find(name);
    if (value == nullptr) return;
    if (!value->is_number_unsigned() ||
        value->get<std::uint64_t>() > std::numeric_limits<Unsigned>::max()) {
      return Fail(name, "a non-negative integer in range");
    }
    out = static_cast<Unsigned>(value->get<std::uint64_t>());
  }
  // The array field `name`, or nullptr (after recording the error).
  const Json* Array(const char* name) {
    const Json* value = Find(name);
    if (value == nullptr) return nullptr;
    if (!value->is_array()) {
      Fail(name, "an array");
      return nullptr;
    }
    return value;
  }

  const std::optional<Error>& error() const { return error_; }

 private:
  const Json* Find(const char* name) {
    if (error_) return nullptr;
    const auto found = object_.find(name);
    if (found == object_.end()) {
      error_ = ProtocolError(what_ + " has no field " + name);
      return nullptr;
    }
    return &*found;
  }
  void Fail(const char* name, const char* expected) {
    error_ = ProtocolError(what_ + " field " + name + " is not " + expected);
  }

  const Json& object_;
  std::string what_;
  std::optional<Error> error_;
};

// The JSON object of a reply body, or a protocol error naming `what`.
Result<Json> ParseObject(std::string_view body, const std::string& what) {
  Json document = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return ProtocolError(what + " is not a JSON object");
  return document;
}

// The object field `name`, or nullptr when absent (the caller's reader records nothing).
const Json* OptionalObject(const Json& entry, const char* name) {
  const auto found = entry.find(name);
  return found == entry.end() ? nullptr : &*found;
}

Result<ClusterTransfer> ParseTransfer(const Json& entry) {
  if (!entry.is_object()) return ProtocolError("a transfer is not a JSON object");
  ClusterTransfer transfer;
  FieldReader fields(entry, "a transfer");
  fields.Count("partition", transfer.partition);
  fields.String("kind", transfer.kind);
  fields.String("peer", transfer.peer);
  fields.Count("bytes_done", transfer.bytes_done);
  fields.Count("bytes_total", transfer.bytes_total);
  fields.Count("objects_done", transfer.objects_done);
  fields.Number("elapsed_seconds", transfer.elapsed_seconds);
  fields.Number("bytes_per_second", transfer.bytes_per_second);
  if (fields.error()) return *fields.error();
  const auto eta = entry.find("eta_seconds");
  if (eta == entry.end()) return ProtocolError("a transfer has no field eta_seconds");
  if (eta->is_number()) {
    transfer.eta_seconds = eta->get<double>();
  } else if (!eta->is_null()) {
    return ProtocolError("a transfer field eta_seconds is not a number or null");
  }
  return transfer;
}

Result<ClusterMemberReport> ParseReport(const Json& entry) {
  if (!entry.is_object()) return ProtocolError("a member report is not a JSON object");
  ClusterMemberReport report;
  FieldReader fields(entry, "a member report");
  const Json* transfers = fields.Array("transfers");
  fields.Count("copies_queued", report.copies_queued);
  if (fields.error()) return *fields.error();
  for (const Json& transfer : *transfers) {
    auto parsed = ParseTransfer(transfer);
    if (!parsed.ok()) return parsed.error();
    report.transfers.push_back(std::move(*parsed));
  }
  const Json* hints = OptionalObject(entry, "hints");
  const Json* aae = OptionalObject(entry, "anti_entropy");
  if (hints == nullptr || aae == nullptr) {
    return ProtocolError("a member report has no hints or anti_entropy");
  }
  FieldReader hint_fields(*hints, "a report's hints");
  hint_fields.Count("pending", report.hints_pending);
  hint_fields.Count("bytes", report.hint_bytes);
  if (hint_fields.error()) return *hint_fields.error();
  FieldReader aae_fields(*aae, "a report's anti_entropy");
  aae_fields.Count("exchanges", report.aae_exchanges);
  aae_fields.Count("exchanges_failed", report.aae_exchanges_failed);
  aae_fields.Count("keys_repaired", report.aae_keys_repaired);
  if (aae_fields.error()) return *aae_fields.error();
  const Json* disk = OptionalObject(entry, "disk");
  const Json* requests = OptionalObject(entry, "requests");
  if (disk != nullptr && requests != nullptr) {
    report.load_known = true;
    FieldReader disk_fields(*disk, "a report's disk");
    disk_fields.Count("used_bytes", report.disk_used_bytes);
    disk_fields.Count("capacity_bytes", report.disk_capacity_bytes);
    disk_fields.Count("available_bytes", report.disk_available_bytes);
    if (disk_fields.error()) return *disk_fields.error();
    FieldReader request_fields(*requests, "a report's requests");
    request_fields.Count("window_seconds", report.requests_window_seconds);
    request_fields.Number("per_second", report.requests_per_second);
    request_fields.Number("errors_per_second", report.errors_per_second);
    request_fields.Number("p50_ms", report.p50_ms);
    request_fields.Number("p99_ms", report.p99_ms);
    if (request_fields.error()) return *request_fields.error();
  }
  return report;
}

Result<std::vector<ClusterMember>> ParseMembers(FieldReader& reader) {
  const Json* members = reader.Array("members");
  if (reader.error()) return *reader.error();
  std::vector<ClusterMember> result;
  for (const Json& entry : *members) {
    if (!entry.is_object()) return ProtocolError("a cluster member is not a JSON object");
    ClusterMember member;
    FieldReader fields(entry, "a cluster member");
    fields.String("id", member.id);
    fields.String("peer_address", member.peer_address);
    fields.String("http_address", member.http_address);
    fields.String("zone", member.zone);
    fields.Count("weight", member.weight);
    fields.String("status", member.status);
    fields.Count("incarnation", member.incarnation);
    fields.Bool("alive", member.alive);
    fields.Number("phi", member.phi);
    fields.Count("partitions_owned", member.partitions_owned);
    fields.Count("partitions_incoming", member.partitions_incoming);
    if (entry.contains("shards")) fields.Count("shards", member.shards);
    if (fields.error()) return *fields.error();
    if (const Json* report = OptionalObject(entry, "report")) {
      auto parsed = ParseReport(*report);
      if (!parsed.ok()) return parsed.error();
      member.report = std::move(*parsed);
    }
    if (const Json* missing = OptionalObject(entry, "report_missing")) {
      if (!missing->is_string()) return ProtocolError("a member's report_missing is not a string");
      member.report_missing = missing->get<std::string>();
    }
    // Absent from servers of release 0.1.0; null when the member's release is unknown.
    if (const Json* version = OptionalObject(entry, "meridian_version")) {
      if (version->is_string()) {
        member.meridian_version = version->get<std::string>();
      } else if (!version->is_null()) {
        return ProtocolError("a member's meridian_version is not a string or null");
      }
    }
    result.push_back(std::move(member));
  }
  return result;
}

// A JSON array of strings, or a protocol error naming `what`.
Result<std::vector<std::string>> ParseStrings(const Json& array, const std::string& what) {
  std::vector<std::string> strings;
  for (const Json& entry : array) {
    if (!entry.is_string()) return ProtocolError(what + " is not an array of strings");
    strings.push_back(entry.get<std::string>());
  }
  return strings;
}

// The array of strings in field `name` of `reader`'s object.
Result<std::vector<std::string>> StringsField(FieldReader& reader, const char* name,
                                              const std::string& what) {
  const Json* array = reader.Array(name);
  if (reader.error()) return *reader.error();
  return ParseStrings(*array, what + " field " + name);
}

// An OBJECT of docs/api.md "GET /v1/cluster/local": {"clock": [["actor", counter]...],
// "siblings": [{"actor", "counter", "timestamp_ms", "tombstone", "value_base64"}...]}.
Result<LocalObject> ParseLocalObject(const Json& document, const std::string& what) {
  if (!document.is_object()) return ProtocolError(what + " is not a JSON object");
  LocalObject object;
  FieldReader reader(document, what);
  const Json* clock = reader.Array("clock");
  if (reader.error()) return *reader.error();
  for (const Json& entry : *clock) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() ||
        !entry[1].is_number_unsigned()) {
      return ProtocolError(what + " has a clock entry that is not [\"actor\", counter]");
    }
    object.clock.emplace_back(entry[0].get<std::string>(), entry[1].get<std::uint64_t>());
  }
  const Json* siblings = reader.Array("siblings");
  if (reader.error()) return *reader.error();
  for (const Json& entry : *siblings) {
    if (!entry.is_object()) return ProtocolError(what + " has a sibling that is not an object");
    LocalSibling sibling;
    FieldReader fields(entry, what + " sibling");
    std::string value_base64;
    fields.String("actor", sibling.actor);
    fields.Count("counter", sibling.counter);
    fields.Count("timestamp_ms", sibling.timestamp_ms);
    fields.Bool("tombstone", sibling.tombstone);
    fields.String("value_base64", value_base64);
    if (fields.error()) return *fields.error();
    std::optional<std::string> value = Base64Decode(value_base64);
    if (!value) return ProtocolError(what + " has a sibling value that is not valid base64");
    sibling.value = std::move(*value);
    object.siblings.push_back(std::move(sibling));
  }
  return object;
}

// Field `name` of `document`: null (nullopt) or an OBJECT.
Result<std::optional<LocalObject>> NullableObject(const Json& document, const char* name,
                                                  const std::string& what) {
  const auto found = document.find(name);
  if (found == document.end()) return ProtocolError(what + " has no field " + name);
  if (found->is_null()) return std::optional<LocalObject>();
  auto object = ParseLocalObject(*found, what + " field " + name);
  if (!object.ok()) return object.error();
  return std::optional<LocalObject>(std::move(object).value());
}

}  // namespace

Result<ClusterStatusResult> ParseClusterStatusBody(std::string_view body) {
  const std::string what = "the cluster status reply";
  auto document = ParseObject(body, what);
  if (!document.ok()) return document.error();
  ClusterStatusResult result;
  FieldReader reader(*document, what);
  reader.String("cluster_name", result.cluster_name);
  reader.String("self", result.self);
  reader.String("claimant", result.claimant);
  reader.Count("ring_version", result.ring_version);
  reader.Count("partition_count", result.partition_count);
  auto members = ParseMembers(reader);
  if (!members.ok()) return members.error();
  result.members = std::move(members).value();
  result.json = std::string(body);
  return result;
}

Result<ClusterRingResult> ParseClusterRingBody(std::string_view body) {
  const std::string what = "the cluster ring reply";
  auto document = ParseObject(body, what);
  if (!document.ok()) return document.error();
  ClusterRingResult result;
  FieldReader reader(*document, what);
  reader.Count("partition_count", result.partition_count);
  reader.Count("version", result.version);
  auto members = ParseMembers(reader);
  if (!members.ok()) return members.error();
  result.members = std::move(members).value();
  if (document->contains("partitions")) {
    const Json* partitions = reader.Array("partitions");
    if (reader.error()) return *reader.error();
    for (const Json& entry : *partitions) {
      if (!entry.is_object()) return ProtocolError("a ring partition is not a JSON object");
      RingPartition partition;
      FieldReader fields(entry, "a ring partition");
      fields.Count("partition", partition.partition);
      fields.String("owner", partition.owner);
      fields.String("pending_owner", partition.pending_owner);
      if (fields.error()) return *fields.error();
      result.partitions.push_back(std::move(partition));
    }
  }
  result.json = std::string(body);
  return result;
}

Result<ClusterAdminResult> ParseClusterAdminBody(std::string_view body) {
  const std::string what = "the cluster admin reply";
  auto document = ParseObject(body, what);
  if (!document.ok()) return document.error();
  ClusterAdminResult result;
  FieldReader reader(*document, what);
  reader.String("message", result.message);
  if (reader.error()) return *reader.error();
  return result;
}

Result<BackupResult> ParseBackupBody(std::string_view body) {
  const std::string what = "the backup reply";
  auto document = ParseObject(body, what);
  if (!document.ok()) return document.error();
  BackupResult result;
  FieldReader reader(*document, what);
  reader.String("directory", result.directory);
  reader.String("node", result.node);
  reader.String("cluster_name", result.cluster_name);
  reader.Count("ring_version", result.ring_version);
  reader.Count("bytes", result.bytes);
  reader.Count("files", result.files);
  reader.Count("milliseconds", result.milliseconds);
  if (reader.error()) return *reader.error();
  result.json = std::string(body);
  return result;
}

Result<BackgroundSetting> ParseBackgroundBody(std::string_view body) {
  const std::string what = "the background reply";
  auto document = ParseObject(body, what);
  if (!document.ok()) return document.error();
  BackgroundSetting result;
  FieldReader reader(*document, what);
  reader.Count("bytes_per_second", result.bytes_per_second);
  reader.Bool("paused", result.paused);
  reader.Count("shards", result.shards);
  if (reader.error()) return *reader.error();
  result.json = std::string(body);
  return result;
}

Result<KeyLocation> ParseKeyLocationBody(std::string_view body) {
  const std::string what = "the key location reply";
  auto document = ParseObject(body, what);
  if (!document.ok()) return document.error();
  KeyLocation result;
  FieldReader reader(*document, what);
  reader.String("bucket", result.bucket);
  reader.String("key", result.key);
  reader.Count("partition", result.partition);
  reader.Count("n", result.n);
  reader.String("owner", result.owner);
  if (reader.error()) return *reader.error();
  const auto pending = document->find("pending_owner");
  if (pending == document->end()) return ProtocolError(what + " has no field pending_owner");
  if (pending->is_string()) {
    result.pending_owner = pending->get<std::string>();
  } else if (!pending->is_null()) {
    return ProtocolError(what + " field pending_owner is not a string or null");
  }
  auto primaries = StringsField(reader, "primaries", what);
  if (!primaries.ok()) return primaries.error();
  result.primaries = std::move(primaries).value();
  auto fallbacks = StringsField(reader, "fallbacks", what);
  if (!fallbacks.ok()) return fallbacks.error();
  result.fallbacks = std::move(fallbacks).value();
  result.json = std::string(body);
  return result;
}

Result<LocalCopyResult> ParseLocalCopyBody(std::string_view body) {
  const std::string what = "the local copy reply";
  auto document = ParseObject(body, what);
  if (!document.ok()) return document.error();
  LocalCopyResult result;
  FieldReader reader(*document, what);
  reader.String("node", result.node);
  reader.Count("partition", result.partition);
  reader.Bool("holds_replica", result.holds_replica);
  if (reader.error()) return *reader.error();
  auto object = NullableObject(*document, "object", what);
  if (!object.ok()) return object.error();
  result.object = std::move(object).value();
  const auto hint = document->find("hint");
  if (hint == document->end()) return ProtocolError(what + " has no field hint");
  if (!hint->is_null()) {
    if (!hint->is_object()) return ProtocolError(what + " field hint is not an object or null");
    FieldReader hint_reader(*hint, what + " hint");
    auto targets = StringsField(hint_reader, "targets", what + " hint");
    if (!targets.ok()) return targets.error();
    result.hint_targets = std::move(targets).value();
    auto hinted = NullableObject(*hint, "object", what + " hint");
    if (!hinted.ok()) return hinted.error();
    if (!hinted->has_value()) return ProtocolError(what + " hint has a null object");
    result.hint = std::move(hinted).value();
  }
  result.json = std::string(body);
  return result;
}

std::string ClusterJoinBody(const std::vector<std::string>& seeds) {
  return Dump(Json{{"seeds", seeds}});
}

std::string ClusterNodeBody(std::string_view node) {
  if (node.empty()) return "";
  return Dump(Json{{"node", std::string(node)}});
}

std::string BackupBody(std::string_view directory) {
  return Dump(Json{{"directory", std::string(directory)}});
}

std::string BackgroundBody(std::optional<std::uint64_t> bytes_per_second,
                           std::optional<bool> paused) {
  Json body = Json::object();
  if (bytes_per_second.has_value()) body["bytes_per_second"] = *bytes_per_second;
  if (paused.has_value()) body["paused"] = *paused;
  return Dump(body);
}

std::string ClusterWeightBody(std::string_view node, std::uint32_t weight) {
  return Dump(Json{{"node", std::string(node)}, {"weight", weight}});
}

}  // namespace meridian::client::internal
