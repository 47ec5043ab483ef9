// The /v1/cluster/ endpoints without sockets: routing, edge validation of query and JSON
// bodies, reply rendering, node-error mapping and metrics — over a fake service, and over
// the real NodeService with a standalone node.
#include "api/cluster_handler.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/http_handler.h"
#include "api/http_limits.h"
#include "api/metrics.h"
#include "core/dvv_set.h"
#include "runtime/node_service.h"
#include "runtime/system_env.h"
#include "storage/memory_engine.h"

namespace meridian::api {
namespace {

using nlohmann::json;

// Records what reached the service and answers with a configured reply, synchronously.
class FakeKvService final : public KvService {
 public:
  void Submit(node::ClientRequest request, Completion done) override {
    requests.push_back(std::move(request));
    node::ClientReply reply = next_reply;
    done(std::move(reply));
  }
  std::vector<node::ClientRequest> requests;
  node::ClientReply next_reply;
};

std::string ErrorOf(const HttpResponse& response) {
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("error")) return "";
  return body["error"].get<std::string>();
}

std::string MessageOf(const HttpResponse& response) {
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("message")) return "";
  return body["message"].get<std::string>();
}

node::MemberView Member(std::string id, std::uint32_t owned) {
  node::MemberView member;
  member.id = std::move(id);
  member.peer_address = "127.0.0.1:7080";
  member.http_address = "127.0.0.1:8080";
  member.zone = "zone-a";
  member.weight = 2;
  member.status = "up";
  member.incarnation = 7;
  member.alive = false;
  member.phi = 9.5;
  member.partitions_owned = owned;
  member.partitions_incoming = 3;
  member.shards = 4;
  return member;
}

class ClusterHandlerTest : public ::testing::Test {
 protected:
  HttpResponse Call(std::string method, std::string target, std::string body = "") {
    std::optional<HttpResponse> out;
    handler_.Handle(
        HttpRequest{std::move(method), std::move(target), std::nullopt, std::move(body)},
        [&out](HttpResponse response) { out = std::move(response); });
    EXPECT_TRUE(out.has_value()) << "respond was not called synchronously";
    return out.value_or(HttpResponse{});
  }

  FakeKvService service_;
  Metrics metrics_;
  HttpHandler handler_{service_, metrics_, HttpLimits{}};
};

TEST_F(ClusterHandlerTest, StatusRendersEveryField) {
  node::ClusterStatusReply reply{"prod", "n1", "n2", 12, 8, {Member("n1", 5), Member("n2", 3)}};
  service_.next_reply.body = reply;
  HttpResponse response = Call("GET", "/v1/cluster/status");
  ASSERT_EQ(response.status, 200u) << response.body;
  EXPECT_EQ(response.content_type, "application/json");
  ASSERT_EQ(service_.requests.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<node::ClusterStatusRequest>(service_.requests[0]));
  const json body = json::parse(response.body);
  EXPECT_EQ(body["cluster_name"], "prod");
  EXPECT_EQ(body["self"], "n1");
  EXPECT_EQ(body["claimant"], "n2");
  EXPECT_EQ(body["ring_version"], 12);
  EXPECT_EQ(body["partition_count"], 8);
  ASSERT_EQ(body["members"].size(), 2u);
  const json expected_member = {{"id", "n2"},
                                {"peer_address", "127.0.0.1:7080"},
                                {"http_address", "127.0.0.1:8080"},
                                {"zone", "zone-a"},
                                {"weight", 2},
                                {"status", "up"},
                                {"incarnation", 7},
                                {"alive", false},
                                {"phi", 9.5},
                                {"partitions_owned", 3},
                                {"partitions_incoming", 3},
                                {"shards", 4}};
  EXPECT_EQ(body["members"][1], expected_member);
  // Fields appear in the documented order.
  EXPECT_EQ(response.body.find("{\"cluster_name\":"), 0u);
}

