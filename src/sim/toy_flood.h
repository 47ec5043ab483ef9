// ToyFlood: a deliberately small gossip protocol that exercises the simulator end to end
// (tests and the "toy-flood" scenarios of `meridian sim`); it is not part of Meridian.
//
// Each process owns one counter, which only it increments (Mint), and keeps the highest value
// it has seen of every other process's counter. Every tick it pushes its whole table to
// `fanout` random peers; a receiver keeps the pointwise maximum, ignoring entries about itself
// (a process is the only authority on its own counter). Tables live in the engine's metadata
// column under "toy-flood/<origin address>": a mint is written synced (like Node's actor id),
// merged entries unsynced, with a sync every sync_every_ticks ticks.
//
// Safety invariant (CheckNoCounterAheadOfOrigin): no live process has seen a counter value
// its live origin does not have — true only because mints are synced; with sync_mint = false
// (the "toy-flood-unsynced-mint" scenario) a crash loses minted values that peers already saw,
// and the invariant catches it. Liveness (AllConverged): after faults heal, every table is
// the same on every machine.
//
// Messages borrow proto::KvReply as an envelope (status_message "toy-flood", one KvSibling per
// entry: value = origin address, timestamp = counter): peer.proto is the real wire format and
// a test protocol must not take a field number there. Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "sim/process.h"
#include "sim/simulation.h"

namespace meridian::sim {

struct ToyFloodConfig {
  std::vector<std::string> peer_addresses;  // every member; a process skips itself
  std::uint32_t fanout = 1;                 // peers pushed to per tick
  std::uint64_t sync_every_ticks = 10;      // 0: never sync merged entries
  bool sync_mint = true;                    // false reproduces a lost-mint bug on crash
};

class ToyFloodProcess final : public Process {
 public:
  ToyFloodProcess(ToyFloodConfig config, const ProcessContext& context);

  // Loads the table persisted in the engine.
  Status Start() override;
  void Tick() override;
  void Receive(const std::string& from_address, const proto::PeerMessage& message) override;
  std::vector<cluster::Outbound> TakeOutbound() override;

  // Increments this process's own counter and persists it.
  Status Mint();

  const std::string& address() const { return address_; }
  // Origin address -> highest counter seen (own entry included once minted).
  const std::map<std::string, std::uint64_t>& counters() const { return counters_; }
  std::uint64_t CounterOf(const std::string& origin) const;

 private:
  Status Persist(const std::string& origin, std::uint64_t counter, bool sync);

  ToyFloodConfig config_;
  std::string address_;
  node::Env env_;
  std::map<std::string, std::uint64_t> counters_;
  std::uint64_t tick_count_ = 0;
  std::vector<cluster::Outbound> outbound_;
};

ProcessFactory ToyFloodFactory(ToyFloodConfig config);

// The safety invariant described above, over the live ToyFlood processes of `simulation`.
Status CheckNoCounterAheadOfOrigin(Simulation& simulation);
// True when every machine is up and all tables are equal.
bool AllConverged(Simulation& simulation);

}  // namespace meridian::sim
