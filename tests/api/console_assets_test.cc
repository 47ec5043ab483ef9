// The web console's embedded files and how HttpHandler serves them (issue 14, item 1).
#include "api/console_assets.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "api/access_control.h"
#include "api/http_handler.h"
#include "api/metrics.h"

namespace meridian::api {
namespace {

TEST(ConsoleAssetsTest, EveryFileIsEmbeddedWithItsContentType) {
  std::optional<ConsoleAsset> index = ConsoleAssets::Find("index.html");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_TRUE(index->body.starts_with("<!DOCTYPE html>"));
  // The page loads its script and style from this node, never inline or from elsewhere.
  EXPECT_NE(index->body.find("<script src=\"console.js\""), std::string_view::npos);
  EXPECT_NE(index->body.find("href=\"console.css\""), std::string_view::npos);
  EXPECT_EQ(index->body.find("http://"), std::string_view::npos);
  EXPECT_EQ(index->body.find("https://"), std::string_view::npos);
  EXPECT_EQ(index->body.find("<style"), std::string_view::npos);

  std::optional<ConsoleAsset> empty = ConsoleAssets::Find("");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->body, index->body);

  std::optional<ConsoleAsset> script = ConsoleAssets::Find("console.js");
  ASSERT_TRUE(script.has_value());
  EXPECT_EQ(script->content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(script->body.find("/v1/cluster/status"), std::string_view::npos);

  std::optional<ConsoleAsset> style = ConsoleAssets::Find("console.css");
  ASSERT_TRUE(style.has_value());
  EXPECT_EQ(style->content_type, "text/css; charset=utf-8");
}

TEST(ConsoleAssetsTest, UnknownNamesAndPathsAreNotFound) {
  EXPECT_FALSE(ConsoleAssets::Find("nope.js").has_value());
  EXPECT_FALSE(ConsoleAssets::Find("index.htm").has_value());
  EXPECT_FALSE(ConsoleAssets::Find("../console.js").has_value());
  EXPECT_FALSE(ConsoleAssets::Find("a/console.js").has_value());
  EXPECT_FALSE(ConsoleAssets::Find("console.js/").has_value());
}

// No request for the console reaches the service: the files are static.
class NoKvService final : public KvService {
 public:
  void Submit(node::ClientRequest, Completion done) override {
    ++submitted;
    node::ClientReply reply;
    reply.status = Status::Unavailable("not in this test");
    done(std::move(reply));
  }
  int submitted = 0;
};

class ConsoleServingTest : public ::testing::Test {
 protected:
  HttpResponse Call(std::string method, std::string target, std::string token = "") {
    HttpRequest request{std::move(method), std::move(target), std::nullopt, ""};
    if (!token.empty()) request.authorization = "Bearer " + token;
    std::optional<HttpResponse> out;
    handler_.Handle(std::move(request), [&out](HttpResponse r) { out = std::move(r); });
    EXPECT_TRUE(out.has_value());
    return out.value_or(HttpResponse{});
  }
  static std::string HeaderOf(const HttpResponse& response, std::string_view name) {
    const std::string* value = response.FindHeader(name);
    return value ? *value : "";
  }
  void RequireTokens() {
    Result<AccessControl> access = AccessControl::FromUsers(
        {User{"ops", Role::kAdmin, TokenSha256("admin-token"), {}},
         User{"viewer", Role::kReadOnly, TokenSha256("viewer-token"), {}}});
    ASSERT_TRUE(access.ok());
    handler_.SetAccessControl(std::make_shared<const AccessControl>(std::move(*access)), false);
  }

  HttpLimits limits_;
  NoKvService service_;
  Metrics metrics_;
  HttpHandler handler_{service_, metrics_, limits_};
};

TEST_F(ConsoleServingTest, IndexIsHtmlUnderAStrictPolicy) {
  HttpResponse response = Call("GET", "/console/");
  EXPECT_EQ(response.status, 200u);
  EXPECT_EQ(response.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(response.body, std::string(ConsoleAssets::Find("index.html")->body));
  EXPECT_EQ(HeaderOf(response, "Content-Security-Policy"),
            "default-src 'self'; frame-ancestors 'none'");
  EXPECT_EQ(HeaderOf(response, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(HeaderOf(response, "Cache-Control"), "no-cache");
  EXPECT_EQ(Call("GET", "/console/index.html").body, response.body);
  EXPECT_EQ(metrics_.requests("console", 200), 2u);
}

TEST_F(ConsoleServingTest, ConsoleWithoutSlashRedirects) {
  HttpResponse response = Call("GET", "/console");
  EXPECT_EQ(response.status, 301u);
  EXPECT_EQ(HeaderOf(response, "Location"), "/console/");
}

TEST_F(ConsoleServingTest, ScriptAndStyleHaveTheirTypes) {
  HttpResponse script = Call("GET", "/console/console.js");
  EXPECT_EQ(script.status, 200u);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(HeaderOf(script, "X-Content-Type-Options"), "nosniff");
  HttpResponse style = Call("GET", "/console/console.css?v=1");
  EXPECT_EQ(style.status, 200u);
  EXPECT_EQ(style.content_type, "text/css; charset=utf-8");
}

TEST_F(ConsoleServingTest, UnknownFilesAre404AndOtherMethods405) {
  EXPECT_EQ(Call("GET", "/console/nope.js").status, 404u);
  EXPECT_EQ(Call("GET", "/console/sub/console.js").status, 404u);
  EXPECT_EQ(Call("GET", "/consoles").status, 404u);  // not a console path at all
  HttpResponse post = Call("POST", "/console/");
  EXPECT_EQ(post.status, 405u);
  EXPECT_EQ(HeaderOf(post, "Allow"), "GET");
  EXPECT_EQ(Call("PUT", "/console/console.js").status, 405u);
  EXPECT_EQ(service_.submitted, 0);
}

TEST_F(ConsoleServingTest, FilesNeedNoTokenButTheDataDoes) {
  RequireTokens();
  EXPECT_EQ(Call("GET", "/console").status, 301u);
  EXPECT_EQ(Call("GET", "/console/").status, 200u);
  EXPECT_EQ(Call("GET", "/console/console.js").status, 200u);
  EXPECT_EQ(Call("GET", "/console/nope.js").status, 404u);
  EXPECT_EQ(Call("GET", "/v1/cluster/status").status, 401u);
  EXPECT_EQ(Call("GET", "/v1/cluster/status", "wrong-token").status, 401u);
  EXPECT_EQ(Call("GET", "/consoles").status, 401u);  // only the console's own paths are open
  EXPECT_NE(Call("GET", "/v1/cluster/status", "viewer-token").status, 401u);
  EXPECT_EQ(Call("PUT", "/v1/buckets/b", "viewer-token").status, 403u);
}

}  // namespace
}  // namespace meridian::api
