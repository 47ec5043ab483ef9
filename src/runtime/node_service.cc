#include "runtime/node_service.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/assert.h"

namespace meridian::runtime {

struct NodeService::Impl : std::enable_shared_from_this<NodeService::Impl> {
  Impl(boost::asio::io_context& io_ref, node::Node& node_ref, CommitHook commit_hook)
      : io(io_ref),
        node(node_ref),
        commit(std::move(commit_hook)),
        tick_interval(std::chrono::milliseconds(node_ref.config().tick_interval_ms)),
        timer(io_ref) {}

  void ScheduleTick() {
    timer.expires_after(tick_interval);
    // A weak reference: a tick already queued when the service is destroyed must not run.
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      std::shared_ptr<Impl> self = weak.lock();
      if (ec || !self || self->stopped) return;  // cancelled by Stop() or destruction
      self->node.Tick();
      ++self->ticks;
      self->Drain();
      self->ScheduleTick();
    });
  }

  // Collects the node's outputs and schedules one commit for all of them: every handler
  // already queued on the loop (other connections' requests that arrived together) runs
  // first, so one commit covers a whole batch of requests.
  void Drain() {
    for (cluster::Outbound& message : node.TakeOutbound())
      held_messages.push_back(std::move(message));
    for (node::ClientReply& reply : node.TakeReplies()) held_replies.push_back(std::move(reply));
    if (commit_posted) return;
    commit_posted = true;
    boost::asio::post(io, [weak = weak_from_this()] {
      if (std::shared_ptr<Impl> self = weak.lock()) self->CommitAndDeliver();
    });
  }

  // Makes the batch's writes durable, then delivers its outputs: messages to peers first,
  // then replies to clients. No output leaves before the writes it reports are committed.
  void CommitAndDeliver() {
    commit_posted = false;
    if (commit) {
      if (Status committed = commit(); !committed.ok()) {
        // The batch's writes may not survive a crash, so none of them may be acknowledged;
        // and the storage engine will not take writes after a failed WAL write. Stopping
        // the process is the only answer that loses no acknowledged data.
        const std::string message = "group commit failed, stopping: " + committed.ToString();
        spdlog::critical("{}", message);
        spdlog::default_logger()->flush();
        std::fprintf(stderr, "meridian: %s\n", message.c_str());
        std::abort();
      }
    }
    std::vector<cluster::Outbound> messages;
    messages.swap(held_messages);
    std::vector<node::ClientReply> replies;
    replies.swap(held_replies);
    if (outbound_sink) {
      for (cluster::Outbound& message : messages) outbound_sink(std::move(message));
    }
    for (node::ClientReply& reply : replies) {
      auto it = pending.find(reply.id);
      if (it == pending.end()) {
        // The node answered an id it was never given, or twice: a bug in the node.
        spdlog::error("node replied to unknown request id {}", reply.id);
        MERIDIAN_DCHECK(it != pending.end());
        continue;
      }
      Completion done = std::move(it->second);
      pending.erase(it);  // before running it: the completion may Submit again
      done(std::move(reply));
    }
  }

  boost::asio::io_context& io;
  node::Node& node;
  CommitHook commit;
  OutboundSink outbound_sink;
  std::chrono::milliseconds tick_interval;
  boost::asio::steady_timer timer;
  std::unordered_map<node::RequestId, Completion> pending;
  node::RequestId next_request_id = 1;
  std::uint64_t ticks = 0;
  bool stopped = false;
  // Outputs of the current batch, delivered by CommitAndDeliver.
  std::vector<cluster::Outbound> held_messages;
  std::vector<node::ClientReply> held_replies;
  bool commit_posted = false;
};

NodeService::NodeService(boost::asio::io_context& io, node::Node& node, CommitHook commit)
    : impl_(std::make_shared<Impl>(io, node, std::move(commit))) {
  MERIDIAN_CHECK(node.config().tick_interval_ms > 0);
  impl_->ScheduleTick();
}

NodeService::~NodeService() {
  Stop();
}

void NodeService::Submit(node::ClientRequest request, Completion done) {
  const node::RequestId id = impl_->next_request_id++;
  auto [it, inserted] = impl_->pending.emplace(id, std::move(done));
  MERIDIAN_CHECK(inserted);
  impl_->node.Submit(id, std::move(request));
  impl_->Drain();
}

void NodeService::SetOutboundSink(OutboundSink sink) {
  impl_->outbound_sink = std::move(sink);
}

void NodeService::Receive(const std::string& from_address, const proto::PeerMessage& message) {
  if (impl_->stopped) return;
  impl_->node.Receive(from_address, message);
  impl_->Drain();
}

void NodeService::Stop() {
  impl_->stopped = true;
  impl_->timer.cancel();
}

std::size_t NodeService::pending_count() const {
  return impl_->pending.size();
}
std::uint64_t NodeService::tick_count() const {
  return impl_->ticks;
}

}  // namespace meridian::runtime
