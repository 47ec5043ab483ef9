#include "node/client_route.h"

#include <type_traits>
#include <variant>

#include "core/hash.h"
#include "node/peer_route.h"

namespace meridian::node {

std::uint32_t ShardOfClientRequest(const ClientRequest& request, std::uint32_t partition_count,
                                   std::uint32_t shard_count) {
  return std::visit(
      [&](const auto& alternative) -> std::uint32_t {
        using T = std::decay_t<decltype(alternative)>;
        if constexpr (std::is_same_v<T, GetRequest> || std::is_same_v<T, PutRequest> ||
                      std::is_same_v<T, DeleteRequest> || std::is_same_v<T, ClusterLocateRequest> ||
                      std::is_same_v<T, ClusterLocalRequest>) {
          const std::uint32_t partition =
              PartitionOf(ObjectHash(alternative.id.bucket, alternative.id.key), partition_count);
          return ShardOfPartition(partition, partition_count, shard_count);
        } else {
          return 0;
        }
      },
      request);
}

}  // namespace meridian::node
