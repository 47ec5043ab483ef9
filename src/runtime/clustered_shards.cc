#include "runtime/clustered_shards.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "core/assert.h"
#include "node/peer_route.h"
#include "node/shell_view.h"

namespace meridian::runtime {
namespace {

constexpr std::uint64_t kReportIntervalMs = 1'000;

}  // namespace

ClusteredShards::ClusteredShards(std::vector<Shard> shards, Send send,
                                 std::uint64_t queue_bytes_max)
    : shards_(std::move(shards)), send_(std::move(send)), queue_bytes_max_(queue_bytes_max) {
  MERIDIAN_CHECK(shards_.size() >= 2);
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    MERIDIAN_CHECK(shards_[s].node != nullptr && shards_[s].service != nullptr &&
                   shards_[s].channel != nullptr);
    MERIDIAN_CHECK(shards_[s].node->config().shard_index == s);
    MERIDIAN_CHECK(shards_[s].node->config().shard_count == shards_.size());
    MERIDIAN_CHECK(s == 0 || shards_[s].node->FollowsShell());
  }
  partition_count_ = shell().node->config().partition_count;
  report_every_ticks_ = std::max<std::uint64_t>(
      1, kReportIntervalMs / std::max<std::uint64_t>(shell().node->config().tick_interval_ms, 1));
  follower_ticks_.assign(shards_.size(), 0);
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    queued_bytes_.push_back(std::make_unique<std::atomic<std::uint64_t>>(0));
  }
}

void ClusteredShards::Start() {
  // No loop runs yet: the first views are applied here, so a follower knows the ring before
  // its first request.
  published_version_ = shell().node->state_version();
  for (std::size_t s = 1; s < shards_.size(); ++s) {
    shards_[s].node->ApplyShellView(shell().node->MakeShellView(node::kNoStateVersion));
  }
  shell().service->SetInputHook([this](bool tick) { AfterShellInput(tick); });
  LoopChannel* to_shell = shell().channel;
  for (std::uint32_t s = 1; s < shards_.size(); ++s) {
    shards_[s].service->SetOutboundSink([this, to_shell](cluster::Outbound outbound) {
      to_shell->Push([this, outbound = std::move(outbound)] { send_(outbound); });
    });
    shards_[s].service->SetInputHook([this, s](bool tick) { AfterFollowerInput(s, tick); });
  }
}

void ClusteredShards::Deliver(const std::string& from_address, proto::PeerMessage message) {
  const node::PeerRoute route =
      node::RoutePeerMessage(message, partition_count_, static_cast<std::uint32_t>(shards_.size()));
  if (route.to == node::PeerRoute::To::kNowhere) {
    unroutable_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (route.shard == 0) {
    shell().service->Receive(from_address, message);
    return;
  }
  std::atomic<std::uint64_t>* queued = queued_bytes_[route.shard].get();
  const std::uint64_t bytes = message.ByteSizeLong();
  if (queued->load(std::memory_order_relaxed) + bytes > queue_bytes_max_) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queued->fetch_add(bytes, std::memory_order_relaxed);
  NodeService* service = shards_[route.shard].service;
  shards_[route.shard].channel->Push(
      [service, queued, bytes, from_address, message = std::move(message)] {
        service->Receive(from_address, message);
        queued->fetch_sub(bytes, std::memory_order_relaxed);
      });
}

void ClusteredShards::AfterShellInput(bool tick) {
  std::vector<node::Node::ShardCheck> checks = shell().node->TakeShardChecks();
  // A check's seal must reach every follower before the check does: the views go first.
  if (tick || !checks.empty() || shell().node->state_version() != published_version_) {
    PublishViews();
  }
  for (node::Node::ShardCheck& check : checks) CheckFollowers(std::move(check));
}

void ClusteredShards::PublishViews() {
  const std::uint64_t applied = published_version_;
  published_version_ = shell().node->state_version();
  // One view for every follower: they all applied the same state version before.
  auto view = std::make_shared<const node::ShellView>(shell().node->MakeShellView(applied));
  for (std::size_t s = 1; s < shards_.size(); ++s) {
    NodeService* service = shards_[s].service;
    shards_[s].channel->Push([service, view] {
      service->Drive([&view](node::Node& follower) { follower.ApplyShellView(*view); });
    });
  }
}

void ClusteredShards::CheckFollowers(node::Node::ShardCheck check) {
  struct Gathered {
    std::size_t missing = 0;
    bool holds = false;
    std::optional<Status> error;
  };
  auto gathered = std::make_shared<Gathered>();
  gathered->missing = shards_.size() - 1;
  auto bucket = std::make_shared<const std::string>(std::move(check.bucket));
  const std::uint64_t id = check.id;
  LoopChannel* to_shell = shell().channel;
  NodeService* shell_service = shell().service;
  for (std::size_t s = 1; s < shards_.size(); ++s) {
    node::Node* follower = shards_[s].node;
    shards_[s].channel->Push([follower, bucket, gathered, id, to_shell, shell_service] {
      Result<bool> holds = follower->CheckSealedBucket(*bucket);
      to_shell->Push([holds = std::move(holds), gathered, id, shell_service] {
        if (!holds.ok()) {
          if (!gathered->error) gathered->error = holds.status();
        } else if (*holds) {
          gathered->holds = true;
        }
        if (--gathered->missing > 0) return;
        Result<bool> combined = gathered->holds || !gathered->error
                                    ? Result<bool>(gathered->holds)
                                    : Result<bool>(*gathered->error);
        shell_service->Drive(
            [&combined, id](node::Node& shell) { shell.OnShardCheck(id, std::move(combined)); });
      });
    });
  }
}

void ClusteredShards::AfterFollowerInput(std::uint32_t s, bool tick) {
  node::Node* shell_node = shell().node;
  if (tick && ++follower_ticks_[s] % report_every_ticks_ == 0) {
    shell().channel->Push([shell_node, s, report = shards_[s].node->ShardReport()]() mutable {
      shell_node->SetShardReport(s, std::move(report));
    });
  }
  std::vector<std::uint32_t> completions = shards_[s].node->TakeTransferCompletions();
  if (completions.empty()) return;
  NodeService* shell_service = shell().service;
  shell().channel->Push([shell_service, completions = std::move(completions)] {
    shell_service->Drive([&completions](node::Node& shell) {
      for (std::uint32_t partition : completions) shell.ReportTransferComplete(partition);
    });
  });
}

}  // namespace meridian::runtime
