#include "runtime/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

#include <pthread.h>
#include <unistd.h>

#include "api/http_server.h"
#include "api/request_window.h"
#include "api/resp_server.h"
#include "node/metadata_keys.h"
#include "runtime/certificates.h"
#include "runtime/clustered_shards.h"
#include "runtime/cross_loop.h"
#include "runtime/file_descriptor_budget.h"
#include "runtime/node_backup.h"
#include "runtime/node_metrics.h"
#include "runtime/node_service.h"
#include "runtime/peer_transport.h"
#include "runtime/reshard.h"
#include "runtime/shard_count.h"
#include "runtime/sharded_kv_service.h"
#include "runtime/storage_monitor.h"
#include "runtime/system_env.h"
#include "storage/power_loss_file_system.h"

namespace meridian::runtime {

namespace asio = boost::asio;

namespace {
// The largest RESP command: a large value plus its key, and at least 64 MiB so that MSET of
// several values fits.
std::size_t RespCommandBytesMax(const ServerConfig& config) {
  return std::max<std::size_t>(
      std::size_t{64} << 20, config.node.value_bytes_max + config.node.key_bytes_max + (64u << 10));
}

// Names the calling thread (at most 15 bytes are kept), so `top -H`, perf and /proc show
// which of the server's threads is which.
void NameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

// How often the free space and the storage engine's state are checked.
constexpr std::chrono::milliseconds kStorageCheckInterval{1000};
// While stopping, how often the loop checks whether the last connection has closed.
constexpr std::chrono::milliseconds kDrainPollInterval{20};

// One shard of the node: its storage, its node state machine and the service that drives it on
// its event loop (shard 0: the node's loop, io; the others: a loop and thread of their own).
// Members in dependency order, so they are destroyed in reverse: the monitor and the service
// before the node, the node before the engine, the loop last.
struct Shard {
  std::uint32_t index = 0;
  std::unique_ptr<asio::io_context> own_io;  // shards 1..: their loop
  asio::io_context* io = nullptr;            // the loop the shard runs on
  std::thread thread;                        // runs own_io, from Run()
  std::string db_path;
  SystemClock clock;  // each shard's own: like its node, used on its loop only
  SystemRandom random;
  std::unique_ptr<storage::RocksDbEngine> engine;
  std::unique_ptr<node::Node> node;
  std::unique_ptr<NodeService> service;
  std::unique_ptr<StorageMonitor> storage;
  std::unique_ptr<asio::steady_timer> storage_timer;
  // With a front ends' loop other than this shard's: requests cross through these.
  std::unique_ptr<LoopChannel> to_shard;
  std::unique_ptr<CrossLoopKvService> from_front;
};

// What /metrics shows of one shard, taken on its loop.
struct ShardFigures {
  node::NodeStats stats;
  NodeService::LoopStats loop;
  storage::RocksDbMemory memory;
  StorageMonitor::Stats storage;
  bool writable = true;
  std::uint64_t commit_failures = 0;
};

ShardFigures FiguresOf(const Shard& shard) {
  return ShardFigures{shard.node->Stats(),
                      shard.service->loop_stats(),
                      shard.engine->Memory(),
                      shard.storage->stats(),
                      shard.node->storage_condition().ok(),
                      shard.service->commit_failures()};
}

}  // namespace

// Members are declared in dependency order; they are destroyed in reverse (the HTTP server
// before the service, the service before the node, the node before the engine, the
// io_context last so pending handlers are destroyed while everything they hold is alive).
struct Server::Impl {
  explicit Impl(const ServerConfig& server_config) : config(server_config) {}

  // On the node's loop.
  void BeginStop() {
    if (stopping) return;
    stopping = true;
    spdlog::info("stopping: closing listeners, finishing in-flight requests");
    asio::post(front(), [this] {
      http->Stop();
      if (resp) resp->Stop();
      drain_deadline = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(config.http_limits.request_timeout_ms);
      PollDrained();
    });
    if (transport) transport->Stop();
    for (auto& owned : shards) {
      Shard* shard = owned.get();
      auto stop = [shard] {
        shard->service->Stop();
        if (shard->storage_timer) shard->storage_timer->cancel();
      };
      // Shard 0 at once, on this loop; the others on theirs.
      if (shard->io == &io) {
        stop();
      } else {
        asio::post(*shard->io, stop);
      }
    }
    // Back to the default disposition: a second SIGINT/SIGTERM ends the process at once.
    boost::system::error_code ignored;
    signals->clear(ignored);
    signals->cancel(ignored);
    if (reload_signal) reload_signal->cancel(ignored);
  }

  // The loop the front ends run on: a loop of their own, or the node's.
  asio::io_context& front() { return config.front_end_threads > 0 ? front_io : io; }

  Shard& shell() { return *shards.front(); }

  // On the front ends' loop: runs `call` on each shard from `first` on, on that shard's loop,
  // and hands its result to `collect` back on the front ends' loop; `then` runs there once
  // every one of them has answered.
  template <typename Value>
  void AcrossShards(std::size_t first, std::function<Value(Shard&)> call,
                    std::function<void(const Shard&, Value)> collect, std::function<void()> then) {
    MERIDIAN_CHECK(first < shards.size());
    auto missing = std::make_shared<std::size_t>(shards.size() - first);
    auto finish = std::make_shared<std::function<void()>>(std::move(then));
    for (std::size_t s = first; s < shards.size(); ++s) {
      Shard* shard = shards[s].get();
      CallAcross<Value>(
          *to_front, *shard->to_shard,
          [shard, call](std::function<void(Value)> reply) { reply(call(*shard)); },
          [shard, collect, missing, finish](Value value) {
            collect(*shard, std::move(value));
            if (--*missing == 0) (*finish)();
          });
    }
  }

