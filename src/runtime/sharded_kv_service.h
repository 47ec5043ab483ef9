// ShardedKvService: the KvService the front ends use when a node's partitions are split over
// several shards (ServerConfig::shards; docs/design/write_path.md, "The shards"). It sends each
// request to the shard that owns it: an object request (get, put, delete, locate, local copy)
// to the shard of its key's partition (node::ShardOfPartition: a contiguous range of partitions per
// shard), everything else — bucket properties, cluster status and administration — to shard 0,
// which owns the node-wide state. A change of bucket properties is answered only once every other
// shard has taken shard 0's properties (`publish_buckets`), so a request sent after the reply finds
// them on every shard. A change of a bucket's consistency or n first holds the bucket on every
// other shard
// (`hold_buckets`: those shards refuse its requests from then on) and checks that none of them
// stores its data; only then does shard 0 make the change (its own check included), which is
// published before the holds are released. One such change per bucket at a time. A change of
// the background budget goes to every shard, each taking its share of bytes_per_second; the
// reply adds the shards' settings up.
//
// Contract: Submit is called on the front ends' loop, and every entry of `shards` and
// `publish_buckets` call their completions there (cross-loop services for shards on other
// loops). Requests to one shard keep their order; requests to different shards may be
// answered in any order (a pipelined RESP client still gets its replies in order: the RESP
// front end orders them).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/kv_service.h"

namespace meridian::runtime {

class ShardedKvService final : public api::KvService {
 public:
  // What the service needs of the shards beyond their requests; each calls its completion on
  // the front ends' loop.
  struct ShardHooks {
    // Runs `then` once every shard but 0 has merged shard 0's bucket properties.
    std::function<void(std::function<void()> then)> publish_buckets;
    // Holds `bucket` on every shard but 0 (node::Node::HoldBucket), then reports the first
    // shard found storing its data (nullopt: none), or the first error.
    std::function<void(const std::string& bucket,
                       std::function<void(Result<std::optional<std::uint32_t>>)> done)>
        hold_buckets;
    // Releases `bucket` on every shard but 0, then runs `then`.
    std::function<void(const std::string& bucket, std::function<void()> then)> release_buckets;
  };

  // `shards` (at least one; each must outlive this service) are indexed by shard number.
  ShardedKvService(std::vector<api::KvService*> shards, std::uint32_t partition_count,
                   ShardHooks hooks);

  void Submit(node::ClientRequest request, Completion done) override;

 private:
  // Every shard's background budget changed; `done` once all have answered.
  void SetBackground(const node::ClusterBackgroundRequest& request, Completion done);
  // A bucket change through shard 0, published to the other shards before `done`.
  void SetBucket(node::SetBucketRequest request, Completion done);
  // A change of consistency or n from `current` to `next`: the other shards held and checked.
  void CheckedSetBucket(node::SetBucketRequest request, BucketProps current, BucketProps next,
                        Completion done);

  std::vector<api::KvService*> shards_;
  std::uint32_t partition_count_;
  ShardHooks hooks_;
  std::set<std::string> checked_changes_;  // buckets with a CheckedSetBucket running
};

}  // namespace meridian::runtime
