// POST /v1/cluster/backup without sockets: the body is validated at the edge (nothing reaches
// the backup service then), the service's report and errors are rendered, a server without a
// backup service answers 404, and the endpoint needs the admin role.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/access_control.h"
#include "api/backup_service.h"
#include "api/http_handler.h"
#include "api/http_limits.h"
#include "api/metrics.h"

namespace meridian::api {
namespace {

using nlohmann::json;

class NoKvService final : public KvService {
 public:
  void Submit(node::ClientRequest, Completion) override { ADD_FAILURE() << "no KV request"; }
};

// Records the requests and answers synchronously with `next`.
class FakeBackupService final : public BackupService {
 public:
  void Backup(BackupRequest request, Done done) override {
    requests.push_back(request.directory);
    done(next);
  }
  std::vector<std::string> requests;
  Result<BackupReport> next = BackupReport{};
};

class BackupEndpointTest : public ::testing::Test {
 protected:
  BackupEndpointTest() { handler_.SetBackupService(&backup_); }

  HttpResponse Call(std::string method, std::string body, std::string target = "/v1/cluster/backup",
                    std::optional<std::string> authorization = std::nullopt) {
    std::optional<HttpResponse> out;
    HttpRequest request{std::move(method), std::move(target), std::nullopt, std::move(body)};
    request.authorization = std::move(authorization);
    handler_.Handle(std::move(request),
                    [&out](HttpResponse response) { out = std::move(response); });
    EXPECT_TRUE(out.has_value());
    return out.value_or(HttpResponse{});
  }

  static std::string Error(const HttpResponse& response) {
    const json body = json::parse(response.body, nullptr, false);
    return body.is_object() && body.contains("error") ? body["error"].get<std::string>() : "";
  }

  NoKvService service_;
  FakeBackupService backup_;
  Metrics metrics_;
  HttpHandler handler_{service_, metrics_, HttpLimits{}};
};

TEST_F(BackupEndpointTest, RendersTheReport) {
  backup_.next = BackupReport{"/backups/n1", "n1", "prod", 7, 12345, 9, 42};
  const HttpResponse response = Call("POST", R"({"directory":"/backups/n1"})");
  ASSERT_EQ(response.status, 200u) << response.body;
  ASSERT_EQ(backup_.requests, std::vector<std::string>{"/backups/n1"});
  const json expected = {{"directory", "/backups/n1"}, {"node", "n1"},   {"cluster_name", "prod"},
                         {"ring_version", 7},          {"bytes", 12345}, {"files", 9},
                         {"milliseconds", 42}};
  EXPECT_EQ(json::parse(response.body), expected);
}

TEST_F(BackupEndpointTest, RefusesBadBodiesAtTheEdge) {
  const char* bodies[] = {
      "",                                          // not JSON
      "[]",                                        // not an object
      "{}",                                        // missing directory
      R"({"directory":7})",                        // not a string
      R"({"directory":""})",                       // empty
      R"({"directory":"backups/n1"})",             // relative
      R"({"directory":"/backups/../etc"})",        // a ".." segment
      R"({"directory":"/backups/./n1"})",          // a "." segment
      R"({"directory":"/backups/n1","extra":1})",  // unknown field
  };
  for (const char* body : bodies) {
    const HttpResponse response = Call("POST", body);
    EXPECT_EQ(response.status, 400u) << body;
    EXPECT_EQ(Error(response), "invalid_argument") << body;
  }
  EXPECT_TRUE(backup_.requests.empty());
  EXPECT_EQ(Call("POST", R"({"directory":"/a"})", "/v1/cluster/backup?x=1").status, 400u);
  EXPECT_EQ(Call("GET", "").status, 405u);
  EXPECT_TRUE(backup_.requests.empty());
}

TEST_F(BackupEndpointTest, MapsTheServiceErrors) {
  backup_.next = Status::InvalidArgument("backup directory '/b' already exists");
  HttpResponse response = Call("POST", R"({"directory":"/b"})");
  EXPECT_EQ(response.status, 400u);
  EXPECT_EQ(Error(response), "invalid_argument");
  backup_.next = Status::Unavailable("a backup of this node is already running");
  response = Call("POST", R"({"directory":"/c"})");
  EXPECT_EQ(response.status, 503u);
  EXPECT_EQ(Error(response), "unavailable");
  backup_.next = Status::IoError("no space");
  EXPECT_EQ(Call("POST", R"({"directory":"/d"})").status, 503u);
}

TEST_F(BackupEndpointTest, WithoutABackupServiceItIsNotFound) {
  handler_.SetBackupService(nullptr);
  const HttpResponse response = Call("POST", R"({"directory":"/b"})");
  EXPECT_EQ(response.status, 404u);
  EXPECT_TRUE(backup_.requests.empty());
}

TEST_F(BackupEndpointTest, NeedsTheAdminRole) {
  Result<AccessControl> access =
      AccessControl::FromUsers({User{"writer", Role::kReadWrite, TokenSha256("writer-token"), {}},
                                User{"root", Role::kAdmin, TokenSha256("root-token"), {}}});
  ASSERT_TRUE(access.ok()) << access.status().ToString();
  handler_.SetAccessControl(std::make_shared<const AccessControl>(std::move(*access)),
                            /*metrics_require_auth=*/false);
  EXPECT_EQ(Call("POST", R"({"directory":"/b"})").status, 401u);
  EXPECT_EQ(Call("POST", R"({"directory":"/b"})", "/v1/cluster/backup",
                 std::string("Bearer writer-token"))
                .status,
            403u);
  EXPECT_TRUE(backup_.requests.empty());
  EXPECT_EQ(
      Call("POST", R"({"directory":"/b"})", "/v1/cluster/backup", std::string("Bearer root-token"))
          .status,
      200u);
  EXPECT_EQ(backup_.requests.size(), 1u);
}

}  // namespace
}  // namespace meridian::api
