#include "bench/runner.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cinttypes>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bench/driver.h"
#include "bench/key_chooser.h"
#include "bench/rng.h"
#include "bench/schedule.h"

namespace meridian::bench {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

constexpr auto kProgressInterval = std::chrono::seconds(1);
constexpr std::size_t kValuePoolExtra = 64 * 1024;

// What every worker of a phase shares (read-only but for the atomics and the keyspace).
struct PhaseShared {
  const BenchConfig& config;
  bool load;
  Keyspace& keyspace;
  std::optional<OpenLoopSchedule> schedule;
  Clock::time_point start;
  Clock::time_point end = Clock::time_point::max();
  std::uint64_t op_limit = std::numeric_limits<std::uint64_t>::max();
  std::atomic<std::uint64_t> next_op{0};  // operations (schedule slots) taken so far
  double latest_zeta = 1;
  std::string values;  // random printable bytes; a value is a slice of them
};

class Worker;

// One event-loop thread: its driver and workers, and the statistics of the current progress
// interval, which the main thread collects (under `mutex`) once a second.
struct LoopThread {
  asio::io_context loop{1};
  std::unique_ptr<Driver> driver;
  std::vector<std::unique_ptr<Worker>> workers;
  std::size_t active = 0;
  Clock::time_point finished_at;
  std::atomic<bool> finished{false};
  std::thread thread;

  std::mutex mutex;
  std::array<OpStats, kOpTypeCount> interval;
};

class Worker final : public Completion {
 public:
  Worker(LoopThread& thread, PhaseShared& shared, std::size_t connection, std::uint64_t seed)
      : thread_(thread),
        shared_(shared),
        connection_(connection),
        rng_(seed),
        chooser_(shared.config.distribution, shared.keyspace.record_count(), shared.latest_zeta),
        timer_(thread.loop) {}

  void Next() {
    const std::uint64_t slot = shared_.next_op.fetch_add(1, std::memory_order_relaxed);
    if (slot >= shared_.op_limit) return Finish();
    const Clock::time_point now = Clock::now();
    if (shared_.schedule) {
      intended_ = shared_.start + shared_.schedule->Offset(slot);
      if (intended_ >= shared_.end) return Finish();
      if (intended_ > now) {
        timer_.expires_at(intended_);
        timer_.async_wait([this, slot](boost::system::error_code ec) {
          if (!ec) Issue(slot);
        });
        return;
      }
    } else {
      if (now >= shared_.end) return Finish();
      intended_ = now;
    }
    Issue(slot);
  }

  void OnRead(const Outcome& outcome, std::string_view context) override {
    if (op_ == OpType::kReadModifyWrite && outcome.ok) {
      // The write of a read-modify-write carries the read's context.
      read_missed_ = !outcome.found;
      context_.assign(context);
      thread_.driver->Write(connection_, key_, Value(), context_, this,
                            shared_.config.workload.compare_and_set);
      return;
    }
    Record(outcome);
    Next();
  }

  void OnWrite(const Outcome& outcome) override {
    if (op_ == OpType::kInsert && !shared_.load) shared_.keyspace.Acknowledge(key_number_);
    Record(outcome);
    Next();
  }

 private:
  void Issue(std::uint64_t slot) {
    read_missed_ = false;
    if (shared_.load) {
      op_ = OpType::kInsert;
      key_number_ = slot;
    } else {
      op_ = ChooseOperation(shared_.config.workload, rng_.NextDouble());
      key_number_ = op_ == OpType::kInsert ? shared_.keyspace.NextInsert()
                                           : chooser_.Next(rng_, shared_.keyspace.Limit());
    }
    key_ = KeyName(key_number_, key_buffer_);
    switch (op_) {
      case OpType::kRead:
      case OpType::kReadModifyWrite:
        thread_.driver->Read(connection_, key_, this);
        break;
      case OpType::kUpdate:
      case OpType::kInsert:
        thread_.driver->Write(connection_, key_, Value(), {}, this, /*conditional=*/false);
        break;
    }
  }

  std::string_view Value() {
    const std::size_t size = shared_.config.value_size;
    const std::size_t offset = rng_.Below(shared_.values.size() - size + 1);
    return std::string_view(shared_.values).substr(offset, size);
  }

