#include "sim/strong_protocol_sim.h"

#include <fmt/format.h>

#include <optional>
#include <queue>
#include <utility>

#include "core/assert.h"
#include "core/seeded_random.h"
#include "replication/strong_proposer.h"
#include "replication/strong_register.h"

namespace meridian::sim {

namespace {

using replication::AcceptorReply;
using replication::AcceptorState;
using replication::ChosenProposal;
using replication::JointQuorum;
using replication::Precondition;
using replication::RegisterValue;
using replication::StrongOp;
using replication::StrongProposer;
using replication::StrongProposerConfig;
using replication::StrongRequest;

constexpr std::uint64_t kOpDeadlineMs = 2'000;

struct Message {
  std::uint64_t at = 0;
  std::uint64_t seq = 0;
  bool to_acceptor = true;
  std::uint32_t proposer = 0;
  std::uint64_t incarnation = 0;  // the proposer's
  std::uint64_t op_serial = 0;
  std::uint32_t acceptor = 0;
  std::string key;
  StrongRequest request;
  AcceptorReply reply;
};

struct Later {
  bool operator()(const Message& a, const Message& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};

struct Acceptor {
  std::map<std::string, AcceptorState> state;
  std::map<std::string, AcceptorState> synced;  // what survives a crash
  bool up = true;
  std::uint64_t restart_at = 0;
};

struct Proposer {
  bool up = true;
  std::uint64_t restart_at = 0;
  std::uint64_t incarnation = 1;
  std::uint64_t rate_permille = 1000;  // its timers' speed relative to real time
  std::uint64_t offset_ms = 0;
  std::uint64_t round_floor = 0;
  std::map<std::string, ChosenProposal> fast;
  std::map<std::string, RegisterValue> last_seen;
  std::optional<StrongProposer> active;
  StrongOp::Kind active_kind = StrongOp::Kind::kRead;
  std::string active_key;
  std::size_t history_index = 0;
  std::uint64_t op_serial = 0;
  std::uint32_t ops_done = 0;
  std::uint64_t next_op_at = 0;

  std::uint64_t LocalMs(std::uint64_t now) const { return now * rate_permille / 1000 + offset_ms; }
};

class StrongProtocolSim {
 public:
  explicit StrongProtocolSim(const StrongProtocolSimOptions& options)
      : options_(options), random_(options.seed) {
    MERIDIAN_CHECK(options_.acceptors >= 1);
    MERIDIAN_CHECK(options_.proposers >= 1);
    MERIDIAN_CHECK(options_.keys >= 1);
    acceptors_.resize(options_.acceptors);
    proposers_.resize(options_.proposers);
    for (auto& proposer : proposers_) {
      proposer.rate_permille = options_.faults ? 900 + random_.Uniform(201) : 1000;
      proposer.offset_ms = random_.Uniform(1'000'000);
    }
  }

  StrongProtocolSimResult Run() {
    const std::uint64_t end = options_.fault_ms + options_.liveness_ms;
    std::uint64_t now = 0;
    for (; now <= end; ++now) {
      if (AllDone()) break;
      if (options_.faults && now < options_.fault_ms) InjectFaults(now);
      Restarts(now);
      Deliver(now);
      for (std::uint32_t p = 0; p < proposers_.size(); ++p) Step(p, now);
    }
    result_.end_ms = now;
    if (!AllDone()) {
      result_.liveness_failure = fmt::format(
          "operations still pending {} ms after the faults stopped", options_.liveness_ms);
    }
    result_.check = CheckLinearizable(result_.history);
    return std::move(result_);
  }

 private:
  bool AllDone() const {
    for (const auto& proposer : proposers_) {
      if (proposer.ops_done < options_.ops_per_proposer) return false;
    }
    return true;
  }

  std::uint64_t Chance(std::uint64_t permille) { return random_.Uniform(1000) < permille; }

  void Log(std::uint64_t now, std::string text) {
    result_.fault_log.push_back(fmt::format("t={} {}", now, std::move(text)));
  }

