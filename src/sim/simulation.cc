#include "sim/simulation.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <utility>

#include "core/assert.h"

namespace meridian::sim {
namespace {

// Protobuf's default encoding may order map entries differently from run to run; the
// deterministic mode does not, which keeps the trace hash stable for messages with maps.
bool SerializeDeterministically(const proto::PeerMessage& message, std::string& bytes) {
  bytes.clear();
  google::protobuf::io::StringOutputStream string_stream(&bytes);
  google::protobuf::io::CodedOutputStream coded_stream(&string_stream);
  coded_stream.SetSerializationDeterministic(true);
  return message.SerializeToCodedStream(&coded_stream) && !coded_stream.HadError();
}

std::string JoinAddresses(const std::vector<std::string>& addresses) {
  return fmt::format("{}", fmt::join(addresses, ","));
}

}  // namespace

std::string SimulationFailure::ToString() const {
  return fmt::format("seed={} at t={}ms: {}", seed, time_ms, message);
}

Simulation::Simulation(SimulationConfig config, ProcessFactory factory)
    : config_(std::move(config)),
      factory_(std::move(factory)),
      root_random_(config_.seed),
      scheduler_random_(root_random_.Derive("scheduler")),
      mid_input_random_(root_random_.Derive("mid-input crashes")),
      network_(config_.network, root_random_.Derive("network")) {
  MERIDIAN_CHECK(config_.tick_interval_ms > 0);
  MERIDIAN_CHECK(factory_ != nullptr);
}

// Processes go first (member order in Machine), while the engines and clocks they use live.
Simulation::~Simulation() = default;

Status Simulation::AddProcess(const std::string& address) {
  if (machines_.contains(address)) {
    return Status::InvalidArgument(fmt::format("address {} is taken", address));
  }
  Machine& machine = machines_[address];
  // Group commit, as the server's RocksDbEngine runs (see CommitWrites).
  machine.engine =
      std::make_unique<storage::MemoryEngine>(storage::MemoryEngineOptions{.group_commit = true});
  machine.clock = std::make_unique<SimClock>(time_);
  return StartIncarnation(address, machine);
}

Status Simulation::StartIncarnation(const std::string& address, Machine& machine) {
  MERIDIAN_CHECK(machine.process == nullptr);
  // Opening RocksDB makes whatever it finds durable (its recovery writes a synced table).
  machine.engine->MakeAllDurable();
  machine.random = std::make_unique<SeededRandom>(
      root_random_.Derive(fmt::format("process/{}/{}", address, machine.incarnation)));
  ProcessContext context{
      address, machine.incarnation,
      node::Env{machine.clock.get(), machine.random.get(), machine.engine.get()}};
  machine.process = factory_(context);
  MERIDIAN_CHECK(machine.process != nullptr);
  const Status started = machine.process->Start();
  if (!started.ok()) {
    // A process that failed to open is as good as crashed: nothing it did unsynced survives.
    machine.process.reset();
    machine.engine->DropUnsyncedWrites();
    Record(TraceKind::kStartFailed, address, "", started.ToString());
    return started;
  }
  CommitWrites(machine);
  Record(TraceKind::kStart, address, "", "");
  // A random phase per incarnation, so machines do not tick in lockstep.
  const std::uint64_t phase_ms = 1 + scheduler_random_.Uniform(config_.tick_interval_ms);
  ScheduleTick(address, machine.incarnation, now_ms() + phase_ms);
  DrainOutbound(address, *machine.process);
  ScheduleWake(address, machine);
  return Status::Ok();
}

void Simulation::ScheduleTick(const std::string& address, std::uint64_t incarnation,
                              std::uint64_t time_ms) {
  Event event;
  event.time_ms = time_ms;
  event.kind = EventKind::kTick;
  event.address = address;
  event.incarnation = incarnation;
  queue_.Push(std::move(event));
}

Status Simulation::RunFor(std::uint64_t duration_ms) {
  const std::uint64_t deadline_ms = now_ms() + duration_ms;
  const Status status = RunUntil([] { return false; }, deadline_ms);
  if (status.code() == StatusCode::kTimeout) return Status::Ok();
  return status;
}

Status Simulation::RunUntil(const std::function<bool()>& predicate, std::uint64_t deadline_ms) {
  MERIDIAN_CHECK(!running_);
  if (failure_.has_value()) return FailureStatus();
  if (predicate()) return Status::Ok();
  running_ = true;
  while (!queue_.empty() && queue_.next_time_ms() <= deadline_ms) {
    Event event = queue_.Pop();
    time_.AdvanceTo(event.time_ms);
    RunEvent(std::move(event));
    CheckInvariants();
    if (failure_.has_value()) {
      running_ = false;
      return FailureStatus();
    }
    if (predicate()) {
      running_ = false;
      return Status::Ok();
    }
  }
  running_ = false;
  if (deadline_ms > now_ms()) time_.AdvanceTo(deadline_ms);
  return Status::Timeout(fmt::format("condition not met by t={}ms", deadline_ms));
}

void Simulation::RunEvent(Event event) {
  switch (event.kind) {
    case EventKind::kTick:
      RunTick(event);
      return;
    case EventKind::kDeliver:
      RunDelivery(event);
      return;
    case EventKind::kCallback:
      Record(TraceKind::kCallback, "", "", event.label);
      event.callback();
      return;
    case EventKind::kWake:
      RunWake(event);
      return;
  }
}

void Simulation::RunWake(const Event& event) {
  Machine& machine = MachineAt(event.address);
  if (machine.process == nullptr || machine.incarnation != event.incarnation) return;
  if (machine.wake_at_ms == event.time_ms) machine.wake_at_ms = 0;
  Record(TraceKind::kWake, event.address, "", "");
  machine.process->Wake();
  FinishInput(event.address, machine);
}

void Simulation::ScheduleWake(const std::string& address, Machine& machine) {
  const std::optional<std::uint64_t> after = machine.process->WakeAfterMs();
  if (!after.has_value()) return;
  const std::uint64_t time_ms = now_ms() + *after;
  if (machine.wake_at_ms != 0 && machine.wake_at_ms <= time_ms) return;  // one comes first
  machine.wake_at_ms = time_ms;
  Event event;
  event.time_ms = time_ms;
  event.kind = EventKind::kWake;
  event.address = address;
  event.incarnation = machine.incarnation;
  queue_.Push(std::move(event));
}

void Simulation::RunTick(const Event& event) {
  Machine& machine = MachineAt(event.address);
  // A tick scheduled by an incarnation that has since crashed or stopped dies with it.
  if (machine.process == nullptr || machine.incarnation != event.incarnation) return;
  Record(TraceKind::kTick, event.address, "", "");
  machine.process->Tick();
  if (!FinishInput(event.address, machine)) return;
  ScheduleTick(event.address, event.incarnation, now_ms() + config_.tick_interval_ms);
}

void Simulation::RunDelivery(const Event& event) {
  Machine& machine = MachineAt(event.address);
  if (machine.process == nullptr) {
    Record(TraceKind::kDropDown, event.from_address, event.address, "");
    return;
  }
  if (network_.IsCut(event.from_address, event.address)) {
    Record(TraceKind::kDropPartition, event.from_address, event.address, "");
    return;
  }
  proto::PeerMessage message;
  if (!message.ParseFromString(event.bytes)) {
    Fail(fmt::format("message from {} to {} does not parse ({} bytes)", event.from_address,
                     event.address, event.bytes.size()));
    return;
  }
  Record(TraceKind::kDeliver, event.from_address, event.address, event.bytes);
  machine.process->Receive(event.from_address, message);
  FinishInput(event.address, machine);
}

bool Simulation::FinishInput(const std::string& address, Machine& machine) {
  const std::vector<cluster::Outbound> early = machine.process->TakeEarlyOutbound();
  if (!early.empty()) {
    Send(address, early);
    if (mid_input_crash_ppm_ > 0 && now_ms() < mid_input_crash_until_ms_ &&
        mid_input_random_.Uniform(1'000'000) < mid_input_crash_ppm_) {
      ++mid_input_crashes_;
      Crash(address);  // the input's writes were never committed: lost
      Schedule(now_ms() + mid_input_restart_after_ms_, "restart after a mid-input crash",
               [this, address] { (void)Restart(address); });
      return false;
    }
  }
  CommitWrites(machine);
  DrainOutbound(address, *machine.process);
  ScheduleWake(address, machine);
  return true;
}

void Simulation::SetMidInputCrashes(std::uint32_t ppm, std::uint64_t until_ms,
                                    std::uint64_t restart_after_ms) {
  mid_input_crash_ppm_ = ppm;
  mid_input_crash_until_ms_ = until_ms;
  mid_input_restart_after_ms_ = restart_after_ms;
}

void Simulation::CommitWrites(Machine& machine) {
  // MemoryEngine's commit cannot fail (the server stops the process when RocksDB's does).
  const Status committed = machine.engine->CommitPending();
  MERIDIAN_CHECK(committed.ok());
}

void Simulation::DrainOutbound(const std::string& address, Process& process) {
  Send(address, process.TakeOutbound());
}

void Simulation::Send(const std::string& address, const std::vector<cluster::Outbound>& outbound) {
  for (const cluster::Outbound& item : outbound) {
    std::string bytes;
    if (!SerializeDeterministically(item.message, bytes)) {
      Fail(fmt::format("message from {} to {} does not serialize", address, item.to_address));
      return;
    }
    Record(TraceKind::kSend, address, item.to_address, bytes);
    if (!machines_.contains(item.to_address)) {
      Record(TraceKind::kDropUnknown, address, item.to_address, "");
      continue;
    }
    const Routing routing = network_.Route(address, item.to_address, now_ms());
    if (routing.dropped.has_value()) {
      Record(*routing.dropped, address, item.to_address, "");
      continue;
    }
    // The transport's FIFO order, for reaping markers only (everything else may reorder): a
    // marker arrives after every copy of everything sent before it on its link.
    std::uint64_t& link_last_ms = link_last_delivery_ms_[{address, item.to_address}];
    for (std::size_t copy = 0; copy < routing.delays_ms.size(); ++copy) {
      if (copy > 0) Record(TraceKind::kDuplicate, address, item.to_address, "");
      Event event;
      event.time_ms = now_ms() + routing.delays_ms[copy];
      if (item.message.has_reap_marker()) event.time_ms = std::max(event.time_ms, link_last_ms);
      link_last_ms = std::max(link_last_ms, event.time_ms);
      event.kind = EventKind::kDeliver;
      event.address = item.to_address;
      event.from_address = address;
      event.bytes = bytes;
      queue_.Push(std::move(event));
    }
  }
}

void Simulation::CheckInvariants() {
  if (invariants_.empty()) return;
  const bool due = config_.invariant_interval_ms == 0 || !invariants_checked_once_ ||
                   now_ms() - invariants_checked_at_ms_ >= config_.invariant_interval_ms;
  if (!due) return;
  invariants_checked_once_ = true;
  invariants_checked_at_ms_ = now_ms();
  for (const auto& [name, invariant] : invariants_) {
    const Status status = invariant();
    if (!status.ok()) {
      Fail(fmt::format("invariant {} failed: {}", name, status.message()));
      return;
    }
  }
}

void Simulation::Crash(const std::string& address) {
  Machine& machine = MachineAt(address);
  if (machine.process == nullptr) return;
  machine.process.reset();
  machine.engine->DropUnsyncedWrites();
  Record(TraceKind::kCrash, address, "", "");
}

Status Simulation::Stop(const std::string& address) {
  Machine& machine = MachineAt(address);
  if (machine.process == nullptr) return Status::Ok();
  const Status stopped = machine.process->Stop();
  CommitWrites(machine);
  // Farewell messages (e.g. a leave announcement) still go out.
  DrainOutbound(address, *machine.process);
  machine.process.reset();
  // A clean close: RocksDbEngine syncs its WAL buffer.
  machine.engine->MakeAllDurable();
  Record(TraceKind::kStop, address, "", stopped.ok() ? "" : stopped.ToString());
  return stopped;
}

void Simulation::WipeStorage(const std::string& address) {
  Machine& machine = MachineAt(address);
  MERIDIAN_CHECK(machine.process == nullptr);
  machine.engine =
      std::make_unique<storage::MemoryEngine>(storage::MemoryEngineOptions{.group_commit = true});
  Record(TraceKind::kCrash, address, "", "wipe");
}

Status Simulation::Restart(const std::string& address) {
  Machine& machine = MachineAt(address);
  if (machine.process != nullptr) return Status::Ok();
  ++machine.incarnation;
  machine.wake_at_ms = 0;  // a wake of the last incarnation dies with it
  Record(TraceKind::kRestart, address, "", "");
  return StartIncarnation(address, machine);
}

void Simulation::Partition(const std::vector<std::string>& side_a,
                           const std::vector<std::string>& side_b) {
  network_.Partition(side_a, side_b, now_ms());
  Record(TraceKind::kPartition, JoinAddresses(side_a), JoinAddresses(side_b), "");
}

void Simulation::PartitionOneWay(const std::vector<std::string>& from_side,
                                 const std::vector<std::string>& to_side) {
  network_.PartitionOneWay(from_side, to_side, now_ms());
  Record(TraceKind::kPartitionOneWay, JoinAddresses(from_side), JoinAddresses(to_side), "");
}

void Simulation::Isolate(const std::string& address) {
  std::vector<std::string> others;
  for (const auto& [other, machine] : machines_) {
    if (other != address) others.push_back(other);
  }
  Partition({address}, others);
}

void Simulation::Heal() {
  network_.Heal(now_ms());
  Record(TraceKind::kHeal, "", "", "");
}

void Simulation::SetLossPpm(std::uint32_t ppm) {
  MERIDIAN_CHECK(ppm <= kPartsPerMillion);
  network_.set_loss_ppm(ppm);
  Record(TraceKind::kLoss, "", "", std::to_string(ppm));
}

void Simulation::SetDuplicatePpm(std::uint32_t ppm) {
  MERIDIAN_CHECK(ppm <= kPartsPerMillion);
  network_.set_duplicate_ppm(ppm);
  Record(TraceKind::kLoss, "", "", fmt::format("duplicate {}", ppm));
}

void Simulation::SetClockSkew(const std::string& address, ClockSkew skew) {
  MachineAt(address).clock->set_skew(skew);
  Record(TraceKind::kClockSkew, address, "", fmt::format("{}/{}", skew.offset_ms, skew.drift_ppm));
}

void Simulation::Schedule(std::uint64_t time_ms, std::string label,
                          std::function<void()> callback) {
  MERIDIAN_CHECK(time_ms >= now_ms());
  Event event;
  event.time_ms = time_ms;
  event.kind = EventKind::kCallback;
  event.label = std::move(label);
  event.callback = std::move(callback);
  queue_.Push(std::move(event));
}

bool Simulation::Invoke(const std::string& address, std::string_view label,
                        const std::function<void(Process&)>& action) {
  Machine& machine = MachineAt(address);
  if (machine.process == nullptr) return false;
  Record(TraceKind::kInvoke, address, "", label);
  action(*machine.process);
  FinishInput(address, machine);
  return true;
}

void Simulation::AddInvariant(std::string name, Invariant invariant) {
  invariants_.emplace_back(std::move(name), std::move(invariant));
}

void Simulation::Fail(std::string message) {
  if (failure_.has_value()) return;  // the first failure is the one to replay
  Record(TraceKind::kFailure, "", "", message);
  failure_ = SimulationFailure{config_.seed, now_ms(), std::move(message)};
}

void Simulation::SetTraceObserver(std::function<void(const TraceRecord&)> observer) {
  trace_observer_ = std::move(observer);
}

std::vector<std::string> Simulation::addresses() const {
  std::vector<std::string> result;
  for (const auto& [address, machine] : machines_) result.push_back(address);
  return result;
}

std::vector<std::string> Simulation::live_addresses() const {
  std::vector<std::string> result;
  for (const auto& [address, machine] : machines_) {
    if (machine.process != nullptr) result.push_back(address);
  }
  return result;
}

bool Simulation::IsUp(const std::string& address) const {
  const auto it = machines_.find(address);
  return it != machines_.end() && it->second.process != nullptr;
}

Process* Simulation::FindProcess(const std::string& address) {
  const auto it = machines_.find(address);
  return it == machines_.end() ? nullptr : it->second.process.get();
}

storage::MemoryEngine& Simulation::EngineOf(const std::string& address) {
  return *MachineAt(address).engine;
}

SimClock& Simulation::ClockOf(const std::string& address) {
  return *MachineAt(address).clock;
}

std::uint64_t Simulation::IncarnationOf(const std::string& address) const {
  return MachineAt(address).incarnation;
}

std::uint64_t Simulation::CountOf(TraceKind kind) const {
  return kind_counts_[static_cast<std::size_t>(kind)];
}

Simulation::Machine& Simulation::MachineAt(const std::string& address) {
  const auto it = machines_.find(address);
  MERIDIAN_CHECK(it != machines_.end());
  return it->second;
}

const Simulation::Machine& Simulation::MachineAt(const std::string& address) const {
  const auto it = machines_.find(address);
  MERIDIAN_CHECK(it != machines_.end());
  return it->second;
}

void Simulation::Record(TraceKind kind, std::string_view from, std::string_view to,
                        std::string_view bytes) {
  const TraceRecord record{now_ms(), kind, from, to, bytes};
  trace_hash_.Add(record);
  const auto index = static_cast<std::size_t>(kind);
  MERIDIAN_CHECK(index < kind_counts_.size());
  ++kind_counts_[index];
  if (trace_observer_) trace_observer_(record);
}

Status Simulation::FailureStatus() const {
  MERIDIAN_CHECK(failure_.has_value());
  return Status::Internal(failure_->ToString());
}

}  // namespace meridian::sim
