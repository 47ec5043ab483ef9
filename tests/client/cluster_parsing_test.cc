// Decoding of the cluster administration replies and encoding of the admin request bodies.
#include "client/cluster_parsing.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace meridian::client::internal {
namespace {

constexpr const char* kMember =
    R"({"id":"n1","peer_address":"10.0.0.1:7080","http_address":"10.0.0.1:8080","zone":"z1",)"
    R"("weight":3,"status":"leaving","incarnation":42,"alive":false,"phi":12.25,)"
    R"("partitions_owned":60,"partitions_incoming":4,"shards":2})";

std::string StatusBody(const std::string& members) {
  return R"({"cluster_name":"prod","self":"n2","claimant":"n1","ring_version":9,)"
         R"("partition_count":256,"members":)" +
         members + "}";
}

TEST(ParseClusterStatusBodyTest, DecodesEveryField) {
  const std::string body = StatusBody(std::string("[") + kMember + "]");
  auto result = ParseClusterStatusBody(body);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->cluster_name, "prod");
  EXPECT_EQ(result->self, "n2");
  EXPECT_EQ(result->claimant, "n1");
  EXPECT_EQ(result->ring_version, 9u);
  EXPECT_EQ(result->partition_count, 256u);
  EXPECT_EQ(result->json, body);
  ASSERT_EQ(result->members.size(), 1u);
  const ClusterMember& member = result->members[0];
  EXPECT_EQ(member.id, "n1");
  EXPECT_EQ(member.peer_address, "10.0.0.1:7080");
  EXPECT_EQ(member.http_address, "10.0.0.1:8080");
  EXPECT_EQ(member.zone, "z1");
  EXPECT_EQ(member.weight, 3u);
  EXPECT_EQ(member.status, "leaving");
  EXPECT_EQ(member.incarnation, 42u);
  EXPECT_FALSE(member.alive);
  EXPECT_DOUBLE_EQ(member.phi, 12.25);
  EXPECT_EQ(member.partitions_owned, 60u);
  EXPECT_EQ(member.partitions_incoming, 4u);
  EXPECT_EQ(member.shards, 2u);
}

// A member of release 0.1.0 has no "shards": it has one.
TEST(ParseClusterStatusBodyTest, AMemberWithoutAShardCountHasOne) {
  std::string member = kMember;
  member.replace(member.find(R"(,"shards":2)"), 11, "");
  auto result = ParseClusterStatusBody(StatusBody("[" + member + "]"));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->members[0].shards, 1u);
}

// A member with a report: "}" of kMember replaced by the report fields.
std::string MemberWithReport(const std::string& report) {
  std::string member = kMember;
  member.pop_back();
  return member + R"(,"report":)" + report + "}";
}

constexpr const char* kReport =
    R"({"hints":{"pending":4,"bytes":400},"transfers":[)"
    R"({"partition":3,"kind":"ownership","peer":"n2","bytes_done":250,"bytes_total":1000,)"
    R"("objects_done":2,"elapsed_seconds":5.0,"bytes_per_second":50.0,"eta_seconds":15.0},)"
    R"({"partition":4,"kind":"replica_copy","peer":"n3","bytes_done":0,"bytes_total":0,)"
    R"("objects_done":0,"elapsed_seconds":0,"bytes_per_second":0,"eta_seconds":null}],)"
    R"("copies_queued":1,"anti_entropy":{"exchanges":9,"exchanges_failed":1,"keys_repaired":12},)"
    R"("disk":{"used_bytes":10,"capacity_bytes":100,"available_bytes":90},)"
    R"("requests":{"window_seconds":60,"per_second":2.5,"errors_per_second":0,"p50_ms":0.5,)"
    R"("p99_ms":4}})";

