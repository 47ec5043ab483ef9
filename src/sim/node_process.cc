#include "sim/node_process.h"

#include <utility>

#include "core/assert.h"

namespace meridian::sim {

NodeProcess::NodeProcess(const node::NodeConfig& config, node::Env env, std::string address,
                         ReplySink sink)
    : node_(config, env), address_(std::move(address)), sink_(std::move(sink)) {}

Status NodeProcess::Start() {
  const Status opened = node_.Open();
  PassReplies();
  return opened;
}

Status NodeProcess::Stop() {
  const Status closed = node_.Close();
  PassReplies();
  return closed;
}

void NodeProcess::Tick() {
  node_.Tick();
  PassReplies();
}

void NodeProcess::Receive(const std::string& from_address, const proto::PeerMessage& message) {
  node_.Receive(from_address, message);
  PassReplies();
}

std::vector<cluster::Outbound> NodeProcess::TakeOutbound() {
  return node_.TakeOutbound();
}

std::vector<cluster::Outbound> NodeProcess::TakeEarlyOutbound() {
  return node_.TakeEarlyOutbound();
}

void NodeProcess::Submit(node::RequestId id, node::ClientRequest request) {
  node_.Submit(id, std::move(request));
  PassReplies();
}

void NodeProcess::PassReplies() {
  for (node::ClientReply& reply : node_.TakeReplies()) {
    if (sink_) sink_(address_, std::move(reply));
  }
}

node::NodeConfig NodeConfigFor(const ClusterLayout& layout, const std::string& address) {
  node::NodeConfig config = layout.base;
  config.node_id = address;
  config.peer_address = address;
  config.seeds.clear();
  if (address != layout.bootstrap_address) {
    for (const std::string& seed : layout.seeds) {
      if (seed != address) config.seeds.push_back(seed);
    }
  }
  return config;
}

node::NodeConfig SimNodeConfig() {
  node::NodeConfig config;
  // Few partitions keep handoff and the final checks quick; still several per node.
  config.partition_count = 64;
  config.tick_interval_ms = 100;
  config.gossip_interval_ms = 1000;
  // Anti-entropy rounds well inside a run (production: a minute).
  config.anti_entropy.exchange_interval_ms = 5'000;
  // Reaping rounds too (production: a minute), so every cluster scenario runs with reaping on
  // and its history checker sees any resurrection.
  config.reaping.interval_ms = 2'000;
  return config;
}

ProcessFactory NodeProcessFactory(ClusterLayout layout, const ReplySink* sink) {
  MERIDIAN_CHECK(!layout.bootstrap_address.empty());
  return [layout = std::move(layout), sink](const ProcessContext& context) {
    ReplySink forward;
    if (sink != nullptr) {
      // Looked up at call time, so the sink may be set after the factory was made.
      forward = [sink](const std::string& address, node::ClientReply reply) {
        if (*sink) (*sink)(address, std::move(reply));
      };
    }
    return std::make_unique<NodeProcess>(NodeConfigFor(layout, context.address), context.env,
                                         context.address, std::move(forward));
  };
}

}  // namespace meridian::sim
