// HttpHandler without sockets: routing, edge validation, reply and error mapping, metrics.
#include "api/http_handler.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "api/json.h"
#include "api/metrics.h"

namespace meridian::api {
namespace {

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

class HttpHandlerTest : public ::testing::Test {
 protected:
  HttpResponse Call(std::string method, std::string target, std::string body = "",
                    std::optional<std::string> context = std::nullopt) {
    std::optional<HttpResponse> out;
    handler_.Handle(
        HttpRequest{std::move(method), std::move(target), std::move(context), std::move(body)},
        [&out](HttpResponse response) { out = std::move(response); });
    EXPECT_TRUE(out.has_value()) << "respond was not called synchronously";
    return out.value_or(HttpResponse{});
  }
  static std::string ErrorOf(const HttpResponse& response) {
    auto start = response.body.find("\"error\":\"");
    if (start == std::string::npos) return "";
    start += 9;
    return response.body.substr(start, response.body.find('"', start) - start);
  }

  HttpLimits limits_ = [] {
    HttpLimits limits;
    limits.key_bytes_max = 8;
    limits.value_bytes_max = 16;
    return limits;
  }();
  FakeKvService service_;
  Metrics metrics_;
  HttpHandler handler_{service_, metrics_, limits_};
};

TEST_F(HttpHandlerTest, GetDecodesBinaryKeyAndReturnsSingleValue) {
  service_.next_reply.body = node::GetReply{true, {{"v\0x", HlcTimestamp{}}}, "ctx"};
  std::get<node::GetReply>(service_.next_reply.body).values[0].value = std::string("v\0x", 3);
  HttpResponse response = Call("GET", "/v1/kv/bucket-1/a%00%2Fb");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.body, std::string("v\0x", 3));
  EXPECT_EQ(response.content_type, "application/octet-stream");
  ASSERT_NE(response.FindHeader("X-Meridian-Context"), nullptr);
  EXPECT_EQ(*response.FindHeader("X-Meridian-Context"), "ctx");
  ASSERT_EQ(service_.requests.size(), 1u);
  auto& get = std::get<node::GetRequest>(service_.requests[0]);
  EXPECT_EQ(get.id.bucket, "bucket-1");
  EXPECT_EQ(get.id.key, std::string("a\0/b", 4));
}

TEST_F(HttpHandlerTest, GetWithSiblingsReturns300WithBase64Values) {
  node::GetReply reply{true, {}, "ctx"};
  reply.values.push_back({"one", HlcTimestamp::FromParts(1000, 1)});
  reply.values.push_back({std::string("\xff\x00", 2), HlcTimestamp::FromParts(2000, 0)});
  service_.next_reply.body = reply;
  HttpResponse response = Call("GET", "/v1/kv/b/k");
  EXPECT_EQ(response.status, 300u);
  EXPECT_EQ(response.content_type, "application/json");
  EXPECT_EQ(response.body, R"({"context":"ctx","siblings":[{"timestamp_ms":1000,"value":"b25l"},)"
                           R"({"timestamp_ms":2000,"value":"/wA="}]})");
}

TEST_F(HttpHandlerTest, MissingKeyIs404AndKeepsTombstoneContext) {
  service_.next_reply.body = node::GetReply{false, {}, "tomb"};
  HttpResponse response = Call("GET", "/v1/kv/b/k");
  EXPECT_EQ(response.status, 404u);
  EXPECT_EQ(ErrorOf(response), "not_found");
  ASSERT_NE(response.FindHeader("X-Meridian-Context"), nullptr);

  service_.next_reply.body = node::GetReply{false, {}, ""};
  EXPECT_EQ(Call("GET", "/v1/kv/b/k").FindHeader("X-Meridian-Context"), nullptr);
}

TEST_F(HttpHandlerTest, PutPassesContextAndDwAndAnswers204) {
  service_.next_reply.body = node::WriteReply{"new-ctx", true};
  HttpResponse response = Call("PUT", "/v1/kv/b/k?dw=1", "value", "old-ctx");
  EXPECT_EQ(response.status, 204u);
  EXPECT_EQ(*response.FindHeader("X-Meridian-Context"), "new-ctx");
  EXPECT_EQ(*response.FindHeader("X-Meridian-Durable"), "true");
  auto& put = std::get<node::PutRequest>(service_.requests.at(0));
  EXPECT_EQ(put.value, "value");
  EXPECT_EQ(put.context, "old-ctx");
  EXPECT_EQ(put.options.dw, QuorumValue::Number(1));
  EXPECT_FALSE(put.options.w.has_value());
  EXPECT_FALSE(put.options.sloppy_quorum.has_value());
}

TEST_F(HttpHandlerTest, DeleteAnswers204WithDurableFalse) {
  service_.next_reply.body = node::WriteReply{"c", false};
  HttpResponse response = Call("DELETE", "/v1/kv/b/k?dw=0");
  EXPECT_EQ(response.status, 204u);
  EXPECT_EQ(*response.FindHeader("X-Meridian-Durable"), "false");
  auto& remove = std::get<node::DeleteRequest>(service_.requests.at(0));
  EXPECT_EQ(remove.options.dw, QuorumValue::Number(0));
}

TEST_F(HttpHandlerTest, GetPassesReadQuorumParameters) {
  service_.next_reply.body = node::GetReply{true, {{"v", HlcTimestamp{}}}, "ctx"};
  ASSERT_EQ(Call("GET", "/v1/kv/b/k?r=all&pr=1&sloppy_quorum=false").status, 200u);
  ASSERT_EQ(Call("GET", "/v1/kv/b/k?r=3").status, 200u);
  ASSERT_EQ(Call("GET", "/v1/kv/b/k").status, 200u);
  ASSERT_EQ(service_.requests.size(), 3u);
  node::RequestOptions expected;
  expected.r = QuorumValue::All();
  expected.pr = QuorumValue::Number(1);
  expected.sloppy_quorum = false;
  EXPECT_EQ(std::get<node::GetRequest>(service_.requests[0]).options, expected);
  expected = {};
  expected.r = QuorumValue::Number(3);
  EXPECT_EQ(std::get<node::GetRequest>(service_.requests[1]).options, expected);
  EXPECT_EQ(std::get<node::GetRequest>(service_.requests[2]).options, node::RequestOptions{});
}

TEST_F(HttpHandlerTest, WritesPassWriteQuorumParameters) {
  service_.next_reply.body = node::WriteReply{"c", false};
  ASSERT_EQ(Call("PUT", "/v1/kv/b/k?w=one&pw=quorum&dw=all&sloppy_quorum=true", "v").status, 204u);
  ASSERT_EQ(Call("DELETE", "/v1/kv/b/k?w=2&sloppy_quorum=false").status, 204u);
  node::RequestOptions expected;
  expected.w = QuorumValue::One();
  expected.pw = QuorumValue::Quorum();
  expected.dw = QuorumValue::All();
  expected.sloppy_quorum = true;
  EXPECT_EQ(std::get<node::PutRequest>(service_.requests.at(0)).options, expected);
  expected = {};
  expected.w = QuorumValue::Number(2);
  expected.sloppy_quorum = false;
  EXPECT_EQ(std::get<node::DeleteRequest>(service_.requests.at(1)).options, expected);
}

TEST_F(HttpHandlerTest, BadQuorumParametersAre400AndNeverReachTheService) {
  struct Case {
    const char* method;
    const char* target;
    const char* message;  // a fragment of the message
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/kv/b/k?w=2",
       "unknown query parameter for GET: w (accepted: r, pr, "
       "sloppy_quorum)"},
      {"GET", "/v1/kv/b/k?dw=1", "unknown query parameter for GET: dw"},
      {"GET", "/v1/kv/b/k?pw=1", "unknown query parameter for GET: pw"},
      {"PUT", "/v1/kv/b/k?r=1",
       "unknown query parameter for PUT: r (accepted: w, pw, dw, "
       "sloppy_quorum)"},
      {"DELETE", "/v1/kv/b/k?pr=1", "unknown query parameter for DELETE: pr"},
      {"PUT", "/v1/kv/b/k?bogus=1", "unknown query parameter for PUT: bogus"},
      {"GET", "/v1/kv/b/k?r=1&r=1", "r given more than once"},
      {"PUT", "/v1/kv/b/k?w=1&w=2", "w given more than once"},
      {"PUT", "/v1/kv/b/k?sloppy_quorum=true&sloppy_quorum=true",
       "sloppy_quorum given more than once"},
      {"GET", "/v1/kv/b/k?r=", "r must be one, quorum, all or a number from 0 to 9, not"},
      {"GET", "/v1/kv/b/k?r=10", "r must be one, quorum, all or a number from 0 to 9"},
      {"GET", "/v1/kv/b/k?pr=-1", "pr must be one"},
      {"PUT", "/v1/kv/b/k?w=QUORUM", "w must be one"},
      {"PUT", "/v1/kv/b/k?pw=two", "pw must be one"},
      {"DELETE", "/v1/kv/b/k?dw=1.0", "dw must be one"},
      {"DELETE", "/v1/kv/b/k?sloppy_quorum=1", "sloppy_quorum must be true or false"},
      {"GET", "/v1/kv/b/k?sloppy_quorum", "sloppy_quorum must be true or false"},
      {"GET", "/v1/kv/b/k?r=%zz", "malformed percent-encoding in the query"},
  };
  for (const Case& c : cases) {
    HttpResponse response = Call(c.method, c.target, "v");
    EXPECT_EQ(response.status, 400u) << c.method << " " << c.target;
    EXPECT_EQ(ErrorOf(response), "invalid_parameter") << c.target;
    EXPECT_NE(response.body.find(c.message), std::string::npos) << response.body;
    EXPECT_EQ(response.FindHeader("X-Meridian-Consistency"), nullptr);
  }
  EXPECT_TRUE(service_.requests.empty());
  EXPECT_EQ(metrics_.requests("get", 400), 9u);
}