  // On the front ends' loop: holds `bucket` on every shard but 0, then `done` with the first
  // shard that stores its data, or the first error.
  void HoldBucketOnOtherShards(const std::string& bucket,
                               std::function<void(Result<std::optional<std::uint32_t>>)> done) {
    using Outcome = Result<std::optional<std::uint32_t>>;
    auto outcome = std::make_shared<Outcome>(std::optional<std::uint32_t>());
    AcrossShards<Result<bool>>(
        1, [bucket](Shard& shard) { return shard.node->HoldBucket(bucket); },
        [outcome](const Shard& shard, Result<bool> holds) {
          if (!outcome->ok() || (*outcome)->has_value()) return;  // the first one counts
          if (!holds.ok()) {
            *outcome = holds.status();
          } else if (*holds) {
            *outcome = std::optional<std::uint32_t>(shard.index);
          }
        },
        [outcome, done = std::move(done)] { done(std::move(*outcome)); });
  }

  // On the front ends' loop: releases `bucket` on every shard but 0, then `then`.
  void ReleaseBucketOnOtherShards(const std::string& bucket, std::function<void()> then) {
    AcrossShards<bool>(
        1,
        [bucket](Shard& shard) {
          shard.node->ReleaseBucket(bucket);
          return true;
        },
        [](const Shard&, bool) {}, std::move(then));
  }

  // On the front ends' loop: shard 0's bucket properties to every other shard (each merges
  // them on its own loop); `then` runs on the front ends' loop once all have.
  void PublishBucketProps(std::function<void()> then) {
    using Records = std::map<std::string, cluster::BucketPropsRecord>;
    Shard& from = shell();
    CallAcross<Records>(
        *to_front, *from.to_shard,
        [node = from.node.get()](std::function<void(Records)> reply) {
          reply(node->cluster_state().bucket_props());
        },
        [this, then = std::move(then)](Records records) mutable {
          auto shared = std::make_shared<const Records>(std::move(records));
          AcrossShards<bool>(
              1,
              [shared](Shard& shard) {
                shard.node->MergeBucketProps(*shared);
                return true;
              },
              [](const Shard&, bool) {}, std::move(then));
        });
  }

  // On the front ends' loop: every shard's figures, taken on its loop, summed.
  void GatherFigures(std::function<void(ShardFigures)> done) {
    auto figures = std::make_shared<std::vector<ShardFigures>>(shards.size());
    AcrossShards<ShardFigures>(
        0, [](Shard& shard) { return FiguresOf(shard); },
        [figures](const Shard& shard, ShardFigures taken) {
          (*figures)[shard.index] = std::move(taken);
        },
        [figures, done = std::move(done)] {
          ShardFigures total = figures->front();
          for (std::size_t s = 1; s < figures->size(); ++s) {
            const ShardFigures& more = (*figures)[s];
            Accumulate(total.stats, more.stats);
            Accumulate(total.loop, more.loop);
            Accumulate(total.memory, more.memory);
            // One file system: its space and reserve are shard 0's; the node refuses new data
            // where any shard does.
            total.storage.engine_failed |= more.storage.engine_failed;
            total.storage.below_reserve |= more.storage.below_reserve;
            total.storage.recoveries += more.storage.recoveries;
            total.writable &= more.writable;
            total.commit_failures += more.commit_failures;
          }
          done(std::move(total));
        });
  }

  // On a shard's loop: its storage condition as /health reports it (from the front ends'
  // loop): the first shard's that is not OK, else OK.
  void PublishHealth(std::uint32_t shard, const Status& condition) {
    std::lock_guard lock(health_mutex);
    health[shard] = condition;
  }
  Status Health() const {
    std::lock_guard lock(health_mutex);
    for (const Status& condition : health) {
      if (!condition.ok()) return condition;
    }
    return Status::Ok();
  }
  // On a shard's loop: its storage condition to its node and to /health.
  void UseStorageCondition(Shard& shard, const Status& condition) {
    shard.node->SetStorageCondition(condition);
    PublishHealth(shard.index, condition);
  }

  api::HttpServer::HttpsFiles HttpsFiles() const {
    return {config.tls_certificate_file, config.tls_private_key_file, config.tls_client_ca_file};
  }

  // Authenticates HTTP and RESP requests against `users` from now on. On the front ends' loop
  // (or before it runs).
  void UseUsers(api::AccessControl users) {
    access = std::make_shared<const api::AccessControl>(std::move(users));
    http->SetAccessControl(access, config.metrics_require_auth);
    if (resp) resp->SetAccessControl(access);
  }

  // Once a second, on each shard's loop: the free space and the engine's state decide whether
  // the shard takes new data (a failed engine is recovered here once there is room again),
  // and shard 0's member report gets the disk and request figures.
  void WatchStorage(Shard& shard) {
    shard.storage_timer->expires_after(kStorageCheckInterval);
    shard.storage_timer->async_wait([this, &shard](const boost::system::error_code& ec) {
      // (`stopping` belongs to the node's loop; the other shards' timers are cancelled by the
      // stop, on their loops.)
      if (ec || (shard.index == 0 && stopping)) return;
      UseStorageCondition(shard, shard.storage->Check(/*try_recover=*/true));
      if (shard.index == 0) {
        // The request figures are the front ends'; the load report is the node's.
        asio::post(front(), [this] {
          const api::RequestWindow::Summary requests = SampleRequests();
          asio::post(io, [this, requests] { ReportLoad(requests); });
        });
      }
      WatchStorage(shard);
    });
  }

