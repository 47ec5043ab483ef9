// Process: what a simulated node must offer the simulator — a sans-IO state machine driven
// by ticks and peer messages, whose outputs are drained with TakeOutbound(). The simulator is
// generic over this interface; an adapter wraps node::Node, and tests use a toy protocol.
//
// Lifecycle, as the Simulation drives it:
//   * construction by the ProcessFactory, given a ProcessContext whose Env parts (clock,
//     random, engine) are owned by the Simulation and outlive the process;
//   * Start() once (e.g. Node::Open); on failure the process is treated as crashed;
//   * any number of Tick() (every tick_interval_ms of virtual time) and Receive();
//   * then either Stop() followed by destruction (a clean shutdown), or destruction without
//     Stop() (a crash: the Simulation then calls MemoryEngine::DropUnsyncedWrites(), because
//     the engine is the machine's disk and outlives the process).
// A restart builds a new object with the factory over the same engine and clock, and a fresh
// random stream (derived from the address and the incarnation number, so a restarted node
// does not replay its predecessor's random draws).
// After Start, Tick, Receive, Stop and every Simulation::Invoke the simulator commits the
// engine (Engine::CommitPending: it runs with group commit, as on the server), then drains
// TakeOutbound() and sends each message. Processes are called from one thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/outbound.h"
#include "core/status.h"
#include "node/env.h"
#include "proto/peer.pb.h"

namespace meridian::sim {

struct ProcessContext {
  std::string address;            // this process's own address ("host:port")
  std::uint64_t incarnation = 0;  // 0 for the first start, +1 per restart
  node::Env env;                  // SimClock, SeededRandom, MemoryEngine
};

class Process {
 public:
  virtual ~Process() = default;

  virtual Status Start() = 0;
  // A clean shutdown; the process is destroyed right after. Its writes are kept.
  virtual Status Stop() { return Status::Ok(); }
  virtual void Tick() = 0;
  virtual void Receive(const std::string& from_address, const proto::PeerMessage& message) = 0;
  virtual std::vector<cluster::Outbound> TakeOutbound() = 0;
  // Messages of the last input that depend on none of its writes (node::Node's
  // TakeEarlyOutbound): the simulator sends them before it commits the input's writes.
  virtual std::vector<cluster::Outbound> TakeEarlyOutbound() { return {}; }
  // After an input: in how many milliseconds the process wants to run again without one (work
  // it handed between its own threads, due later); nullopt for none. The simulator then calls
  // Wake() at that time (or later, if another wake is already due first), an input like a
  // tick's.
  virtual std::optional<std::uint64_t> WakeAfterMs() const { return std::nullopt; }
  virtual void Wake() {}
};

using ProcessFactory = std::function<std::unique_ptr<Process>(const ProcessContext& context)>;

}  // namespace meridian::sim
