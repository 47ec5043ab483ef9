#include "runtime/sharded_kv_service.h"

#include <type_traits>
#include <utility>
#include <variant>

#include "core/assert.h"
#include "core/hash.h"

namespace meridian::runtime {

ShardedKvService::ShardedKvService(std::vector<api::KvService*> shards,
                                   std::uint32_t partition_count, PublishBuckets publish_buckets)
    : shards_(std::move(shards)),
      partition_count_(partition_count),
      publish_buckets_(std::move(publish_buckets)) {
  MERIDIAN_CHECK(!shards_.empty());
  MERIDIAN_CHECK(IsValidPartitionCount(partition_count_));
  MERIDIAN_CHECK(shards_.size() <= partition_count_);
}

std::uint32_t ShardedKvService::ShardOf(const node::ClientRequest& request,
                                        std::uint32_t partition_count, std::uint32_t shard_count) {
  return std::visit(
      [&](const auto& alternative) -> std::uint32_t {
        using T = std::decay_t<decltype(alternative)>;
        if constexpr (std::is_same_v<T, node::GetRequest> || std::is_same_v<T, node::PutRequest> ||
                      std::is_same_v<T, node::DeleteRequest> ||
                      std::is_same_v<T, node::ClusterLocateRequest> ||
                      std::is_same_v<T, node::ClusterLocalRequest>) {
          const std::uint32_t partition =
              PartitionOf(ObjectHash(alternative.id.bucket, alternative.id.key), partition_count);
          return partition % shard_count;
        } else {
          return 0;
        }
      },
      request);
}

void ShardedKvService::Submit(node::ClientRequest request, Completion done) {
  const std::uint32_t shard =
      ShardOf(request, partition_count_, static_cast<std::uint32_t>(shards_.size()));
  if (shards_.size() > 1 && std::holds_alternative<node::SetBucketRequest>(request)) {
    shards_[0]->Submit(
        std::move(request), [this, done = std::move(done)](node::ClientReply reply) mutable {
          if (!reply.status.ok()) {
            done(std::move(reply));
            return;
          }
          publish_buckets_([done = std::move(done), reply = std::move(reply)]() mutable {
            done(std::move(reply));
          });
        });
    return;
  }
  shards_[shard]->Submit(std::move(request), std::move(done));
}

}  // namespace meridian::runtime