TEST_F(ClusterHandlerTest, StatusAsksForReportsUnlessToldNot) {
  service_.next_reply.body = node::ClusterStatusReply{};
  ASSERT_EQ(Call("GET", "/v1/cluster/status").status, 200u);
  ASSERT_EQ(Call("GET", "/v1/cluster/status?reports=false").status, 200u);
  ASSERT_EQ(Call("GET", "/v1/cluster/status?reports=true").status, 200u);
  ASSERT_EQ(service_.requests.size(), 3u);
  EXPECT_TRUE(std::get<node::ClusterStatusRequest>(service_.requests[0]).include_reports);
  EXPECT_FALSE(std::get<node::ClusterStatusRequest>(service_.requests[1]).include_reports);
  EXPECT_TRUE(std::get<node::ClusterStatusRequest>(service_.requests[2]).include_reports);
  for (const char* target :
       {"/v1/cluster/status?reports=maybe", "/v1/cluster/status?reports=true&reports=false",
        "/v1/cluster/status?verbose=true"}) {
    HttpResponse response = Call("GET", target);
    EXPECT_EQ(response.status, 400u) << target;
    EXPECT_NE(response.body.find("invalid_parameter"), std::string::npos) << response.body;
  }
  EXPECT_EQ(service_.requests.size(), 3u) << "refused queries reach no node";
}

TEST_F(ClusterHandlerTest, StatusRendersAReportAndWhyOneIsMissing) {
  node::MemberView reporting = Member("n1", 5);
  node::MemberReport& report = reporting.report.emplace();
  report.hints_pending = 4;
  report.hint_bytes = 400;
  report.copies_queued = 1;
  report.aae_exchanges = 9;
  report.aae_exchanges_failed = 1;
  report.aae_keys_repaired = 12;
  report.meridian_version = "0.2.0";
  node::LocalLoad& load = report.load.emplace();
  load.disk_used_bytes = 10;
  load.disk_capacity_bytes = 100;
  load.disk_available_bytes = 90;
  load.window_seconds = 60;
  load.requests_per_second = 2.5;
  load.p50_ms = 0.5;
  load.p99_ms = 4;
  node::TransferView transfer;
  transfer.partition = 3;
  transfer.peer = "n2";
  transfer.bytes_done = 250;
  transfer.bytes_total = 1000;
  transfer.elapsed_ms = 5000;
  node::TransferView unknown = transfer;
  unknown.bytes_total = 0;
  unknown.replica_copy = true;
  report.transfers = {transfer, unknown};
  node::MemberView silent = Member("n2", 3);
  silent.report_missing = "no answer within 1000 ms";
  service_.next_reply.body =
      node::ClusterStatusReply{"prod", "n1", "n1", 1, 8, {reporting, silent}};
  HttpResponse response = Call("GET", "/v1/cluster/status");
  ASSERT_EQ(response.status, 200u) << response.body;
  const json body = json::parse(response.body);
  const json& got = body["members"][0]["report"];
  EXPECT_EQ(got["hints"], (json{{"pending", 4}, {"bytes", 400}}));
  EXPECT_EQ(got["copies_queued"], 1);
  EXPECT_EQ(got["anti_entropy"],
            (json{{"exchanges", 9}, {"exchanges_failed", 1}, {"keys_repaired", 12}}));
  EXPECT_EQ(got["disk"],
            (json{{"used_bytes", 10}, {"capacity_bytes", 100}, {"available_bytes", 90}}));
  EXPECT_EQ(got["requests"]["window_seconds"], 60);
  EXPECT_EQ(got["requests"]["per_second"], 2.5);
  EXPECT_EQ(got["requests"]["p99_ms"], 4.0);
  ASSERT_EQ(got["transfers"].size(), 2u);
  const json& first = got["transfers"][0];
  EXPECT_EQ(first["partition"], 3);
  EXPECT_EQ(first["kind"], "ownership");
  EXPECT_EQ(first["peer"], "n2");
  EXPECT_EQ(first["bytes_done"], 250);
  EXPECT_EQ(first["bytes_total"], 1000);
  EXPECT_EQ(first["elapsed_seconds"], 5.0);
  EXPECT_EQ(first["bytes_per_second"], 50.0);
  EXPECT_EQ(first["eta_seconds"], 15.0);
  EXPECT_EQ(got["transfers"][1]["kind"], "replica_copy");
  EXPECT_TRUE(got["transfers"][1]["eta_seconds"].is_null());
  EXPECT_FALSE(body["members"][0].contains("report_missing"));
  EXPECT_FALSE(body["members"][1].contains("report"));
  EXPECT_EQ(body["members"][1]["report_missing"], "no answer within 1000 ms");
  // The release: from the report; null without one (or from a 0.1.0 member's report).
  EXPECT_EQ(body["members"][0]["meridian_version"], "0.2.0");
  EXPECT_TRUE(body["members"][1]["meridian_version"].is_null());
}

