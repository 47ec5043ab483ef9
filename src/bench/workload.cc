#include "bench/workload.h"

#include <cctype>
#include <cmath>

namespace meridian::bench {

const char* OpTypeName(OpType type) {
  switch (type) {
    case OpType::kRead:
      return "read";
    case OpType::kUpdate:
      return "update";
    case OpType::kInsert:
      return "insert";
    case OpType::kReadModifyWrite:
      return "read-modify-write";
  }
  return "unknown";
}

std::string WorkloadSpec::Describe() const {
  std::string text;
  const std::pair<const char*, double> parts[] = {{"read", read},
                                                  {"update", update},
                                                  {"insert", insert},
                                                  {"read-modify-write", read_modify_write}};
  for (const auto& [label, share] : parts) {
    if (share <= 0) continue;
    if (!text.empty()) text += " ";
    text +=
        std::string(label) + " " + std::to_string(static_cast<int>(std::lround(share * 100))) + "%";
  }
  return text;
}

client::Result<WorkloadSpec> ParseWorkload(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.rfind("workload", 0) == 0) lower.erase(0, 8);
  WorkloadSpec spec;
  if (lower == "a") {
    spec.read = 0.5;
    spec.update = 0.5;
  } else if (lower == "b") {
    spec.read = 0.95;
    spec.update = 0.05;
  } else if (lower == "c") {
    spec.read = 1.0;
  } else if (lower == "d") {
    spec.read = 0.95;
    spec.insert = 0.05;
    spec.distribution = Distribution::kLatest;
  } else if (lower == "f") {
    spec.read = 0.5;
    spec.read_modify_write = 0.5;
  } else if (lower == "cas") {
    spec.read_modify_write = 1.0;
    spec.compare_and_set = true;
    spec.distribution = Distribution::kUniform;  // contention is not what it measures
  } else {
    client::Error error;
    error.code = client::ErrorCode::kInvalidArgument;
    error.message = "unknown workload '" + std::string(name) + "': a, b, c, d, f or cas" +
                    (lower == "e" ? " (E needs range scans, which these stores lack)" : "");
    return error;
  }
  spec.name = lower;
  return spec;
}

OpType ChooseOperation(const WorkloadSpec& workload, double u) {
  double edge = workload.read;
  if (u < edge) return OpType::kRead;
  edge += workload.update;
  if (u < edge) return OpType::kUpdate;
  edge += workload.insert;
  if (u < edge) return OpType::kInsert;
  if (workload.read_modify_write > 0) return OpType::kReadModifyWrite;
  // Rounding at the top of [0, 1): the last operation with a share.
  if (workload.insert > 0) return OpType::kInsert;
  if (workload.update > 0) return OpType::kUpdate;
  return OpType::kRead;
}

}  // namespace meridian::bench
