#include "api/json.h"

#include <openssl/evp.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

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

// A number when numeric, else the symbol ("one", "quorum", "all").
nlohmann::json QuorumJson(const QuorumValue& value) {
  if (value.kind == QuorumValue::Kind::kNumber) return value.number;
  return FormatQuorumValue(value);
}

// A non-negative JSON integer that fits 32 bits; InvalidArgument naming `name` otherwise.
Result<std::uint32_t> ParseUnsigned(const std::string& name, const nlohmann::json& value) {
  if (!value.is_number_integer()) return Status::InvalidArgument(name + " must be an integer");
  if (!value.is_number_unsigned() && value.get<std::int64_t>() < 0) {
    return Status::InvalidArgument(name + " must be >= 0");
  }
  const auto number = value.get<std::uint64_t>();
  if (number > std::numeric_limits<std::uint32_t>::max()) {
    return Status::InvalidArgument(name + " is out of range");
  }
  return static_cast<std::uint32_t>(number);
}

// r, w, pr, pw, dw: an integer 0..kReplicasMax or one of the strings "one", "quorum", "all".
Result<QuorumValue> ParseQuorumJson(const std::string& name, const nlohmann::json& value) {
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (text == "one" || text == "quorum" || text == "all") return ParseQuorumValue(name, text);
  } else if (value.is_number_integer()) {
    if (!value.is_number_unsigned() && value.get<std::int64_t>() < 0) {
      return Status::InvalidArgument(name + " must be >= 0");
    }
    const auto number = value.get<std::uint64_t>();
    if (number <= kReplicasMax) return QuorumValue::Number(static_cast<std::uint32_t>(number));
    return Status::InvalidArgument(name + " must be at most " + std::to_string(kReplicasMax) +
                                   ", not " + std::to_string(number));
  }
  return Status::InvalidArgument(name + R"( must be an integer or one of "one", "quorum", "all")");
}

// The patch field of a quorum property, or nullptr for any other name.
std::optional<QuorumValue>* QuorumField(BucketPropsPatch& patch, std::string_view name) {
  if (name == "r") return &patch.r;
  if (name == "w") return &patch.w;
  if (name == "pr") return &patch.pr;
  if (name == "pw") return &patch.pw;
  if (name == "dw") return &patch.dw;
  return nullptr;
}

}  // namespace

std::string ErrorJson(std::string_view error, std::string_view message) {
  nlohmann::json body = {{"error", std::string(error)}, {"message", OneLine(message)}};
  return Dump(body);
}

std::string ReadOnlyHealthJson(std::string_view error, std::string_view reason) {
  nlohmann::json body = {
      {"status", "read_only"}, {"error", std::string(error)}, {"reason", OneLine(reason)}};
  return Dump(body);
}

namespace {
nlohmann::json PropsObject(const BucketProps& props) {
  return {{"consistency", std::string(ConsistencyName(props.consistency))},
          {"conflict_policy", std::string(ConflictPolicyName(props.conflict_policy))},
          {"n", props.n},
          {"r", QuorumJson(props.r)},
          {"w", QuorumJson(props.w)},
          {"pr", QuorumJson(props.pr)},
          {"pw", QuorumJson(props.pw)},
          {"dw", QuorumJson(props.dw)},
          {"sloppy_quorum", props.sloppy_quorum}};
}

nlohmann::json BucketObject(std::string_view bucket, const BucketProps& props) {
  return {{"bucket", std::string(bucket)},
          {"props", PropsObject(props)},
          // True while a change of consistency or n checks the members (docs/api.md).
          {"sealed", props.sealed}};
}
}  // namespace

std::string BucketPropsJson(std::string_view bucket, const BucketProps& props) {
  return Dump(BucketObject(bucket, props));
}

std::string BucketListJson(const std::vector<ListedBucket>& buckets, const BucketProps& defaults) {
  nlohmann::json list = nlohmann::json::array();
  for (const ListedBucket& listed : buckets) {
    nlohmann::json entry = BucketObject(listed.bucket, listed.props);
    entry["configured"] = listed.configured;
    list.push_back(std::move(entry));
  }
  nlohmann::json body = {{"buckets", std::move(list)}, {"defaults", PropsObject(defaults)}};
  return Dump(body);
}

