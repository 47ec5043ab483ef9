// HttpLimits: every bound the HTTP front end enforces, in one place. Plain value type.
//
// key_bytes_max and value_bytes_max must equal the node's limits (NodeConfig); the server
// copies them from there so the edge refuses what the node would refuse, before reading it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace meridian::api {

struct HttpLimits {
  std::size_t key_bytes_max = 1024;           // decoded key bytes; longer -> 413 key_too_large
  std::size_t value_bytes_max = 8u << 20;     // PUT body; larger -> 413 before reading it all
  std::size_t header_bytes_max = 16u << 10;   // request line + header block
  std::size_t connections_max = 1024;         // further connections are accepted and closed
  std::uint64_t request_timeout_ms = 10'000;  // first byte of a request -> its last body byte
  std::uint64_t idle_timeout_ms = 60'000;     // waiting for the next request on a connection
};

// The largest header_bytes_max: Boost.Beast stores a field's length in 16 bits and throws
// (which would end the process) for a longer field value, so a header block that could hold
// one is refused at start-up instead (issue 11).
inline constexpr std::size_t kHeaderBytesMaxLimit = 65535;

// Bodies of the bucket endpoint are small JSON objects; this bounds them independently of
// value_bytes_max.
inline constexpr std::size_t kBucketBodyBytesMax = 64u << 10;

}  // namespace meridian::api
