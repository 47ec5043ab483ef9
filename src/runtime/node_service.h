// NodeService: the KvService the front ends use, over one node::Node driven by an Asio
// event loop.
//
// Concurrency: Submit, Receive, Stop, Shutdown and every completion run on the thread that
// runs the io_context; the Node (not thread-safe) is only ever touched there. The only other
// thread is the service's commit thread (CommitWorker), which runs nothing but
// CommitHooks::finish. Submit assigns a fresh RequestId, hands the request to the node and
// delivers whatever replies the node produced (now or, in later steps, after a Tick) to the
// completion registered under that id. A periodic timer calls Node::Tick() every
// NodeConfig::tick_interval_ms.
//
// Messages the node wants sent to peers go to the outbound sink (the peer transport) after
// every input; Receive() feeds messages from peers into the node.
//
// Group commit: the node's outputs (replies and peer messages) are held, and none leaves
// before every write made before it is as durable as asked.
//   * A commit step runs from a handler posted to the loop after the current batch of ready
//     handlers (other connections' requests that arrived together). It takes the writes made
//     so far from the engine (CommitHooks::begin, on the loop). None, and no sync in flight:
//     the held outputs leave at once, without a sync. Writes none of which asked for sync,
//     and no sync in flight: CommitHooks::finish runs on the loop itself (a WAL write into
//     the page cache, no fsync) and the outputs leave right after it — two thread hand-offs
//     cost more than that write. Otherwise they wait for one sync (CommitHooks::finish: the
//     WAL write and at most one fsync, for every request of the batch), which runs on the
//     commit thread while the loop goes on running the node (reads, writes into the memtable,
//     peer messages, ticks).
//   * At most one sync is in flight. Outputs produced while it runs wait for the next sync,
//     which starts after they were produced — unless no write was taken since the sync in
//     flight started, up to their commit step: then the sync in flight covers them.
//   * When the sync returned OK, its batch is delivered on the loop (messages to peers first,
//     then replies), and the next commit step is scheduled if outputs or writes wait.
//   * A failing commit (a full disk, an I/O error) reveals nothing it was to cover: its
//     messages to peers are dropped and its replies become errors (InsufficientStorage for a
//     full disk, else IoError: "a write may or may not have been applied"). The storage
//     failure sink hears of it first (the server then makes the node refuse new data until
//     the engine recovers); the service goes on.
//
// Completions never run inside Submit; each runs exactly once, unless the service is shut
// down (Shutdown, or destroyed) first, in which case pending ones are dropped uncalled.
// The node and the io_context must outlive the service.
#pragma once

#include <cstddef>
#include <memory>

#include <functional>
#include <string>

#include "api/kv_service.h"
#include "cluster/outbound.h"
#include "node/node.h"
#include "storage/engine.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace meridian::runtime {

class NodeService final : public api::KvService {
 public:
  // The group commit in two halves (storage::Engine::BeginCommit / FinishCommit).
  struct CommitHooks {
    // On the loop: takes every write so far into a ticket (empty: nothing to make durable).
    std::function<Result<storage::CommitTicket>()> begin;
    // On the commit thread, one at a time: makes the ticket's writes as durable as asked.
    std::function<Status(const storage::CommitTicket&)> finish;

    // Both halves on `engine`, which must outlive the service.
    static CommitHooks ForEngine(storage::Engine& engine);
  };
  // Starts the tick timer, and the commit thread when there are hooks (both or neither).
  // Without hooks outputs are still batched, not committed.
  NodeService(boost::asio::io_context& io, node::Node& node, CommitHooks commit = {});
  ~NodeService() override;
  NodeService(const NodeService&) = delete;
  NodeService& operator=(const NodeService&) = delete;

  void Submit(node::ClientRequest request, Completion done) override;

  // Where the node's messages to peers go. Without a sink they are dropped (standalone).
  using OutboundSink = std::function<void(cluster::Outbound)>;
  void SetOutboundSink(OutboundSink sink);
  // Called on the loop with the error of each failed commit, before its replies run.
  using StorageFailureSink = std::function<void(const Status&)>;
  void SetStorageFailureSink(StorageFailureSink sink);
  // Commits that failed so far.
  std::uint64_t commit_failures() const;
  // A message from the peer listening at `from_address`.
  void Receive(const std::string& from_address, const proto::PeerMessage& message);
  // Runs `input` on the node as an input of its own (one that is neither a request nor a
  // message: a shell view, a shard check's answer, a transfer report); its outputs are
  // committed and delivered as Receive's. Ignored once stopped.
  void Drive(const std::function<void(node::Node&)>& input);
  // Called on the loop after every input (a request, a message, a tick, a Drive) once its
  // outputs were taken from the node; `tick` says whether the input was a tick. It may touch
  // the node, but must not give it an input.
  using InputHook = std::function<void(bool tick)>;
  void SetInputHook(InputHook hook);

  // Cancels the tick timer and ignores peer messages from now on. Idempotent. Requests and
  // commits go on (the server's drain answers requests in flight after Stop); the io_context
  // runs out of work once no sync is in flight.
  void Stop();
  // Stop, then waits for the sync in flight (if any) and ends the commit thread; every output
  // not delivered yet is dropped, and no completion runs from now on (Submit drops its
  // completion uncalled). For after the loop ended, before the engine is committed or closed
  // on this thread. Idempotent; the destructor calls it.
  void Shutdown();

  // Requests submitted whose reply has not been delivered yet.
  std::size_t pending_count() const;
  // Ticks delivered to the node so far.
  std::uint64_t tick_count() const;

  // How late the tick timer fired and how long the node's ticks took. A late tick means
  // something held this node's one event-loop thread that long (a long handler, a slow tick),
  // and every request that arrived meanwhile waited too. A stall is lateness of at least
  // kStallThreshold; stalls of kStallLogThreshold or more are logged (at most one line per
  // second, with the count of those not logged).
  static constexpr std::chrono::milliseconds kStallThreshold{50};
  static constexpr std::chrono::milliseconds kStallLogThreshold{100};
  struct LoopStats {
    std::uint64_t stalls = 0;              // ticks at least kStallThreshold late
    std::uint64_t stall_microseconds = 0;  // the lateness of those ticks, summed
    std::uint64_t longest_stall_microseconds = 0;
    std::uint64_t slow_ticks = 0;         // Node::Tick calls that took kStallThreshold or more
    std::uint64_t tick_microseconds = 0;  // time spent in Node::Tick, summed
    // Group commits: from the start of a sync to its outputs' release on the loop. Replies
    // to writes (and reads after a write) wait for one or two of them.
    std::uint64_t syncs = 0;
    std::uint64_t sync_microseconds = 0;
    std::uint64_t longest_sync_microseconds = 0;
    std::uint64_t slow_syncs = 0;  // kStallThreshold or more; kStallLogThreshold+ are logged
    // Messages sent without waiting for the writes of the input that produced them
    // (Node::TakeEarlyOutbound: a strong coordinator's requests to other acceptors).
    std::uint64_t early_messages = 0;
    // Commits with no write that asked for sync and no sync in flight: the WAL write is done
    // on the loop itself (a write(2), no fsync), and their outputs leave at once.
    std::uint64_t inline_writes = 0;
    std::uint64_t inline_write_microseconds = 0;
  };
  LoopStats loop_stats() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared only so queued timer handlers can hold a weak_ptr
};

}  // namespace meridian::runtime
