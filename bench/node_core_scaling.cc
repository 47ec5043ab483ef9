// The node core driven in-process, without sockets (issue 13, item 2; docs/benchmarks.md
// "The node core in-process"): SHARDS independent node cores, each a standalone node::Node on
// its own RocksDB directory and its own thread — the shared-nothing layout a node sharded over
// its cores would have — each running OPS requests of 100-byte values on random keys, with a
// group commit (one WAL write, no fsync, as dw=0) every BATCH requests, as the server's group
// commit does for the requests that arrive together.
//
// For each shard count it prints the throughput, each shard's CPU time per operation and the
// scaling against one shard, so the figure shows where adding shards stops paying on this
// machine and why (cores, or something shared: the kernel, RocksDB's background threads).
// With --raw the threads write raw object records without a node core, into one RocksDB each
// (separate) or into ONE RocksDB they share (shared): what a single shared engine (one WAL, one
// write queue) costs the same threads; --write-queue pipelined|unordered tries RocksDB's two
// ways of letting concurrent writers of one database overlap.
//
// Usage: node_core_scaling [--shards 1,2,4] [--ops N] [--keys K] [--batch B] [--workload put|get]
//                          [--raw separate|shared] [--write-queue default|pipelined|unordered]
//                          [--write-buffer-mb M] [--dir PATH]
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "node/node.h"
#include "runtime/system_env.h"
#include "storage/key_encoding.h"
#include "storage/rocksdb_engine.h"

namespace {

using namespace meridian;

struct Options {
  std::vector<int> shards = {1, 2, 4};
  std::uint64_t ops = 200000;  // per shard
  std::uint64_t keys = 1000000;
  std::uint64_t batch = 50;
  std::string workload = "put";
  std::string raw;  // "", "separate" or "shared"
  std::string dir = "/tmp/meridian-node-core-scaling";
  std::size_t write_buffer_bytes = storage::RocksDbOptions{}.write_buffer_bytes;
  storage::RocksDbOptions::WriteQueue write_queue = storage::RocksDbOptions::WriteQueue::kDefault;
};

double ThreadCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::unique_ptr<storage::RocksDbEngine> OpenEngine(
    const std::string& path, std::size_t write_buffer_bytes, bool group_commit = true,
    storage::RocksDbOptions::WriteQueue write_queue =
        storage::RocksDbOptions::WriteQueue::kDefault) {
  std::filesystem::remove_all(path);
  storage::RocksDbOptions options;
  options.group_commit = group_commit;
  options.write_buffer_bytes = write_buffer_bytes;
  options.write_queue = write_queue;
  auto opened = storage::RocksDbEngine::Open(path, options);
  if (!opened.ok()) throw std::runtime_error(opened.status().ToString());
  return std::move(opened).value();
}

void Commit(storage::Engine& engine) {
  auto ticket = engine.BeginCommit();
  if (!ticket.ok() || !engine.FinishCommit(*ticket).ok()) throw std::runtime_error("commit");
}

// One shard: a standalone node on its own engine, driven by its own thread.
struct Shard {
  Shard(const std::string& path, std::size_t write_buffer_bytes)
      : engine(OpenEngine(path, write_buffer_bytes)) {
    node::NodeConfig config;
    config.node_id = "bench";
    node = std::make_unique<node::Node>(config, node::Env{&clock, &random, engine.get()});
    if (Status opened = node->Open(); !opened.ok()) throw std::runtime_error(opened.ToString());
    Commit(*engine);
  }

  // Submits `ops` requests (one at a time; the node answers a standalone request at once).
  void Run(const Options& options, std::uint64_t seed, bool put) {
    std::mt19937_64 keys(seed);
    const std::string value(100, 'v');
    for (std::uint64_t i = 0; i < options.ops; ++i) {
      ObjectId id{"default", fmt::format("key:{:012}", keys() % options.keys)};
      if (put) {
        node->Submit(i, node::PutRequest{std::move(id), value, "", {}});
      } else {
        node->Submit(i, node::GetRequest{std::move(id), {}});
      }
      for (const node::ClientReply& reply : node->TakeReplies()) {
        if (!reply.status.ok()) throw std::runtime_error(reply.status.ToString());
      }
      if ((i + 1) % options.batch == 0) Commit(*engine);
    }
    Commit(*engine);
  }