Result<BucketPropsPatch> ParseBucketPropsPatch(std::string_view body) {
  nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return Status::InvalidArgument("body is not valid JSON");
  if (!document.is_object()) return Status::InvalidArgument("body must be a JSON object");
  BucketPropsPatch patch;
  for (const auto& [name, value] : document.items()) {
    if (name == "consistency") {
      if (!value.is_string()) return Status::InvalidArgument("consistency must be a string");
      Result<Consistency> consistency = ParseConsistency(value.get_ref<const std::string&>());
      if (!consistency.ok()) return consistency.status();
      patch.consistency = *consistency;
    } else if (name == "conflict_policy") {
      if (!value.is_string()) {
        return Status::InvalidArgument("conflict_policy must be a string");
      }
      Result<ConflictPolicy> policy = ParseConflictPolicy(value.get_ref<const std::string&>());
      if (!policy.ok()) return policy.status();
      patch.conflict_policy = *policy;
    } else if (name == "n") {
      Result<std::uint32_t> n = ParseUnsigned(name, value);
      if (!n.ok()) return n.status();
      patch.n = *n;
    } else if (name == "sloppy_quorum") {
      if (!value.is_boolean())
        return Status::InvalidArgument("sloppy_quorum must be true or false");
      patch.sloppy_quorum = value.get<bool>();
    } else if (std::optional<QuorumValue>* field = QuorumField(patch, name)) {
      Result<QuorumValue> quorum = ParseQuorumJson(name, value);
      if (!quorum.ok()) return quorum.status();
      *field = *quorum;
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

namespace {

using OrderedJson = nlohmann::ordered_json;  // keeps fields in the documented order

std::string DumpOrdered(const OrderedJson& value) {
  return value.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
}

OrderedJson StringsJson(const std::vector<std::string>& strings) {
  OrderedJson array = OrderedJson::array();
  for (const std::string& text : strings) array.push_back(text);
  return array;
}

OrderedJson ObjectJson(const DvvSet& object) {
  OrderedJson clock = OrderedJson::array();
  for (const auto& [actor, counter] : object.clock().entries()) {
    clock.push_back(OrderedJson::array({std::to_string(actor), counter}));
  }
  OrderedJson siblings = OrderedJson::array();
  for (const Sibling& sibling : object.siblings()) {
    siblings.push_back(OrderedJson{{"actor", std::to_string(sibling.dot.actor)},
                                   {"counter", sibling.dot.counter},
                                   {"timestamp_ms", sibling.timestamp.physical_ms()},
                                   {"tombstone", sibling.tombstone},
                                   {"value_base64", Base64Encode(sibling.value)}});
  }
  return OrderedJson{{"clock", std::move(clock)}, {"siblings", std::move(siblings)}};
}

}  // namespace

std::string KeyLocationJson(const node::LocateReply& reply) {
  OrderedJson body{{"bucket", reply.id.bucket},
                   {"key", reply.id.key},
                   {"partition", reply.partition},
                   {"n", reply.n},
                   {"owner", reply.owner},
                   {"pending_owner", nullptr},
                   {"primaries", StringsJson(reply.primaries)},
                   {"fallbacks", StringsJson(reply.fallbacks)}};
  if (reply.pending_owner) body["pending_owner"] = *reply.pending_owner;
  return DumpOrdered(body);
}

std::string LocalCopyJson(const node::LocalCopyReply& reply) {
  OrderedJson body{{"node", reply.node},
                   {"partition", reply.partition},
                   {"holds_replica", reply.holds_replica},
                   {"object", nullptr},
                   {"hint", nullptr}};
  if (reply.object) body["object"] = ObjectJson(*reply.object);
  if (reply.hint) {
    body["hint"] = OrderedJson{{"targets", StringsJson(reply.hint->targets)},
                               {"object", ObjectJson(reply.hint->object)}};
  }
  return DumpOrdered(body);
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