TEST_F(HttpHandlerTest, ObjectRepliesCarryTheConsistencyReceipt) {
  node::GetReply get{true, {{"v", HlcTimestamp{}}}, "ctx"};
  get.receipt = {3, 2, 2, 1, 1, 0, 0, 1};
  service_.next_reply.body = get;
  HttpResponse response = Call("GET", "/v1/kv/b/k");
  ASSERT_NE(response.FindHeader("X-Meridian-Consistency"), nullptr);
  EXPECT_EQ(*response.FindHeader("X-Meridian-Consistency"),
            "n=3; r=2; replies=2; primaries=1; fallbacks=1; behind=1");

  get.values.push_back({"w", HlcTimestamp{}});  // 300
  service_.next_reply.body = get;
  response = Call("GET", "/v1/kv/b/k");
  EXPECT_EQ(response.status, 300u);
  EXPECT_EQ(*response.FindHeader("X-Meridian-Consistency"),
            "n=3; r=2; replies=2; primaries=1; fallbacks=1; behind=1");

  node::GetReply missing{false, {}, ""};
  missing.receipt = {1, 1, 1, 1, 0, 0, 0, 0};
  service_.next_reply.body = missing;
  response = Call("GET", "/v1/kv/b/k");
  EXPECT_EQ(response.status, 404u);
  EXPECT_EQ(*response.FindHeader("X-Meridian-Consistency"),
            "n=1; r=1; replies=1; primaries=1; fallbacks=0; behind=0");

  node::WriteReply write{"c", true};
  write.receipt = {5, 3, 4, 2, 2, 1, 2, 0};
  service_.next_reply.body = write;
  for (const char* method : {"PUT", "DELETE"}) {
    response = Call(method, "/v1/kv/b/k", "v");
    EXPECT_EQ(response.status, 204u);
    ASSERT_NE(response.FindHeader("X-Meridian-Consistency"), nullptr) << method;
    EXPECT_EQ(*response.FindHeader("X-Meridian-Consistency"),
              "n=5; w=3; replies=4; primaries=2; fallbacks=2; durable=1; hinted=2");
  }

  // Errors carry none.
  service_.next_reply.status = Status::Unavailable("w=3 not reached");
  EXPECT_EQ(Call("PUT", "/v1/kv/b/k", "v").FindHeader("X-Meridian-Consistency"), nullptr);
}