  runtime::SystemClock clock;
  runtime::SystemRandom random;
  std::unique_ptr<storage::RocksDbEngine> engine;
  std::unique_ptr<node::Node> node;
};

struct RunResult {
  double seconds = 0;
  double cpu_per_op_us = 0;  // the shards' threads, averaged
  double process_cpu_s = 0;  // every thread of the process, RocksDB's included
};

// Runs body(0..count-1) on `count` threads at once; `ops` operations each.
RunResult TimeThreads(int count, std::uint64_t ops, const std::function<void(int)>& body) {
  std::vector<double> cpu(count, 0);
  const double process_before = ProcessCpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < count; ++t) {
    threads.emplace_back([&, t] {
      const double before = ThreadCpuSeconds();
      body(t);
      cpu[t] = ThreadCpuSeconds() - before;
    });
  }
  for (auto& thread : threads) thread.join();
  RunResult result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.process_cpu_s = ProcessCpuSeconds() - process_before;
  double total = 0;
  for (double seconds : cpu) total += seconds;
  result.cpu_per_op_us = total / static_cast<double>(static_cast<std::uint64_t>(count) * ops) * 1e6;
  return result;
}

RunResult RunNodes(const Options& options, int shard_count) {
  std::vector<std::unique_ptr<Shard>> shards;
  for (int s = 0; s < shard_count; ++s) {
    shards.push_back(std::make_unique<Shard>(fmt::format("{}/shard-{}", options.dir, s),
                                             options.write_buffer_bytes));
  }
  const bool put = options.workload == "put";
  if (!put) {  // reads need data: load every shard first (not measured)
    Options load = options;
    load.ops = options.keys;
    for (int s = 0; s < shard_count; ++s) shards[s]->Run(load, 1000 + s, true);
  }
  const RunResult result =
      TimeThreads(shard_count, options.ops, [&](int s) { shards[s]->Run(options, 7 + s, put); });
  for (auto& shard : shards) (void)shard->node->Close();
  return result;
}

// Raw puts, no node core: each thread writes one object record per operation, either into an
// engine of its own or into ONE engine all threads share. No group commit here (RocksDB's
// write path is thread-safe only without it): every write reaches the WAL file at once, as
// RocksDB batches concurrent writers itself. Compare the two layouts with each other, not with
// the node-core rows.
RunResult RunRaw(const Options& options, int thread_count) {
  const bool shared = options.raw == "shared";
  std::vector<std::unique_ptr<storage::RocksDbEngine>> engines;
  for (int t = 0; t < (shared ? 1 : thread_count); ++t) {
    engines.push_back(OpenEngine(fmt::format("{}/raw-{}", options.dir, t),
                                 options.write_buffer_bytes, /*group_commit=*/false,
                                 options.write_queue));
  }
  return TimeThreads(thread_count, options.ops, [&](int t) {
    storage::Engine& engine = *engines[shared ? 0 : t];
    std::mt19937_64 keys(7 + t);
    const std::string value(140, 'v');  // about an encoded 100-byte object
    for (std::uint64_t i = 0; i < options.ops; ++i) {
      const std::string key = fmt::format("key:{:012}", keys() % options.keys);
      storage::WriteBatch batch;
      batch.Put(storage::Column::kObjects,
                storage::EncodeObjectKey(static_cast<std::uint32_t>(i % 256), "default", key),
                value);
      if (!engine.Write(batch, {}).ok()) throw std::runtime_error("write");
    }
  });
}