TEST_F(ClusterHandlerTest, RingListsPartitionsOnlyWhenAsked) {
  node::RingReply reply;
  reply.partition_count = 2;
  reply.version = 4;
  reply.members = {Member("n1", 2)};
  service_.next_reply.body = reply;
  HttpResponse without = Call("GET", "/v1/cluster/ring");
  ASSERT_EQ(without.status, 200u) << without.body;
  EXPECT_FALSE(std::get<node::ClusterRingRequest>(service_.requests.at(0)).include_partitions);
  json body = json::parse(without.body);
  EXPECT_EQ(body["partition_count"], 2);
  EXPECT_EQ(body["version"], 4);
  EXPECT_EQ(body["members"][0]["id"], "n1");
  EXPECT_FALSE(body["members"][0].contains("meridian_version"));  // only with reports
  EXPECT_FALSE(body.contains("partitions"));

  reply.partitions = {{"n1", ""}, {"n1", "n2"}};
  service_.next_reply.body = reply;
  HttpResponse with = Call("GET", "/v1/cluster/ring?partitions=true");
  ASSERT_EQ(with.status, 200u) << with.body;
  EXPECT_TRUE(std::get<node::ClusterRingRequest>(service_.requests.at(1)).include_partitions);
  body = json::parse(with.body);
  const json expected = json::array({{{"partition", 0}, {"owner", "n1"}, {"pending_owner", ""}},
                                     {{"partition", 1}, {"owner", "n1"}, {"pending_owner", "n2"}}});
  EXPECT_EQ(body["partitions"], expected);

  Call("GET", "/v1/cluster/ring?partitions=false");
  EXPECT_FALSE(std::get<node::ClusterRingRequest>(service_.requests.at(2)).include_partitions);
}

TEST_F(ClusterHandlerTest, AdminBodiesBecomeNodeRequests) {
  service_.next_reply.body = node::AdminReply{"accepted"};
  HttpResponse join =
      Call("POST", "/v1/cluster/join", R"({"seeds":["127.0.0.1:7080","[::1]:7081"]})");
  ASSERT_EQ(join.status, 200u) << join.body;
  EXPECT_EQ(join.body, R"({"message":"accepted"})");
  EXPECT_EQ(std::get<node::ClusterJoinRequest>(service_.requests.at(0)).seeds,
            (std::vector<std::string>{"127.0.0.1:7080", "[::1]:7081"}));

  EXPECT_EQ(Call("POST", "/v1/cluster/leave").status, 200u);
  EXPECT_EQ(std::get<node::ClusterLeaveRequest>(service_.requests.at(1)).node, "");
  EXPECT_EQ(Call("POST", "/v1/cluster/leave", "{}").status, 200u);
  EXPECT_EQ(std::get<node::ClusterLeaveRequest>(service_.requests.at(2)).node, "");
  EXPECT_EQ(Call("POST", "/v1/cluster/leave", R"({"node":"n2"})").status, 200u);
  EXPECT_EQ(std::get<node::ClusterLeaveRequest>(service_.requests.at(3)).node, "n2");

  EXPECT_EQ(Call("POST", "/v1/cluster/remove", R"({"node":"n3"})").status, 200u);
  EXPECT_EQ(std::get<node::ClusterRemoveRequest>(service_.requests.at(4)).node, "n3");

  EXPECT_EQ(Call("POST", "/v1/cluster/weight", R"({"node":"n4","weight":4294967295})").status,
            200u);
  const auto& weight = std::get<node::ClusterSetWeightRequest>(service_.requests.at(5));
  EXPECT_EQ(weight.node, "n4");
  EXPECT_EQ(weight.weight, 4294967295u);
}

// POST /v1/cluster/background: each field optional, validated at the edge (a refusal reaches
// no node), the reply rendered as documented.
TEST_F(ClusterHandlerTest, BackgroundBodiesAreValidatedAndTheSettingRendered) {
  service_.next_reply.body = node::BackgroundReply{8388608, true, 2};
  HttpResponse changed =
      Call("POST", "/v1/cluster/background", R"({"bytes_per_second":8388608,"paused":true})");
  ASSERT_EQ(changed.status, 200u) << changed.body;
  EXPECT_EQ(changed.body, R"({"bytes_per_second":8388608,"paused":true,"shards":2})");
  const auto& request = std::get<node::ClusterBackgroundRequest>(service_.requests.at(0));
  EXPECT_EQ(request.bytes_per_second, std::optional<std::uint64_t>(8388608));
  EXPECT_EQ(request.paused, std::optional<bool>(true));

  EXPECT_EQ(Call("POST", "/v1/cluster/background").status, 200u);  // reads the setting
  const auto& read = std::get<node::ClusterBackgroundRequest>(service_.requests.at(1));
  EXPECT_FALSE(read.bytes_per_second.has_value());
  EXPECT_FALSE(read.paused.has_value());
  EXPECT_EQ(Call("POST", "/v1/cluster/background", R"({"paused":false})").status, 200u);
  EXPECT_EQ(std::get<node::ClusterBackgroundRequest>(service_.requests.at(2)).paused,
            std::optional<bool>(false));

  for (const char* body :
       {R"({"bytes_per_second":-1})", R"({"bytes_per_second":1.5})", R"({"bytes_per_second":"1"})",
        R"({"paused":1})", R"({"rate":1})", R"([1])", "nope", R"({"bytes_per_second":1e30})"}) {
    HttpResponse refused = Call("POST", "/v1/cluster/background", body);
    EXPECT_EQ(refused.status, 400u) << body << " -> " << refused.body;
  }
  EXPECT_EQ(service_.requests.size(), 3u) << "a refused body reached the node";
  EXPECT_EQ(Call("GET", "/v1/cluster/background").status, 405u);
}

