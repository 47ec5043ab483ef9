#include "sim/node_process.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
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
  random_ = env.random;
  clock_ = env.clock;
  MERIDIAN_CHECK(random_ != nullptr && clock_ != nullptr);
  lane_queued_.assign(shards_.size(), 0);
  lane_run_.assign(shards_.size(), 0);
  applied_versions_.assign(shards_.size(), node::kNoStateVersion);
  views_applied_.assign(shards_.size(), node::kNoStateVersion);
}

bool NodeProcess::ViewsCurrent() const {
  for (std::size_t s = 1; s < shards_.size(); ++s) {
    if (views_applied_[s] != shards_.front()->state_version()) return false;
  }
  return true;
}

Status NodeProcess::Start() {
  Status opened = Status::Ok();
  for (auto& shard : shards_) {
    opened = shard->Open();
    if (!opened.ok()) break;
  }
  if (opened.ok() && shards_.size() > 1) {
    // As the server's runtime does before its loops run: every follower has the shell's view.
    for (std::size_t s = 1; s < shards_.size(); ++s) {
      const node::ShellView view = shards_.front()->MakeShellView(applied_versions_[s]);
      applied_versions_[s] = view.state_version;
      shards_[s]->ApplyShellView(view);
      views_applied_[s] = view.state_version;
    }
  }
  PassReplies();
  return opened;
}

Status NodeProcess::Stop() {
  crossings_.clear();  // the loops end with the server
  transport_outbox_.clear();
  lane_run_ = lane_queued_;
  Status closed = Status::Ok();
  for (auto& shard : shards_) {
    const Status status = shard->Close();
    if (closed.ok()) closed = status;
  }
  PassReplies();
  return closed;
}

void NodeProcess::Tick() {
  RunCrossings();
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    shards_[s]->Tick();
    // A follower's part of the member report reaches the shell after its ticks (the server's
    // runtime: about once a second).
    if (s > 0 && shards_[s]->FollowsShell()) {
      shards_.front()->SetShardReport(static_cast<std::uint32_t>(s), shards_[s]->ShardReport());
    }
    Settle(/*tick=*/s == 0);
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
    RunCrossings();
    if (route.to == node::PeerRoute::To::kNowhere) {
      // dropped, as the runtime's router drops it
    } else if (route.shard == 0) {
      shards_.front()->Receive(from_address, message);
    } else {
      // To a follower's loop: it arrives with the next crossing.
      node::Node* follower = shards_[route.shard].get();
      Cross(route.shard,
            [follower, from_address, message] { follower->Receive(from_address, message); });
    }
    Settle(/*tick=*/false);
  }
  PassReplies();
}

std::vector<cluster::Outbound> NodeProcess::TakeOutbound() {
  std::vector<cluster::Outbound> taken = shards_.front()->TakeOutbound();
  CrossFollowerMessages(/*early=*/false);
  for (cluster::Outbound& out : transport_outbox_) taken.push_back(std::move(out));
  transport_outbox_.clear();
  return taken;
}

std::vector<cluster::Outbound> NodeProcess::TakeEarlyOutbound() {
  std::vector<cluster::Outbound> taken = shards_.front()->TakeEarlyOutbound();
  CrossFollowerMessages(/*early=*/true);
  return taken;
}

void NodeProcess::CrossFollowerMessages(bool early) {
  for (std::size_t s = 1; s < shards_.size(); ++s) {
    std::vector<cluster::Outbound> messages =
        early ? shards_[s]->TakeEarlyOutbound() : shards_[s]->TakeOutbound();
    if (messages.empty()) continue;
    // To the peer transport, on the shell's loop: sent with the outbound of the input that runs
    // the crossing (after its commit, so an early message only goes later).
    Cross(0, [this, messages = std::move(messages)]() mutable {
      for (cluster::Outbound& out : messages) transport_outbox_.push_back(std::move(out));
    });
  }
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
  RunCrossings();
  const node::NodeConfig& config = shards_.front()->config();
  const std::uint32_t shard =
      node::ShardOfClientRequest(request, config.partition_count, config.shard_count);
  if (shard == 0) {
    shards_.front()->Submit(id, std::move(request));
  } else {
    // The front ends run on the shell's loop: a follower's request crosses to its loop.
    node::Node* follower = shards_[shard].get();
    Cross(shard, [follower, id, request = std::move(request)]() mutable {
      follower->Submit(id, std::move(request));
    });
  }
  Settle(/*tick=*/false);
  PassReplies();
}

void NodeProcess::Cross(std::size_t lane, std::function<void()> run) {
  // Most cross at once (the next input, or a wake at the same millisecond); a quarter a
  // millisecond later; some a few; a few as late as a loop stalled by a slow sync would make
  // them.
  const std::uint64_t draw = random_->Uniform(64);
  std::uint64_t delay_ms = 0;
  if (draw >= 60) {
    delay_ms = 10 + random_->Uniform(191);
  } else if (draw >= 56) {
    delay_ms = 2 + random_->Uniform(9);
  } else if (draw >= 40) {
    delay_ms = 1;
  }
  longest_crossing_delay_ms_ = std::max(longest_crossing_delay_ms_, delay_ms);
  crossings_.push_back(Crossing{lane, ++lane_queued_[lane], clock_->MonotonicMillis() + delay_ms,
                                delay_ms > 0, std::move(run)});
}