std::vector<int> ParseList(const char* text) {
  std::vector<int> values;
  std::string item;
  for (const char* c = text;; ++c) {
    if (*c == ',' || *c == '\0') {
      values.push_back(std::stoi(item));
      item.clear();
      if (*c == '\0') break;
    } else {
      item += *c;
    }
  }
  return values;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      const bool has_value = i + 1 < argc;
      if (flag == "--shards" && has_value) {
        options.shards = ParseList(argv[++i]);
      } else if (flag == "--ops" && has_value) {
        options.ops = std::stoull(argv[++i]);
      } else if (flag == "--keys" && has_value) {
        options.keys = std::stoull(argv[++i]);
      } else if (flag == "--batch" && has_value) {
        options.batch = std::stoull(argv[++i]);
      } else if (flag == "--workload" && has_value) {
        options.workload = argv[++i];
      } else if (flag == "--write-buffer-mb" && has_value) {
        options.write_buffer_bytes = std::stoull(argv[++i]) << 20;
      } else if (flag == "--dir" && has_value) {
        options.dir = argv[++i];
      } else if (flag == "--raw" && has_value) {
        options.raw = argv[++i];
      } else if (flag == "--write-queue" && has_value) {
        const std::string queue = argv[++i];
        using Queue = storage::RocksDbOptions::WriteQueue;
        if (queue == "default") {
          options.write_queue = Queue::kDefault;
        } else if (queue == "pipelined") {
          options.write_queue = Queue::kPipelined;
        } else if (queue == "unordered") {
          options.write_queue = Queue::kUnordered;
        } else {
          std::fprintf(stderr, "--write-queue must be default, pipelined or unordered\n");
          return 2;
        }
      } else {
        std::fprintf(stderr,
                     "usage: node_core_scaling [--shards 1,2,4] [--ops N] [--keys K] "
                     "[--batch B] [--workload put|get] [--raw separate|shared] "
                     "[--write-queue default|pipelined|unordered] [--write-buffer-mb M] "
                     "[--dir PATH]\n");
        return 2;
      }
    }
    if (options.workload != "put" && options.workload != "get") {
      std::fprintf(stderr, "--workload must be put or get\n");
      return 2;
    }
    if (!options.raw.empty() && options.raw != "separate" && options.raw != "shared") {
      std::fprintf(stderr, "--raw must be separate or shared\n");
      return 2;
    }
    if (options.batch == 0 || options.ops == 0 || options.keys == 0) {
      std::fprintf(stderr, "--ops, --keys and --batch must be positive\n");
      return 2;
    }
    std::filesystem::create_directories(options.dir);
    std::printf(
        "%s, %llu ops per %s, %llu keys, 100-byte values, commit every %llu, %u cores\n",
        options.raw == "shared"     ? "raw puts, ONE RocksDB shared by the threads"
        : options.raw == "separate" ? "raw puts, one RocksDB per thread"
                                    : ("node core, " + options.workload).c_str(),
        static_cast<unsigned long long>(options.ops), options.raw.empty() ? "shard" : "thread",
        static_cast<unsigned long long>(options.keys),
        static_cast<unsigned long long>(options.batch), std::thread::hardware_concurrency());
    std::printf("%-7s %12s %14s %16s %18s %9s\n", "shards", "ops/s", "ops/s/shard",
                "cpu us/op/shard", "process cpu us/op", "scaling");
    double single = 0;
    for (int count : options.shards) {
      if (count <= 0) throw std::invalid_argument("--shards takes positive counts");
      RunResult result = options.raw.empty() ? RunNodes(options, count) : RunRaw(options, count);
      const double ops = static_cast<double>(options.ops) * count;
      const double rate = ops / result.seconds;
      if (single == 0) single = rate / count;
      std::printf("%-7d %12.0f %14.0f %16.2f %18.2f %8.2fx\n", count, rate, rate / count,
                  result.cpu_per_op_us, result.process_cpu_s / ops * 1e6, rate / single);
      std::fflush(stdout);
    }
    std::filesystem::remove_all(options.dir);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "node_core_scaling: %s\n", error.what());
    return 1;
  }
  return 0;
}
