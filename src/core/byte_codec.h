// Little helpers to build and parse binary formats: fixed-width little-endian integers,
// LEB128 varints and base64url. ByteReader never reads past its input; every Read* returns
// false on truncation or overflow and then leaves the reader in a failed state.
// Thread-compatible value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian {

void PutFixed32(std::string& out, std::uint32_t value);
// Big-endian, so that encoded numbers sort bytewise in numeric order (storage keys).
void PutBigEndian32(std::string& out, std::uint32_t value);
void PutFixed64(std::string& out, std::uint64_t value);
void PutVarint64(std::string& out, std::uint64_t value);
void PutLengthPrefixed(std::string& out, std::string_view bytes);

class ByteReader {
 public:
  explicit ByteReader(std::string_view input) : rest_(input) {}

  bool ReadByte(std::uint8_t& value);
  bool ReadFixed32(std::uint32_t& value);
  bool ReadFixed64(std::uint64_t& value);
  bool ReadVarint64(std::uint64_t& value);
  bool ReadLengthPrefixed(std::string_view& bytes);
  bool ReadBytes(std::size_t count, std::string_view& bytes);

  bool empty() const { return rest_.empty(); }
  std::size_t remaining() const { return rest_.size(); }
  bool failed() const { return failed_; }

 private:
  bool Fail() {
    failed_ = true;
    return false;
  }
  std::string_view rest_;
  bool failed_ = false;
};

// RFC 4648 section 5 alphabet, no padding.
std::string Base64UrlEncode(std::string_view bytes);
// nullopt for characters outside the alphabet, padding, or an impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace meridian