void NodeProcess::RunCrossings() {
  const std::uint64_t now_ms = clock_ != nullptr ? clock_->MonotonicMillis() : 0;
  std::deque<Crossing> queued;
  queued.swap(crossings_);
  std::vector<bool> blocked(shards_.size(), false);  // an earlier crossing to it still waits
  std::deque<Crossing> waiting;
  for (Crossing& crossing : queued) {
    if (blocked[crossing.lane] || crossing.due_ms > now_ms) {
      blocked[crossing.lane] = true;
      waiting.push_back(std::move(crossing));
      continue;
    }
    // The runtime's channels keep their order: so must the crossings to one loop.
    MERIDIAN_CHECK(crossing.sequence == lane_run_[crossing.lane] + 1);
    lane_run_[crossing.lane] = crossing.sequence;
    ++crossings_run_;
    if (crossing.delayed) ++crossings_delayed_;
    crossing.run();
  }
  // Those still waiting go before any the runs just queued (the same order per destination).
  for (Crossing& crossing : crossings_) waiting.push_back(std::move(crossing));
  crossings_.swap(waiting);
}

std::optional<std::uint64_t> NodeProcess::WakeAfterMs() const {
  if (crossings_.empty()) return std::nullopt;
  const std::uint64_t now_ms = clock_->MonotonicMillis();
  // Only each loop's first crossing counts: the ones behind it wait for it, due or not.
  std::uint64_t after_ms = std::numeric_limits<std::uint64_t>::max();
  std::vector<bool> seen(shards_.size(), false);
  for (const Crossing& crossing : crossings_) {
    if (seen[crossing.lane]) continue;
    seen[crossing.lane] = true;
    after_ms = std::min(after_ms, crossing.due_ms > now_ms ? crossing.due_ms - now_ms : 0);
  }
  return after_ms;
}

void NodeProcess::Wake() {
  RunCrossings();
  Settle(/*tick=*/false);
  PassReplies();
}

void NodeProcess::Settle(bool tick) {
  if (shards_.size() == 1) return;
  node::Node& shell = *shards_.front();
  std::vector<node::Node::ShardCheck> checks = shell.TakeShardChecks();
  // The shell's view after its ticks, after a change of its state, and before any check (the
  // view with the seal precedes the check in each follower's channel).
  if (tick || !checks.empty() || shell.state_version() != published_version_) {
    published_version_ = shell.state_version();
    for (std::size_t s = 1; s < shards_.size(); ++s) {
      auto view =
          std::make_shared<const node::ShellView>(shell.MakeShellView(applied_versions_[s]));
      applied_versions_[s] = view->state_version;
      node::Node* follower = shards_[s].get();
      Cross(s, [this, s, follower, view] {
        follower->ApplyShellView(*view);
        views_applied_[s] = view->state_version;
      });
    }
  }
  for (std::size_t s = 1; s < shards_.size(); ++s) {
    std::vector<std::uint32_t> completions = shards_[s]->TakeTransferCompletions();
    if (completions.empty()) continue;
    Cross(0, [&shell, completions = std::move(completions)] {
      for (std::uint32_t partition : completions) shell.ReportTransferComplete(partition);
    });
  }
  for (node::Node::ShardCheck& check : checks) {
    // Each follower looks on its own loop; the answer crosses back to the shell's.
    struct Gathered {
      std::size_t missing = 0;
      Result<bool> holds{false};
    };
    auto gathered = std::make_shared<Gathered>();
    gathered->missing = shards_.size() - 1;
    for (std::size_t s = 1; s < shards_.size(); ++s) {
      node::Node* follower = shards_[s].get();
      Cross(s, [this, &shell, follower, check, gathered] {
        Result<bool> holds = follower->CheckSealedBucket(check.bucket);
        Cross(0, [&shell, check, gathered, holds = std::move(holds)] {
          if (gathered->holds.ok() && !*gathered->holds) gathered->holds = holds;
          if (--gathered->missing == 0) shell.OnShardCheck(check.id, gathered->holds);
        });
      });
    }
  }
}

void NodeProcess::PassReplies() {
  for (auto& shard : shards_) {
    for (node::ClientReply& reply : shard->TakeReplies()) {
      if (auto held = held_changes_.find(reply.id);
          held != held_changes_.end() && shard == shards_.front()) {
        // As the front ends do: the shell's properties reach every follower (merged) before the
        // holds end (its view with them may still be on the way).
        for (std::size_t s = 1; s < shards_.size(); ++s) {
          shards_[s]->MergeBucketProps(shards_.front()->cluster_state().bucket_props());
          shards_[s]->ReleaseBucket(held->second);
        }
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
  if (auto shards = layout.shard_counts.find(address); shards != layout.shard_counts.end()) {
    config.shard_count = shards->second;
  }
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
  // And they prune every superseded single-use entry (production: from 8 of them), so the
  // checkers see any write a prune would let come back.
  config.reaping.prune_single_use_from = 1;
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
