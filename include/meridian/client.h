// meridian::client::Client: the C++ client library of Meridian's HTTP API (docs/api.md).
//
// A Client holds one keep-alive HTTP/1.1 connection (plain TCP or TLS) to one server
// endpoint and issues blocking requests on it. Every call returns a Result; no exception
// leaves the library.
//
// Thread-safety: a Client is NOT thread-safe. Use one Client per thread (they are cheap:
// one connection each), or serialise calls yourself. Distinct Clients are independent.
//
// Connection reuse: the connection is opened lazily and reused across calls. A connection
// the server closed while idle is detected and replaced before a request is sent; if an
// idempotent request (GET, DELETE, bucket-property PUT) still fails on a reused
// connection before any reply arrives, it is re-sent once on a fresh connection. An
// object PUT is never re-sent: a repeated blind PUT would create an extra sibling.
//
// Causal contexts are opaque tokens: pass the context of a Get to the next Put/Delete of
// the same key to supersede exactly the values that Get returned.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "meridian/result.h"

namespace meridian::client {

inline constexpr std::string_view kDefaultBucket = "default";

struct ClientOptions {
  // "http://HOST[:PORT]" or "https://HOST[:PORT]"; HOST is a name, an IPv4 address or a
  // bracketed IPv6 address. Default ports: 80 and 443.
  std::string endpoint = "http://127.0.0.1:8080";
  // PEM file of trusted CA certificates for https. Empty: the system's default trust store.
  std::string ca_file;
  // Verify the server's certificate chain and that it names the endpoint's host.
  bool verify_peer = true;
  // Upper bound on connecting plus one request/reply exchange; 0 means no limit.
  std::uint32_t timeout_ms = 10000;
  // Replies with a larger body are rejected as kProtocolError (a limit on memory use).
  std::uint64_t response_body_bytes_max = 256ull * 1024 * 1024;
};

// One of the concurrent values of an object.
struct Sibling {
  std::string value;  // arbitrary bytes
  std::int64_t timestamp_ms = 0;
};

struct GetResult {
  // False when the key is missing or deleted; `siblings` is then empty, and `context` is set
  // when the key has a history (a delete), so a following Put can supersede the tombstone.
  bool found = false;
  // One element for a single value; several for concurrent values (siblings).
  std::vector<Sibling> siblings;
  std::string context;
};

struct WriteOptions {
  // The context of a previous Get (or write) of this key. Empty: a blind write, which for a
  // Put becomes a sibling of whatever is stored (in a `siblings` bucket).
  std::string context;
  // Overrides the bucket's `dw`: true = synced to disk before the reply.
  std::optional<bool> durable_write;
};
using PutOptions = WriteOptions;
using DeleteOptions = WriteOptions;

struct WriteResult {
  // Covers the request's context plus this write; pass it to the next Put to overwrite
  // this write. May be empty if the server sent none.
  std::string context;
  // True when the server synced the write to disk before replying.
  bool durable = false;
};

struct BucketProps {
  std::string conflict_policy;  // "siblings" or "lww"
  int dw = 0;                   // 0 or 1
  std::string json;             // the full `props` object as the server sent it
};

// The properties to change; unset fields stay as they are.
struct BucketPropsUpdate {
  std::optional<std::string> conflict_policy;
  std::optional<int> dw;
};

class Client {
 public:
  // Fails with kInvalidArgument for a malformed endpoint and kTlsError for an unreadable
  // CA file. Does not connect.
  static Result<std::unique_ptr<Client>> Create(ClientOptions options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A missing or deleted key is a success with found == false.
  Result<GetResult> Get(std::string_view bucket, std::string_view key);
  Result<WriteResult> Put(std::string_view bucket, std::string_view key, std::string_view value,
                          const PutOptions& options = {});
  // Deleting a missing key succeeds.
  Result<WriteResult> Delete(std::string_view bucket, std::string_view key,
                             const DeleteOptions& options = {});

  // The same operations on the bucket "default".
  Result<GetResult> Get(std::string_view key) { return Get(kDefaultBucket, key); }
  Result<WriteResult> Put(std::string_view key, std::string_view value,
                          const PutOptions& options = {}) {
    return Put(kDefaultBucket, key, value, options);
  }
  Result<WriteResult> Delete(std::string_view key, const DeleteOptions& options = {}) {
    return Delete(kDefaultBucket, key, options);
  }

  Result<BucketProps> GetBucketProps(std::string_view bucket);
  // Returns the bucket's full properties after the change.
  Result<BucketProps> SetBucketProps(std::string_view bucket, const BucketPropsUpdate& update);

  // Succeeds when the server answers GET /health with 200.
  Result<void> Health();

 private:
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::client
