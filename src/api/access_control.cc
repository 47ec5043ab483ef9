#include "api/access_control.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/object_id.h"

namespace meridian::api {

namespace {

bool IsLowerHex(std::string_view text) {
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Status ValidateUserName(std::string_view name) {
  if (name.empty() || name.size() > kUserNameBytesMax) {
    return Status::InvalidArgument("user name must be 1.." + std::to_string(kUserNameBytesMax) +
                                   " bytes");
  }
  for (char c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
    if (!allowed) return Status::InvalidArgument("user name may contain only A-Z a-z 0-9 _ . : -");
  }
  return Status::Ok();
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kReadOnly:
      return "readonly";
    case Role::kReadWrite:
      return "readwrite";
    case Role::kAdmin:
      return "admin";
  }
  return "readonly";
}

Result<Role> ParseRole(std::string_view name) {
  if (name == "readonly") return Role::kReadOnly;
  if (name == "readwrite") return Role::kReadWrite;
  if (name == "admin") return Role::kAdmin;
  return Status::InvalidArgument("role must be admin, readwrite or readonly, got '" +
                                 std::string(name) + "'");
}

std::string TokenSha256(std::string_view token) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  EVP_Digest(token.data(), token.size(), digest.data(), &size, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

Result<std::string> NewToken() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Status::Internal("the random source failed");
  }
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string token = "mrd_";
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (unsigned char byte : bytes) {
    accumulator = (accumulator << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      token.push_back(kAlphabet[(accumulator >> bits) & 63]);
    }
  }
  if (bits > 0) token.push_back(kAlphabet[(accumulator << (6 - bits)) & 63]);
  return token;
}

Result<AccessControl> AccessControl::FromUsers(std::vector<User> users) {
  std::set<std::string> names;
  std::set<std::string> hashes;
  for (const User& user : users) {
    if (Status valid = ValidateUserName(user.name); !valid.ok()) {
      return Status::InvalidArgument("user '" + user.name + "': " + valid.message());
    }
    if (user.token_sha256.size() != 64 || !IsLowerHex(user.token_sha256)) {
      return Status::InvalidArgument("user '" + user.name +
                                     "': token_sha256 must be 64 lowercase hex digits");
    }
    for (const std::string& bucket : user.buckets) {
      if (Status valid = ValidateBucketName(bucket); !valid.ok()) {
        return Status::InvalidArgument("user '" + user.name + "': bucket '" + bucket +
                                       "': " + valid.message());
      }
    }
    if (!names.insert(user.name).second) {
      return Status::InvalidArgument("user '" + user.name + "' is listed twice");
    }
    if (!hashes.insert(user.token_sha256).second) {
      return Status::InvalidArgument("user '" + user.name + "' has the same token as another user");
    }
  }
  return AccessControl(std::move(users));
}

Result<AccessControl> AccessControl::Parse(std::string_view json) {
  nlohmann::json document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return Status::InvalidArgument("not a JSON object");
  }
  if (document.size() != 1 || !document.contains("users") || !document["users"].is_array()) {
    return Status::InvalidArgument("expected {\"users\": [...]}");
  }
  std::vector<User> users;
  for (const nlohmann::json& entry : document["users"]) {
    if (!entry.is_object()) return Status::InvalidArgument("every user must be an object");
    User user;
    for (const auto& [key, value] : entry.items()) {
      if (key == "name" && value.is_string()) {
        user.name = value.get<std::string>();
      } else if (key == "role" && value.is_string()) {
        Result<Role> role = ParseRole(value.get<std::string>());
        if (!role.ok()) return role.status();
        user.role = *role;
      } else if (key == "token_sha256" && value.is_string()) {
        user.token_sha256 = value.get<std::string>();
      } else if (key == "buckets" && value.is_array()) {
        for (const nlohmann::json& bucket : value) {
          if (!bucket.is_string()) return Status::InvalidArgument("buckets must be strings");
          user.buckets.push_back(bucket.get<std::string>());
        }
      } else {
        return Status::InvalidArgument("unknown or mistyped user field '" + key + "'");
      }
    }
    if (!entry.contains("role")) {
      return Status::InvalidArgument("user '" + user.name + "' has no role");
    }
    users.push_back(std::move(user));
  }
  return FromUsers(std::move(users));
}

Result<AccessControl> AccessControl::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read users file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  Result<AccessControl> parsed = Parse(text.str());
  if (!parsed.ok()) {
    return Status::InvalidArgument("users file " + path + ": " + parsed.status().message());
  }
  return parsed;
}

std::string AccessControl::Serialize(const std::vector<User>& users) {
  nlohmann::json list = nlohmann::json::array();
  for (const User& user : users) {
    nlohmann::json entry = {{"name", user.name},
                            {"role", std::string(RoleName(user.role))},
                            {"token_sha256", user.token_sha256}};
    if (!user.buckets.empty()) entry["buckets"] = user.buckets;
    list.push_back(std::move(entry));
  }
  return nlohmann::json{{"users", list}}.dump(2) + "\n";
}

const User* AccessControl::Authenticate(std::string_view token) const {
  if (token.empty()) return nullptr;
  const std::string hash = TokenSha256(token);
  const User* found = nullptr;
  for (const User& user : users_) {
    // Every entry is compared, in constant time, so timing tells nothing about the hashes.
    if (CRYPTO_memcmp(user.token_sha256.data(), hash.data(), hash.size()) == 0) found = &user;
  }
  return found;
}

const User* AccessControl::FindUser(std::string_view name) const {
  for (const User& user : users_) {
    if (user.name == name) return &user;
  }
  return nullptr;
}

bool AccessControl::Allows(const User& user, Access access, std::string_view bucket) {
  switch (access) {
    case Access::kAdmin:
      return user.role == Role::kAdmin;
    case Access::kWrite:
      if (user.role == Role::kReadOnly) return false;
      break;
    case Access::kRead:
      break;
  }
  if (user.role == Role::kAdmin || user.buckets.empty() || bucket.empty()) return true;
  for (const std::string& allowed : user.buckets) {
    if (allowed == bucket) return true;
  }
  return false;
}

}  // namespace meridian::api