TEST_F(HttpHandlerTest, QuorumRefusalsFromTheNodeAreInvalidParameter) {
  struct Case {
    const char* method;
    std::optional<std::string> context;
    Status status;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"PUT", std::nullopt,
       Status::InvalidArgument("w=2 exceeds the key's 1 replica(s) (n=3, but the cluster has 1 "
                               "node(s))"),
       "invalid_parameter"},
      {"DELETE", "ctx", Status::InvalidArgument("dw=all (3) exceeds w=quorum (2)"),
       "invalid_parameter"},
      {"GET", std::nullopt, Status::InvalidArgument("r=quorum (2) exceeds the key's 1 replica(s)"),
       "invalid_parameter"},
      {"GET", std::nullopt, Status::InvalidArgument("pr=3 exceeds r=quorum (2)"),
       "invalid_parameter"},
      {"PUT", std::nullopt, Status::InvalidArgument("w must be at least 1"), "invalid_parameter"},
      {"PUT", "ctx", Status::InvalidArgument("context is truncated"), "invalid_context"},
      {"DELETE", "ctx", Status::InvalidArgument("context was issued for another object"),
       "invalid_context"},
      {"GET", std::nullopt, Status::InvalidArgument("key is empty"), "invalid_key"},
      {"PUT", std::nullopt, Status::Unavailable("w=2 not reached: 1 of 3 replicas"), "unavailable"},
  };
  for (const Case& c : cases) {
    service_.next_reply.status = c.status;
    HttpResponse response = Call(c.method, "/v1/kv/b/k", "v", c.context);
    EXPECT_EQ(ErrorOf(response), c.error) << c.status.ToString();
    EXPECT_NE(response.body.find(c.status.message()), std::string::npos) << response.body;
  }
}

