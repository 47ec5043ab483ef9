// Helpers shared by the storage tests: a temporary directory that removes itself, and a
// harness that owns one engine of either kind for the conformance suite.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "storage/engine.h"
#include "storage/memory_engine.h"
#include "storage/power_loss_file_system.h"
#include "storage/rocksdb_engine.h"

namespace meridian::storage::test_support {

// A fresh directory under the system temp dir (mkdtemp), deleted with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "meridian-test-XXXXXX");
    char* made = ::mkdtemp(pattern.data());
    if (made == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // A path inside the directory (not created).
  std::string Sub(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Small RocksDB options so tests do not reserve the production cache size.
inline RocksDbOptions SmallRocksDbOptions() {
  RocksDbOptions options;
  options.block_cache_bytes = 8u << 20;
  options.write_buffer_bytes = 4u << 20;
  return options;
}

// Owns one engine (and whatever it needs, such as a directory) for a test.
class EngineHarness {
 public:
  virtual ~EngineHarness() = default;
  virtual Engine& engine() = 0;
  // Whether PowerLoss() is available.
  virtual bool can_lose_power() const { return false; }
  // A power cut that loses everything not durable, then the engine as the next start finds
  // it (the same object for MemoryEngine, a reopened one for RocksDB).
  virtual void PowerLoss() { ADD_FAILURE() << "this engine cannot simulate a power loss"; }
};

// A RocksDbEngine in a temporary directory on a PowerLossFileSystem. PowerLossAndReopen cuts
// the power, closes the engine (its writes fail then, as on a dead machine), powers on and
// opens the same directory again.
class PowerLossRocksDb {
 public:
  explicit PowerLossRocksDb(RocksDbOptions options = SmallRocksDbOptions())
      : options_(std::move(options)) {
    auto made = PowerLossFileSystem::Create(rocksdb::FileSystem::Default(), dir_.Sub("graveyard"));
    if (!made.ok()) {
      ADD_FAILURE() << made.status().ToString();
      return;
    }
    file_system_ = *made;
    options_.file_system = file_system_;
    Open();
  }
  ~PowerLossRocksDb() { engine_.reset(); }

  RocksDbEngine& engine() { return *engine_; }
  PowerLossFileSystem& file_system() { return *file_system_; }
  const std::string& path() const { return path_; }
  const RocksDbOptions& options() const { return options_; }

  PowerLossReport PowerLossAndReopen() {
    auto report = file_system_->SimulatePowerLoss();
    if (!report.ok()) ADD_FAILURE() << report.status().ToString();
    engine_.reset();
    file_system_->PowerOn();
    Open();
    return report.ok() ? *report : PowerLossReport{};
  }
  // A clean close (RocksDbEngine's destructor) and a new open.
  void CloseAndReopen() {
    engine_.reset();
    Open();
  }
  // A clean close, then the power cut before the next open.
  PowerLossReport CloseThenPowerLossAndReopen() {
    engine_.reset();
    return PowerLossAndReopen();
  }

 private:
  void Open() {
    auto opened = RocksDbEngine::Open(path_, options_);
    if (!opened.ok()) {
      ADD_FAILURE() << "reopen: " << opened.status().ToString();
      return;
    }
    engine_ = std::move(opened).value();
  }

  TempDir dir_;  // declared first: removed after the engine closed
  std::string path_ = dir_.Sub("db");
  RocksDbOptions options_;
  std::shared_ptr<PowerLossFileSystem> file_system_;
  std::unique_ptr<RocksDbEngine> engine_;
};

class MemoryHarness final : public EngineHarness {
 public:
  explicit MemoryHarness(bool group_commit = false)
      : engine_(MemoryEngineOptions{.group_commit = group_commit}) {}
  Engine& engine() override { return engine_; }
  bool can_lose_power() const override { return true; }
  void PowerLoss() override { engine_.DropUnsyncedWrites(); }

 private:
  MemoryEngine engine_;
};

class PowerLossRocksDbHarness final : public EngineHarness {
 public:
  explicit PowerLossRocksDbHarness(bool group_commit) : rocksdb_(Options(group_commit)) {}
  Engine& engine() override { return rocksdb_.engine(); }
  bool can_lose_power() const override { return true; }
  void PowerLoss() override { rocksdb_.PowerLossAndReopen(); }

 private:
  static RocksDbOptions Options(bool group_commit) {
    RocksDbOptions options = SmallRocksDbOptions();
    options.group_commit = group_commit;
    return options;
  }
  PowerLossRocksDb rocksdb_;
};

class RocksDbHarness final : public EngineHarness {
 public:
  explicit RocksDbHarness(bool group_commit = false) {
    RocksDbOptions options = SmallRocksDbOptions();
    options.group_commit = group_commit;
    auto opened = RocksDbEngine::Open(dir_.Sub("db"), options);
    if (!opened.ok()) {
      ADD_FAILURE() << opened.status().ToString();
      return;
    }
    engine_ = std::move(opened).value();
  }
  Engine& engine() override { return *engine_; }

 private:
  TempDir dir_;  // declared first: destroyed after the engine closes
  std::unique_ptr<RocksDbEngine> engine_;
};

struct EngineKind {
  std::string name;
  std::function<std::unique_ptr<EngineHarness>()> make;
};

inline std::string EngineKindName(const ::testing::TestParamInfo<EngineKind>& info) {
  return info.param.name;
}
// How GoogleTest (and so CTest's test list) shows a parameter: its name, not its bytes.
inline void PrintTo(const EngineKind& kind, std::ostream* out) {
  *out << kind.name;
}

}  // namespace meridian::storage::test_support