  // On the front ends' loop: the client requests of the last minute.
  api::RequestWindow::Summary SampleRequests() {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    request_window.Sample(static_cast<std::uint64_t>(
                              std::chrono::duration_cast<std::chrono::milliseconds>(now).count()),
                          http->metrics().ClientRequestTotals());
    return request_window.Summarize();
  }

  // On the node's loop: the member report's disk and request figures.
  void ReportLoad(const api::RequestWindow::Summary& requests) {
    const StorageSpace& space = shell().storage->stats().space;
    node::LocalLoad load;
    load.disk_capacity_bytes = space.total_bytes;
    load.disk_available_bytes = space.free_bytes;
    load.disk_used_bytes =
        space.total_bytes > space.free_bytes ? space.total_bytes - space.free_bytes : 0;
    load.window_seconds = requests.window_seconds;
    load.requests_per_second = requests.requests_per_second;
    load.errors_per_second = requests.errors_per_second;
    load.p50_ms = requests.p50_ms;
    load.p99_ms = requests.p99_ms;
    shell().node->SetLocalLoad(load);
  }

  // SIGHUP: loads the peer certificate files again; new peer connections use them. A file
  // that does not load is logged and the certificates in use stay.
  void WaitForReload() {
    reload_signal->async_wait([this](const boost::system::error_code& ec, int) {
      if (ec || stopping) return;
      if (transport && transport->uses_tls()) {
        Result<std::shared_ptr<PeerTlsContext>> tls =
            PeerTlsContext::Load(config.peer_tls, transport_config_node_id);
        Status reloaded = tls.ok() ? transport->ReloadTls(std::move(*tls)) : tls.status();
        if (reloaded.ok()) {
          spdlog::info("SIGHUP: reloaded the peer TLS certificate {}",
                       config.peer_tls.certificate_file);
        } else {
          spdlog::error("SIGHUP: keeping the peer TLS certificates in use: {}", reloaded.message());
        }
      }
      if (!config.https_address.empty()) {
        asio::post(front(), [this] {
          if (Status reloaded = http->ReloadTls(HttpsFiles()); reloaded.ok()) {
            spdlog::info("SIGHUP: reloaded the HTTPS certificate {}", config.tls_certificate_file);
          } else {
            spdlog::error("SIGHUP: keeping the HTTPS certificate in use: {}", reloaded.message());
          }
        });
      }
      if (!config.users_file.empty()) {
        Result<api::AccessControl> access = api::AccessControl::LoadFile(config.users_file);
        if (access.ok()) {
          spdlog::info("SIGHUP: reloaded {} user(s) from {}", access->users().size(),
                       config.users_file);
          asio::post(front(),
                     [this, users = std::move(*access)]() mutable { UseUsers(std::move(users)); });
        } else {
          spdlog::error("SIGHUP: keeping the users in use: {}", access.status().message());
        }
      }
      WaitForReload();
    });
  }

  // Test only: RocksDB on a PowerLossFileSystem, announced loudly.
  Status UsePowerLossFileSystem(storage::RocksDbOptions& rocksdb_options) {
    const std::string graveyard =
        (std::filesystem::path(config.data_dir) / "power-loss-graveyard").string();
    auto file_system =
        storage::PowerLossFileSystem::Create(rocksdb::FileSystem::Default(), graveyard);
    if (!file_system.ok()) {
      return Status(file_system.status().code(),
                    "test power-loss file system: " + file_system.status().message());
    }
    spdlog::warn(
        "*** TEST ONLY: --test-power-loss-fs is on. RocksDB runs on a simulated power-loss "
        "file system, and SIGUSR2 drops every write not yet durable from {} and kills this "
        "process. Never use this in production. ***",
        config.data_dir);
    power_loss_fs = *file_system;
    rocksdb_options.file_system = *file_system;
    return Status::Ok();
  }

  // SIGUSR2 with test_power_loss_fs: the disk loses what is not durable, the process dies.
  [[noreturn]] void SimulatePowerLossAndExit() {
    spdlog::warn("SIGUSR2: simulating a power loss of {} (test only)", config.data_dir);
    Result<storage::PowerLossReport> report = power_loss_fs->SimulatePowerLoss();
    if (report.ok()) {
      spdlog::warn("simulated power loss: {}; exiting without closing anything",
                   report->ToString());
    } else {
      spdlog::error("simulated power loss failed, the data directory is in an unknown state: {}",
                    report.status().ToString());
    }
    spdlog::default_logger()->flush();
    // No destructor, no RocksDB close, no commit: as if the machine had lost power.
    ::_exit(report.ok() ? kPowerLossExitCode : 1);
  }

  // On the front ends' loop: stops the loops once every connection has closed, or when
  // in-flight requests overran the request timeout (their connections are then dropped).
  std::size_t ConnectionCount() const {
    return http->connection_count() + (resp ? resp->connection_count() : 0);
  }

  void PollDrained() {
    if (ConnectionCount() == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      if (ConnectionCount() != 0) {
        spdlog::warn("stop deadline passed with {} connection(s) open; dropping them",
                     ConnectionCount());
      }
      io.stop();
      front_io.stop();
      for (auto& shard : shards) {
        if (shard->own_io) shard->own_io->stop();
      }
      return;
    }
    drain_timer->expires_after(kDrainPollInterval);
    drain_timer->async_wait([this](const boost::system::error_code& ec) {
      if (!ec) PollDrained();
    });
  }