TEST_F(HttpHandlerTest, EdgeValidationErrorsNeverReachTheService) {
  struct Case {
    const char* method;
    std::string target;
    std::string body;
    unsigned status;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"GET", "/v1/kv/bad$bucket/k", "", 400, "invalid_bucket"},
      {"GET", "/v1/kv//k", "", 400, "invalid_bucket"},
      {"GET", "/v1/kv/b/", "", 400, "invalid_key"},
      {"GET", "/v1/kv/b/a%2", "", 400, "invalid_key"},
      {"GET", "/v1/kv/b/a%zz", "", 400, "invalid_key"},
      {"GET", "/v1/kv/b/123456789", "", 413, "key_too_large"},
      {"GET", "/v1/kv/b/k?dw=1", "", 400, "invalid_parameter"},
      {"PUT", "/v1/kv/b/k?dw=10", "", 400, "invalid_parameter"},
      {"PUT", "/v1/kv/b/k?dw=1&dw=0", "", 400, "invalid_parameter"},
      {"PUT", "/v1/kv/b/k?r=2", "", 400, "invalid_parameter"},
      {"DELETE", "/v1/kv/b/k?dw=%zz", "", 400, "invalid_parameter"},
      {"PUT", "/v1/kv/b/k", std::string(17, 'x'), 413, "value_too_large"},
      {"PUT", "/v1/buckets/b", "{\"n\": \"3\"}", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "{\"replicas\": 3}", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "{\"r\": \"majority\"}", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "{\"w\": 10}", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "{\"sloppy_quorum\": 1}", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "{\"dw\": \"1\"}", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "{\"dw\": -1}", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "{\"conflict_policy\": \"newest\"}", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "not json", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", "[1]", 400, "invalid_props"},
      {"PUT", "/v1/buckets/b", std::string(kBucketBodyBytesMax + 1, ' '), 413, "body_too_large"},
      {"GET", "/v1/buckets/b?x=1", "", 400, "invalid_parameter"},
      {"GET", "/v1/buckets/" + std::string(65, 'a'), "", 400, "invalid_bucket"},
      {"GET", "/v1/nothing", "", 404, "not_found"},
      {"GET", "/v1/kv/only-bucket", "", 404, "not_found"},
      {"GET", "/v1/buckets/b/extra", "", 404, "not_found"},
      {"GET", "/health?verbose=1", "", 400, "invalid_parameter"},
      {"POST", "/v1/kv/b/k", "", 405, "method_not_allowed"},
      {"DELETE", "/v1/buckets/b", "", 405, "method_not_allowed"},
      {"PUT", "/metrics", "", 405, "method_not_allowed"},
  };
  for (const Case& c : cases) {
    HttpResponse response = Call(c.method, c.target, c.body);
    EXPECT_EQ(response.status, c.status) << c.method << " " << c.target;
    EXPECT_EQ(ErrorOf(response), c.error) << c.method << " " << c.target;
    EXPECT_EQ(response.content_type, "application/json") << c.target;
  }
  EXPECT_TRUE(service_.requests.empty());
}