TEST(ParseClusterStatusBodyTest, DecodesAMembersReportAndWhyOneIsMissing) {
  std::string silent = kMember;
  silent.pop_back();
  silent += R"(,"report_missing":"not reachable"})";
  auto result =
      ParseClusterStatusBody(StatusBody("[" + MemberWithReport(kReport) + "," + silent + "]"));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  ASSERT_EQ(result->members.size(), 2u);
  ASSERT_TRUE(result->members[0].report.has_value());
  const ClusterMemberReport& report = *result->members[0].report;
  EXPECT_TRUE(report.load_known);
  EXPECT_EQ(report.hints_pending, 4u);
  EXPECT_EQ(report.hint_bytes, 400u);
  EXPECT_EQ(report.copies_queued, 1u);
  EXPECT_EQ(report.aae_exchanges, 9u);
  EXPECT_EQ(report.aae_exchanges_failed, 1u);
  EXPECT_EQ(report.aae_keys_repaired, 12u);
  EXPECT_EQ(report.disk_used_bytes, 10u);
  EXPECT_EQ(report.disk_capacity_bytes, 100u);
  EXPECT_EQ(report.disk_available_bytes, 90u);
  EXPECT_EQ(report.requests_window_seconds, 60u);
  EXPECT_DOUBLE_EQ(report.requests_per_second, 2.5);
  EXPECT_DOUBLE_EQ(report.p50_ms, 0.5);
  EXPECT_DOUBLE_EQ(report.p99_ms, 4);
  ASSERT_EQ(report.transfers.size(), 2u);
  EXPECT_EQ(report.transfers[0].partition, 3u);
  EXPECT_EQ(report.transfers[0].kind, "ownership");
  EXPECT_EQ(report.transfers[0].peer, "n2");
  EXPECT_EQ(report.transfers[0].bytes_done, 250u);
  EXPECT_EQ(report.transfers[0].bytes_total, 1000u);
  EXPECT_EQ(report.transfers[0].objects_done, 2u);
  EXPECT_DOUBLE_EQ(report.transfers[0].bytes_per_second, 50);
  ASSERT_TRUE(report.transfers[0].eta_seconds.has_value());
  EXPECT_DOUBLE_EQ(*report.transfers[0].eta_seconds, 15);
  EXPECT_FALSE(report.transfers[1].eta_seconds.has_value());
  EXPECT_FALSE(result->members[1].report.has_value());
  EXPECT_EQ(result->members[1].report_missing, "not reachable");
}

// A member's release: a string, null when unknown, absent from servers of release 0.1.0.
TEST(ParseClusterStatusBodyTest, DecodesAMembersRelease) {
  std::string with = kMember;
  with.pop_back();
  std::string unknown = with + R"(,"meridian_version":null})";
  std::string wrong = with + R"(,"meridian_version":2})";
  with += R"(,"meridian_version":"0.2.0"})";
  auto result = ParseClusterStatusBody(
      StatusBody("[" + with + "," + unknown + "," + std::string(kMember) + "]"));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->members[0].meridian_version, "0.2.0");
  EXPECT_EQ(result->members[1].meridian_version, "");
  EXPECT_EQ(result->members[2].meridian_version, "");
  EXPECT_FALSE(ParseClusterStatusBody(StatusBody("[" + wrong + "]")).ok());
}

TEST(ParseClusterStatusBodyTest, AReportWithoutLoadAndMalformedReports) {
  auto without_load = ParseClusterStatusBody(
      StatusBody("[" +
                 MemberWithReport(
                     R"({"hints":{"pending":0,"bytes":0},"transfers":[],"copies_queued":0,)"
                     R"("anti_entropy":{"exchanges":0,"exchanges_failed":0,"keys_repaired":0}})") +
                 "]"));
  ASSERT_TRUE(without_load.ok()) << without_load.error().ToString();
  EXPECT_FALSE(without_load->members[0].report->load_known);
  std::string report = kReport;
  for (const std::string& broken : {
           std::string("[]"),
           std::string(report).replace(report.find("15.0"), 4, "\"soon\""),
           std::string(report).replace(report.find(R"("hints")"), 7, R"("hunts")"),
           std::string(report).replace(report.find("\"pending\":4"), 11, "\"pending\":-4"),
       }) {
    auto result = ParseClusterStatusBody(StatusBody("[" + MemberWithReport(broken) + "]"));
    EXPECT_FALSE(result.ok()) << broken;
  }
}

TEST(ParseClusterStatusBodyTest, IgnoresUnknownFieldsAndAcceptsIntegerPhi) {
  std::string member = kMember;
  member.replace(member.find("12.25"), 5, "0");
  auto result =
      ParseClusterStatusBody(R"({"future":true,)" + StatusBody("[" + member + "]").substr(1));
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->members.at(0).phi, 0.0);
}

