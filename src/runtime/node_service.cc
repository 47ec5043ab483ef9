#include "runtime/node_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/assert.h"
#include "runtime/commit_worker.h"

namespace meridian::runtime {
namespace {

// Outputs held until a commit covers them, in the order the node produced them.
struct Outputs {
  std::vector<cluster::Outbound> messages;
  std::vector<node::ClientReply> replies;

  bool empty() const { return messages.empty() && replies.empty(); }
  void Append(Outputs&& later) {
    for (cluster::Outbound& message : later.messages) messages.push_back(std::move(message));
    for (node::ClientReply& reply : later.replies) replies.push_back(std::move(reply));
    later = Outputs{};
  }
};

// At most `per_second` log lines per second for a kind of event: Take() answers whether this one
// may be logged, with the number of events not logged since the last line.
class LogLimiter {
 public:
  explicit LogLimiter(std::uint32_t per_second = 1) : per_second_(per_second) {}

  std::optional<std::uint64_t> Take() {
    const auto now = std::chrono::steady_clock::now();
    if (logged_in_second_ == 0 || now - second_start_ >= std::chrono::seconds(1)) {
      second_start_ = now;
      logged_in_second_ = 0;
    }
    if (logged_in_second_ >= per_second_) {
      ++not_logged_;
      return std::nullopt;
    }
    ++logged_in_second_;
    return std::exchange(not_logged_, 0);
  }

 private:
  std::uint32_t per_second_;
  std::uint32_t logged_in_second_ = 0;
  std::chrono::steady_clock::time_point second_start_{};
  std::uint64_t not_logged_ = 0;
};

}  // namespace

NodeService::CommitHooks NodeService::CommitHooks::ForEngine(storage::Engine& engine) {
  return CommitHooks{
      .begin = [&engine] { return engine.BeginCommit(); },
      .finish =
          [&engine](const storage::CommitTicket& ticket) { return engine.FinishCommit(ticket); }};
}

struct NodeService::Impl : std::enable_shared_from_this<NodeService::Impl> {
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  Impl(boost::asio::io_context& io_ref, node::Node& node_ref, CommitHooks commit_hooks)
      : io(io_ref),
        node(node_ref),
        commit(std::move(commit_hooks)),
        tick_interval(std::chrono::milliseconds(node_ref.config().tick_interval_ms)),
        timer(io_ref) {
    MERIDIAN_CHECK((commit.begin == nullptr) == (commit.finish == nullptr));
    if (commit.begin) worker = std::make_unique<CommitWorker>();
  }

