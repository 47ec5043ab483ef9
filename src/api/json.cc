#include "api/json.h"

#include <openssl/evp.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

namespace meridian::api {

namespace {

std::string OneLine(std::string_view message) {
  std::string out(message);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

// Dumps with invalid UTF-8 replaced, so arbitrary bytes in messages never make dump() throw.
std::string Dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string ErrorJson(std::string_view error, std::string_view message) {
  nlohmann::json body = {{"error", std::string(error)}, {"message", OneLine(message)}};
  return Dump(body);
}

std::string BucketPropsJson(std::string_view bucket, const BucketProps& props) {
  nlohmann::json body = {
      {"bucket", std::string(bucket)},
      {"props",
       {{"conflict_policy", std::string(ConflictPolicyName(props.conflict_policy))},
        {"dw", props.dw}}}};
  return Dump(body);
}

Result<BucketPropsPatch> ParseBucketPropsPatch(std::string_view body) {
  nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Status::InvalidArgument("body is not valid JSON");
  if (!document.is_object()) return Status::InvalidArgument("body must be a JSON object");
  BucketPropsPatch patch;
  for (const auto& [name, value] : document.items()) {
    if (name == "conflict_policy") {
      if (!value.is_string()) {
        return Status::InvalidArgument("conflict_policy must be a string");
      }
      Result<ConflictPolicy> policy = ParseConflictPolicy(value.get_ref<const std::string&>());
      if (!policy.ok()) return policy.status();
      patch.conflict_policy = *policy;
    } else if (name == "dw") {
      if (!value.is_number_integer()) return Status::InvalidArgument("dw must be an integer");
      if (value.is_number_unsigned()) {
        auto dw = value.get<std::uint64_t>();
        if (dw > std::numeric_limits<std::uint32_t>::max()) {
          return Status::InvalidArgument("dw is out of range");
        }
        patch.dw = static_cast<std::uint32_t>(dw);
      } else {
        // A signed integer that is not unsigned-representable is negative.
        if (value.get<std::int64_t>() < 0) return Status::InvalidArgument("dw must be >= 0");
        patch.dw = static_cast<std::uint32_t>(value.get<std::int64_t>());
      }
    } else {
      return Status::InvalidArgument("unknown bucket property: " + name);
    }
  }
  return patch;
}

std::string SiblingsJson(const node::GetReply& reply) {
  nlohmann::json siblings = nlohmann::json::array();
  for (const node::SiblingValue& sibling : reply.values) {
    siblings.push_back({{"value", Base64Encode(sibling.value)},
                        {"timestamp_ms", sibling.timestamp.physical_ms()}});
  }
  nlohmann::json body = {{"context", reply.context}, {"siblings", std::move(siblings)}};
  return Dump(body);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  if (bytes.empty()) return out;
  // EVP_EncodeBlock takes an int length; values are bounded by value_bytes_max far below 2 GiB
  // but encode in chunks anyway so no size can overflow it.
  constexpr std::size_t kChunkBytes = 3u << 20;  // a multiple of 3: no padding mid-stream
  std::size_t written = 0;
  for (std::size_t offset = 0; offset < bytes.size(); offset += kChunkBytes) {
    std::size_t length = std::min(kChunkBytes, bytes.size() - offset);
    int produced = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                                   reinterpret_cast<const unsigned char*>(bytes.data() + offset),
                                   static_cast<int>(length));
    written += static_cast<std::size_t>(produced);
  }
  out.resize(written);
  return out;
}

}  // namespace meridian::api
