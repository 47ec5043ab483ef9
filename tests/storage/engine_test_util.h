// Helpers shared by the storage tests: a temporary directory that removes itself, and a
// harness that owns one engine of either kind for the conformance suite.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "storage/engine.h"
#include "storage/memory_engine.h"
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
};

class MemoryHarness final : public EngineHarness {
 public:
  Engine& engine() override { return engine_; }

 private:
  MemoryEngine engine_;
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

}  // namespace meridian::storage::test_support
