// NodeService: the KvService the front ends use, over one node::Node driven by an Asio
// event loop.
//
// Concurrency: single-threaded. Submit, Stop and every completion run on the thread that
// runs the io_context; the Node (not thread-safe) is only ever touched there. Submit
// assigns a fresh RequestId, hands the request to the node and delivers whatever replies the
// node produced (now or, in later steps, after a Tick) to the completion registered under
// that id. A periodic timer calls Node::Tick() every NodeConfig::tick_interval_ms.
//
// Messages the node wants sent to peers go to the outbound sink (the peer transport) after
// every input; Receive() feeds messages from peers into the node.
//
// Group commit: the node's outputs (replies and peer messages) are held and delivered from a
// handler posted to the loop after the current batch of ready handlers, once the commit
// hook (the engine's CommitPending) returned OK — so a reply or ack never leaves before the
// writes it reports are as durable as asked, and one WAL write (and at most one fsync)
// serves every request of the batch. A failing commit stops the process.
//
// Completions never run inside Submit; each runs exactly once, unless the service is
// destroyed first, in which case pending ones are dropped uncalled.
// The node and the io_context must outlive the service.
#pragma once

#include <cstddef>
#include <memory>

#include <functional>
#include <string>

#include "api/kv_service.h"
#include "cluster/outbound.h"
#include "node/node.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace meridian::runtime {

class NodeService final : public api::KvService {
 public:
  // Makes the writes so far durable as asked (storage::Engine::CommitPending).
  using CommitHook = std::function<Status()>;
  // Starts the tick timer. Without a commit hook outputs are still batched, not committed.
  NodeService(boost::asio::io_context& io, node::Node& node, CommitHook commit = {});
  ~NodeService() override;
  NodeService(const NodeService&) = delete;
  NodeService& operator=(const NodeService&) = delete;

  void Submit(node::ClientRequest request, Completion done) override;

  // Where the node's messages to peers go. Without a sink they are dropped (standalone).
  using OutboundSink = std::function<void(cluster::Outbound)>;
  void SetOutboundSink(OutboundSink sink);
  // A message from the peer listening at `from_address`.
  void Receive(const std::string& from_address, const proto::PeerMessage& message);

  // Cancels the tick timer so the io_context can run out of work. Idempotent.
  void Stop();

  // Requests submitted whose reply has not been delivered yet.
  std::size_t pending_count() const;
  // Ticks delivered to the node so far.
  std::uint64_t tick_count() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared only so queued timer handlers can hold a weak_ptr
};

}  // namespace meridian::runtime
