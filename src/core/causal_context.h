// The causal context handed to clients: an opaque, URL-safe token for a VersionVector.
//
// Token = base64url (no padding) of:
//   format version (1 byte, currently 1) | tag (4 bytes, a hash of bucket and key) |
//   entry count (varint) | per entry: actor (8 bytes LE), counter (varint) |
//   checksum (4 bytes, xxh3 of everything before it).
// The tag binds a context to the object it was read from, so a context of another object
// (a "foreign" context) is rejected instead of silently superseding unrelated data.
// Format: docs/format/context.md. WIRE FORMAT: never change without a version bump.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/version_vector.h"

namespace meridian {

// Contexts longer than this are refused before decoding (bounds parsing work).
inline constexpr std::size_t kContextBytesMax = 8192;

std::string EncodeContext(const VersionVector& clock, std::string_view bucket,
                          std::string_view key);

// InvalidArgument with a clear message for a token that is not valid base64url, is too long,
// has an unknown version, fails its checksum, or was issued for another bucket/key.
// An empty token decodes to an empty VersionVector (a blind write).
Result<VersionVector> DecodeContext(std::string_view token, std::string_view bucket,
                                    std::string_view key);

}  // namespace meridian