TEST_F(HttpHandlerTest, MethodNotAllowedListsTheAllowedMethods) {
  EXPECT_EQ(*Call("PATCH", "/v1/kv/b/k").FindHeader("Allow"), "GET, PUT, DELETE");
  EXPECT_EQ(*Call("POST", "/v1/buckets/b").FindHeader("Allow"), "GET, PUT");
  EXPECT_EQ(*Call("DELETE", "/health").FindHeader("Allow"), "GET");
}

TEST_F(HttpHandlerTest, NodeStatusesMapToDocumentedErrors) {
  struct Case {
    const char* method;
    const char* target;
    std::optional<std::string> context;
    Status status;
    unsigned http_status;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"PUT", "/v1/kv/b/k", "bad", Status::InvalidArgument("context checksum"), 400,
       "invalid_context"},
      {"DELETE", "/v1/kv/b/k", "bad", Status::InvalidArgument("foreign"), 400, "invalid_context"},
      {"PUT", "/v1/buckets/b", std::nullopt, Status::InvalidArgument("dw=5"), 400, "invalid_props"},
      {"PUT", "/v1/kv/b/k", std::nullopt, Status::TooLarge("value"), 413, "value_too_large"},
      {"GET", "/v1/kv/b/k", std::nullopt, Status::IoError("disk"), 503, "storage_error"},
      {"GET", "/v1/kv/b/k", std::nullopt, Status::Corruption("bad bytes"), 503, "storage_error"},
      {"PUT", "/v1/kv/b/k", std::nullopt, Status::Unavailable("busy"), 503, "unavailable"},
      {"GET", "/v1/kv/b/k", std::nullopt, Status::Timeout("slow"), 503, "unavailable"},
      {"GET", "/v1/kv/b/k", std::nullopt, Status::Internal("bug"), 500, "internal"},
      {"GET", "/v1/buckets/b", std::nullopt, Status::NotFound("gone"), 404, "not_found"},
  };
  for (const Case& c : cases) {
    service_.next_reply.status = c.status;
    const bool bucket_put =
        std::string(c.method) == "PUT" && std::string_view(c.target).starts_with("/v1/buckets");
    HttpResponse response = Call(c.method, c.target, bucket_put ? "{}" : "v", c.context);
    EXPECT_EQ(response.status, c.http_status) << c.status.ToString();
    EXPECT_EQ(ErrorOf(response), c.error) << c.status.ToString();
  }
}

TEST_F(HttpHandlerTest, BucketEndpointsRoundTripProps) {
  BucketProps props;
  props.conflict_policy = ConflictPolicy::kLastWriteWins;
  props.n = 5;
  props.r = QuorumValue::One();
  props.w = QuorumValue::Number(4);
  props.pw = QuorumValue::All();
  props.dw = QuorumValue::Number(1);
  props.sloppy_quorum = false;
  service_.next_reply.body = node::BucketReply{"b", props};
  HttpResponse response = Call(
      "PUT", "/v1/buckets/b",
      R"({"conflict_policy":"lww","n":5,"r":"one","w":4,"pw":"all","dw":1,"sloppy_quorum":false})");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(
      response.body,
      R"({"bucket":"b","props":{"conflict_policy":"lww","consistency":"eventual","dw":1,"n":5,)"
      R"("pr":0,"pw":"all",)"
      R"("r":"one","sloppy_quorum":false,"w":4},"sealed":false})");
  auto& set = std::get<node::SetBucketRequest>(service_.requests.at(0));
  EXPECT_EQ(set.patch.conflict_policy, ConflictPolicy::kLastWriteWins);
  EXPECT_EQ(set.patch.n, std::optional<std::uint32_t>(5));
  EXPECT_EQ(set.patch.r, QuorumValue::One());
  EXPECT_EQ(set.patch.w, QuorumValue::Number(4));
  EXPECT_FALSE(set.patch.pr.has_value());
  EXPECT_EQ(set.patch.pw, QuorumValue::All());
  EXPECT_EQ(set.patch.dw, QuorumValue::Number(1));
  EXPECT_EQ(set.patch.sloppy_quorum, std::optional<bool>(false));

  service_.next_reply.body = node::BucketReply{"b", BucketProps{}};
  response = Call("GET", "/v1/buckets/b");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(
      response.body,
      R"({"bucket":"b","props":{"conflict_policy":"siblings","consistency":"eventual","dw":0,"n":3,)"
      R"("pr":0,"pw":0,)"
      R"("r":"quorum","sloppy_quorum":true,"w":"quorum"},"sealed":false})");
  EXPECT_TRUE(std::holds_alternative<node::GetBucketRequest>(service_.requests.at(1)));
}