  void InjectFaults(std::uint64_t now) {
    // Per millisecond: rare enough that quorums form between faults, frequent enough that
    // most operations meet one.
    if (Chance(4)) {
      const auto a = static_cast<std::uint32_t>(random_.Uniform(acceptors_.size()));
      Acceptor& acceptor = acceptors_[a];
      if (acceptor.up) {
        acceptor.up = false;
        acceptor.restart_at = now + 20 + random_.Uniform(400);
        ++result_.counts["acceptor_crashes"];
        Log(now, fmt::format("crash acceptor {} until {}", a, acceptor.restart_at));
      }
    }
    if (Chance(2)) {
      const auto p = static_cast<std::uint32_t>(random_.Uniform(proposers_.size()));
      Proposer& proposer = proposers_[p];
      if (proposer.up) {
        CrashProposer(p, now);
        proposer.restart_at = now + 10 + random_.Uniform(200);
        Log(now, fmt::format("crash proposer {} until {}", p, proposer.restart_at));
      }
    }
    if (Chance(4)) {
      const auto p = static_cast<std::uint32_t>(random_.Uniform(proposers_.size()));
      const auto a = static_cast<std::uint32_t>(random_.Uniform(acceptors_.size()));
      const std::uint64_t until = now + 20 + random_.Uniform(600);
      cut_[{p, a}] = until;
      ++result_.counts["link_cuts"];
      Log(now, fmt::format("cut proposer {} - acceptor {} until {}", p, a, until));
    }
  }

  bool LinkUp(std::uint32_t p, std::uint32_t a, std::uint64_t now) const {
    const auto it = cut_.find({p, a});
    return it == cut_.end() || it->second <= now;
  }

  void Restarts(std::uint64_t now) {
    for (std::uint32_t a = 0; a < acceptors_.size(); ++a) {
      Acceptor& acceptor = acceptors_[a];
      if (!acceptor.up && (acceptor.restart_at <= now || now >= options_.fault_ms)) {
        acceptor.up = true;
        if (options_.acceptor_forgets_on_restart) acceptor.state = acceptor.synced;
        Log(now, fmt::format("restart acceptor {}", a));
      }
    }
    for (std::uint32_t p = 0; p < proposers_.size(); ++p) {
      Proposer& proposer = proposers_[p];
      if (!proposer.up && (proposer.restart_at <= now || now >= options_.fault_ms)) {
        proposer.up = true;
        ++proposer.incarnation;
        proposer.next_op_at = now;
        Log(now, fmt::format("restart proposer {} (incarnation {})", p, proposer.incarnation));
      }
    }
  }

  void CrashProposer(std::uint32_t p, std::uint64_t now) {
    Proposer& proposer = proposers_[p];
    proposer.up = false;
    ++result_.counts["proposer_crashes"];
    if (proposer.active) {
      // Its client never hears back: a write may or may not have happened.
      Operation& op = result_.history[proposer.history_index];
      op.outcome =
          proposer.active_kind == StrongOp::Kind::kRead ? OpOutcome::kFailed : OpOutcome::kUnknown;
      op.return_time = ++clock_;
      ++result_.counts[op.outcome == OpOutcome::kFailed ? "ops_failed" : "ops_unknown"];
      proposer.active.reset();
      ++proposer.ops_done;
    }
    proposer.fast.clear();
    proposer.last_seen.clear();
    proposer.round_floor = 0;
    (void)now;
  }

  void Send(Message message, std::uint64_t now) {
    ++result_.counts["messages"];
    const bool faulty = options_.faults && now < options_.fault_ms;
    if (faulty && Chance(50)) return;  // lost
    const int copies = faulty && Chance(30) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      Message copy = message;
      std::uint64_t delay = 1 + random_.Uniform(4);
      if (faulty && Chance(50)) delay += random_.Uniform(150);  // reordered behind others
      copy.at = now + delay;
      copy.seq = ++message_seq_;
      queue_.push(std::move(copy));
    }
  }

  void Deliver(std::uint64_t now) {
    while (!queue_.empty() && queue_.top().at <= now) {
      Message message = queue_.top();
      queue_.pop();
      if (!LinkUp(message.proposer, message.acceptor, now)) continue;
      if (message.to_acceptor) {
        Acceptor& acceptor = acceptors_[message.acceptor];
        if (!acceptor.up) continue;
        AcceptorState& state = acceptor.state[message.key];
        AcceptorReply reply;
        switch (message.request.kind) {
          case StrongRequest::Kind::kPrepare:
            replication::HandlePrepare(state, message.request.ballot, reply);
            break;
          case StrongRequest::Kind::kPropose:
            replication::HandlePropose(state, message.request.ballot, message.request.value, reply);
            break;
          case StrongRequest::Kind::kQuery:
            reply = replication::HandleQuery(state);
            break;
        }
        // Synced before answering, unless the test switch says otherwise: then only a
        // periodic flush makes it durable.
        if (!options_.acceptor_forgets_on_restart || now % 200 == 0) {
          acceptor.synced[message.key] = state;
        }
        Message answer = message;
        answer.to_acceptor = false;
        answer.reply = reply;
        answer.request.value = {};
        Send(std::move(answer), now);
      } else {
        Proposer& proposer = proposers_[message.proposer];
        if (!proposer.up || proposer.incarnation != message.incarnation || !proposer.active ||
            proposer.op_serial != message.op_serial) {
          continue;
        }
        proposer.active->OnReply(message.acceptor, message.request.kind, message.request.ballot,
                                 message.reply);
      }
    }
    if (options_.acceptor_forgets_on_restart && now % 200 == 0) {
      for (auto& acceptor : acceptors_) acceptor.synced = acceptor.state;
    }
  }

