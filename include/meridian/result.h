// meridian::client::Error and meridian::client::Result<T>: how the client library reports
// failures. Errors are values; no exception leaves the library.
//
// Value types, thread-compatible (copy freely, do not mutate one object from two threads).
// These live in `meridian::client` so that they never clash with the server's internal
// `meridian::Status` / `meridian::Result<T>` when both are visible in one translation unit.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace meridian::client {

// What went wrong, at the granularity a caller reacts to.
enum class ErrorCode {
  kInvalidArgument,      // rejected before sending: bad endpoint URL, empty key, bad bucket name
  kBadRequest,           // the server answered 400 (invalid key/bucket/context/props/parameter)
  kNotFound,             // the server answered 404 for something that is not an object read
  kTooLarge,             // the server answered 413 (key, value or body over its limit)
  kServerError,          // the server answered 500, or another unexpected status
  kUnavailable,          // the server answered 503 (storage failure, overload); retryable
  kConnectionFailed,     // could not connect, or the connection broke mid-request; retryable
  kTimeout,              // the request did not complete within ClientOptions::timeout_ms
  kTlsError,             // TLS setup, handshake or certificate verification failed
  kProtocolError,        // the server's reply could not be understood
  kUnauthenticated,      // the server answered 401: no token, or one it does not know
  kForbidden,            // the server answered 403: the user's role or buckets do not allow it
  kInsufficientStorage,  // the server answered 507: its disk is (nearly) full; retryable
  kPreconditionFailed,   // the server answered 412: If-Match / If-None-Match did not hold
};

// A stable lower-case name for `code`, e.g. "too_large".
const char* ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kServerError;
  // The server's `error` field (e.g. "key_too_large", "invalid_context") when the server sent
  // an error body; empty for errors detected by the client.
  std::string server_code;
  // One line, human-readable.
  std::string message;
  // The HTTP status of the server's reply; 0 when no reply was received.
  int http_status = 0;
  // True when repeating the same request later may succeed. For a PUT after a connection
  // failure or timeout the write may or may not have been applied.
  bool retryable = false;

  // "too_large (HTTP 413 key_too_large): key is 2000 bytes, limit 1024"
  std::string ToString() const;
};

// Either a value or an Error.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

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
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<Error>(state_);
  }

 private:
  std::variant<T, Error> state_;
};

// Success without a value, or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace meridian::client