TEST_F(HttpHandlerTest, BucketListNamesEveryConfiguredBucketAndTheDefaults) {
  BucketProps lww;
  lww.conflict_policy = ConflictPolicy::kLastWriteWins;
  service_.next_reply.body =
      node::BucketListReply{{{"a", lww}, {"b", BucketProps{}}}, BucketProps{}};
  HttpResponse response = Call("GET", "/v1/buckets");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.content_type, "application/json");
  const std::string defaults =
      R"({"conflict_policy":"siblings","consistency":"eventual","dw":0,"n":3,"pr":0,"pw":0,)"
      R"("r":"quorum","sloppy_quorum":true,"w":"quorum"})";
  EXPECT_EQ(response.body,
            R"({"buckets":[{"bucket":"a","configured":true,"props":{"conflict_policy":"lww",)"
            R"("consistency":"eventual","dw":0,"n":3,"pr":0,"pw":0,"r":"quorum",)"
            R"("sloppy_quorum":true,"w":"quorum"},"sealed":false},)"
            R"({"bucket":"b","configured":true,"props":)" +
                defaults + R"(,"sealed":false}],"defaults":)" + defaults + "}");
  ASSERT_EQ(service_.requests.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<node::ListBucketsRequest>(service_.requests[0]));

  EXPECT_EQ(Call("PUT", "/v1/buckets").status, 405u);
  HttpResponse query = Call("GET", "/v1/buckets?limit=3");
  EXPECT_EQ(query.status, 400u);
  EXPECT_EQ(ErrorOf(query), "invalid_parameter");
  EXPECT_EQ(Call("GET", "/v1/buckets/").status, 400u);  // an empty bucket name
  EXPECT_EQ(service_.requests.size(), 1u);
}

TEST_F(HttpHandlerTest, BadBucketPropertiesNameTheProperty) {
  struct Case {
    const char* body;
    const char* message;
  };
  const std::vector<Case> cases = {
      {R"({"n": "3"})", "n must be an integer"},
      {R"({"n": -1})", "n must be >= 0"},
      {R"({"n": 1.5})", "n must be an integer"},
      {R"({"r": "majority"})", R"(r must be an integer or one of \"one\", \"quorum\", \"all\")"},
      {R"({"w": "2"})", "w must be an integer or one of"},
      {R"({"pr": true})", "pr must be an integer or one of"},
      {R"({"pw": 10})", "pw must be at most 9, not 10"},
      {R"({"dw": -2})", "dw must be >= 0"},
      {R"({"sloppy_quorum": "yes"})", "sloppy_quorum must be true or false"},
      {R"({"quorum": 2})", "unknown bucket property: quorum"},
  };
  for (const Case& c : cases) {
    HttpResponse response = Call("PUT", "/v1/buckets/b", c.body);
    EXPECT_EQ(response.status, 400u) << c.body;
    EXPECT_EQ(ErrorOf(response), "invalid_props") << c.body;
    EXPECT_NE(response.body.find(c.message), std::string::npos) << response.body;
  }
  EXPECT_TRUE(service_.requests.empty());
}