  void Step(std::uint32_t p, std::uint64_t now) {
    Proposer& proposer = proposers_[p];
    if (!proposer.up) return;
    if (proposer.active) {
      proposer.active->OnTime(proposer.LocalMs(now));
      if (proposer.active->state() != StrongProposer::State::kPending) Finish(p);
    }
    if (!proposer.active && proposer.ops_done < options_.ops_per_proposer &&
        now >= proposer.next_op_at) {
      StartOp(p, now);
    }
    if (proposer.active) {
      for (StrongRequest& request : proposer.active->TakeRequests()) {
        Message message;
        message.to_acceptor = true;
        message.proposer = p;
        message.incarnation = proposer.incarnation;
        message.op_serial = proposer.op_serial;
        message.acceptor = static_cast<std::uint32_t>(request.acceptor);
        message.key = proposer.active_key;
        message.request = std::move(request);
        Send(std::move(message), now);
      }
    }
  }

  void StartOp(std::uint32_t p, std::uint64_t now) {
    Proposer& proposer = proposers_[p];
    const std::string key = fmt::format("k{}", random_.Uniform(options_.keys));
    Operation op;
    op.id = result_.history.size() + 1;
    op.client = p;
    op.key = key;
    StrongOp strong;
    const std::uint64_t pick = random_.Uniform(100);
    const auto seen = proposer.last_seen.find(key);
    const std::string fresh = fmt::format("p{}i{}n{}", p, proposer.incarnation, op.id);
    if (pick < 30) {
      strong.kind = StrongOp::Kind::kRead;
      op.kind = OpKind::kRead;
    } else if (pick < 55) {
      strong.kind = StrongOp::Kind::kPut;
      strong.bytes = fresh;
      op.kind = OpKind::kWrite;
      op.value = fresh;
    } else if (pick < 65) {
      strong.kind = StrongOp::Kind::kDelete;
      op.kind = OpKind::kDelete;
    } else {
      strong.kind = StrongOp::Kind::kPut;
      strong.bytes = fresh;
      op.kind = OpKind::kCas;
      op.value = fresh;
      if (pick < 88 && seen != proposer.last_seen.end() && seen->second.present) {
        strong.precondition = Precondition::kVersion;  // If-Match: the version it last saw
        strong.expected = seen->second.version;
        op.expected = seen->second.bytes;
      } else {
        strong.precondition = Precondition::kAbsent;  // If-None-Match: *
      }
    }
    std::optional<ChosenProposal> fast;
    if (strong.kind != StrongOp::Kind::kRead) {
      // One proposal per fast-path ballot: the cached proposal is used up here.
      const auto it = proposer.fast.find(key);
      if (it != proposer.fast.end()) {
        fast = std::move(it->second);
        proposer.fast.erase(it);
      }
    }
    StrongProposerConfig config;
    config.proposer = 0x100 + p;
    config.incarnation = proposer.incarnation;
    config.phase_timeout_ms = 60;
    config.backoff_ms_min = 1;
    config.backoff_ms_max = 25;
    config.unsafe_skip_prepare = options_.unsafe_skip_prepare;
    // Half the operations send each phase to a majority first (thrifty), widening after 5-30 ms.
    const std::uint64_t coin = random_.Uniform(2);
    config.thrifty = options_.thrifty == StrongProtocolSimOptions::Thrifty::kAlways ||
                     (options_.thrifty == StrongProtocolSimOptions::Thrifty::kMixed && coin == 0);
    config.widen_after_ms = 5 + random_.Uniform(26);
    op.call_time = ++clock_;
    proposer.history_index = result_.history.size();
    result_.history.push_back(std::move(op));
    proposer.active_kind = strong.kind;
    proposer.active_key = key;
    ++proposer.op_serial;
    const std::uint64_t local = proposer.LocalMs(now);
    proposer.active.emplace(config, JointQuorum::Majority(acceptors_.size()), std::move(strong),
                            std::move(fast), proposer.round_floor, random_.NextU64(), local,
                            local + kOpDeadlineMs);
  }

