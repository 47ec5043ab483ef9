#include "sim/toy_flood.h"

#include <fmt/format.h>

#include <charconv>
#include <memory>
#include <utility>

#include "core/assert.h"

namespace meridian::sim {
namespace {

constexpr std::string_view kKeyPrefix = "toy-flood/";
constexpr std::string_view kEnvelopeTag = "toy-flood";
// One past '/' in ASCII: the end of the "toy-flood/" key range.
constexpr std::string_view kKeyRangeEnd = "toy-flood0";

}  // namespace

ToyFloodProcess::ToyFloodProcess(ToyFloodConfig config, const ProcessContext& context)
    : config_(std::move(config)), address_(context.address), env_(context.env) {
  MERIDIAN_CHECK(env_.random != nullptr);
  MERIDIAN_CHECK(env_.engine != nullptr);
}

Status ToyFloodProcess::Start() {
  Status parse_status;
  const Status scanned = env_.engine->Scan(
      storage::Column::kMetadata, kKeyPrefix, kKeyRangeEnd,
      [&](std::string_view key, std::string_view value) {
        std::uint64_t counter = 0;
        const auto [end, error] =
            std::from_chars(value.data(), value.data() + value.size(), counter);
        if (error != std::errc() || end != value.data() + value.size()) {
          parse_status = Status::Corruption(fmt::format("bad counter under {}", key));
          return false;
        }
        counters_[std::string(key.substr(kKeyPrefix.size()))] = counter;
        return true;
      });
  if (!scanned.ok()) return scanned;
  return parse_status;
}

Status ToyFloodProcess::Persist(const std::string& origin, std::uint64_t counter, bool sync) {
  storage::WriteBatch batch;
  batch.Put(storage::Column::kMetadata, std::string(kKeyPrefix) + origin, std::to_string(counter));
  return env_.engine->Write(batch, storage::WriteOptions{sync});
}

Status ToyFloodProcess::Mint() {
  const std::uint64_t next = CounterOf(address_) + 1;
  // Persist before the value can be gossiped: with sync_mint a crash can never take back a
  // value a peer has seen.
  const Status persisted = Persist(address_, next, config_.sync_mint);
  if (!persisted.ok()) return persisted;
  counters_[address_] = next;
  return Status::Ok();
}

void ToyFloodProcess::Tick() {
  ++tick_count_;
  if (config_.sync_every_ticks > 0 && tick_count_ % config_.sync_every_ticks == 0) {
    // An empty synced write makes every earlier write durable, as a WAL fsync does.
    env_.engine->Write(storage::WriteBatch{}, storage::WriteOptions{true}).IgnoreError();
  }
  std::vector<const std::string*> peers;
  for (const std::string& peer : config_.peer_addresses) {
    if (peer != address_) peers.push_back(&peer);
  }
  if (peers.empty() || counters_.empty()) return;
  proto::PeerMessage message;
  proto::KvReply& envelope = *message.mutable_kv_reply();
  envelope.set_status_message(std::string(kEnvelopeTag));
  for (const auto& [origin, counter] : counters_) {
    proto::KvSibling& entry = *envelope.add_values();
    entry.set_value(origin);
    entry.set_timestamp(counter);
  }
  for (std::uint32_t push = 0; push < config_.fanout; ++push) {
    const std::string& peer = *peers[env_.random->Uniform(peers.size())];
    outbound_.push_back(cluster::Outbound{peer, message});
  }
}

void ToyFloodProcess::Receive(const std::string& /*from_address*/,
                              const proto::PeerMessage& message) {
  if (!message.has_kv_reply() || message.kv_reply().status_message() != kEnvelopeTag) return;
  for (const proto::KvSibling& entry : message.kv_reply().values()) {
    const std::string& origin = entry.value();
    if (origin == address_) continue;  // only the origin decides its own counter
    const std::uint64_t counter = entry.timestamp();
    if (counter <= CounterOf(origin)) continue;
    // The table is a cache of what peers hold: losing an unsynced merge is harmless.
    if (Persist(origin, counter, /*sync=*/false).ok()) counters_[origin] = counter;
  }
}

std::vector<cluster::Outbound> ToyFloodProcess::TakeOutbound() {
  return std::move(outbound_);
}

std::uint64_t ToyFloodProcess::CounterOf(const std::string& origin) const {
  const auto it = counters_.find(origin);
  return it == counters_.end() ? 0 : it->second;
}

ProcessFactory ToyFloodFactory(ToyFloodConfig config) {
  return [config = std::move(config)](const ProcessContext& context) {
    return std::make_unique<ToyFloodProcess>(config, context);
  };
}

Status CheckNoCounterAheadOfOrigin(Simulation& simulation) {
  for (const std::string& holder_address : simulation.live_addresses()) {
    const auto* holder = simulation.FindProcessAs<ToyFloodProcess>(holder_address);
    if (holder == nullptr) continue;
    for (const auto& [origin, counter] : holder->counters()) {
      const auto* authority = simulation.FindProcessAs<ToyFloodProcess>(origin);
      if (authority == nullptr || origin == holder_address) continue;
      if (counter > authority->CounterOf(origin)) {
        return Status::Internal(fmt::format("{} has seen counter {} of {}, which is only at {}",
                                            holder_address, counter, origin,
                                            authority->CounterOf(origin)));
      }
    }
  }
  return Status::Ok();
}

bool AllConverged(Simulation& simulation) {
  const ToyFloodProcess* first = nullptr;
  for (const std::string& address : simulation.addresses()) {
    const auto* process = simulation.FindProcessAs<ToyFloodProcess>(address);
    if (process == nullptr) return false;
    if (first == nullptr) {
      first = process;
    } else if (process->counters() != first->counters()) {
      return false;
    }
  }
  return true;
}

}  // namespace meridian::sim
