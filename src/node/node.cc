#include "node/node.h"

#include <utility>

namespace meridian::node {

namespace {
LocalStoreConfig StoreConfigOf(const NodeConfig& config) {
  return LocalStoreConfig{config.partition_count, config.key_bytes_max, config.value_bytes_max};
}
}  // namespace

Node::Node(const NodeConfig& config, Env env)
    : config_(config), env_(env), store_(StoreConfigOf(config), env) {}

Status Node::Open() {
  return store_.Open();
}

Status Node::Close() {
  return store_.Close();
}

void Node::Submit(RequestId id, ClientRequest request) {
  Reply(id, store_.Handle(std::move(request)));
}

void Node::Tick() {}

std::vector<ClientReply> Node::TakeReplies() {
  std::vector<ClientReply> taken;
  taken.swap(replies_);
  return taken;
}

void Node::Reply(RequestId id, Result<ReplyBody> result) {
  ClientReply reply;
  reply.id = id;
  if (result.ok()) {
    reply.body = std::move(result).value();
  } else {
    reply.status = result.status();
  }
  replies_.push_back(std::move(reply));
}

}  // namespace meridian::node
