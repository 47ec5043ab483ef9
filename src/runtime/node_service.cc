#include "runtime/node_service.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/assert.h"

namespace meridian::runtime {

struct NodeService::Impl : std::enable_shared_from_this<NodeService::Impl> {
  Impl(boost::asio::io_context& io, node::Node& node_ref)
      : node(node_ref),
        tick_interval(std::chrono::milliseconds(node_ref.config().tick_interval_ms)),
        timer(io) {}

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

  // Delivers the node's outputs: messages to peers first, then replies to clients.
  void Drain() {
    std::vector<cluster::Outbound> messages = node.TakeOutbound();
    if (outbound_sink) {
      for (cluster::Outbound& message : messages) outbound_sink(std::move(message));
    }
    std::vector<node::ClientReply> replies = node.TakeReplies();
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

  node::Node& node;
  OutboundSink outbound_sink;
  std::chrono::milliseconds tick_interval;
  boost::asio::steady_timer timer;
  std::unordered_map<node::RequestId, Completion> pending;
  node::RequestId next_request_id = 1;
  std::uint64_t ticks = 0;
  bool stopped = false;
};

NodeService::NodeService(boost::asio::io_context& io, node::Node& node)
    : impl_(std::make_shared<Impl>(io, node)) {
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
