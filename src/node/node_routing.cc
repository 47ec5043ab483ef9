// Node: routing object requests to the owner of their partition (see node.h).
#include <type_traits>
#include <variant>

#include "core/object_id.h"
#include "node/kv_codec.h"
#include "node/node.h"

namespace meridian::node {

namespace {
const ObjectId& IdOf(const ClientRequest& request) {
  if (const auto* get = std::get_if<GetRequest>(&request)) return get->id;
  if (const auto* put = std::get_if<PutRequest>(&request)) return put->id;
  return std::get<DeleteRequest>(request).id;
}

proto::KvRequest::Op OpOf(const ClientRequest& request) {
  if (std::holds_alternative<GetRequest>(request)) return proto::KvRequest::OP_GET;
  if (std::holds_alternative<PutRequest>(request)) return proto::KvRequest::OP_PUT;
  return proto::KvRequest::OP_DELETE;
}

ClientReply ErrorReply(Status status) {
  ClientReply reply;
  reply.status = std::move(status);
  return reply;
}
}  // namespace

void Node::Route(const Origin& origin, ClientRequest request, std::uint32_t hops) {
  const proto::KvRequest::Op op = OpOf(request);
  const ObjectId& id = IdOf(request);
  // Validate before hashing: every node refuses a bad request the same way, locally.
  if (Status valid = store_.ValidateObjectId(id); !valid.ok()) {
    Deliver(origin, op, ErrorReply(std::move(valid)));
    return;
  }
  const std::uint32_t partition = store_.PartitionOfObject(id);
  const cluster::Ring& ring = membership_->state().ring();
  const cluster::NodeId& owner = ring.Owner(partition);
  const std::optional<cluster::NodeId> pending = ring.PendingOwner(partition);
  const cluster::NodeId& self = config_.node_id;

  cluster::NodeId target;
  if (owner.empty()) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("this node does not know the ring yet (it is joining "
                                           "the cluster); retry shortly")));
    return;
  }
  if (owner == self) {
    // Once this partition's data has been streamed to its new owner, that node serves it —
    // only the node the completed stream went to (the plan may have changed since).
    target = self;
    const auto forwarded = forwarding_.find(partition);
    if (pending && forwarded != forwarding_.end()) {
      const cluster::Member* receiver = membership_->state().FindMember(*pending);
      if (receiver != nullptr && receiver->peer_address == forwarded->second) target = *pending;
    }
  } else if (pending && *pending == self && hops > 0) {
    target = self;  // forwarded by the old owner after it finished streaming to us
  } else {
    target = owner;
  }

  if (target == self) {
    Result<ReplyBody> result = HandleLocally(std::move(request));
    ClientReply reply;
    if (result.ok()) {
      reply.body = std::move(result).value();
    } else {
      reply.status = result.status();
    }
    Deliver(origin, op, std::move(reply));
    return;
  }

  const cluster::Member* member = membership_->state().FindMember(target);
  if (member == nullptr || member->peer_address.empty()) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("the owner " + target + " has no known address")));
    return;
  }
  if (hops >= config_.forward_hops_max) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("request was forwarded " + std::to_string(hops) +
                                           " times without reaching the owner (the ring is "
                                           "changing); retry shortly")));
    return;
  }
  if (!detector_->IsAlive(target, NowMs())) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("the owner " + target + " (" + member->peer_address +
                                           ") is unreachable; the request was not applied")));
    return;
  }
  ForwardedRequests::Entry entry{origin, op, member->peer_address,
                                 NowMs() + config_.forward_timeout_ms};
  const std::optional<std::uint64_t> forward_id = forwarded_.Track(entry);
  if (!forward_id) {
    Deliver(origin, op,
            ErrorReply(Status::Unavailable("too many forwarded requests in flight (" +
                                           std::to_string(config_.forwarded_requests_max) + ")")));
    return;
  }
  cluster::Outbound out;
  out.to_address = member->peer_address;
  *out.message.mutable_kv_request() = EncodeKvRequest(*forward_id, request, hops + 1);
  outbound_.push_back(std::move(out));
}

Result<ReplyBody> Node::HandleLocally(ClientRequest request) {
  const bool write = !std::holds_alternative<GetRequest>(request);
  const ObjectId id = IdOf(request);
  Result<ReplyBody> result = std::visit(
      [this](auto& alternative) -> Result<ReplyBody> {
        using T = std::decay_t<decltype(alternative)>;
        if constexpr (std::is_same_v<T, GetRequest> || std::is_same_v<T, PutRequest> ||
                      std::is_same_v<T, DeleteRequest>) {
          return store_.Handle(std::move(alternative));
        } else {
          return Status::Internal("only object requests are routed");
        }
      },
      request);
  if (write && result.ok()) MirrorIfTransferring(id);
  return result;
}

void Node::MirrorIfTransferring(const ObjectId& id) {
  auto sender = senders_.find(store_.PartitionOfObject(id));
  if (sender == senders_.end()) return;
  const std::string storage_key = store_.ObjectStorageKey(id);
  auto stored = env_.engine->Get(storage::Column::kObjects, storage_key);
  // A failed read leaves the key to the transfer's scan; MirrorWrite also marks it for re-send.
  if (stored.ok() && stored->has_value()) {
    sender->second->MirrorWrite(storage_key, **stored).IgnoreError();
  }
}

void Node::ExpireForwards() {
  for (ForwardedRequests::Entry& entry : forwarded_.Expire(NowMs())) {
    Deliver(entry.origin, entry.op,
            ErrorReply(Status::Timeout("the owner at " + entry.peer_address +
                                       " did not answer within " +
                                       std::to_string(config_.forward_timeout_ms) +
                                       " ms; the request may or may not have been applied")));
  }
}

}  // namespace meridian::node