TEST(ParseClusterStatusBodyTest, RejectsMissingOrMistypedFields) {
  const std::string member = kMember;
  auto without = [&](const std::string& field_and_value) {
    std::string text = member;
    text.erase(text.find(field_and_value), field_and_value.size());
    return StatusBody("[" + text + "]");
  };
  for (const std::string& body : {
           std::string("not json"),
           std::string("[]"),
           StatusBody("{}"),
           StatusBody("[1]"),
           std::string(R"({"self":"n2","members":[]})"),
           std::string(R"({"cluster_name":"prod","self":"n2","claimant":"n1",)"
                       R"("ring_version":-9,"partition_count":256,"members":[]})"),
           without(R"("weight":3,)"),
           without(R"("alive":false,)"),
           StatusBody("[" + std::string(member).replace(member.find("false"), 5, "0") + "]"),
           StatusBody("[" + std::string(member).replace(member.find("3,"), 1, "\"3\"") + "]"),
           StatusBody("[" + std::string(member).replace(member.find("60"), 2, "4294967296") + "]"),
       }) {
    auto result = ParseClusterStatusBody(body);
    ASSERT_FALSE(result.ok()) << body;
    EXPECT_EQ(result.error().code, ErrorCode::kProtocolError) << body;
    EXPECT_FALSE(result.error().message.empty());
  }
}

TEST(ParseClusterRingBodyTest, DecodesPartitionsWhenPresent) {
  auto without = ParseClusterRingBody(
      std::string(R"({"partition_count":2,"version":5,"members":[)") + kMember + "]}");
  ASSERT_TRUE(without.ok()) << without.error().ToString();
  EXPECT_EQ(without->partition_count, 2u);
  EXPECT_EQ(without->version, 5u);
  EXPECT_EQ(without->members.size(), 1u);
  EXPECT_TRUE(without->partitions.empty());

  auto with = ParseClusterRingBody(R"({"partition_count":2,"version":5,"members":[],"partitions":[)"
                                   R"({"partition":0,"owner":"n1","pending_owner":""},)"
                                   R"({"partition":1,"owner":"n1","pending_owner":"n2"}]})");
  ASSERT_TRUE(with.ok()) << with.error().ToString();
  ASSERT_EQ(with->partitions.size(), 2u);
  EXPECT_EQ(with->partitions[1].partition, 1u);
  EXPECT_EQ(with->partitions[1].owner, "n1");
  EXPECT_EQ(with->partitions[1].pending_owner, "n2");
  EXPECT_EQ(with->partitions[0].pending_owner, "");

  for (const char* body : {
           R"({"partition_count":2,"version":5,"members":[],"partitions":{}})",
           R"({"partition_count":2,"version":5,"members":[],"partitions":[{"partition":0}]})",
           R"({"partition_count":2,"version":5,"members":[],"partitions":[3]})",
           R"({"partition_count":2,"members":[]})",
       }) {
    auto result = ParseClusterRingBody(body);
    ASSERT_FALSE(result.ok()) << body;
    EXPECT_EQ(result.error().code, ErrorCode::kProtocolError) << body;
  }
}

TEST(ParseClusterAdminBodyTest, ReturnsTheMessage) {
  auto result = ParseClusterAdminBody(R"({"message":"n2 is leaving"})");
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->message, "n2 is leaving");
  EXPECT_FALSE(ParseClusterAdminBody(R"({"message":1})").ok());
  EXPECT_FALSE(ParseClusterAdminBody("{}").ok());
}

