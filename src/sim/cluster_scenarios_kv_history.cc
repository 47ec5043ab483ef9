#include "sim/cluster_scenarios_kv_history.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/assert.h"

namespace meridian::sim {

void KvHistory::OnWriteSent(const std::string& key, const std::string& value,
                            const ValueSet& covered) {
  Advance();
  KeyHistory& history = keys_[key];
  if (!value.empty()) {
    const bool inserted = history.written.emplace(value, Value{covered, std::nullopt}).second;
    MERIDIAN_CHECK(inserted);  // the workload writes unique values
  } else {
    ++history.deletes_sent;
  }
  history.covered_by_sent.insert(covered.begin(), covered.end());
}

KvHistory::Step KvHistory::OnReadSent(const std::string& key) {
  (void)key;
  return Advance();
}

void KvHistory::OnWriteAcknowledged(const std::string& key, const std::string& value,
                                    const ValueSet& covered) {
  const Step step = Advance();
  KeyHistory& history = keys_[key];
  if (!value.empty()) {
    const auto written = history.written.find(value);
    MERIDIAN_CHECK(written != history.written.end());
    if (!written->second.acked_at) written->second.acked_at = step;
  }
  history.superseded.insert(covered.begin(), covered.end());
  for (const std::string& old : covered) history.superseded_at.emplace(old, step);
}

void KvHistory::OnWriteUnconfirmed(const std::string& key, const ValueSet& covered) {
  Advance();
  KeyHistory& history = keys_[key];
  history.maybe_superseded.insert(covered.begin(), covered.end());
}

Status KvHistory::CheckRead(const std::string& key, const std::vector<std::string>& values,
                            Step sent, bool strict, bool lww) const {
  MERIDIAN_CHECK(!(strict && lww));
  const auto it = keys_.find(key);
  for (const std::string& value : values) {
    if (it == keys_.end() || !it->second.written.contains(value)) {
      return Status::InvalidArgument(
          fmt::format("key {}: read value {} that was never written", key, value));
    }
  }
  const ValueSet present(values.begin(), values.end());
  if (present.size() != values.size()) {
    return Status::InvalidArgument(
        fmt::format("key {}: a value appears twice among [{}]", key, fmt::join(values, ",")));
  }
  if (lww && values.size() > 1) {
    return Status::InvalidArgument(
        fmt::format("key {}: read returned [{}] from an lww bucket, where one value wins", key,
                    fmt::join(values, ",")));
  }
  if (values.empty() && !strict) return Status::Ok();
  static const KeyHistory kEmpty;
  const KeyHistory& history = it == keys_.end() ? kEmpty : it->second;

  // Siblings only for concurrent writes.
  for (const std::string& newer : values) {
    const Value& written = history.written.at(newer);
    for (const std::string& older : values) {
      if (!written.covered.contains(older)) continue;
      const bool acked_before = written.acked_at && *written.acked_at < sent;
      return Status::InvalidArgument(fmt::format(
          "key {}: read returned [{}]: {} and {} as siblings, but {} was written with a token "
          "covering {} ({}acknowledged before the read was sent), so it superseded it",
          key, fmt::join(values, ","), older, newer, newer, older, acked_before ? "" : "not "));
    }
  }
  if (!strict) return Status::Ok();

  for (const auto& [value, written] : history.written) {
    if (!written.acked_at || *written.acked_at >= sent || present.contains(value) ||
        history.covered_by_sent.contains(value)) {
      continue;
    }
    return Status::InvalidArgument(
        fmt::format("key {}: read returned [{}] without {}, whose write was acknowledged before "
                    "the read was sent (step {} < {}) and which no write sent since covers",
                    key, fmt::join(values, ","), value, *written.acked_at, sent));
  }
  for (const std::string& value : values) {
    const auto superseded = history.superseded_at.find(value);
    if (superseded != history.superseded_at.end() && superseded->second < sent) {
      return Status::InvalidArgument(
          fmt::format("key {}: read returned [{}] with stale value {}: a write whose token "
                      "covered it was acknowledged before the read was sent (step {} < {})",
                      key, fmt::join(values, ","), value, superseded->second, sent));
    }
  }
  return Status::Ok();
}

KvHistory::ValueSet KvHistory::Required(const std::string& key) const {
  ValueSet required;
  const auto it = keys_.find(key);
  if (it == keys_.end()) return required;
  for (const auto& [value, written] : it->second.written) {
    if (written.acked_at && !it->second.superseded.contains(value) &&
        !it->second.maybe_superseded.contains(value)) {
      required.insert(value);
    }
  }
  return required;
}

Status KvHistory::CheckFinal(const std::string& key, const std::vector<std::string>& values,
                             bool lww) const {
  MERIDIAN_RETURN_IF_ERROR(CheckRead(key, values, step_ + 1, /*strict=*/false, lww));
  const ValueSet present(values.begin(), values.end());
  const ValueSet required = Required(key);
  const auto it = keys_.find(key);
  if (lww) {
    // One winner among the writes no acknowledged token superseded; absent only if a delete
    // (which may have won) was sent.
    if (values.empty() && !required.empty() && it->second.deletes_sent == 0) {
      return Status::InvalidArgument(
          fmt::format("key {}: reads as absent, but acknowledged writes [{}] were not "
                      "superseded and no delete of the key was ever sent",
                      key, fmt::join(required, ",")));
    }
  } else {
    for (const std::string& value : required) {
      if (!present.contains(value)) {
        return Status::InvalidArgument(
            fmt::format("key {}: acknowledged write {} is lost (read [{}], required [{}])", key,
                        value, fmt::join(values, ","), fmt::join(required, ",")));
      }
    }
  }
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
