#include "node/kv_codec.h"

#include "core/assert.h"
#include "core/quorum.h"

namespace meridian::node {

const char* OpName(proto::KvRequest::Op op) {
  switch (op) {
    case proto::KvRequest::OP_GET:
      return "get";
    case proto::KvRequest::OP_PUT:
      return "put";
    case proto::KvRequest::OP_DELETE:
      return "delete";
    default:
      return "request";
  }
}

proto::KvRequest EncodeKvRequest(std::uint64_t request_id, const ClientRequest& request,
                                 std::uint32_t hops) {
  proto::KvRequest message;
  message.set_request_id(request_id);
  message.set_hops(hops);
  const auto set_options = [&message](const RequestOptions& options) {
    if (options.r) message.set_r(FormatQuorumValue(*options.r));
    if (options.w) message.set_w(FormatQuorumValue(*options.w));
    if (options.pr) message.set_pr(FormatQuorumValue(*options.pr));
    if (options.pw) message.set_pw(FormatQuorumValue(*options.pw));
    if (options.dw) message.set_dw_quorum(FormatQuorumValue(*options.dw));
    if (options.sloppy_quorum) message.set_sloppy_quorum(*options.sloppy_quorum);
  };
  const auto set_fixed = [&message](const std::optional<FixedVersion>& fixed) {
    if (!fixed) return;
    message.set_fixed_actor(fixed->actor);
    message.set_fixed_timestamp(fixed->timestamp.value);
  };
  if (const auto* get = std::get_if<GetRequest>(&request)) {
    message.set_op(proto::KvRequest::OP_GET);
    message.set_bucket(get->id.bucket);
    message.set_key(get->id.key);
    set_options(get->options);
  } else if (const auto* put = std::get_if<PutRequest>(&request)) {
    message.set_op(proto::KvRequest::OP_PUT);
    message.set_bucket(put->id.bucket);
    message.set_key(put->id.key);
    message.set_value(put->value);
    message.set_context(put->context);
    message.set_overwrite(put->overwrite);
    message.set_condition(static_cast<std::uint32_t>(put->condition));
    set_fixed(put->fixed_version);
    set_options(put->options);
  } else if (const auto* del = std::get_if<DeleteRequest>(&request)) {
    message.set_op(proto::KvRequest::OP_DELETE);
    message.set_bucket(del->id.bucket);
    message.set_key(del->id.key);
    message.set_context(del->context);
    message.set_condition(static_cast<std::uint32_t>(del->condition));
    set_fixed(del->fixed_version);
    set_options(del->options);
  } else {
    MERIDIAN_CHECK(false && "only object requests are forwarded");
  }
  return message;
}

Result<ClientRequest> DecodeKvRequest(const proto::KvRequest& message) {
  ObjectId id{message.bucket(), message.key()};
  RequestOptions options;
  const auto parse = [](std::string_view name, const std::string& text,
                        std::optional<QuorumValue>& out) -> Status {
    if (text.empty()) return Status::Ok();
    auto value = ParseQuorumValue(name, text);
    if (!value.ok()) return value.status();
    out = *value;
    return Status::Ok();
  };
  MERIDIAN_RETURN_IF_ERROR(parse("r", message.r(), options.r));
  MERIDIAN_RETURN_IF_ERROR(parse("w", message.w(), options.w));
  MERIDIAN_RETURN_IF_ERROR(parse("pr", message.pr(), options.pr));
  MERIDIAN_RETURN_IF_ERROR(parse("pw", message.pw(), options.pw));
  MERIDIAN_RETURN_IF_ERROR(parse("dw", message.dw_quorum(), options.dw));
  if (!options.dw && message.has_dw()) {
    // The legacy field carries 0 or 1; anything above the replica limit could not be
    // forwarded again (found by fuzz/codecs_fuzzer).
    if (message.dw() > kReplicasMax) {
      return Status::InvalidArgument("dw " + std::to_string(message.dw()) + " is above " +
                                     std::to_string(kReplicasMax));
    }
    options.dw = QuorumValue::Number(message.dw());
  }
  if (message.has_sloppy_quorum()) options.sloppy_quorum = message.sloppy_quorum();
  if (message.condition() > static_cast<std::uint32_t>(kLastWriteCondition)) {
    return Status::InvalidArgument("forwarded request has unknown write condition " +
                                   std::to_string(message.condition()));
  }
  const auto condition = static_cast<WriteCondition>(message.condition());
  std::optional<FixedVersion> fixed;
  if (message.fixed_actor() != 0) {
    // Only a plain write is forwarded with one: a conditional write is checked by a primary
    // against its own copy, and never taken by anyone else.
    if (condition != WriteCondition::kNone || message.op() == proto::KvRequest::OP_GET ||
        message.fixed_timestamp() == 0) {
      return Status::InvalidArgument(
          "forwarded request has a fixed version it cannot carry (a read, a conditional write "
          "or no timestamp)");
    }
    fixed = FixedVersion{message.fixed_actor(), HlcTimestamp{message.fixed_timestamp()}};
  }
  switch (message.op()) {
    case proto::KvRequest::OP_GET:
      return ClientRequest(GetRequest{std::move(id), options});
    case proto::KvRequest::OP_PUT:
      return ClientRequest(PutRequest{std::move(id), message.value(), message.context(), options,
                                      message.overwrite(), condition, fixed});
    case proto::KvRequest::OP_DELETE:
      return ClientRequest(
          DeleteRequest{std::move(id), message.context(), options, condition, fixed});
    default:
      return Status::InvalidArgument("forwarded request has unknown op " +
                                     std::to_string(static_cast<int>(message.op())));
  }
}

namespace {
void EncodeReceipt(const ConsistencyReceipt& receipt, proto::KvReceipt& out) {
  out.set_n(receipt.n);
  out.set_required(receipt.required);
  out.set_replies(receipt.replies);
  out.set_primaries(receipt.primaries);
  out.set_fallbacks(receipt.fallbacks);
  out.set_durable(receipt.durable);
  out.set_hinted(receipt.hinted);
  out.set_behind(receipt.behind);
}

ConsistencyReceipt DecodeReceipt(const proto::KvReceipt& in) {
  return ConsistencyReceipt{in.n(),         in.required(), in.replies(), in.primaries(),
                            in.fallbacks(), in.durable(),  in.hinted(),  in.behind()};
}
}  // namespace

proto::KvReply EncodeKvReply(std::uint64_t request_id, const ClientReply& reply) {
  proto::KvReply message;
  message.set_request_id(request_id);
  message.set_status_code(static_cast<std::uint32_t>(reply.status.code()));
  message.set_status_message(reply.status.message());
  if (reply.fixed_version_refused) message.set_fixed_version_refused(true);
  if (!reply.status.ok()) return message;
  if (const auto* get = std::get_if<GetReply>(&reply.body)) {
    message.set_found(get->found);
    message.set_context(get->context);
    for (const SiblingValue& sibling : get->values) {
      proto::KvSibling* out = message.add_values();
      out->set_value(sibling.value);
      out->set_timestamp(sibling.timestamp.value);
    }
    EncodeReceipt(get->receipt, *message.mutable_receipt());
  } else if (const auto* write = std::get_if<WriteReply>(&reply.body)) {
    message.set_context(write->context);
    message.set_durable(write->durable);
    EncodeReceipt(write->receipt, *message.mutable_receipt());
  }
  return message;
}

ClientReply DecodeKvReply(RequestId client_id, proto::KvRequest::Op op,
                          const proto::KvReply& message) {
  ClientReply reply;
  reply.id = client_id;
  reply.fixed_version_refused = message.fixed_version_refused();
  const std::uint32_t code = message.status_code();
  if (code > static_cast<std::uint32_t>(kLastStatusCode)) {
    reply.status =
        Status::Internal("peer replied with unknown status code " + std::to_string(code));
    return reply;
  }
  if (code != static_cast<std::uint32_t>(StatusCode::kOk)) {
    reply.status = Status(static_cast<StatusCode>(code), message.status_message());
    return reply;
  }
  if (op == proto::KvRequest::OP_GET) {
    GetReply get;
    get.found = message.found();
    get.context = message.context();
    for (const proto::KvSibling& sibling : message.values()) {
      get.values.push_back(SiblingValue{sibling.value(), HlcTimestamp{sibling.timestamp()}});
    }
    get.receipt = DecodeReceipt(message.receipt());
    reply.body = std::move(get);
  } else {
    reply.body = WriteReply{message.context(), message.durable(), DecodeReceipt(message.receipt())};
  }
  return reply;
}

}  // namespace meridian::node