  void ScheduleTick() {
    timer.expires_after(tick_interval);
    // A weak reference: a tick already queued when the service is destroyed must not run.
    timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      std::shared_ptr<Impl> self = weak.lock();
      if (ec || !self || self->stopped) return;  // cancelled by Stop() or destruction
      const auto fired = std::chrono::steady_clock::now();
      self->NoteLateness(fired - self->timer.expiry());
      self->BeginInput();
      self->node.Tick();
      ++self->ticks;
      self->NoteTickDuration(std::chrono::steady_clock::now() - fired);
      self->Drain();
      if (self->input_hook) self->input_hook(/*tick=*/true);
      self->ScheduleTick();
    });
  }

  static std::uint64_t Micros(std::chrono::steady_clock::duration duration) {
    return static_cast<std::uint64_t>(std::max<std::int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(duration).count()));
  }

  void NoteLateness(std::chrono::steady_clock::duration late) {
    if (late < NodeService::kStallThreshold) return;
    const std::uint64_t micros = Micros(late);
    ++loop.stalls;
    loop.stall_microseconds += micros;
    loop.longest_stall_microseconds = std::max(loop.longest_stall_microseconds, micros);
    if (late < NodeService::kStallLogThreshold) return;
    if (const std::optional<std::uint64_t> unlogged = stall_log.Take()) {
      spdlog::warn(
          "event loop stalled: a tick fired {} ms late (the node's thread was busy that long; "
          "{} more stalls of {}+ ms since the last line; the longest tick took {} ms)",
          micros / 1000, *unlogged, NodeService::kStallLogThreshold.count(),
          longest_recent_tick_us / 1000);
      longest_recent_tick_us = 0;
    }
  }

  void NoteSync(std::chrono::steady_clock::duration took) {
    const std::uint64_t micros = Micros(took);
    ++loop.syncs;
    loop.sync_microseconds += micros;
    loop.longest_sync_microseconds = std::max(loop.longest_sync_microseconds, micros);
    if (took < NodeService::kStallThreshold) return;
    ++loop.slow_syncs;
    if (took < NodeService::kStallLogThreshold) return;
    if (const std::optional<std::uint64_t> unlogged = sync_log.Take()) {
      spdlog::warn(
          "slow group commit: a sync took {} ms (replies to the writes in it waited as long; {} "
          "more syncs of {}+ ms since the last line)",
          micros / 1000, *unlogged, NodeService::kStallLogThreshold.count());
    }
  }

  void NoteTickDuration(std::chrono::steady_clock::duration took) {
    const std::uint64_t micros = Micros(took);
    loop.tick_microseconds += micros;
    longest_recent_tick_us = std::max(longest_recent_tick_us, micros);
    if (took >= NodeService::kStallThreshold) ++loop.slow_ticks;
  }

  // Before each input to the node: the writes made so far are earlier inputs'. Taking them
  // into next_ticket now separates them from the input's own writes, which the input's early
  // messages (Node::TakeEarlyOutbound) need not wait for.
  void BeginInput() {
    early_allowed = false;
    if (!commit.begin || shut_down) return;
    Result<storage::CommitTicket> taken = commit.begin();
    if (!taken.ok()) return;  // the commit step will fail what waits; early ones wait too
    next_ticket.Merge(*taken);
    early_allowed = true;
  }

  // The early messages of the input just handled: they go out once every write made before
  // the input is durable — now, with the sync in flight, or with the rest when earlier writes
  // still wait for a sync.
  void ReleaseEarly(std::vector<cluster::Outbound> early) {
    Outputs outputs;
    outputs.messages = std::move(early);
    if (!commit.begin) {
      held.Append(std::move(outputs));  // no commits: batched like everything else
      return;
    }
    if (!early_allowed || !next_ticket.empty()) {
      held.Append(std::move(outputs));
      return;
    }
    loop.early_messages += outputs.messages.size();
    if (syncing) {
      syncing_outputs.Append(std::move(outputs));
      return;
    }
    boost::asio::post(io, [weak = weak_from_this(), outputs = std::move(outputs)]() mutable {
      std::shared_ptr<Impl> self = weak.lock();
      if (self && !self->shut_down) self->Deliver(std::move(outputs));
    });
  }

  // Collects the node's outputs and schedules a commit step for all of them: every handler
  // already queued on the loop (other connections' requests that arrived together) runs
  // first, so one commit covers a whole batch of requests.
  void Drain() {
    if (std::vector<cluster::Outbound> early = node.TakeEarlyOutbound(); !early.empty()) {
      ReleaseEarly(std::move(early));
    }
    early_allowed = false;
    for (cluster::Outbound& message : node.TakeOutbound())
      held.messages.push_back(std::move(message));
    for (node::ClientReply& reply : node.TakeReplies()) held.replies.push_back(std::move(reply));
    for (const node::SlowRequests::Line& line : node.TakeSlowRequests()) {
      if (const std::optional<std::uint64_t> unlogged = slow_request_log.Take()) {
        spdlog::warn("slow request: {} ({} more slow requests since the last line)",
                     line.description, *unlogged);
      }
    }
    ScheduleCommitStep();
  }

  void ScheduleCommitStep() {
    if (commit_step_posted || shut_down) return;
    commit_step_posted = true;
    boost::asio::post(io, [weak = weak_from_this()] {
      if (std::shared_ptr<Impl> self = weak.lock()) self->CommitStep();
    });
  }

  // Ends the current batch: the outputs held so far, and the writes made before them.
  void CommitStep() {
    commit_step_posted = false;
    if (shut_down) return;
    if (!commit.begin) {  // nothing to commit with: batched only
      Deliver(std::exchange(held, Outputs{}));
      return;
    }
    Result<storage::CommitTicket> taken = commit.begin();
    if (!taken.ok()) {
      // Nothing held now can be known durable: it is all answered as failed.
      Fail(std::exchange(held, Outputs{}), taken.status());
      return;
    }
    next_ticket.Merge(*taken);
    if (syncing) {
      // No write since the sync in flight started: it covers these outputs too.
      if (next_ticket.empty()) syncing_outputs.Append(std::exchange(held, Outputs{}));
      return;  // otherwise they wait for the next sync, scheduled when this one is done
    }
    if (next_ticket.empty()) {
      Deliver(std::exchange(held, Outputs{}));  // no write pending at all: nothing to wait for
      return;
    }
    if (!next_ticket.sync) {
      // Only a WAL write (no write asked for sync, none in flight): done here, a write(2) into
      // the page cache, rather than a round trip through the commit thread, whose two wake-ups
      // cost more than the write on a busy machine.
      WriteInline(std::exchange(next_ticket, storage::CommitTicket{}));
      return;
    }
    StartSync(std::exchange(next_ticket, storage::CommitTicket{}));
  }

  // The held outputs after a WAL write of `ticket` (no sync) on the loop itself.
  void WriteInline(const storage::CommitTicket& ticket) {
    MERIDIAN_CHECK(!syncing && !ticket.sync);
    const auto started = std::chrono::steady_clock::now();
    const Status written = commit.finish(ticket);
    ++loop.inline_writes;
    loop.inline_write_microseconds += Micros(std::chrono::steady_clock::now() - started);
    Outputs done = std::exchange(held, Outputs{});
    if (!written.ok()) {
      Fail(std::move(done), written);
      return;
    }
    Deliver(std::move(done));
  }

  // The held outputs wait for a sync of `ticket` (every write before them) on the commit
  // thread; SyncDone delivers them.
  void StartSync(const storage::CommitTicket& ticket) {
    MERIDIAN_CHECK(!syncing);
    syncing = true;
    sync_started = std::chrono::steady_clock::now();
    syncing_outputs = std::exchange(held, Outputs{});
    sync_work.emplace(io.get_executor());  // the loop does not run out of work meanwhile
    worker->Run([finish = commit.finish, ticket, &io = io, weak = weak_from_this()] {
      // Only the hook and the post here: the service's state belongs to the loop.
      Status synced = finish(ticket);
      boost::asio::post(io, [weak, synced = std::move(synced)] {
        if (std::shared_ptr<Impl> self = weak.lock()) self->SyncDone(synced);
      });
    });
  }

  void SyncDone(const Status& synced) {
    if (shut_down) return;
    MERIDIAN_CHECK(syncing);
    syncing = false;
    NoteSync(std::chrono::steady_clock::now() - sync_started);
    sync_work.reset();
    Outputs done = std::exchange(syncing_outputs, Outputs{});
    // Whatever was produced or written meanwhile gets its own commit step (and sync). It is
    // scheduled before the delivery so that outputs of completions that Submit again join it.
    if (!held.empty() || !next_ticket.empty()) ScheduleCommitStep();
    if (!synced.ok()) {
      Fail(std::move(done), synced);
      return;
    }
    Deliver(std::move(done));
  }

  // The commit that `outputs` waited for failed: their writes may not survive a crash, so
  // nothing may reveal them. Messages to peers are dropped (every protocol survives a lost
  // message); each reply becomes an error that says so. The failure sink hears of it first,
  // so that the node refuses new writes before any completion can submit one.
  void Fail(Outputs outputs, const Status& failed) {
    ++commit_failures;
    if (const std::optional<std::uint64_t> unlogged = failure_log.Take()) {
      spdlog::error(
          "group commit failed: {} ({} replies answered as failed, {} peer messages dropped; "
          "{} more failures since the last line)",
          failed.ToString(), outputs.replies.size(), outputs.messages.size(), *unlogged);
    }
    if (failure_sink) failure_sink(failed);
    const StatusCode code = failed.code() == StatusCode::kInsufficientStorage
                                ? StatusCode::kInsufficientStorage
                                : StatusCode::kIoError;
    for (node::ClientReply& reply : outputs.replies) {
      reply.status = Status(code,
                            "this node's storage could not make the request's writes "
                            "durable (" +
                                failed.message() + "); a write may or may not have been applied");
    }
    outputs.messages.clear();
    Deliver(std::move(outputs));
  }

  // Messages to peers first, then replies to clients.
  void Deliver(Outputs outputs) {
    if (outbound_sink) {
      for (cluster::Outbound& message : outputs.messages) outbound_sink(std::move(message));
    }
    for (node::ClientReply& reply : outputs.replies) {
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
      if (shut_down) return;  // a completion shut the service down
    }
  }

  void Shutdown() {
    stopped = true;
    timer.cancel();
    if (shut_down) return;
    shut_down = true;
    if (worker) worker->Join();  // waits for the sync in flight
    sync_work.reset();
    held = Outputs{};
    syncing_outputs = Outputs{};
    pending.clear();
  }

  boost::asio::io_context& io;
  node::Node& node;
  CommitHooks commit;
  OutboundSink outbound_sink;
  StorageFailureSink failure_sink;
  std::uint64_t commit_failures = 0;
  LogLimiter failure_log;
  LogLimiter slow_request_log{10};
  std::chrono::milliseconds tick_interval;
  boost::asio::steady_timer timer;
  std::unordered_map<node::RequestId, Completion> pending;
  node::RequestId next_request_id = 1;
  std::uint64_t ticks = 0;
  NodeService::LoopStats loop;
  LogLimiter stall_log;
  std::uint64_t longest_recent_tick_us = 0;  // since the last stall line
  std::chrono::steady_clock::time_point sync_started{};
  LogLimiter sync_log;
  bool stopped = false;
  bool shut_down = false;
  // Whether BeginInput separated the writes before the current input (see ReleaseEarly).
  bool early_allowed = false;
  // Outputs no commit step took yet.
  Outputs held;
  bool commit_step_posted = false;
  // The sync in flight (at most one), and the outputs that wait for it.
  bool syncing = false;
  Outputs syncing_outputs;
  std::optional<WorkGuard> sync_work;
  // Writes taken from the engine while a sync was in flight: the next sync's.
  storage::CommitTicket next_ticket;
  std::unique_ptr<CommitWorker> worker;  // with commit hooks only
  NodeService::InputHook input_hook;     // after every input, if set
};