  ServerConfig config;
  asio::io_context io{1};        // the node's loop
  asio::io_context front_io{1};  // the front ends' loop, with front_end_threads = 1
  std::shared_ptr<storage::PowerLossFileSystem> power_loss_fs;  // test_power_loss_fs only
  std::unique_ptr<PeerTransport> transport;    // only when the node has a peer address
  std::vector<std::unique_ptr<Shard>> shards;  // shard 0 first: the node on `io`
  mutable std::mutex health_mutex;
  std::vector<Status> health;  // each shard's storage condition, for /health; health_mutex
  // POST /v1/cluster/backup; after engine and node, so that its thread ends before them.
  std::unique_ptr<NodeBackup> backup;
  // What the front ends call when they run on a loop of their own: the service and the backup
  // on the node's loop, across (runtime/cross_loop.h), through a channel each way.
  std::unique_ptr<LoopChannel> to_front;
  std::unique_ptr<LoopChannel> to_node;
  std::unique_ptr<CrossLoopKvService> front_service;
  std::unique_ptr<CrossLoopBackupService> front_backup;
  std::unique_ptr<ShardedKvService> sharded_service;  // shards > 1
  std::unique_ptr<ClusteredShards> clustered_shards;  // shards > 1 with peers
  std::size_t resp_connections_max = 0;               // from the file-descriptor plan
  std::shared_ptr<ByteBudget> input_budget;           // shared by HTTP, RESP and the peer transport
  api::RequestWindow request_window;  // client requests over the last minute, for ReportLoad
  std::unique_ptr<api::HttpServer> http;
  std::unique_ptr<api::RespServer> resp;  // after http: it records into http's metrics
  std::unique_ptr<asio::signal_set> signals;
  std::unique_ptr<asio::signal_set> reload_signal;      // SIGHUP: reload the peer certificates
  std::string transport_config_node_id;                 // whom the peer certificate must name
  std::shared_ptr<const api::AccessControl> access;     // users (users_file); null: none
  std::unique_ptr<asio::signal_set> power_loss_signal;  // SIGUSR2, test_power_loss_fs only
  std::unique_ptr<asio::steady_timer> drain_timer;
  std::chrono::steady_clock::time_point drain_deadline;
  bool stopping = false;  // on the node's loop
  bool ran = false;
  std::thread front_thread;  // runs front_io, with front_end_threads = 1
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Open(const ServerConfig& config) {
  // Before the shard count is read from the directory: half of it may be swapped in.
  MERIDIAN_RETURN_IF_ERROR(CheckNoReshardPending(config.data_dir));
  if (config.shards == 0) {
    // As many as the cores: a new data directory gets one shard per CPU this process may run
    // on; an existing one keeps the count it was created with. The test power-loss file
    // system has one shard only.
    ServerConfig resolved = config;
    resolved.shards =
        config.test_power_loss_fs
            ? 1
            : ResolveShardCount(0, config.data_dir, config.node.partition_count, AvailableCpus());
    return Open(resolved);
  }
  auto impl = std::make_unique<Impl>(config);
  impl->config.http_limits.key_bytes_max = config.node.key_bytes_max;
  impl->config.http_limits.value_bytes_max = config.node.value_bytes_max;
  if (!config.https_address.empty() &&
      (config.tls_certificate_file.empty() || config.tls_private_key_file.empty())) {
    return Status::InvalidArgument("https needs both a TLS certificate and a private key file");
  }
  if (config.shards < 1 || config.shards > config.node.partition_count) {
    return Status::InvalidArgument("shards must be between 1 and the partition count (" +
                                   std::to_string(config.node.partition_count) + "), not " +
                                   std::to_string(config.shards));
  }
  if (config.shards > 1 && config.test_power_loss_fs) {
    return Status::InvalidArgument("the test power-loss file system supports one shard only");
  }
  if (config.front_end_threads > 1) {
    return Status::InvalidArgument(
        "front_end_threads must be 0 (the front ends on the node's thread) or 1 (a thread of "
        "their own); more front-end threads are not supported yet");
  }
  if (!config.resp_address.empty()) {
    if (Status bucket = ValidateBucketName(config.resp_bucket); !bucket.ok()) {
      return Status::InvalidArgument("resp_bucket: " + bucket.message());
    }
  }

  // File descriptors: the soft limit raised to the hard one, then shared out so that client
  // connections can never take the descriptors RocksDB and the peers need.
  Result<FileDescriptorLimit> raised = RaiseFileDescriptorLimit();
  if (!raised.ok()) return raised.status();
  FileDescriptorWants wants{
      .http_connections_max = config.http_limits.connections_max,
      .resp_connections_max = config.resp_address.empty() ? 0 : config.http_limits.connections_max,
      .peer_connections_max =
          config.node.peer_address.empty() ? 0 : config.peer_transport.inbound_connections_max,
      .peer_pending_max =
          config.node.peer_address.empty() ? 0 : config.peer_transport.pending_handshakes_max};
  Result<FileDescriptorPlan> plan = PlanFileDescriptors(raised->current, wants);
  if (!plan.ok()) return plan.status();
  impl->config.http_limits.connections_max = plan->http_connections_max;
  impl->resp_connections_max = plan->resp_connections_max;
  impl->config.peer_transport.inbound_connections_max = plan->peer_connections_max;
  impl->config.peer_transport.pending_handshakes_max = plan->peer_pending_max;
  spdlog::info(
      "file descriptors: limit {}{}; RocksDB keeps up to {} files open; connections: HTTP {}, "
      "RESP {}, peers {} (+{} handshaking)",
      raised->current,
      raised->current != raised->previous
          ? " (raised from " + std::to_string(raised->previous) + ")"
          : std::string(),
      plan->rocksdb_open_files, plan->http_connections_max, plan->resp_connections_max,
      plan->peer_connections_max, plan->peer_pending_max);
  for (const std::string& lowered : plan->lowered) {
    spdlog::warn(
        "lowered to fit the file-descriptor limit of {}: {} (raise the limit to keep "
        "the configured cap)",
        raised->current, lowered);
  }

  // The input budget must hold the largest single request of each kind.
  {
    const std::uint64_t largest = std::max<std::uint64_t>(
        {config.node.value_bytes_max + config.node.key_bytes_max + (64u << 10),
         RespCommandBytesMax(config), config.peer_transport.frame_bytes_max});
    if (config.input_bytes_max < largest) {
      return Status::InvalidArgument(
          "input_bytes_max (" + std::to_string(config.input_bytes_max) +
          ") must hold the largest single request (" + std::to_string(largest) +
          " bytes: a RESP command, an HTTP body of value_bytes_max, or a peer frame)");
    }
    impl->input_budget = std::make_shared<ByteBudget>(config.input_bytes_max);
  }

  std::error_code fs_error;
  std::filesystem::create_directories(config.data_dir, fs_error);
  if (fs_error) {
    return Status::IoError("cannot create data directory " + config.data_dir + ": " +
                           fs_error.message());
  }
  const std::uint32_t shard_count = config.shards;
  storage::RocksDbOptions rocksdb_options = config.rocksdb;
  // Shards share the node's block cache and open-file budgets.
  rocksdb_options.block_cache_bytes = config.rocksdb.block_cache_bytes / shard_count;
  rocksdb_options.max_open_files =
      plan->rocksdb_open_files < 0
          ? plan->rocksdb_open_files
          : std::max(plan->rocksdb_open_files / static_cast<int>(shard_count), 16);
  // The NodeService holds every reply and peer message until the engine committed the
  // writes before it, so the server can commit a whole batch of requests at once.
  rocksdb_options.group_commit = true;
  if (config.test_power_loss_fs) {
    MERIDIAN_RETURN_IF_ERROR(impl->UsePowerLossFileSystem(rocksdb_options));
  }
  const std::filesystem::path data_dir_path(config.data_dir);
  // Shard 0's database existed before this start: every other shard's must exist too (a
  // shard's directory is never created beside existing data, which would lose its partitions).
  const bool existing = std::filesystem::exists(data_dir_path / "db" / "CURRENT", fs_error);
  // ... and without it, no other shard's may: shard 0's would start empty beside them.
  for (std::uint32_t s = 1; !existing && s < shard_count; ++s) {
    const std::filesystem::path other = data_dir_path / ShardDatabaseDirectory(s);
    if (std::filesystem::exists(other / "CURRENT", fs_error)) {
      return Status::FailedPrecondition("the data directory " + config.data_dir + " has " +
                                        other.string() + " but no db/ for shard 0: it was lost");
    }
  }
  for (std::uint32_t s = 0; s < shard_count; ++s) {
    auto shard = std::make_unique<Shard>();
    shard->index = s;
    if (s == 0) {
      shard->io = &impl->io;
    } else {
      shard->own_io = std::make_unique<asio::io_context>(1);
      shard->io = shard->own_io.get();
    }
    shard->db_path = (data_dir_path / ShardDatabaseDirectory(s)).string();
    if (s > 0 && existing && !std::filesystem::exists(shard->db_path + "/CURRENT", fs_error)) {
      return Status::FailedPrecondition(
          "the data directory " + config.data_dir + " has no " + shard->db_path + " for shard " +
          std::to_string(s) + " of " + std::to_string(shard_count) +
          ": it was created with fewer shards (the shard count is fixed when a node's data is "
          "created), or that directory was lost");
    }
    auto engine = storage::RocksDbEngine::Open(shard->db_path, rocksdb_options);
    if (!engine.ok()) {
      return Status(engine.status().code(),
                    "cannot open RocksDB at " + shard->db_path + ": " + engine.status().message());
    }
    shard->engine = std::move(*engine);
    impl->shards.push_back(std::move(shard));
  }
  impl->health.assign(shard_count, Status::Ok());

  node::NodeConfig node_config = config.node;
  node_config.shard_count = shard_count;
  // The node's background budget is shared out among its shards (0, unlimited, stays so).
  node_config.background.bytes_per_second = replication::BackgroundBytesPerSecondShare(
      config.node.background.bytes_per_second, shard_count);
  if (!node_config.peer_address.empty()) {
    PeerTransportConfig transport_config = impl->config.peer_transport;
    transport_config.cluster_name = node_config.cluster_name;
    transport_config.node_id = node_config.node_id;
    transport_config.listen_address = node_config.peer_address;
    if (config.peer_plaintext) {
      spdlog::warn(
          "INSECURE: peer connections are plaintext and unauthenticated (peer_security = "
          "\"insecure-plaintext\"): anyone who can reach {} can read, write and reconfigure "
          "this cluster",
          node_config.peer_address);
    } else {
      Result<std::shared_ptr<PeerTlsContext>> tls =
          PeerTlsContext::Load(config.peer_tls, node_config.node_id);
      if (!tls.ok()) return tls.status();
      transport_config.tls = std::move(*tls);
      impl->transport_config_node_id = node_config.node_id;
    }
    Impl* raw = impl.get();
    impl->transport = std::make_unique<PeerTransport>(
        impl->io, transport_config,
        [raw](const std::string&, const std::string& from_address, proto::PeerMessage message) {
          if (raw->clustered_shards) {
            raw->clustered_shards->Deliver(from_address, std::move(message));
          } else if (raw->shell().service) {
            raw->shell().service->Receive(from_address, message);
          }
        });
    impl->transport->SetInputBudget(impl->input_budget);
    if (Status listening = impl->transport->Listen(); !listening.ok()) {
      return Status(listening.code(), "cannot listen for peers on " + node_config.peer_address +
                                          ": " + listening.message());
    }
    // With port 0 the bound port is what peers must be told.
    node_config.peer_address = impl->transport->advertised_address();
  }
  for (auto& owned : impl->shards) {
    Shard& shard = *owned;
    node::NodeConfig shard_config = node_config;
    shard_config.shard_index = shard.index;
    // The node's background streams are shared out too (0, unlimited, stays so): shard s gets
    // its share of background_streams_max, the first ones one more of the remainder, and at
    // least one (so with fewer streams than shards the node may hold one per shard).
    if (const std::uint32_t streams = config.node.background.streams_max; streams > 0) {
      shard_config.background.streams_max = std::max<std::uint32_t>(
          streams / shard_count + (shard.index < streams % shard_count ? 1 : 0), 1);
    }
    node::Env env{&shard.clock, &shard.random, shard.engine.get()};
    shard.node = std::make_unique<node::Node>(shard_config, env);
    // The WAL write and fsync of each group commit run on the service's commit thread.
    shard.service = std::make_unique<NodeService>(
        *shard.io, *shard.node, NodeService::CommitHooks::ForEngine(*shard.engine));
    const std::string data_dir = config.data_dir;
    shard.storage = std::make_unique<StorageMonitor>(
        config.storage_reserve_bytes, [data_dir] { return ProbeFileSystem(data_dir); },
        *shard.engine);
    shard.service->SetStorageFailureSink([raw = impl.get(), &shard](const Status&) {
      // At once, before the failed batch's replies run; recovery waits for the next check.
      raw->UseStorageCondition(shard, shard.storage->Check(/*try_recover=*/false));
    });
  }
  Shard& shell = impl->shell();
  if (impl->transport) {
    PeerTransport* transport = impl->transport.get();
    shell.service->SetOutboundSink([transport](cluster::Outbound outbound) {
      // Delivery is at most once: every protocol retries what matters (gossip rounds,
      // handoff timeouts, forwarded-request deadlines), so a refused send is only logged.
      if (Status sent = transport->Send(outbound.to_address, outbound.message); !sent.ok()) {
        spdlog::debug("dropping a message to {}: {}", outbound.to_address, sent.ToString());
      }
    });
  }
  std::vector<storage::RocksDbEngine*> engines;
  for (auto& shard : impl->shards) engines.push_back(shard->engine.get());
  impl->backup = std::make_unique<NodeBackup>(
      impl->io,
      // On the backup thread: a checkpoint of any shard's engine may run beside its loop.
      [engines](std::uint32_t shard, const std::string& directory) {
        return engines.at(shard)->Checkpoint(directory);
      },
      [node = shell.node.get(), shard_count] {
        BackupManifest manifest;
        manifest.node_id = node->config().node_id;
        manifest.cluster_name = node->config().cluster_name;
        manifest.partition_count = node->config().partition_count;
        manifest.storage_format_version = node::kStorageFormatVersion;
        manifest.ring_version = node->cluster_state().ring().version();
        manifest.incarnation = node->incarnation();
        manifest.meridian_version = MERIDIAN_VERSION;
        manifest.shards = shard_count;
        manifest.format = shard_count > 1 ? kShardedBackupFormat : kBackupFormat;
        return manifest;
      });
  api::KvService* front_service = shell.service.get();
  api::BackupService* front_backup = impl->backup.get();
  if (config.front_end_threads > 0 || shard_count > 1) {
    impl->to_front = std::make_unique<LoopChannel>(impl->front());
  }
  if (config.front_end_threads > 0) {
    impl->to_node = std::make_unique<LoopChannel>(impl->io);
    impl->front_service =
        std::make_unique<CrossLoopKvService>(*impl->to_front, *impl->to_node, *shell.service);
    impl->front_backup =
        std::make_unique<CrossLoopBackupService>(*impl->to_front, *impl->to_node, *impl->backup);
    front_service = impl->front_service.get();
    front_backup = impl->front_backup.get();
  }
  if (shard_count > 1) {
    std::vector<api::KvService*> entries;
    for (auto& owned : impl->shards) {
      Shard& shard = *owned;
      shard.to_shard = std::make_unique<LoopChannel>(*shard.io);
      if (shard.io == &impl->front()) {
        entries.push_back(shard.service.get());
      } else {
        shard.from_front =
            std::make_unique<CrossLoopKvService>(*impl->to_front, *shard.to_shard, *shard.service);
        entries.push_back(shard.from_front.get());
      }
    }
    ShardedKvService::ShardHooks hooks;
    Impl* raw = impl.get();
    hooks.publish_buckets = [raw](std::function<void()> then) {
      raw->PublishBucketProps(std::move(then));
    };
    hooks.hold_buckets = [raw](const std::string& bucket,
                               std::function<void(Result<std::optional<std::uint32_t>>)> done) {
      raw->HoldBucketOnOtherShards(bucket, std::move(done));
    };
    hooks.release_buckets = [raw](const std::string& bucket, std::function<void()> then) {
      raw->ReleaseBucketOnOtherShards(bucket, std::move(then));
    };
    impl->sharded_service = std::make_unique<ShardedKvService>(
        std::move(entries), config.node.partition_count, std::move(hooks));
    front_service = impl->sharded_service.get();
    if (impl->transport) {
      std::vector<ClusteredShards::Shard> clustered;
      for (auto& owned : impl->shards) {
        clustered.push_back({owned->node.get(), owned->service.get(), owned->to_shard.get()});
      }
      PeerTransport* transport = impl->transport.get();
      impl->clustered_shards = std::make_unique<ClusteredShards>(
          std::move(clustered),
          [transport](const cluster::Outbound& outbound) {
            if (Status sent = transport->Send(outbound.to_address, outbound.message); !sent.ok()) {
              spdlog::debug("dropping a message to {}: {}", outbound.to_address, sent.ToString());
            }
          },
          // The followers' queues share the input budget's size, each at least a whole frame.
          std::max<std::uint64_t>(config.input_bytes_max / (shard_count - 1),
                                  config.peer_transport.frame_bytes_max));
    }
  }
  impl->http =
      std::make_unique<api::HttpServer>(impl->front(), *front_service, impl->config.http_limits);
  impl->http->SetBackupService(front_backup);
  impl->http->SetInputBudget(impl->input_budget);
  impl->http->SetHealthCheck([raw = impl.get()] { return raw->Health(); });
  // The node's series: its figures are taken on its loop (each shard's on its own), rendered
  // wherever they arrive.
  auto render = [budget = impl->input_budget, transport = impl->transport.get(),
                 clustered = impl->clustered_shards.get()](const ShardFigures& figures) {
    std::string out =
        RenderNodeMetrics(figures.stats) + RenderEventLoopMetrics(figures.loop) +
        RenderStorageMemoryMetrics(figures.memory) +
        RenderStorageConditionMetrics(figures.storage, figures.writable, figures.commit_failures) +
        RenderInputBudgetMetrics(*budget);
    if (transport != nullptr) {
      out += RenderPeerListenerMetrics(transport->stats(), transport->uses_tls());
    }
    if (clustered != nullptr) {
      out +=
          RenderShardRouterMetrics(clustered->dropped_messages(), clustered->unroutable_messages());
    }
    return out;
  };
  auto node_series = [&shell, render] { return render(FiguresOf(shell)); };
  if (shard_count > 1) {
    impl->http->metrics().SetExtraSource([raw = impl.get(), render](api::Metrics::RenderDone done) {
      raw->GatherFigures(
          [render, done = std::move(done)](ShardFigures total) { done(render(total)); });
    });
  } else if (config.front_end_threads > 0) {
    impl->http->metrics().SetExtraSource(
        [raw = impl.get(), node_series](api::Metrics::RenderDone done) {
          CallAcross<std::string>(
              *raw->to_front, *raw->to_node,
              [node_series](std::function<void(std::string)> reply) { reply(node_series()); },
              std::move(done));
        });
  } else {
    impl->http->metrics().SetExtraSource(
        [node_series](api::Metrics::RenderDone done) { done(node_series()); });
  }
  if (!config.http_address.empty()) {
    MERIDIAN_RETURN_IF_ERROR(impl->http->ListenHttp(config.http_address));
  }
  if (!config.https_address.empty()) {
    impl->http->SetCertificateUser([](x509_st* certificate) -> std::optional<std::string> {
      Result<CertificateIdentity> identity = IdentityOfCertificate(certificate);
      if (!identity.ok() || identity->kind != CertificateKind::kClient) return std::nullopt;
      return identity->name;
    });
    MERIDIAN_RETURN_IF_ERROR(impl->http->ListenHttps(config.https_address, impl->HttpsFiles()));
  }
  if (!config.resp_address.empty()) {
    api::RespSettings settings;
    settings.bucket = config.resp_bucket;
    settings.mode = node_config.peer_address.empty() ? "standalone" : "cluster";
    settings.node_id = node_config.node_id;
    api::RespServerLimits limits;
    limits.connections_max = impl->resp_connections_max;
    limits.idle_timeout_ms = config.http_limits.idle_timeout_ms;
    limits.command_timeout_ms = config.http_limits.request_timeout_ms;
    // One argument may be as large as a value (or a key); a whole command as a large value
    // plus its key, and at least 64 MiB so that MSET of several values fits.
    limits.connection.parser.bulk_bytes_max =
        std::max(config.node.value_bytes_max, config.node.key_bytes_max);
    limits.connection.parser.command_bytes_max = RespCommandBytesMax(config);
    impl->resp = std::make_unique<api::RespServer>(impl->front(), *front_service,
                                                   &impl->http->metrics(), settings, limits);
    impl->resp->SetInputBudget(impl->input_budget);
    if (Status listening = impl->resp->Listen(config.resp_address); !listening.ok()) {
      return Status(listening.code(), "resp: " + listening.message());
    }
  }
  // Before the loop runs, so no request is served without it (HTTP and RESP alike).
  if (!config.users_file.empty()) {
    Result<api::AccessControl> access = api::AccessControl::LoadFile(config.users_file);
    if (!access.ok()) return access.status();
    spdlog::info("authentication on: {} user(s) from {}", access->users().size(),
                 config.users_file);
    impl->UseUsers(std::move(*access));
  }
  // The node opens after the listeners are bound, so it advertises the bound HTTP port; no
  // request can reach it before Run() starts the event loop.
  for (auto& owned : impl->shards) {
    Shard& shard = *owned;
    if (node_config.http_address.empty()) {
      shard.node->SetHttpAddress(impl->http->http_endpoint().empty() ? impl->http->https_endpoint()
                                                                     : impl->http->http_endpoint());
    }
    if (Status status = shard.node->Open(); !status.ok()) {
      return Status(status.code(), "cannot open the node in " + config.data_dir +
                                       (shard_count > 1 ? " (shard " + std::to_string(shard.index) +
                                                              ", " + shard.db_path + ")"
                                                        : std::string()) +
                                       ": " + status.message());
    }
    // Shard 0 owns the bucket properties; the others take them from it at every start (one
    // may have missed a change before a crash).
    // (In a cluster the followers take the whole cluster state from the shell's view instead.)
    if (shard.index > 0 && !shard.node->FollowsShell()) {
      shard.node->MergeBucketProps(shell.node->cluster_state().bucket_props());
    }
    // What Open wrote (identity, incarnation) is durable before the node is announced.
    if (Status committed = shard.engine->CommitPending(); !committed.ok()) {
      return Status(committed.code(), "cannot commit the node's state in " + shard.db_path + ": " +
                                          committed.message());
    }
    // Before the first request: a node started on a full disk refuses writes from the start.
    impl->UseStorageCondition(shard, shard.storage->Check(/*try_recover=*/false));
    shard.storage_timer = std::make_unique<asio::steady_timer>(*shard.io);
    impl->WatchStorage(shard);
  }
  if (impl->clustered_shards) impl->clustered_shards->Start();
  impl->ReportLoad(impl->SampleRequests());
  impl->drain_timer = std::make_unique<asio::steady_timer>(impl->front());
  impl->signals = std::make_unique<asio::signal_set>(impl->io, SIGINT, SIGTERM);
  Impl* raw = impl.get();
  impl->signals->async_wait([raw](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    spdlog::info("received signal {}", signal_number);
    raw->BeginStop();
  });
  if ((impl->transport && impl->transport->uses_tls()) || !config.users_file.empty() ||
      !config.https_address.empty()) {
    impl->reload_signal = std::make_unique<asio::signal_set>(impl->io, SIGHUP);
    impl->WaitForReload();
  }
  if (impl->power_loss_fs) {
    impl->power_loss_signal = std::make_unique<asio::signal_set>(impl->io, SIGUSR2);
    impl->power_loss_signal->async_wait([raw](const boost::system::error_code& ec, int) {
      if (!ec) raw->SimulatePowerLossAndExit();
    });
  }
  spdlog::info("node {} (actor {:016x}, incarnation {}) open: data_dir={} partitions={} {}",
               node_config.node_id, shell.node->actor_id(), shell.node->incarnation(),
               config.data_dir, config.node.partition_count,
               node_config.peer_address.empty() ? std::string("standalone")
                                                : "peer=" + node_config.peer_address);
  spdlog::info("threads: the node's event loop{}, a commit thread{}",
               config.front_end_threads > 0 ? ", the front ends' event loop (HTTP, HTTPS, RESP)"
                                            : " (also running HTTP, HTTPS and RESP)",
               shard_count > 1 ? fmt::format("; shards: {} (shard 0 on the node's event loop, each "
                                             "other on an event loop and commit thread of its own)",
                                             shard_count)
                               : std::string());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string Server::ReadyLine() const {
  std::string line = "meridian ready:";
  if (!impl_->http->http_endpoint().empty()) line += " http=" + impl_->http->http_endpoint();
  if (!impl_->http->https_endpoint().empty()) line += " https=" + impl_->http->https_endpoint();
  if (impl_->resp) line += " resp=" + impl_->resp->endpoint();
  if (impl_->transport) line += " peer=" + impl_->transport->advertised_address();
  return line;
}

std::uint16_t Server::http_port() const {
  return impl_->http->http_port();
}
std::uint16_t Server::https_port() const {
  return impl_->http->https_port();
}
std::uint16_t Server::resp_port() const {
  return impl_->resp ? impl_->resp->port() : 0;
}

Status Server::Run() {
  if (impl_->ran) return Status::Internal("Server::Run called twice");
  impl_->ran = true;
  std::string line = ReadyLine();
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
  spdlog::info("{}", line);
  for (auto& owned : impl_->shards) {
    Shard* shard = owned.get();
    if (!shard->own_io) continue;
    shard->thread = std::thread([shard] {
      NameThisThread("shard-" + std::to_string(shard->index));
      // Like the node's loop below: until the drain stops it.
      auto work = asio::make_work_guard(*shard->own_io);
      shard->own_io->run();
    });
  }
  if (impl_->config.front_end_threads > 0) {
    Impl* impl = impl_.get();
    impl->front_thread = std::thread([impl] {
      NameThisThread("front-ends");
      // Runs until the drain stops it, even while no connection or listener has work.
      auto work = asio::make_work_guard(impl->front_io);
      impl->front_io.run();
    });
  }
  {
    // The node's loop runs until the drain stops it: once the stop cancelled its timers and
    // signals, the front ends' requests in flight may be all it has left to do.
    auto work = asio::make_work_guard(impl_->io);
    impl_->io.run();
  }
  // The drain stopped every loop; their threads end before anything is shut down.
  if (impl_->front_thread.joinable()) impl_->front_thread.join();
  for (auto& shard : impl_->shards) {
    if (shard->thread.joinable()) shard->thread.join();
  }
  // A backup in flight finishes before the node's last writes (its report is dropped).
  impl_->backup->Shutdown();
  Status result = Status::Ok();
  for (auto& owned : impl_->shards) {
    Shard& shard = *owned;
    // The sync in flight, if any, ends before this thread commits again (an engine runs one
    // commit at a time); the outputs still held are dropped with the connections.
    shard.service->Shutdown();
    // A clean stop: the next start keeps this node's actor id (see Node::Close).
    if (Status closed = shard.node->Close(); !closed.ok()) {
      spdlog::error("closing the node failed: {}", closed.ToString());
      if (result.ok()) result = closed;
      continue;
    }
    if (Status committed = shard.engine->CommitPending(); !committed.ok()) {
      spdlog::error("committing the node's final writes failed: {}", committed.ToString());
      if (result.ok()) result = committed;
    }
  }
  if (result.ok()) spdlog::info("stopped");
  return result;
}

void Server::RequestStop() {
  Impl* impl = impl_.get();
  asio::post(impl->io, [impl] { impl->BeginStop(); });
}

ServerConfig MachineDefaultServerConfig() {
  ServerConfig config;
  config.node.background.bytes_per_second =
      replication::BackgroundBytesPerSecondForCores(AvailableCpus());
  return config;
}

}  // namespace meridian::runtime
