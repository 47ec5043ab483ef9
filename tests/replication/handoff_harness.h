// Test harness for ownership handoff: two engines, a HandoffSender and a HandoffReceiver,
// and a virtual-time loop that carries their messages over a faulty link (drops, duplicates,
// random delays that reorder, all drawn from a seed). Also helpers to build objects.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/dvv_set.h"
#include "core/object_codec.h"
#include "core/seeded_random.h"
#include "replication/background_governor.h"
#include "replication/handoff_receiver.h"
#include "replication/handoff_sender.h"
#include "storage/engine.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"

namespace meridian::replication::test_support {

inline constexpr std::string_view kSourceAddress = "source:7000";
inline constexpr std::string_view kTargetAddress = "target:7000";
inline constexpr ActorId kSourceActor = 1;
inline constexpr ActorId kTargetActor = 2;

// SplitMix64: a small deterministic generator for fault decisions.
class TestRandom {
 public:
  explicit TestRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() { return SplitMix64Next(state_); }
  // Uniform in [0, bound) (modulo bias is irrelevant here); bound > 0.
  std::uint64_t Below(std::uint64_t bound) { return Next() % bound; }
  bool Percent(std::uint32_t percent) { return Below(100) < percent; }

 private:
  std::uint64_t state_;
};

inline std::string StorageKey(std::uint32_t partition, const std::string& key) {
  return storage::EncodeObjectKey(partition, "bucket", key);
}

// An object written `values.size()` times by `actor`, each write concurrent with the others.
inline DvvSet Siblings(ActorId actor, const std::vector<std::string>& values) {
  DvvSet object;
  std::uint64_t ms = 1;
  for (const std::string& value : values) {
    object.Update({}, actor, HlcTimestamp::FromParts(ms++, 0), false, value,
                  ConflictPolicy::kSiblings);
  }
  return object;
}

// `object` overwritten (its whole history in the context) by `actor` with `value`.
inline DvvSet Overwritten(DvvSet object, ActorId actor, const std::string& value) {
  object.Update(object.clock(), actor, HlcTimestamp::FromParts(100, 0), false, value,
                ConflictPolicy::kSiblings);
  return object;
}

inline void PutObject(storage::Engine& engine, const std::string& storage_key,
                      const DvvSet& object) {
  storage::WriteBatch batch;
  batch.Put(storage::Column::kObjects, storage_key, EncodeObject(object));
  ASSERT_TRUE(engine.Write(batch, storage::WriteOptions{}).ok());
}

// Every (key, value) of the objects column within [range.begin, range.end).
inline std::map<std::string, std::string> Contents(storage::Engine& engine,
                                                   const storage::KeyRange& range = {}) {
  std::map<std::string, std::string> contents;
  const Status scanned = engine.Scan(storage::Column::kObjects, range.begin, range.end,
                                     [&](std::string_view key, std::string_view value) {
                                       contents.emplace(key, value);
                                       return true;
                                     });
  EXPECT_TRUE(scanned.ok()) << scanned.ToString();
  return contents;
}

inline DvvSet Decoded(const std::string& bytes) {
  auto object = DecodeObject(bytes);
  EXPECT_TRUE(object.ok()) << object.status().ToString();
  return object.ok() ? *object : DvvSet{};
}

// How the link between the two nodes misbehaves.
struct LinkFaults {
  std::uint64_t seed = 1;
  std::uint32_t drop_percent = 0;
  std::uint32_t duplicate_percent = 0;
  std::uint64_t delay_ms_max = 0;  // uniform extra delay per copy; reorders messages
  // Decides per message (in send order, counted over both directions) to drop it; overrides
  // drop_percent when set.
  std::function<bool(const proto::PeerMessage&, std::uint64_t index)> drop;
};

// A budget that never says no.
inline BackgroundGovernorConfig UnlimitedBudget() {
  return BackgroundGovernorConfig{.bytes_per_second = 0, .streams_max = 0};
}

// A budget of `bytes_per_second` with a burst of `burst_bytes`, objects free, one stream.
inline BackgroundGovernorConfig ByteBudget(std::uint64_t bytes_per_second,
                                           std::uint64_t burst_bytes) {
  return BackgroundGovernorConfig{.bytes_per_second = bytes_per_second,
                                  .object_cost_bytes = 0,
                                  .burst_bytes = burst_bytes,
                                  .streams_max = 1};
}

class HandoffLoop {
 public:
  HandoffLoop(storage::Engine& source, storage::Engine& target, std::uint32_t partition,
              HandoffSenderConfig config, LinkFaults faults = {},
              std::uint64_t target_incarnation = 11,
              BackgroundGovernorConfig budget = UnlimitedBudget(),
              std::function<bool(std::string_view)> carries = {})
      : target_(target),
        governor_(budget),
        sender_(HandoffTransfer{.transfer_id = 42,
                                .partition = partition,
                                .target_address = std::string(kTargetAddress),
                                .source_address = std::string(kSourceAddress),
                                .carries = std::move(carries)},
                source, governor_, config),
        receiver_(std::make_unique<HandoffReceiver>(target, target_incarnation)),
        faults_(std::move(faults)),
        random_(faults_.seed) {}

