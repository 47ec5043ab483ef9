// AccessControl: who may do what through the client APIs (issue 11, item 2).
//
// Users have a role — admin (everything, cluster and bucket administration included),
// readwrite (read and write objects), readonly (read objects) — and optionally a list of the
// buckets they may touch (empty: all). They prove who they are with a bearer token; only the
// token's SHA-256 is stored (tokens are 32 random bytes, so a plain hash is enough: there is
// nothing to guess).
//
// The users file (JSON, docs/security.md):
//   {"users": [{"name": "alice", "role": "readwrite", "token_sha256": "<64 hex>",
//               "buckets": ["orders"]}]}
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace meridian::api {

enum class Role : std::uint8_t { kReadOnly, kReadWrite, kAdmin };
// What a request needs.
enum class Access : std::uint8_t { kRead, kWrite, kAdmin };

inline constexpr std::size_t kUserNameBytesMax = 128;
// A user name: 1..kUserNameBytesMax of [A-Za-z0-9_.:-] (safe in a URI, a certificate's
// subject alternative name and a comma-separated OpenSSL extension value).
Status ValidateUserName(std::string_view name);

std::string_view RoleName(Role role);
Result<Role> ParseRole(std::string_view name);

struct User {
  std::string name;  // 1..128 of [A-Za-z0-9_.:-]
  Role role = Role::kReadOnly;
  std::string token_sha256;          // 64 lowercase hex digits
  std::vector<std::string> buckets;  // empty: every bucket
};

// The SHA-256 of `token`, as 64 lowercase hex digits.
std::string TokenSha256(std::string_view token);
// A new token: "mrd_" + 43 base64url characters (32 random bytes from OpenSSL's CSPRNG).
Result<std::string> NewToken();

class AccessControl {
 public:
  // InvalidArgument naming the first bad entry (name, role, hash, bucket, duplicate name or
  // token hash).
  static Result<AccessControl> FromUsers(std::vector<User> users);
  // Parses the users file's JSON.
  static Result<AccessControl> Parse(std::string_view json);
  // Reads and parses the users file. InvalidArgument naming the path on any problem.
  static Result<AccessControl> LoadFile(const std::string& path);
  // The users file's JSON for `users` (what `meridian user add` writes).
  static std::string Serialize(const std::vector<User>& users);

  // The user whose token this is, or nullptr. Compares hashes in constant time.
  const User* Authenticate(std::string_view token) const;
  // The user named `name` (a verified client certificate's), or nullptr.
  const User* FindUser(std::string_view name) const;
  // Whether `user` may do `access` on `bucket` (empty: not about one bucket, e.g. cluster
  // status).
  static bool Allows(const User& user, Access access, std::string_view bucket);

  const std::vector<User>& users() const { return users_; }

 private:
  explicit AccessControl(std::vector<User> users) : users_(std::move(users)) {}
  std::vector<User> users_;
};

}  // namespace meridian::api
