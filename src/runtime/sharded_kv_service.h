// ShardedKvService: the KvService the front ends use when a node's partitions are split over
// several shards (ServerConfig::shards; docs/design/write_path.md, "The shards"). It sends each
// request to the shard that owns it: an object request (get, put, delete, locate, local copy)
// to the shard of its key's partition (partition % shard count), everything else — bucket
// properties, cluster status and administration — to shard 0, which owns the node-wide state.
// A change of bucket properties is answered only once every other shard has taken shard 0's
// properties (`publish_buckets`), so a request sent after the reply finds them on every shard.
//
// Contract: Submit is called on the front ends' loop, and every entry of `shards` and
// `publish_buckets` call their completions there (cross-loop services for shards on other
// loops). Requests to one shard keep their order; requests to different shards may be
// answered in any order (a pipelined RESP client still gets its replies in order: the RESP
// front end orders them).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "api/kv_service.h"

namespace meridian::runtime {

class ShardedKvService final : public api::KvService {
 public:
  // Runs `then` once every shard but 0 has merged shard 0's bucket properties.
  using PublishBuckets = std::function<void(std::function<void()> then)>;

  // `shards` (at least one; each must outlive this service) are indexed by shard number.
  ShardedKvService(std::vector<api::KvService*> shards, std::uint32_t partition_count,
                   PublishBuckets publish_buckets);

  void Submit(node::ClientRequest request, Completion done) override;

  // The shard that owns `request` among `shard_count` shards.
  static std::uint32_t ShardOf(const node::ClientRequest& request, std::uint32_t partition_count,
                               std::uint32_t shard_count);

 private:
  std::vector<api::KvService*> shards_;
  std::uint32_t partition_count_;
  PublishBuckets publish_buckets_;
};

}  // namespace meridian::runtime