  HandoffSender& sender() { return sender_; }
  BackgroundGovernor& governor() { return governor_; }
  HandoffReceiver& receiver() { return *receiver_; }
  std::uint64_t now_ms() const { return now_ms_; }
  std::uint64_t messages_sent() const { return messages_sent_; }
  std::uint64_t acks_delivered() const { return acks_delivered_; }

  // Replaces the receiver by a new one (a restart of the target node), keeping the engine.
  void RestartReceiver(std::uint64_t incarnation) {
    receiver_ = std::make_unique<HandoffReceiver>(target_, incarnation);
  }

  // Called once per loop step with the current virtual time, before the sender ticks.
  std::function<void(std::uint64_t now_ms)> on_step;

  // Runs until the sender finishes and the link drains, or until `time_limit_ms` passes.
  // Virtual time advances by at least 1 ms per step, jumping to the next event (a delivery
  // or the sender's NextTickMs); an instant link therefore costs 1 ms per message hop.
  void Run(std::uint64_t time_limit_ms = 10'000'000) {
    while (true) {
      Step();
      if (sender_.state() != HandoffState::kRunning && in_transit_.empty()) return;
      std::optional<std::uint64_t> next = sender_.NextTickMs();
      for (const Transit& transit : in_transit_) {
        if (!next.has_value() || transit.deliver_at_ms < *next) next = transit.deliver_at_ms;
      }
      now_ms_ = std::max(now_ms_ + 1, next.value_or(now_ms_ + 1));
      if (now_ms_ > time_limit_ms) {
        ADD_FAILURE() << "the transfer did not finish within " << time_limit_ms << " ms";
        return;
      }
    }
  }

  void Step() {
    Deliver();
    if (on_step) on_step(now_ms_);
    sender_.Tick(now_ms_);
    Carry(sender_.TakeOutbound());
    Carry(receiver_->TakeOutbound());
  }

 private:
  struct Transit {
    std::uint64_t deliver_at_ms;
    std::uint64_t order;
    cluster::Outbound outbound;
  };

  void Carry(std::vector<cluster::Outbound> outbounds) {
    for (cluster::Outbound& outbound : outbounds) {
      const std::uint64_t index = messages_sent_++;
      const bool dropped = faults_.drop ? faults_.drop(outbound.message, index)
                                        : random_.Percent(faults_.drop_percent);
      if (dropped) continue;
      const int copies = random_.Percent(faults_.duplicate_percent) ? 2 : 1;
      for (int copy = 0; copy < copies; ++copy) {
        const std::uint64_t delay =
            faults_.delay_ms_max == 0 ? 0 : random_.Below(faults_.delay_ms_max + 1);
        in_transit_.push_back(Transit{now_ms_ + delay, next_order_++, outbound});
      }
    }
  }

  void Deliver() {
    std::vector<Transit> due;
    std::vector<Transit> later;
    for (Transit& transit : in_transit_) {
      (transit.deliver_at_ms <= now_ms_ ? due : later).push_back(std::move(transit));
    }
    in_transit_ = std::move(later);
    std::sort(due.begin(), due.end(), [](const Transit& a, const Transit& b) {
      return std::tie(a.deliver_at_ms, a.order) < std::tie(b.deliver_at_ms, b.order);
    });
    for (const Transit& transit : due) {
      const proto::PeerMessage& message = transit.outbound.message;
      if (message.has_handoff_batch()) {
        EXPECT_EQ(transit.outbound.to_address, kTargetAddress);
        receiver_->Receive("ephemeral:1", message.handoff_batch(), now_ms_);
      } else if (message.has_handoff_mirror()) {
        EXPECT_EQ(transit.outbound.to_address, kTargetAddress);
        EXPECT_TRUE(receiver_->Receive(message.handoff_mirror()).ok());
      } else if (message.has_handoff_ack()) {
        EXPECT_EQ(transit.outbound.to_address, kSourceAddress);
        ++acks_delivered_;
        sender_.Receive(message.handoff_ack(), now_ms_);
      } else {
        ADD_FAILURE() << "unexpected message " << message.ShortDebugString();
      }
    }
  }

  storage::Engine& target_;
  BackgroundGovernor governor_;  // before the sender, which gives its stream back to it
  HandoffSender sender_;
  std::unique_ptr<HandoffReceiver> receiver_;
  LinkFaults faults_;
  TestRandom random_;
  std::vector<Transit> in_transit_;
  std::uint64_t now_ms_ = 0;
  std::uint64_t messages_sent_ = 0;
  std::uint64_t acks_delivered_ = 0;
  std::uint64_t next_order_ = 0;
};

}  // namespace meridian::replication::test_support