DvvSet TwoSiblings() {
  DvvSet object;
  object.Update(VersionVector{}, 18446744073709551557ull, HlcTimestamp::FromParts(1000, 0), false,
                std::string("a\0", 2), ConflictPolicy::kSiblings);
  object.Update(VersionVector{}, 5, HlcTimestamp::FromParts(2000, 1), true, "",
                ConflictPolicy::kSiblings);
  return object;
}

TEST_F(ClusterHandlerTest, LocateRendersTheKeysPlacementInTheDocumentedOrder) {
  node::LocateReply reply;
  reply.id = {"b", "k/1 %"};
  reply.partition = 12;
  reply.n = 3;
  reply.owner = "n3";
  reply.primaries = {"n3", "n1", "n4"};
  reply.fallbacks = {"n2"};
  service_.next_reply.body = reply;
  HttpResponse response = Call("GET", "/v1/cluster/locate/b/k%2F1%20%25");
  ASSERT_EQ(response.status, 200u) << response.body;
  EXPECT_EQ(response.content_type, "application/json");
  ASSERT_EQ(service_.requests.size(), 1u);
  const auto& request = std::get<node::ClusterLocateRequest>(service_.requests[0]);
  EXPECT_EQ(request.id.bucket, "b");
  EXPECT_EQ(request.id.key, "k/1 %");  // percent-decoded, as on /v1/kv/
  EXPECT_EQ(response.body,
            R"({"bucket":"b","key":"k/1 %","partition":12,"n":3,"owner":"n3",)"
            R"("pending_owner":null,"primaries":["n3","n1","n4"],"fallbacks":["n2"]})");

  reply.pending_owner = "n5";
  service_.next_reply.body = reply;
  EXPECT_EQ(json::parse(Call("GET", "/v1/cluster/locate/b/k").body)["pending_owner"], "n5");
}

TEST_F(ClusterHandlerTest, LocalRendersBothCopiesWithDotsAndBase64Values) {
  node::LocalCopyReply reply;
  reply.node = "n5";
  reply.partition = 7;
  service_.next_reply.body = reply;
  HttpResponse empty = Call("GET", "/v1/cluster/local/b/k");
  ASSERT_EQ(empty.status, 200u) << empty.body;
  EXPECT_TRUE(std::holds_alternative<node::ClusterLocalRequest>(service_.requests.at(0)));
  EXPECT_EQ(empty.body,
            R"({"node":"n5","partition":7,"holds_replica":false,"object":null,"hint":null})");

  reply.holds_replica = true;
  reply.object = TwoSiblings();
  reply.hint = node::LocalCopyReply::Hint{{"n1", "n2"}, TwoSiblings()};
  service_.next_reply.body = reply;
  HttpResponse full = Call("GET", "/v1/cluster/local/b/k");
  ASSERT_EQ(full.status, 200u) << full.body;
  const json body = json::parse(full.body);
  EXPECT_EQ(body["holds_replica"], true);
  // Actor ids are decimal strings: 64-bit ids do not survive a JSON double.
  const json expected_object = {
      {"clock", json::array({json::array({"5", 1}), json::array({"18446744073709551557", 1})})},
      {"siblings",
       {{{"actor", "5"},
         {"counter", 1},
         {"timestamp_ms", 2000},
         {"tombstone", true},
         {"value_base64", ""}},
        {{"actor", "18446744073709551557"},
         {"counter", 1},
         {"timestamp_ms", 1000},
         {"tombstone", false},
         {"value_base64", "YQA="}}}}};
  EXPECT_EQ(body["object"], expected_object);
  EXPECT_EQ(body["hint"]["targets"], json::array({"n1", "n2"}));
  EXPECT_EQ(body["hint"]["object"], expected_object);
}

