// AccessControl (issue 11, item 2): the users file, token hashing, and what each role may do.
#include "api/access_control.h"

#include <gtest/gtest.h>

#include <set>

namespace meridian::api {
namespace {

User MakeUser(std::string name, Role role, const std::string& token,
              std::vector<std::string> buckets = {}) {
  return User{std::move(name), role, TokenSha256(token), std::move(buckets)};
}

TEST(AccessControlTest, TokensAreRandomAndOnlyTheirHashesAreKept) {
  std::set<std::string> tokens;
  for (int i = 0; i < 100; ++i) {
    Result<std::string> token = NewToken();
    ASSERT_TRUE(token.ok());
    EXPECT_TRUE(token->starts_with("mrd_"));
    EXPECT_EQ(token->size(), 4u + 43u);
    tokens.insert(*token);
  }
  EXPECT_EQ(tokens.size(), 100u);
  // SHA-256("abc"), FIPS 180-2's example.
  EXPECT_EQ(TokenSha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AccessControlTest, AuthenticatesByTokenOnly) {
  Result<AccessControl> access = AccessControl::FromUsers(
      {MakeUser("alice", Role::kReadWrite, "alice-token"), MakeUser("bob", Role::kAdmin, "b")});
  ASSERT_TRUE(access.ok()) << access.status().ToString();
  const User* alice = access->Authenticate("alice-token");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(access->Authenticate("alice-token "), nullptr);
  EXPECT_EQ(access->Authenticate(""), nullptr);
  EXPECT_EQ(access->Authenticate(TokenSha256("alice-token")), nullptr);  // the hash is no token
}

TEST(AccessControlTest, RolesAndBucketsDecide) {
  const User admin = MakeUser("root", Role::kAdmin, "1", {"only"});
  const User writer = MakeUser("w", Role::kReadWrite, "2");
  const User reader = MakeUser("r", Role::kReadOnly, "3", {"pub", "docs"});
  EXPECT_TRUE(AccessControl::Allows(admin, Access::kAdmin, ""));
  EXPECT_TRUE(AccessControl::Allows(admin, Access::kWrite, "anything"));  // admin: every bucket
  EXPECT_FALSE(AccessControl::Allows(writer, Access::kAdmin, ""));
  EXPECT_TRUE(AccessControl::Allows(writer, Access::kWrite, "any"));
  EXPECT_TRUE(AccessControl::Allows(writer, Access::kRead, "any"));
  EXPECT_FALSE(AccessControl::Allows(reader, Access::kWrite, "pub"));
  EXPECT_TRUE(AccessControl::Allows(reader, Access::kRead, "pub"));
  EXPECT_TRUE(AccessControl::Allows(reader, Access::kRead, "docs"));
  EXPECT_FALSE(AccessControl::Allows(reader, Access::kRead, "private"));
  EXPECT_TRUE(AccessControl::Allows(reader, Access::kRead, ""));  // e.g. cluster status
  EXPECT_FALSE(AccessControl::Allows(reader, Access::kAdmin, ""));
}

TEST(AccessControlTest, TheUsersFileRoundTrips) {
  std::vector<User> users = {MakeUser("alice", Role::kReadWrite, "t1", {"orders"}),
                             MakeUser("ops", Role::kAdmin, "t2")};
  Result<AccessControl> parsed = AccessControl::Parse(AccessControl::Serialize(users));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->users().size(), 2u);
  EXPECT_EQ(parsed->users()[0].buckets, std::vector<std::string>{"orders"});
  EXPECT_EQ(parsed->users()[1].role, Role::kAdmin);
  EXPECT_NE(parsed->Authenticate("t2"), nullptr);
}

TEST(AccessControlTest, BadUsersFilesAreRefusedWithTheReason) {
  const std::string hash(64, 'a');
  struct Case {
    std::string json;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"[]", "not a JSON object"},
      {R"({"people":[]})", "expected"},
      {"not json", "not a JSON object"},
      {R"({"users":[{"name":"a","role":"root","token_sha256":")" + hash + R"("}]})", "role must"},
      {R"({"users":[{"name":"a","token_sha256":")" + hash + R"("}]})", "has no role"},
      {R"({"users":[{"name":"a","role":"admin","token_sha256":"abc"}]})", "64 lowercase hex"},
      {R"({"users":[{"name":"a b","role":"admin","token_sha256":")" + hash + R"("}]})",
       "may contain only"},
      {R"({"users":[{"name":"a","role":"admin","token_sha256":")" + hash +
           R"(","buckets":["bad!"]}]})",
       "bucket 'bad!'"},
      {R"({"users":[{"name":"a","role":"admin","token_sha256":")" + hash + R"(","password":"x"}]})",
       "unknown or mistyped user field 'password'"},
      {R"({"users":[{"name":"a","role":"admin","token_sha256":")" + hash +
           R"("},{"name":"a","role":"readonly","token_sha256":")" + std::string(64, 'b') +
           R"("}]})",
       "listed twice"},
      {R"({"users":[{"name":"a","role":"admin","token_sha256":")" + hash +
           R"("},{"name":"b","role":"readonly","token_sha256":")" + hash + R"("}]})",
       "same token"},
  };
  for (const Case& c : cases) {
    Result<AccessControl> parsed = AccessControl::Parse(c.json);
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.says), std::string::npos)
        << c.json << " -> " << parsed.status().message();
  }
  EXPECT_FALSE(AccessControl::LoadFile("/nonexistent/users.json").ok());
}

}  // namespace
}  // namespace meridian::api
