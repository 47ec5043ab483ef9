// The YCSB core workloads the bench runs: their operation mix and default key distribution.
// A (update heavy) 50% read / 50% update; B (read mostly) 95/5; C read only; D (read latest)
// 95% read / 5% insert with reads skewed to recent inserts; F 50% read / 50%
// read-modify-write. E (short ranges) is not supported: no store here scans. Beyond YCSB:
// "cas", every operation a compare-and-set — a read, then a write conditional on the version
// read (If-Match; If-None-Match: * for a missing key), over uniformly chosen keys.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/key_chooser.h"
#include "meridian/result.h"

namespace meridian::bench {

enum class OpType : std::uint8_t { kRead, kUpdate, kInsert, kReadModifyWrite };
inline constexpr std::size_t kOpTypeCount = 4;
inline constexpr std::array<OpType, kOpTypeCount> kOpTypes = {
    OpType::kRead, OpType::kUpdate, OpType::kInsert, OpType::kReadModifyWrite};

// "read", "update", "insert", "read-modify-write".
const char* OpTypeName(OpType type);

struct WorkloadSpec {
  std::string name = "a";  // "a", "b", "c", "d", "f", "cas"
  // Proportions of the run phase; they sum to 1.
  double read = 0;
  double update = 0;
  double insert = 0;
  double read_modify_write = 0;
  Distribution distribution = Distribution::kZipfian;  // YCSB's requestdistribution
  // The write of a read-modify-write is conditional on the version read (workload "cas").
  bool compare_and_set = false;

  // "read 50% update 50%": the non-zero parts of the mix.
  std::string Describe() const;
};

// "a", "b", "c", "d", "f" (case-insensitive; "workloada" too) or "cas". kInvalidArgument
// otherwise.
client::Result<WorkloadSpec> ParseWorkload(std::string_view name);

// The operation for a uniform draw `u` in [0, 1): read, update, insert, read-modify-write
// take consecutive slices of [0, 1) by their proportions.
OpType ChooseOperation(const WorkloadSpec& workload, double u);

}  // namespace meridian::bench