TEST_F(ClusterHandlerTest, EdgeValidationErrorsNeverReachTheService) {
  struct Case {
    const char* method;
    std::string target;
    std::string body;
    unsigned status;
    const char* error;
    const char* message;  // a part of the message
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/cluster/join", "", 400, "invalid_argument", "not valid JSON"},
      {"POST", "/v1/cluster/join", "[]", 400, "invalid_argument", "JSON object"},
      {"POST", "/v1/cluster/join", "{}", 400, "invalid_argument", "missing field: seeds"},
      {"POST", "/v1/cluster/join", R"({"seeds":[]})", 400, "invalid_argument", "not be empty"},
      {"POST", "/v1/cluster/join", R"({"seeds":"a:1"})", 400, "invalid_argument", "array"},
      {"POST", "/v1/cluster/join", R"({"seeds":[7080]})", 400, "invalid_argument", "array"},
      {"POST", "/v1/cluster/join", R"({"seeds":["nohost"]})", 400, "invalid_argument", "nohost"},
      {"POST", "/v1/cluster/join", R"({"seeds":["127.0.0.1:0"]})", 400, "invalid_argument",
       "port 0"},
      {"POST", "/v1/cluster/join", R"({"seeds":["1.2.3.4:5"],"x":1})", 400, "invalid_argument",
       "unknown field: x"},
      {"POST", "/v1/cluster/leave", R"({"node":3})", 400, "invalid_argument", "string"},
      {"POST", "/v1/cluster/leave", R"({"node":""})", 400, "invalid_argument", "node"},
      {"POST", "/v1/cluster/leave", R"({"name":"n1"})", 400, "invalid_argument", "unknown field"},
      {"POST", "/v1/cluster/remove", "", 400, "invalid_argument", "not valid JSON"},
      {"POST", "/v1/cluster/remove", "{}", 400, "invalid_argument", "missing field: node"},
      {"POST", "/v1/cluster/remove", R"({"node":"bad id"})", 400, "invalid_argument", "node"},
      {"POST", "/v1/cluster/weight", R"({"node":"n1"})", 400, "invalid_argument",
       "missing field: weight"},
      {"POST", "/v1/cluster/weight", R"({"weight":2})", 400, "invalid_argument",
       "missing field: node"},
      {"POST", "/v1/cluster/weight", R"({"node":"n1","weight":0})", 400, "invalid_argument",
       "weight must be positive"},
      {"POST", "/v1/cluster/weight", R"({"node":"n1","weight":-2})", 400, "invalid_argument",
       "weight must be positive"},
      {"POST", "/v1/cluster/weight", R"({"node":"n1","weight":"2"})", 400, "invalid_argument",
       "integer"},
      {"POST", "/v1/cluster/weight", R"({"node":"n1","weight":1.5})", 400, "invalid_argument",
       "integer"},
      {"POST", "/v1/cluster/weight", R"({"node":"n1","weight":4294967296})", 400,
       "invalid_argument", "out of range"},
      {"POST", "/v1/cluster/weight", std::string(kBucketBodyBytesMax + 1, ' '), 413,
       "body_too_large", "body exceeds"},
      {"GET", "/v1/cluster/status?verbose=1", "", 400, "invalid_parameter", "verbose"},
      {"GET", "/v1/cluster/ring?partitions=yes", "", 400, "invalid_parameter", "true or false"},
      {"GET", "/v1/cluster/ring?partitions=true&partitions=true", "", 400, "invalid_parameter",
       "more than once"},
      {"GET", "/v1/cluster/ring?nodes=1", "", 400, "invalid_parameter", "nodes"},
      {"POST", "/v1/cluster/join?x=1", R"({"seeds":["1.2.3.4:5"]})", 400, "invalid_parameter", "x"},
      {"GET", "/v1/cluster/", "", 404, "not_found", "no such endpoint"},
      {"GET", "/v1/cluster/members", "", 404, "not_found", "no such endpoint"},
      {"GET", "/v1/cluster/status/extra", "", 404, "not_found", "no such endpoint"},
      {"GET", "/v1/cluster/join", "", 405, "method_not_allowed", "POST"},
      {"POST", "/v1/cluster/status", "", 405, "method_not_allowed", "GET"},
      {"DELETE", "/v1/cluster/ring", "", 405, "method_not_allowed", "GET"},
      // The key endpoints validate bucket and key as /v1/kv/ does.
      {"GET", "/v1/cluster/locate/bad%20bucket/k", "", 400, "invalid_bucket", "bucket"},
      {"GET", "/v1/cluster/local/b%2Fc/k", "", 400, "invalid_bucket", "bucket"},
      {"GET", "/v1/cluster/locate/b/", "", 400, "invalid_key", "empty"},
      {"GET", "/v1/cluster/local/b/k%zz", "", 400, "invalid_key", "percent-encoding"},
      {"GET", "/v1/cluster/local/b/" + std::string(HttpLimits{}.key_bytes_max + 1, 'k'), "", 413,
       "key_too_large", "key"},
      {"GET", "/v1/cluster/locate/b/k?r=1", "", 400, "invalid_parameter", "r"},
      {"GET", "/v1/cluster/locate", "", 404, "not_found", "no such endpoint"},
      {"GET", "/v1/cluster/locate/b", "", 404, "not_found", "no such endpoint"},
      {"GET", "/v1/cluster/local/", "", 404, "not_found", "no such endpoint"},
      {"GET", "/v1/cluster/localx/b/k", "", 404, "not_found", "no such endpoint"},
      {"PUT", "/v1/cluster/local/b/k", "", 405, "method_not_allowed", "GET"},
      {"DELETE", "/v1/cluster/locate/b/k", "", 405, "method_not_allowed", "GET"},
  };
  for (const Case& c : cases) {
    HttpResponse response = Call(c.method, c.target, c.body);
    EXPECT_EQ(response.status, c.status) << c.method << " " << c.target << " " << c.body;
    EXPECT_EQ(ErrorOf(response), c.error) << c.target << " " << c.body;
    EXPECT_NE(MessageOf(response).find(c.message), std::string::npos)
        << c.target << " " << c.body << ": " << MessageOf(response);
  }
  EXPECT_TRUE(service_.requests.empty());
}

