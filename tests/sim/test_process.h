// RecordingProcess: a minimal Process for simulator tests. It records what it is given
// (ticks, received messages, its context), sends what a test queues with Send(), and
// writes/reads engine keys on request, so tests can observe the simulator's contract directly.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/process.h"
#include "storage/engine.h"

namespace meridian::sim::test_support {

struct Received {
  std::string from_address;
  proto::PeerMessage message;
};

// Counts constructions and destructions across all instances a factory made.
struct Lifetimes {
  int constructed = 0;
  int destroyed = 0;
};

class RecordingProcess final : public Process {
 public:
  RecordingProcess(const ProcessContext& context, std::shared_ptr<Lifetimes> lifetimes)
      : context_(context), lifetimes_(std::move(lifetimes)) {
    ++lifetimes_->constructed;
  }
  ~RecordingProcess() override { ++lifetimes_->destroyed; }

  Status Start() override {
    started_ = true;
    return Status::Ok();
  }
  Status Stop() override {
    stopped_ = true;
    return Status::Ok();
  }
  void Tick() override { tick_times_ms_.push_back(context_.env.clock->MonotonicMillis()); }
  void Receive(const std::string& from_address, const proto::PeerMessage& message) override {
    received_.push_back(Received{from_address, message});
  }
  std::vector<cluster::Outbound> TakeOutbound() override { return std::move(outbound_); }
  std::optional<std::uint64_t> WakeAfterMs() const override { return wake_after_ms_; }
  // Records the time; the next wake is what the test asks for again (none by default).
  void Wake() override {
    wake_times_ms_.push_back(context_.env.clock->MonotonicMillis());
    wake_after_ms_.reset();
    if (write_on_wake_) (void)WriteKey("woken", std::to_string(wake_times_ms_.size()), true);
  }
  // Asks to be woken `after_ms` after the end of the current input; `write` makes the wake
  // write (synced) key "woken" = the number of wakes so far.
  void WakeAfter(std::uint64_t after_ms, bool write = false) {
    wake_after_ms_ = after_ms;
    write_on_wake_ = write;
  }

  // A KvRequest carrying `request_id`, to `to_address`.
  void Send(const std::string& to_address, std::uint64_t request_id) {
    proto::PeerMessage message;
    message.mutable_kv_request()->set_request_id(request_id);
    message.mutable_kv_request()->set_key("key-" + std::to_string(request_id));
    outbound_.push_back(cluster::Outbound{to_address, std::move(message)});
  }
  Status WriteKey(const std::string& key, const std::string& value, bool sync) {
    storage::WriteBatch batch;
    batch.Put(storage::Column::kMetadata, key, value);
    return context_.env.engine->Write(batch, storage::WriteOptions{sync});
  }
  std::optional<std::string> ReadKey(const std::string& key) {
    auto read = context_.env.engine->Get(storage::Column::kMetadata, key);
    return read.ok() ? read.value() : std::nullopt;
  }

  const ProcessContext& context() const { return context_; }
  const std::vector<std::uint64_t>& tick_times_ms() const { return tick_times_ms_; }
  const std::vector<Received>& received() const { return received_; }
  const std::vector<std::uint64_t>& wake_times_ms() const { return wake_times_ms_; }
  bool stopped() const { return stopped_; }

 private:
  ProcessContext context_;
  std::shared_ptr<Lifetimes> lifetimes_;
  bool started_ = false;
  bool stopped_ = false;
  std::vector<std::uint64_t> tick_times_ms_;
  std::vector<Received> received_;
  std::vector<cluster::Outbound> outbound_;
  std::optional<std::uint64_t> wake_after_ms_;
  bool write_on_wake_ = false;
  std::vector<std::uint64_t> wake_times_ms_;
};

inline ProcessFactory RecordingFactory(std::shared_ptr<Lifetimes> lifetimes) {
  return [lifetimes](const ProcessContext& context) {
    return std::make_unique<RecordingProcess>(context, lifetimes);
  };
}

}  // namespace meridian::sim::test_support