  void Record(const Outcome& outcome) {
    const auto latency =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - intended_);
    std::lock_guard lock(thread_.mutex);
    OpStats& stats = thread_.interval[static_cast<std::size_t>(op_)];
    if (!outcome.ok) {
      ++stats.errors;
      if (stats.first_error.empty()) stats.first_error.assign(outcome.error);
      return;
    }
    ++stats.count;
    if (!outcome.found || read_missed_) ++stats.not_found;
    if (outcome.conflict) ++stats.conflicts;
    stats.latency.Record(static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0)));
  }

  void Finish() {
    if (--thread_.active == 0) {
      thread_.finished_at = Clock::now();
      thread_.loop.stop();
    }
  }

  LoopThread& thread_;
  PhaseShared& shared_;
  std::size_t connection_;
  Rng rng_;
  KeyChooser chooser_;
  asio::steady_timer timer_;
  OpType op_ = OpType::kRead;
  bool read_missed_ = false;  // the read of a read-modify-write found no value
  std::uint64_t key_number_ = 0;
  char key_buffer_[kKeyNameCapacity];
  std::string_view key_;
  std::string context_;
  Clock::time_point intended_;
};

std::string RandomValues(std::size_t size, std::uint64_t seed) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  Rng rng(seed);
  std::string values(size, '\0');
  for (char& c : values) c = kAlphabet[rng.Below(sizeof(kAlphabet) - 1)];
  return values;
}

// Moves every thread's interval statistics into `cumulative` and returns them merged.
std::array<OpStats, kOpTypeCount> Collect(std::vector<std::unique_ptr<LoopThread>>& threads,
                                          std::array<OpStats, kOpTypeCount>& cumulative) {
  std::array<OpStats, kOpTypeCount> interval;
  for (auto& thread : threads) {
    std::lock_guard lock(thread->mutex);
    for (std::size_t i = 0; i < kOpTypeCount; ++i) {
      interval[i].Merge(thread->interval[i]);
      thread->interval[i].Reset();
    }
  }
  for (std::size_t i = 0; i < kOpTypeCount; ++i) cumulative[i].Merge(interval[i]);
  return interval;
}

void PrintProgress(std::FILE* out, const char* phase, double elapsed_s, double interval_s,
                   const std::array<OpStats, kOpTypeCount>& interval,
                   const std::array<OpStats, kOpTypeCount>& cumulative) {
  OpStats now;
  OpStats total;
  for (std::size_t i = 0; i < kOpTypeCount; ++i) {
    now.Merge(interval[i]);
    total.Merge(cumulative[i]);
  }
  std::fprintf(out, "[%s] %6.1fs  ops=%" PRIu64 "  ops/s=%.0f  p99=%.0fus  errors=%" PRIu64 "\n",
               phase, elapsed_s, total.count,
               interval_s > 0 ? static_cast<double>(now.count) / interval_s : 0.0,
               static_cast<double>(now.latency.Percentile(99)) / 1000.0, total.errors);
  std::fflush(out);
}

}  // namespace

void OpStats::Merge(const OpStats& other) {
  count += other.count;
  errors += other.errors;
  not_found += other.not_found;
  conflicts += other.conflicts;
  latency.Merge(other.latency);
  if (first_error.empty()) first_error = other.first_error;
}

void OpStats::Reset() {
  count = 0;
  errors = 0;
  not_found = 0;
  conflicts = 0;
  latency.Reset();
  first_error.clear();
}

OpStats PhaseResult::Total() const {
  OpStats total;
  for (const OpStats& stats : ops) total.Merge(stats);
  return total;
}

double PhaseResult::ErrorRate() const {
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  for (const OpStats& stats : ops) {
    done += stats.count + stats.errors;
    failed += stats.errors;
  }
  return done == 0 ? 0.0 : static_cast<double>(failed) / static_cast<double>(done);
}