TEST_F(ClusterHandlerTest, MethodNotAllowedListsTheEndpointsMethod) {
  HttpResponse on_join = Call("GET", "/v1/cluster/join");
  ASSERT_NE(on_join.FindHeader("Allow"), nullptr);
  EXPECT_EQ(*on_join.FindHeader("Allow"), "POST");
  HttpResponse on_status = Call("PUT", "/v1/cluster/status");
  ASSERT_NE(on_status.FindHeader("Allow"), nullptr);
  EXPECT_EQ(*on_status.FindHeader("Allow"), "GET");
}

TEST_F(ClusterHandlerTest, NodeStatusesMapToErrors) {
  struct Case {
    Status status;
    unsigned http_status;
    const char* error;
  };
  const std::vector<Case> cases = {
      {Status::InvalidArgument("this node runs standalone"), 400, "invalid_argument"},
      {Status::NotFound("no member n9"), 404, "not_found"},
      {Status::Unavailable("closing"), 503, "unavailable"},
      {Status::Timeout("slow"), 503, "unavailable"},
      {Status::IoError("disk"), 503, "storage_error"},
      {Status::Internal("bug"), 500, "internal"},
  };
  for (const Case& c : cases) {
    service_.next_reply.status = c.status;
    HttpResponse response = Call("POST", "/v1/cluster/remove", R"({"node":"n9"})");
    EXPECT_EQ(response.status, c.http_status) << c.status.ToString();
    EXPECT_EQ(ErrorOf(response), c.error) << c.status.ToString();
    EXPECT_NE(MessageOf(response).find(c.status.message()), std::string::npos) << response.body;
  }
  // On the key endpoints the node's InvalidArgument / TooLarge are about the object id.
  service_.next_reply.status = Status::InvalidArgument("key is empty");
  EXPECT_EQ(ErrorOf(Call("GET", "/v1/cluster/local/b/k")), "invalid_key");
  service_.next_reply.status = Status::TooLarge("key is 2000 bytes");
  HttpResponse too_large = Call("GET", "/v1/cluster/locate/b/k");
  EXPECT_EQ(too_large.status, 413u);
  EXPECT_EQ(ErrorOf(too_large), "key_too_large");
  service_.next_reply.status = Status::Corruption("the stored hint is unreadable");
  EXPECT_EQ(ErrorOf(Call("GET", "/v1/cluster/local/b/k")), "storage_error");

  service_.next_reply.status = Status::Ok();
  service_.next_reply.body = node::WriteReply{};  // a reply of the wrong kind is a bug
  EXPECT_EQ(Call("GET", "/v1/cluster/status").status, 500u);
  EXPECT_EQ(Call("GET", "/v1/cluster/local/b/k").status, 500u);
}