NodeService::NodeService(boost::asio::io_context& io, node::Node& node, CommitHooks commit)
    : impl_(std::make_shared<Impl>(io, node, std::move(commit))) {
  MERIDIAN_CHECK(node.config().tick_interval_ms > 0);
  impl_->ScheduleTick();
}

NodeService::~NodeService() {
  Shutdown();
}

void NodeService::Submit(node::ClientRequest request, Completion done) {
  if (impl_->shut_down) return;  // dropped uncalled, as at destruction
  const node::RequestId id = impl_->next_request_id++;
  auto [it, inserted] = impl_->pending.emplace(id, std::move(done));
  MERIDIAN_CHECK(inserted);
  impl_->BeginInput();
  impl_->node.Submit(id, std::move(request));
  impl_->Drain();
  if (impl_->input_hook) impl_->input_hook(/*tick=*/false);
}

void NodeService::SetOutboundSink(OutboundSink sink) {
  impl_->outbound_sink = std::move(sink);
}

void NodeService::SetStorageFailureSink(StorageFailureSink sink) {
  impl_->failure_sink = std::move(sink);
}

std::uint64_t NodeService::commit_failures() const {
  return impl_->commit_failures;
}

void NodeService::Receive(const std::string& from_address, const proto::PeerMessage& message) {
  if (impl_->stopped) return;
  impl_->BeginInput();
  impl_->node.Receive(from_address, message);
  impl_->Drain();
  if (impl_->input_hook) impl_->input_hook(/*tick=*/false);
}

void NodeService::Drive(const std::function<void(node::Node&)>& input) {
  if (impl_->stopped || impl_->shut_down) return;
  impl_->BeginInput();
  input(impl_->node);
  impl_->Drain();
  if (impl_->input_hook) impl_->input_hook(/*tick=*/false);
}

void NodeService::SetInputHook(InputHook hook) {
  impl_->input_hook = std::move(hook);
}

void NodeService::Stop() {
  impl_->stopped = true;
  impl_->timer.cancel();
}

void NodeService::Shutdown() {
  impl_->Shutdown();
}

std::size_t NodeService::pending_count() const {
  return impl_->pending.size();
}
std::uint64_t NodeService::tick_count() const {
  return impl_->ticks;
}

NodeService::LoopStats NodeService::loop_stats() const {
  return impl_->loop;
}

}  // namespace meridian::runtime