TEST_F(HttpHandlerTest, HealthAndMetrics) {
  HttpResponse health = Call("GET", "/health");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  Call("GET", "/v1/nothing");
  HttpResponse metrics = Call("GET", "/metrics");
  EXPECT_EQ(metrics.status, 200u);
  EXPECT_NE(metrics.content_type.find("version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics.body.find(R"(meridian_requests_total{op="health",status="200"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics.body.find(R"(meridian_requests_total{op="other",status="404"} 1)"),
            std::string::npos);
  EXPECT_NE(
      metrics.body.find(R"(meridian_request_duration_seconds_count{op="health",status="200"} 1)"),
      std::string::npos);
}

TEST_F(HttpHandlerTest, ConnectionLevelErrorsCloseAndPickTheRightCode) {
  HttpResponse too_large = handler_.BodyTooLarge("PUT", "/v1/kv/b/k");
  EXPECT_EQ(too_large.status, 413u);
  EXPECT_EQ(ErrorOf(too_large), "value_too_large");
  EXPECT_TRUE(too_large.close_connection);
  EXPECT_EQ(ErrorOf(handler_.BodyTooLarge("PUT", "/v1/buckets/b")), "body_too_large");
  HttpResponse malformed = handler_.MalformedRequest("bad\nrequest line");
  EXPECT_EQ(malformed.status, 400u);
  EXPECT_EQ(ErrorOf(malformed), "bad_request");
  EXPECT_EQ(malformed.body.find('\n'), std::string::npos);  // one-line message
  EXPECT_EQ(handler_.BodyBytesMax("/v1/kv/b/k"), 16u);
  EXPECT_EQ(handler_.BodyBytesMax("/v1/buckets/b"), kBucketBodyBytesMax);
  EXPECT_EQ(metrics_.requests("put", 413), 1u);
  EXPECT_EQ(metrics_.requests("other", 400), 1u);
}

}  // namespace
}  // namespace meridian::api

namespace meridian::api {
namespace {

// Issue 11, item 2: with an AccessControl, nothing reaches the service without a user that
// may do it.
class HttpHandlerAuthTest : public HttpHandlerTest {
 protected:
  void SetUp() override {
    Result<AccessControl> access = AccessControl::FromUsers(
        {User{"ops", Role::kAdmin, TokenSha256("admin-token"), {}},
         User{"viewer", Role::kReadOnly, TokenSha256("viewer-token"), {"pub"}}});
    ASSERT_TRUE(access.ok());
    handler_.SetAccessControl(std::make_shared<const AccessControl>(std::move(*access)), false);
  }
  HttpResponse As(std::string token, std::string method, std::string target) {
    std::optional<HttpResponse> out;
    HttpRequest request{std::move(method), std::move(target), std::nullopt, "{}"};
    if (!token.empty()) request.authorization = "Bearer " + token;
    handler_.Handle(std::move(request),
                    [&out](HttpResponse response) { out = std::move(response); });
    EXPECT_TRUE(out.has_value());
    return out.value_or(HttpResponse{});
  }
};

// A verified client certificate's user is a credential of its own (HttpServer sets it); a
// token sent with it must be the same user's, and an unknown user is refused.
TEST_F(HttpHandlerAuthTest, AClientCertificateUserIsTheCredential) {
  auto with_certificate = [&](std::string user, std::string token, std::string method) {
    std::optional<HttpResponse> out;
    HttpRequest request{std::move(method), "/v1/kv/pub/k", std::nullopt, "v"};
    request.certificate_user = std::move(user);
    if (!token.empty()) request.authorization = "Bearer " + token;
    handler_.Handle(std::move(request), [&out](HttpResponse r) { out = std::move(r); });
    return out.value_or(HttpResponse{});
  };
  service_.next_reply.body = node::GetReply{false, {}, ""};
  EXPECT_EQ(with_certificate("viewer", "", "GET").status, 404u);  // reached the service
  EXPECT_EQ(with_certificate("viewer", "", "PUT").status, 403u);
  EXPECT_EQ(with_certificate("viewer", "viewer-token", "GET").status, 404u);
  HttpResponse mixed = with_certificate("viewer", "admin-token", "GET");
  EXPECT_EQ(mixed.status, 401u);
  EXPECT_NE(mixed.body.find("not the client certificate"), std::string::npos) << mixed.body;
  HttpResponse unknown = with_certificate("stranger", "", "GET");
  EXPECT_EQ(unknown.status, 401u);
  EXPECT_NE(unknown.body.find("not in the users file"), std::string::npos) << unknown.body;
  EXPECT_EQ(service_.requests.size(), 2u);
}

// GET /health answers 503 read_only with the reason while the node refuses writes.
TEST_F(HttpHandlerTest, HealthSaysReadOnlyWhileTheStorageRefusesWrites) {
  Status condition;
  handler_.SetHealthCheck([&condition] { return condition; });
  std::optional<HttpResponse> out;
  auto health = [&] {
    handler_.Handle(HttpRequest{"GET", "/health", std::nullopt, ""},
                    [&out](HttpResponse r) { out = std::move(r); });
    return out.value_or(HttpResponse{});
  };
  EXPECT_EQ(health().status, 200u);
  condition = Status::InsufficientStorage("disk nearly full");
  HttpResponse full = health();
  EXPECT_EQ(full.status, 503u);
  EXPECT_NE(full.body.find("\"status\":\"read_only\""), std::string::npos) << full.body;
  EXPECT_NE(full.body.find("insufficient_storage"), std::string::npos) << full.body;
  EXPECT_NE(full.body.find("disk nearly full"), std::string::npos) << full.body;
  condition = Status::IoError("bad disk");
  EXPECT_NE(health().body.find("storage_error"), std::string::npos);
  condition = Status::Ok();
  EXPECT_EQ(health().status, 200u);
}

TEST_F(HttpHandlerAuthTest, StrangersAndForbiddenRequestsNeverReachTheService) {
  for (const char* target : {"/v1/kv/pub/k", "/v1/buckets/pub", "/v1/cluster/status", "/x"}) {
    HttpResponse response = As("", "GET", target);
    EXPECT_EQ(response.status, 401u) << target;
    EXPECT_EQ(ErrorOf(response), "unauthenticated");
    ASSERT_NE(response.FindHeader("WWW-Authenticate"), nullptr);
    EXPECT_EQ(As("wrong-token", "GET", target).status, 401u) << target;
  }
  EXPECT_EQ(As("viewer-token", "PUT", "/v1/kv/pub/k").status, 403u);
  EXPECT_EQ(As("viewer-token", "GET", "/v1/kv/private/k").status, 403u);
  EXPECT_EQ(As("viewer-token", "PUT", "/v1/buckets/pub").status, 403u);
  EXPECT_EQ(As("viewer-token", "POST", "/v1/cluster/leave").status, 403u);
  EXPECT_EQ(As("viewer-token", "GET", "/v1/cluster/local/pub/k").status, 403u);
  EXPECT_TRUE(service_.requests.empty());
  EXPECT_EQ(As("", "GET", "/health").status, 200u);
  EXPECT_EQ(As("", "GET", "/metrics").status, 200u);

  service_.next_reply.body = node::GetReply{false, {}, ""};
  EXPECT_EQ(As("viewer-token", "GET", "/v1/kv/pub/k").status, 404u);
  EXPECT_EQ(service_.requests.size(), 1u);
  handler_.SetAccessControl(nullptr, false);  // off again: open
  EXPECT_EQ(As("", "GET", "/v1/kv/private/k").status, 404u);
}

// A user sees only the buckets it may read; one limited to named buckets also sees those it
// may use that nobody configured, with the defaults. An admin sees every configured bucket.
TEST_F(HttpHandlerAuthTest, TheBucketListShowsOnlyWhatTheUserMayRead) {
  BucketProps lww;
  lww.conflict_policy = ConflictPolicy::kLastWriteWins;
  service_.next_reply.body =
      node::BucketListReply{{{"private", lww}, {"zeta", lww}}, BucketProps{}};
  EXPECT_EQ(As("", "GET", "/v1/buckets").status, 401u);
  EXPECT_TRUE(service_.requests.empty());

  HttpResponse admin = As("admin-token", "GET", "/v1/buckets");
  EXPECT_EQ(admin.status, 200u);
  EXPECT_NE(admin.body.find(R"("bucket":"private")"), std::string::npos) << admin.body;
  EXPECT_NE(admin.body.find(R"("bucket":"zeta")"), std::string::npos) << admin.body;
  EXPECT_EQ(admin.body.find(R"("bucket":"pub")"), std::string::npos) << admin.body;

  HttpResponse viewer = As("viewer-token", "GET", "/v1/buckets");
  EXPECT_EQ(viewer.status, 200u);
  EXPECT_EQ(viewer.body.find("private"), std::string::npos) << viewer.body;
  EXPECT_EQ(viewer.body.find("zeta"), std::string::npos) << viewer.body;
  EXPECT_NE(viewer.body.find(R"({"bucket":"pub","configured":false,"props":{"conflict_policy":)"
                             R"("siblings")"),
            std::string::npos)
      << viewer.body;

  // Configured and allowed: listed with its own properties.
  service_.next_reply.body = node::BucketListReply{{{"pub", lww}}, BucketProps{}};
  viewer = As("viewer-token", "GET", "/v1/buckets");
  EXPECT_NE(viewer.body.find(R"({"bucket":"pub","configured":true,"props":{"conflict_policy":)"
                             R"("lww")"),
            std::string::npos)
      << viewer.body;
  EXPECT_EQ(service_.requests.size(), 3u);
}

}  // namespace
}  // namespace meridian::api
