#include "node/strong_partitions.h"

#include "replication/strong_codec.h"
#include "storage/key_encoding.h"

namespace meridian::node {

Status StrongPartitions::Load(storage::Engine& engine) {
  for (std::uint32_t partition = 0; partition < size(); ++partition) {
    auto stored = engine.Get(storage::Column::kStrong, storage::EncodeStrongConfigKey(partition));
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) continue;
    auto state = replication::DecodePartitionConfig(**stored);
    if (!state.ok()) {
      return Status::Corruption("strong configuration of partition " + std::to_string(partition) +
                                ": " + state.status().message());
    }
    Slot& slot = slots_[partition];
    slot.accepted = replication::AcceptedConfiguration(*state);
    slot.local = std::move(state).value();
  }
  return Status::Ok();
}

Status StrongPartitions::Store(storage::Engine& engine, std::uint32_t partition,
                               replication::PartitionConfigState state, bool sync) {
  storage::WriteBatch batch;
  batch.Put(storage::Column::kStrong, storage::EncodeStrongConfigKey(partition),
            replication::EncodePartitionConfig(state));
  MERIDIAN_RETURN_IF_ERROR(engine.Write(batch, storage::WriteOptions{.sync = sync}));
  Slot& slot = slots_.at(partition);
  slot.accepted = replication::AcceptedConfiguration(state);
  slot.local = std::move(state);
  return Status::Ok();
}

Status StrongPartitions::WriteGenesis(storage::Engine& engine, const cluster::NodeId& self,
                                      const replication::Ballot& version,
                                      const std::function<bool(std::uint32_t)>& owned) {
  const replication::StrongConfiguration genesis{1, {self}};
  const std::string encoded = replication::EncodeConfiguration(genesis);
  storage::WriteBatch batch;
  std::vector<std::pair<std::uint32_t, replication::PartitionConfigState>> states;
  for (std::uint32_t partition = 0; partition < size(); ++partition) {
    if (!owned(partition)) continue;
    states.emplace_back(partition, replication::GenesisState(genesis, version, encoded));
    batch.Put(storage::Column::kStrong, storage::EncodeStrongConfigKey(partition),
              replication::EncodePartitionConfig(states.back().second));
  }
  MERIDIAN_RETURN_IF_ERROR(engine.Write(batch, storage::WriteOptions{.sync = true}));
  for (auto& [partition, state] : states) {
    slots_[partition].accepted = genesis;
    slots_[partition].local = std::move(state);
  }
  return Status::Ok();
}

void StrongPartitions::Learn(std::uint32_t partition,
                             const replication::StrongConfiguration& configuration) {
  Slot& slot = slots_.at(partition);
  if (configuration.epoch > slot.learnt.epoch) slot.learnt = configuration;
}

replication::StrongConfiguration StrongPartitions::ForCoordinator(std::uint32_t partition) const {
  const Slot& slot = slots_.at(partition);
  replication::StrongConfiguration best = slot.learnt;
  if (slot.local.has_value()) {
    const replication::StrongConfiguration& newest = replication::NewestKnown(*slot.local);
    if (newest.epoch > best.epoch) best = newest;
  }
  return best;
}

std::size_t StrongPartitions::moves_running() const {
  std::size_t running = 0;
  for (const Slot& slot : slots_) running += slot.move != nullptr;
  return running;
}

}  // namespace meridian::node