TEST_F(ClusterHandlerTest, MetricsUseTheClusterOperationNames) {
  service_.next_reply.body = node::ClusterStatusReply{};
  Call("GET", "/v1/cluster/status");
  service_.next_reply.body = node::RingReply{};
  Call("GET", "/v1/cluster/ring");
  Call("POST", "/v1/cluster/weight", R"({"node":"n1","weight":0})");
  Call("GET", "/v1/cluster/join");
  Call("GET", "/v1/cluster/nothing");
  service_.next_reply.body = node::LocateReply{};
  Call("GET", "/v1/cluster/locate/b/k");
  Call("GET", "/v1/cluster/locate/b/");
  service_.next_reply.body = node::LocalCopyReply{};
  Call("GET", "/v1/cluster/local/b/k");
  EXPECT_EQ(metrics_.requests("cluster_locate", 200), 1u);
  EXPECT_EQ(metrics_.requests("cluster_locate", 400), 1u);
  EXPECT_EQ(metrics_.requests("cluster_local", 200), 1u);
  EXPECT_EQ(metrics_.requests("cluster_status", 200), 1u);
  EXPECT_EQ(metrics_.requests("cluster_ring", 200), 1u);
  EXPECT_EQ(metrics_.requests("cluster_admin", 400), 1u);
  EXPECT_EQ(metrics_.requests("other", 405), 1u);
  EXPECT_EQ(metrics_.requests("other", 404), 1u);

  HttpResponse too_large = handler_.BodyTooLarge("POST", "/v1/cluster/join");
  EXPECT_EQ(too_large.status, 413u);
  EXPECT_EQ(ErrorOf(too_large), "body_too_large");
  EXPECT_EQ(metrics_.requests("cluster_admin", 413), 1u);
  EXPECT_EQ(handler_.BodyBytesMax("/v1/cluster/join"), kBucketBodyBytesMax);
}

TEST(ClusterOperationTest, NamesOnlyKnownEndpointsWithTheirMethod) {
  EXPECT_EQ(ClusterOperation("GET", "/v1/cluster/status"), "cluster_status");
  EXPECT_EQ(ClusterOperation("GET", "/v1/cluster/ring"), "cluster_ring");
  for (const char* path :
       {"/v1/cluster/join", "/v1/cluster/leave", "/v1/cluster/remove", "/v1/cluster/weight"}) {
    EXPECT_EQ(ClusterOperation("POST", path), "cluster_admin") << path;
    EXPECT_EQ(ClusterOperation("GET", path), "other") << path;
  }
  EXPECT_EQ(ClusterOperation("GET", "/v1/cluster/other"), "other");
  EXPECT_EQ(ClusterOperation("GET", "/v1/cluster/locate/b/k"), "cluster_locate");
  EXPECT_EQ(ClusterOperation("GET", "/v1/cluster/local/b/k"), "cluster_local");
  EXPECT_EQ(ClusterOperation("POST", "/v1/cluster/local/b/k"), "other");
  EXPECT_EQ(ClusterOperation("GET", "/v1/cluster/local/b"), "other");
}

// The real NodeService over a standalone node: what `meridian serve` without --peer answers.
class StandaloneClusterTest : public ::testing::Test {
 protected:
  StandaloneClusterTest() : node_(Config(), node::Env{&clock_, &random_, &engine_}) {
    EXPECT_TRUE(node_.Open().ok());
  }
  static node::NodeConfig Config() {
    node::NodeConfig config;
    config.partition_count = 8;
    config.node_id = "solo";
    config.cluster_name = "test-cluster";
    config.http_address = "127.0.0.1:8080";
    config.zone = "z1";
    config.weight = 3;
    return config;
  }

