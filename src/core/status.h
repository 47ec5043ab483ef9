// Status and Result<T>: errors as values across layer boundaries.
//
// A Status is either OK or carries a code and a human-readable message. Codes exist only
// where a caller reacts differently to them; `retryable()` says whether repeating the same
// request later may succeed. Thread-compatible value types.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace meridian {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // the request is malformed or violates a limit; retrying will not help
  kNotFound,         // the named thing does not exist
  kTooLarge,         // a size limit was exceeded (key, value, request)
  kCorruption,       // stored or received bytes failed validation
  kIoError,          // the storage layer failed; may succeed later
  kUnavailable,      // not enough resources / replicas right now; retryable
  kTimeout,          // a deadline passed; the operation may or may not have been applied
  kInternal,         // an invariant was violated; a bug
  // The node's disk is (nearly) full: it takes no new data until space returns; reads go
  // on. Retryable. (After kInternal: codes travel between nodes as numbers.)
  kInsufficientStorage,
  // A conditional write's condition (If-Match, If-None-Match) did not hold; nothing changed.
  kFailedPrecondition,
};
// The greatest code; a number above it from a peer is unknown.
inline constexpr StatusCode kLastStatusCode = StatusCode::kFailedPrecondition;

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status TooLarge(std::string m) { return {StatusCode::kTooLarge, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {StatusCode::kTimeout, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status InsufficientStorage(std::string m) {
    return {StatusCode::kInsufficientStorage, std::move(m)};
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // True when the same request may succeed if retried later.
  bool retryable() const {
    return code_ == StatusCode::kIoError || code_ == StatusCode::kUnavailable ||
           code_ == StatusCode::kTimeout || code_ == StatusCode::kInsufficientStorage;
  }
  // "InvalidArgument: key is empty"
  std::string ToString() const;

  // Marks a status as deliberately ignored (greppable).
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : state_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(state_).ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(state_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(state_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace meridian

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define MERIDIAN_RETURN_IF_ERROR(expr)           \
  do {                                           \
    ::meridian::Status _meridian_st = (expr);    \
    if (!_meridian_st.ok()) return _meridian_st; \
  } while (0)
