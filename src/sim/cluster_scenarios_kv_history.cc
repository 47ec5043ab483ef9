#include "sim/cluster_scenarios_kv_history.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/assert.h"

namespace meridian::sim {

void KvHistory::OnPutSent(const std::string& key, const std::string& value) {
  MERIDIAN_CHECK(!value.empty());
  const bool inserted = keys_[key].written.insert(value).second;
  MERIDIAN_CHECK(inserted);  // the workload writes unique values
}

void KvHistory::OnWriteAcknowledged(const std::string& key, const std::string& value,
                                    const ValueSet& covered) {
  KeyHistory& history = keys_[key];
  MERIDIAN_CHECK(value.empty() || history.written.contains(value));
  if (!value.empty()) history.acknowledged.insert(value);
  history.superseded.insert(covered.begin(), covered.end());
}

void KvHistory::OnWriteUnconfirmed(const std::string& key, const ValueSet& covered) {
  KeyHistory& history = keys_[key];
  history.maybe_superseded.insert(covered.begin(), covered.end());
}

Status KvHistory::CheckRead(const std::string& key, const std::vector<std::string>& values) const {
  const auto it = keys_.find(key);
  for (const std::string& value : values) {
    if (it == keys_.end() || !it->second.written.contains(value)) {
      return Status::InvalidArgument(
          fmt::format("key {}: read value {} that was never written", key, value));
    }
  }
  return Status::Ok();
}

KvHistory::ValueSet KvHistory::Required(const std::string& key) const {
  ValueSet required;
  const auto it = keys_.find(key);
  if (it == keys_.end()) return required;
  for (const std::string& value : it->second.acknowledged) {
    if (!it->second.superseded.contains(value) && !it->second.maybe_superseded.contains(value)) {
      required.insert(value);
    }
  }
  return required;
}

Status KvHistory::CheckFinal(const std::string& key, const std::vector<std::string>& values) const {
  MERIDIAN_RETURN_IF_ERROR(CheckRead(key, values));
  const ValueSet present(values.begin(), values.end());
  if (present.size() != values.size()) {
    return Status::InvalidArgument(
        fmt::format("key {}: a value appears twice among [{}]", key, fmt::join(values, ",")));
  }
  const ValueSet required = Required(key);
  for (const std::string& value : required) {
    if (!present.contains(value)) {
      return Status::InvalidArgument(
          fmt::format("key {}: acknowledged write {} is lost (read [{}], required [{}])", key,
                      value, fmt::join(values, ","), fmt::join(required, ",")));
    }
  }
  const auto it = keys_.find(key);
  for (const std::string& value : values) {
    if (it->second.superseded.contains(value)) {
      return Status::InvalidArgument(fmt::format(
          "key {}: value {} is back although an acknowledged write overwrote it", key, value));
    }
  }
  return Status::Ok();
}

std::vector<std::string> KvHistory::Keys() const {
  std::vector<std::string> keys;
  for (const auto& [key, history] : keys_) keys.push_back(key);
  return keys;
}

}  // namespace meridian::sim