client::Result<PhaseResult> RunPhase(const BenchConfig& config, bool load, Keyspace& keyspace,
                                     std::FILE* progress) {
  PhaseShared shared{config, load, keyspace};
  if (config.target_rate > 0) shared.schedule.emplace(config.target_rate);
  if (load) {
    shared.op_limit = keyspace.record_count();
  } else {
    if (config.operations > 0) shared.op_limit = config.operations;
    if (config.distribution == Distribution::kLatest) {
      shared.latest_zeta = ZipfianGenerator::Zeta(0, keyspace.Limit(), ZipfianGenerator::kTheta);
    }
  }
  shared.values = RandomValues(config.value_size + kValuePoolExtra, config.seed);

  // Threads, their drivers and workers; connections and workers are split evenly.
  std::vector<std::unique_ptr<LoopThread>> threads;
  std::size_t worker_index = 0;
  for (std::uint32_t t = 0; t < config.threads; ++t) {
    auto thread = std::make_unique<LoopThread>();
    const std::size_t connections =
        config.connections / config.threads + (t < config.connections % config.threads ? 1 : 0);
    auto driver = MakeDriver(config, thread->loop, connections);
    if (!driver.ok()) return driver.error();
    thread->driver = std::move(driver).value();
    for (std::size_t w = 0; w < connections * config.pipeline; ++w, ++worker_index) {
      std::uint64_t seed_state = config.seed ^ (load ? 0x10ad000000000000ULL : 0);
      seed_state += worker_index * 0x9e3779b97f4a7c15ULL;
      thread->workers.push_back(
          std::make_unique<Worker>(*thread, shared, w % connections, SplitMix64(seed_state)));
    }
    thread->active = thread->workers.size();
    threads.push_back(std::move(thread));
  }

  shared.start = Clock::now();
  if (!load && config.duration_s > 0) {
    shared.end = shared.start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(config.duration_s));
  }
  for (auto& thread : threads) {
    LoopThread* raw = thread.get();
    for (auto& worker : raw->workers) {
      asio::post(raw->loop, [worker = worker.get()] { worker->Next(); });
    }
    raw->thread = std::thread([raw] {
      raw->loop.run();
      raw->driver->Close();
      raw->finished = true;
    });
  }

  PhaseResult result;
  result.name = load ? "load" : "run";
  const char* phase_name = load ? "load" : "run";
  auto last_tick = shared.start;
  auto next_tick = shared.start + kProgressInterval;
  while (true) {
    const bool all_done = std::all_of(threads.begin(), threads.end(),
                                      [](const auto& thread) { return thread->finished.load(); });
    if (all_done) break;
    const auto now = Clock::now();
    if (now >= next_tick) {
      const auto interval = Collect(threads, result.ops);
      if (progress != nullptr) {
        PrintProgress(progress, phase_name,
                      std::chrono::duration<double>(now - shared.start).count(),
                      std::chrono::duration<double>(now - last_tick).count(), interval, result.ops);
      }
      last_tick = now;
      next_tick += kProgressInterval;
      if (next_tick < now) next_tick = now + kProgressInterval;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Clock::time_point finished = shared.start;
  for (auto& thread : threads) {
    thread->thread.join();
    finished = std::max(finished, thread->finished_at);
  }
  Collect(threads, result.ops);
  result.elapsed_s = std::chrono::duration<double>(finished - shared.start).count();
  // Workers refer to the drivers: destroy them first, on this thread, loops stopped.
  for (auto& thread : threads) {
    thread->workers.clear();
    thread->driver.reset();
  }
  return result;
}

client::Result<void> PrepareStore(const BenchConfig& config) {
  asio::io_context loop{1};
  auto driver = MakeDriver(config, loop, 1);
  if (!driver.ok()) return driver.error();
  if (auto setup = (*driver)->Setup(); !setup.ok()) return setup;

  // One read of a key that need not exist: any reply proves the store answers.
  struct Probe final : Completion {
    std::optional<std::string> error;
    bool done = false;
    void OnRead(const Outcome& outcome, std::string_view) override {
      done = true;
      if (!outcome.ok) error = std::string(outcome.error);
    }
    void OnWrite(const Outcome&) override { done = true; }
  } probe;
  (*driver)->Read(0, "meridian-bench-probe", &probe);
  while (!probe.done && loop.run_one() > 0) {
  }
  (*driver)->Close();
  if (!probe.done || probe.error) {
    client::Error error;
    error.code = client::ErrorCode::kConnectionFailed;
    error.message = std::string(DriverName(config.driver)) + " at " + config.address +
                    " does not answer: " + (probe.error ? *probe.error : "no reply");
    return error;
  }
  return {};
}

}  // namespace meridian::bench