  // Handles the request on the loop until the response is ready (bounded).
  HttpResponse Call(std::string method, std::string target, std::string body = "") {
    std::optional<HttpResponse> out;
    handler_.Handle(
        HttpRequest{std::move(method), std::move(target), std::nullopt, std::move(body)},
        [&out](HttpResponse response) { out = std::move(response); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!out && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(out.has_value()) << "no response within 5 s";
    return out.value_or(HttpResponse{});
  }

  boost::asio::io_context io_;
  storage::MemoryEngine engine_;
  runtime::SystemClock clock_;
  runtime::SystemRandom random_{5};
  node::Node node_;
  runtime::NodeService service_{io_, node_};
  Metrics metrics_;
  HttpHandler handler_{service_, metrics_, HttpLimits{}};
};

TEST_F(StandaloneClusterTest, StatusShowsTheSingleMemberOwningEveryPartition) {
  HttpResponse response = Call("GET", "/v1/cluster/status");
  ASSERT_EQ(response.status, 200u) << response.body;
  const json body = json::parse(response.body);
  EXPECT_EQ(body["cluster_name"], "test-cluster");
  EXPECT_EQ(body["self"], "solo");
  EXPECT_EQ(body["claimant"], "solo");
  EXPECT_EQ(body["partition_count"], 8);
  ASSERT_EQ(body["members"].size(), 1u);
  const json& member = body["members"][0];
  EXPECT_EQ(member["id"], "solo");
  EXPECT_EQ(member["http_address"], "127.0.0.1:8080");
  EXPECT_EQ(member["zone"], "z1");
  EXPECT_EQ(member["weight"], 3);
  EXPECT_EQ(member["alive"], true);
  EXPECT_EQ(member["phi"], 0.0);
  EXPECT_EQ(member["partitions_owned"], 8);
  EXPECT_EQ(member["partitions_incoming"], 0);
}

TEST_F(StandaloneClusterTest, RingListsEveryPartitionWithItsOwner) {
  HttpResponse response = Call("GET", "/v1/cluster/ring?partitions=true");
  ASSERT_EQ(response.status, 200u) << response.body;
  const json body = json::parse(response.body);
  EXPECT_EQ(body["partition_count"], 8);
  ASSERT_EQ(body["partitions"].size(), 8u);
  for (std::size_t partition = 0; partition < 8; ++partition) {
    EXPECT_EQ(body["partitions"][partition]["partition"], partition);
    EXPECT_EQ(body["partitions"][partition]["owner"], "solo");
    EXPECT_EQ(body["partitions"][partition]["pending_owner"], "");
  }
}

TEST_F(StandaloneClusterTest, LocateAndLocalAnswerFromTheNodeItself) {
  std::optional<HttpResponse> written;
  handler_.Handle(HttpRequest{"PUT", "/v1/kv/b/k%201", std::nullopt, "v"},
                  [&written](HttpResponse response) { written = std::move(response); });
  while (!written) io_.run_one_for(std::chrono::milliseconds(50));
  ASSERT_EQ(written->status, 204u) << written->body;

  HttpResponse located = Call("GET", "/v1/cluster/locate/b/k%201");
  ASSERT_EQ(located.status, 200u) << located.body;
  json body = json::parse(located.body);
  EXPECT_EQ(body["key"], "k 1");
  EXPECT_EQ(body["owner"], "solo");
  EXPECT_EQ(body["primaries"], json::array({"solo"}));
  EXPECT_EQ(body["fallbacks"], json::array());

  HttpResponse local = Call("GET", "/v1/cluster/local/b/k%201");
  ASSERT_EQ(local.status, 200u) << local.body;
  body = json::parse(local.body);
  EXPECT_EQ(body["node"], "solo");
  EXPECT_EQ(body["partition"], json::parse(located.body)["partition"]);
  EXPECT_EQ(body["holds_replica"], true);
  ASSERT_EQ(body["object"]["siblings"].size(), 1u);
  EXPECT_EQ(body["object"]["siblings"][0]["value_base64"], "dg==");
  EXPECT_TRUE(body["hint"].is_null());
  EXPECT_EQ(metrics_.requests("cluster_locate", 200), 1u);
  EXPECT_EQ(metrics_.requests("cluster_local", 200), 1u);
}

TEST_F(StandaloneClusterTest, MembershipChangesAreRefusedAsInvalidArgument) {
  const std::vector<std::pair<std::string, std::string>> requests = {
      {"/v1/cluster/join", R"({"seeds":["127.0.0.1:7080"]})"},
      {"/v1/cluster/leave", ""},
      {"/v1/cluster/remove", R"({"node":"solo"})"},
      {"/v1/cluster/weight", R"({"node":"solo","weight":2})"},
  };
  for (const auto& [target, body] : requests) {
    HttpResponse response = Call("POST", target, body);
    EXPECT_EQ(response.status, 400u) << target << ": " << response.body;
    EXPECT_EQ(ErrorOf(response), "invalid_argument") << target;
    EXPECT_NE(MessageOf(response).find("standalone"), std::string::npos) << response.body;
  }
  EXPECT_EQ(metrics_.requests("cluster_admin", 400), requests.size());
}

}  // namespace
}  // namespace meridian::api
