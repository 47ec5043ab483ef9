// The metadata records of partition transfers under way (node/metadata_keys.h), as Node
// persists and loads them and as a reshard (node/resharded_data.h) splits them by shard.
// ON-DISK FORMAT (docs/format/storage.md):
//   "node/forwarding":         varint count, then per partition (ascending) the partition
//                              (4 bytes LE) and the new owner's address (length-prefixed);
//   "node/completed_incoming": varint count, then the partitions (4 bytes LE each, ascending).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "core/status.h"

namespace meridian::node {

// Partition -> the address of its new owner, to which its requests are forwarded.
using ForwardingRecord = std::map<std::uint32_t, std::string>;
// Partitions received in full as their pending owner.
using CompletedIncomingRecord = std::set<std::uint32_t>;

std::string EncodeForwardingRecord(const ForwardingRecord& record);
// Corruption when malformed or naming a partition >= partition_count.
Result<ForwardingRecord> DecodeForwardingRecord(std::string_view bytes,
                                                std::uint32_t partition_count);

std::string EncodeCompletedIncomingRecord(const CompletedIncomingRecord& record);
// Corruption when malformed or naming a partition >= partition_count.
Result<CompletedIncomingRecord> DecodeCompletedIncomingRecord(std::string_view bytes,
                                                              std::uint32_t partition_count);

}  // namespace meridian::node