  void Finish(std::uint32_t p) {
    Proposer& proposer = proposers_[p];
    StrongProposer& active = *proposer.active;
    proposer.round_floor = std::max(proposer.round_floor, active.highest_round());
    Operation& op = result_.history[proposer.history_index];
    op.return_time = ++clock_;
    const auto& result = active.result();
    if (active.state() == StrongProposer::State::kSucceeded) {
      op.outcome = OpOutcome::kOk;
      ++result_.counts["ops_ok"];
      if (op.kind == OpKind::kRead) {
        if (result.value.present) op.observed = result.value.bytes;
        ++result_.counts[active.round_trips() == 1 ? "reads_1rt" : "reads_more"];
      } else {
        ++result_.counts[active.round_trips() == 1   ? "writes_1rt"
                         : active.round_trips() == 2 ? "writes_2rt"
                                                     : "writes_more"];
      }
      if (op.kind == OpKind::kCas) {
        op.succeeded = !result.precondition_failed;
        if (result.precondition_failed) ++result_.counts["precondition_failed"];
      }
      proposer.last_seen[op.key] = result.value;
      if (active.chosen()) proposer.fast[op.key] = *active.chosen();
    } else {
      const bool read = op.kind == OpKind::kRead;
      op.outcome = read || !result.maybe_applied ? OpOutcome::kFailed : OpOutcome::kUnknown;
      ++result_.counts[op.outcome == OpOutcome::kFailed ? "ops_failed" : "ops_unknown"];
      proposer.last_seen.erase(op.key);
    }
    proposer.active.reset();
    ++proposer.ops_done;
    proposer.next_op_at = 0;
  }

  StrongProtocolSimOptions options_;
  SplitMix64Random random_;
  std::vector<Acceptor> acceptors_;
  std::vector<Proposer> proposers_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> cut_;  // link -> until
  std::priority_queue<Message, std::vector<Message>, Later> queue_;
  std::uint64_t message_seq_ = 0;
  std::uint64_t clock_ = 0;  // the history's logical time
  StrongProtocolSimResult result_;
};

ScenarioOutcome OutcomeOfRun(const ScenarioOptions& scenario, StrongProtocolSimOptions options) {
  options.seed = scenario.seed;
  StrongProtocolSimResult run = RunStrongProtocolSim(options);
  ScenarioOutcome outcome;
  outcome.end_time_ms = run.end_ms;
  outcome.fault_log = std::move(run.fault_log);
  outcome.metrics = run.counts;
  outcome.metrics["history_ops"] = run.history.size();
  outcome.trace_record_count = run.history.size();
  for (const Operation& op : run.history) {
    outcome.trace_hash = outcome.trace_hash * 1'000'003 + op.return_time.value_or(0) * 31 +
                         static_cast<std::uint64_t>(op.outcome) + op.observed.value_or("").size();
  }
  std::string failure;
  if (run.check.verdict != Verdict::kLinearizable) {
    failure = run.check.explanation;
  } else if (!run.liveness_failure.empty()) {
    failure = run.liveness_failure;
  }
  if (!failure.empty()) {
    outcome.failure = SimulationFailure{scenario.seed, run.end_ms, std::move(failure)};
  }
  return outcome;
}

}  // namespace

StrongProtocolSimResult RunStrongProtocolSim(const StrongProtocolSimOptions& options) {
  return StrongProtocolSim(options).Run();
}

void RegisterStrongProtocolScenarios(ScenarioRegistry& registry) {
  registry.Add("strong-protocol",
               "strong buckets' per-key consensus alone: 3 proposers, 3 acceptors, 2 keys, "
               "loss/duplication/reordering, crashes, cut links; linearizability checked",
               [](const ScenarioOptions& scenario) {
                 return OutcomeOfRun(scenario, StrongProtocolSimOptions{});
               });
  registry.Add("strong-protocol-5", "strong-protocol with 5 acceptors and 4 proposers",
               [](const ScenarioOptions& scenario) {
                 StrongProtocolSimOptions options;
                 options.acceptors = 5;
                 options.proposers = 4;
                 return OutcomeOfRun(scenario, options);
               });
  registry.Add("strong-protocol-hot",
               "strong-protocol with 6 proposers on one key (the most contention)",
               [](const ScenarioOptions& scenario) {
                 StrongProtocolSimOptions options;
                 options.proposers = 6;
                 options.keys = 1;
                 options.ops_per_proposer = 40;
                 return OutcomeOfRun(scenario, options);
               });
  registry.Add("strong-protocol-unsafe-skip-prepare",
               "strong-protocol with writes skipping phase 1 (a deliberately broken protocol; "
               "the checker is expected to report violations)",
               [](const ScenarioOptions& scenario) {
                 StrongProtocolSimOptions options;
                 options.unsafe_skip_prepare = true;
                 return OutcomeOfRun(scenario, options);
               });
}

}  // namespace meridian::sim
