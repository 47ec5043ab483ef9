#include "node/transfer_records.h"

#include "core/byte_codec.h"

namespace meridian::node {

std::string EncodeForwardingRecord(const ForwardingRecord& record) {
  std::string encoded;
  PutVarint64(encoded, record.size());
  for (const auto& [partition, address] : record) {
    PutFixed32(encoded, partition);
    PutLengthPrefixed(encoded, address);
  }
  return encoded;
}

Result<ForwardingRecord> DecodeForwardingRecord(std::string_view bytes,
                                                std::uint32_t partition_count) {
  const auto malformed = [] {
    return Status::Corruption("metadata \"node/forwarding\" is malformed");
  };
  ByteReader reader(bytes);
  std::uint64_t count = 0;
  if (!reader.ReadVarint64(count) || count > reader.remaining()) return malformed();
  ForwardingRecord record;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint32_t partition = 0;
    std::string_view address;
    if (!reader.ReadFixed32(partition) || !reader.ReadLengthPrefixed(address) ||
        partition >= partition_count) {
      return malformed();
    }
    record[partition] = std::string(address);
  }
  return record;
}

std::string EncodeCompletedIncomingRecord(const CompletedIncomingRecord& record) {
  std::string encoded;
  PutVarint64(encoded, record.size());
  for (std::uint32_t partition : record) PutFixed32(encoded, partition);
  return encoded;
}

Result<CompletedIncomingRecord> DecodeCompletedIncomingRecord(std::string_view bytes,
                                                              std::uint32_t partition_count) {
  const auto malformed = [] {
    return Status::Corruption("metadata \"node/completed_incoming\" is malformed");
  };
  ByteReader reader(bytes);
  std::uint64_t count = 0;
  if (!reader.ReadVarint64(count) || count > reader.remaining()) return malformed();
  CompletedIncomingRecord record;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint32_t partition = 0;
    if (!reader.ReadFixed32(partition) || partition >= partition_count) return malformed();
    record.insert(partition);
  }
  return record;
}

}  // namespace meridian::node