TEST(ParseKeyLocationBodyTest, DecodesEveryFieldAndANullPendingOwner) {
  const std::string body =
      R"({"bucket":"b","key":"k","partition":12,"n":3,"owner":"n3","pending_owner":null,)"
      R"("primaries":["n3","n1","n4"],"fallbacks":["n2"]})";
  auto result = ParseKeyLocationBody(body);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->bucket, "b");
  EXPECT_EQ(result->key, "k");
  EXPECT_EQ(result->partition, 12u);
  EXPECT_EQ(result->n, 3u);
  EXPECT_EQ(result->owner, "n3");
  EXPECT_EQ(result->pending_owner, "");
  EXPECT_EQ(result->primaries, (std::vector<std::string>{"n3", "n1", "n4"}));
  EXPECT_EQ(result->fallbacks, std::vector<std::string>{"n2"});
  EXPECT_EQ(result->json, body);

  std::string pending = body;
  pending.replace(pending.find("null"), 4, R"("n5")");
  EXPECT_EQ(ParseKeyLocationBody(pending)->pending_owner, "n5");
  for (const std::string& bad : {
           std::string(R"({"bucket":"b"})"),
           std::string(body).replace(body.find("null"), 4, "7"),
           std::string(body).replace(body.find(R"(["n2"])"), 6, "[2]"),
           std::string(body).replace(body.find("12"), 2, "-1"),
       }) {
    auto result = ParseKeyLocationBody(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::kProtocolError) << bad;
  }
}

TEST(ParseLocalCopyBodyTest, DecodesBothCopiesAndBase64Values) {
  const std::string object =
      R"({"clock":[["18446744073709551557",2]],"siblings":[{"actor":"18446744073709551557",)"
      R"("counter":2,"timestamp_ms":1000,"tombstone":false,"value_base64":"YQA="}]})";
  const std::string body = R"({"node":"n5","partition":7,"holds_replica":true,"object":)" + object +
                           R"(,"hint":{"targets":["n1"],"object":)" + object + "}}";
  auto result = ParseLocalCopyBody(body);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->node, "n5");
  EXPECT_EQ(result->partition, 7u);
  EXPECT_TRUE(result->holds_replica);
  ASSERT_TRUE(result->object.has_value());
  ASSERT_EQ(result->object->clock.size(), 1u);
  EXPECT_EQ(result->object->clock[0].first, "18446744073709551557");
  EXPECT_EQ(result->object->clock[0].second, 2u);
  ASSERT_EQ(result->object->siblings.size(), 1u);
  const LocalSibling& sibling = result->object->siblings[0];
  EXPECT_EQ(sibling.actor, "18446744073709551557");
  EXPECT_EQ(sibling.counter, 2u);
  EXPECT_EQ(sibling.timestamp_ms, 1000);
  EXPECT_FALSE(sibling.tombstone);
  EXPECT_EQ(sibling.value, std::string("a\0", 2));
  ASSERT_TRUE(result->hint.has_value());
  EXPECT_EQ(result->hint_targets, std::vector<std::string>{"n1"});
  EXPECT_EQ(result->hint->siblings.size(), 1u);

  auto empty = ParseLocalCopyBody(
      R"({"node":"n5","partition":7,"holds_replica":false,"object":null,"hint":null})");
  ASSERT_TRUE(empty.ok()) << empty.error().ToString();
  EXPECT_FALSE(empty->object.has_value());
  EXPECT_FALSE(empty->hint.has_value());
  EXPECT_TRUE(empty->hint_targets.empty());

  for (const std::string& bad : {
           std::string(R"({"node":"n5","partition":7,"holds_replica":false,"object":null})"),
           std::string(body).replace(body.find("YQA="), 4, "Y"),
           std::string(body).replace(body.find(R"([["18446744073709551557",2]])"), 28, "[[1,2]]"),
           std::string(body).replace(body.find(R"("targets":["n1"],)"), 17, ""),
       }) {
    auto result = ParseLocalCopyBody(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.error().code, ErrorCode::kProtocolError) << bad;
  }
}

TEST(ClusterRequestBodyTest, EncodesTheDocumentedShapes) {
  using nlohmann::json;
  EXPECT_EQ(json::parse(ClusterJoinBody({"127.0.0.1:7080", "[::1]:7081"})),
            json::parse(R"({"seeds":["127.0.0.1:7080","[::1]:7081"]})"));
  EXPECT_EQ(ClusterNodeBody(""), "");
  EXPECT_EQ(json::parse(ClusterNodeBody("n\"1")), json::parse(R"({"node":"n\"1"})"));
  EXPECT_EQ(json::parse(ClusterWeightBody("n1", 4294967295u)),
            json::parse(R"({"node":"n1","weight":4294967295})"));
}

}  // namespace
}  // namespace meridian::client::internal
