#include "sim/node_process.h"

#include <utility>
#include <variant>

#include "core/assert.h"
#include "node/client_route.h"
#include "node/peer_route.h"
#include "sim/namespaced_engine.h"

namespace meridian::sim {

NodeProcess::NodeProcess(const node::NodeConfig& config, node::Env env, std::string address,
                         ReplySink sink)
    : address_(std::move(address)), sink_(std::move(sink)) {
  MERIDIAN_CHECK(config.shard_count >= 1 && config.shard_index == 0);
  if (config.shard_count == 1) {
    shards_.push_back(std::make_unique<node::Node>(config, env));  // the machine's engine itself
    return;
  }
  for (std::uint32_t s = 0; s < config.shard_count; ++s) {
    engines_.push_back(
        std::make_unique<NamespacedEngine>(*env.engine, static_cast<std::uint8_t>(s)));
    node::NodeConfig shard_config = config;
    shard_config.shard_index = s;
    node::Env shard_env = env;
    shard_env.engine = engines_.back().get();
    shards_.push_back(std::make_unique<node::Node>(shard_config, shard_env));
  }
  applied_versions_.assign(shards_.size(), 0);
}

Status NodeProcess::Start() {
  Status opened = Status::Ok();
  for (auto& shard : shards_) {
    opened = shard->Open();
    if (!opened.ok()) break;
  }
  if (opened.ok()) Settle();
  PassReplies();
  return opened;
}

Status NodeProcess::Stop() {
  Status closed = Status::Ok();
  for (auto& shard : shards_) {
    const Status status = shard->Close();
    if (closed.ok()) closed = status;
  }
  PassReplies();
  return closed;
}

void NodeProcess::Tick() {
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    shards_[s]->Tick();
    // A follower's part of the member report reaches the shell after its ticks (the server's
    // runtime: about once a second).
    if (s > 0)
      shards_.front()->SetShardReport(static_cast<std::uint32_t>(s), shards_[s]->ShardReport());
    Settle();
  }
  PassReplies();
}

void NodeProcess::Receive(const std::string& from_address, const proto::PeerMessage& message) {
  if (shards_.size() == 1) {
    shards_.front()->Receive(from_address, message);
  } else {
    const node::NodeConfig& config = shards_.front()->config();
    const node::PeerRoute route =
        node::RoutePeerMessage(message, config.partition_count, config.shard_count);
    if (route.to != node::PeerRoute::To::kNowhere) {
      shards_[route.shard]->Receive(from_address, message);
    }
    Settle();
  }
  PassReplies();
}

std::vector<cluster::Outbound> NodeProcess::TakeOutbound() {
  std::vector<cluster::Outbound> taken;
  for (auto& shard : shards_) {
    for (cluster::Outbound& out : shard->TakeOutbound()) taken.push_back(std::move(out));
  }
  return taken;
}

std::vector<cluster::Outbound> NodeProcess::TakeEarlyOutbound() {
  std::vector<cluster::Outbound> taken;
  for (auto& shard : shards_) {
    for (cluster::Outbound& out : shard->TakeEarlyOutbound()) taken.push_back(std::move(out));
  }
  return taken;
}

void NodeProcess::Submit(node::RequestId id, node::ClientRequest request) {
  if (shards_.size() == 1) {
    shards_.front()->Submit(id, std::move(request));
    PassReplies();
    return;
  }
  if (auto* set = std::get_if<node::SetBucketRequest>(&request)) {
    // As the server's front ends do (runtime::ShardedKvService): the other shards hold the
    // bucket (refusing its requests) and must store none of its data before the shell may change
    // its consistency or n; the holds end with the shell's reply (PassReplies). Any change is
    // held here, which the shell's check makes no stricter for other changes.
    for (std::size_t s = 1; s < shards_.size(); ++s) {
      const Result<bool> holds = shards_[s]->HoldBucket(set->bucket);
      if (!holds.ok() || *holds) {
        for (std::size_t held = 1; held <= s; ++held) shards_[held]->ReleaseBucket(set->bucket);
        node::ClientReply refused;
        refused.id = id;
        refused.status = !holds.ok() ? holds.status()
                                     : Status::InvalidArgument("bucket \"" + set->bucket +
                                                               "\" holds data on shard " +
                                                               std::to_string(s) + " of this node");
        if (sink_) sink_(address_, std::move(refused));
        return;
      }
    }
    held_changes_.emplace(id, set->bucket);
    set->other_shards_checked = true;
  }
  const node::NodeConfig& config = shards_.front()->config();
  shards_[node::ShardOfClientRequest(request, config.partition_count, config.shard_count)]->Submit(
      id, std::move(request));
  Settle();
  PassReplies();
}

void NodeProcess::Settle() {
  if (shards_.size() == 1) return;
  node::Node& shell = *shards_.front();
  for (std::size_t s = 1; s < shards_.size(); ++s) {
    const node::ShellView view = shell.MakeShellView(applied_versions_[s]);
    applied_versions_[s] = view.state_version;
    shards_[s]->ApplyShellView(view);
    for (std::uint32_t partition : shards_[s]->TakeTransferCompletions()) {
      shell.ReportTransferComplete(partition);
    }
  }
  for (const node::Node::ShardCheck& check : shell.TakeShardChecks()) {
    Result<bool> holds(false);
    for (std::size_t s = 1; s < shards_.size() && holds.ok() && !*holds; ++s) {
      holds = shards_[s]->CheckSealedBucket(check.bucket);
    }
    shell.OnShardCheck(check.id, std::move(holds));
  }
}

void NodeProcess::PassReplies() {
  for (auto& shard : shards_) {
    for (node::ClientReply& reply : shard->TakeReplies()) {
      if (auto held = held_changes_.find(reply.id);
          held != held_changes_.end() && shard == shards_.front()) {
        // The shell's new properties reached the followers with its view (Settle) already.
        for (std::size_t s = 1; s < shards_.size(); ++s) shards_[s]->ReleaseBucket(held->second);
        held_changes_.erase(held);
      }
      if (sink_) sink_(address_, std::move(reply));
    }
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
