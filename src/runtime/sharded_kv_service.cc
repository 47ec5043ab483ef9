#include "runtime/sharded_kv_service.h"

#include <memory>
#include <optional>
#include <utility>
#include <variant>

#include "core/assert.h"
#include "core/hash.h"
#include "node/bucket_change.h"
#include "node/client_route.h"
#include "replication/background_governor.h"

namespace meridian::runtime {

ShardedKvService::ShardedKvService(std::vector<api::KvService*> shards,
                                   std::uint32_t partition_count, ShardHooks hooks)
    : shards_(std::move(shards)), partition_count_(partition_count), hooks_(std::move(hooks)) {
  MERIDIAN_CHECK(!shards_.empty());
  MERIDIAN_CHECK(IsValidPartitionCount(partition_count_));
  MERIDIAN_CHECK(shards_.size() <= partition_count_);
}

void ShardedKvService::Submit(node::ClientRequest request, Completion done) {
  if (shards_.size() > 1) {
    if (auto* set = std::get_if<node::SetBucketRequest>(&request)) {
      // Whether the change needs the other shards checked depends on the current properties.
      // (Made before the call: its arguments are evaluated in no set order, and the completion
      // takes `copy`.)
      node::GetBucketRequest get{set->bucket};
      node::SetBucketRequest copy = *set;
      shards_[0]->Submit(std::move(get), [this, set = std::move(copy),
                                          done = std::move(done)](node::ClientReply reply) mutable {
        const auto* current =
            reply.status.ok() ? std::get_if<node::BucketReply>(&reply.body) : nullptr;
        Result<BucketProps> next = current != nullptr
                                       ? ApplyBucketPropsPatch(current->props, set.patch)
                                       : Result<BucketProps>(Status::InvalidArgument(""));
        if (next.ok() &&
            (next->consistency != current->props.consistency || next->n != current->props.n)) {
          CheckedSetBucket(std::move(set), current->props, *next, std::move(done));
        } else {
          // Shard 0 answers an invalid name or patch itself.
          SetBucket(std::move(set), std::move(done));
        }
      });
      return;
    }
    if (auto* background = std::get_if<node::ClusterBackgroundRequest>(&request)) {
      SetBackground(*background, std::move(done));
      return;
    }
  }
  const std::uint32_t shard = node::ShardOfClientRequest(
      request, partition_count_, static_cast<std::uint32_t>(shards_.size()));
  shards_[shard]->Submit(std::move(request), std::move(done));
}

void ShardedKvService::SetBackground(const node::ClusterBackgroundRequest& request,
                                     Completion done) {
  // Every shard takes its share; the reply adds them up, or is the first shard's error (a
  // value one shard refuses, every shard refuses: they are checked alike).
  struct Gathered {
    std::size_t pending;
    node::BackgroundReply total;
    std::optional<node::ClientReply> error;
    Completion done;
  };
  const auto shard_count = static_cast<std::uint32_t>(shards_.size());
  auto gathered = std::make_shared<Gathered>(Gathered{
      shards_.size(), node::BackgroundReply{0, false, shard_count}, std::nullopt, std::move(done)});
  for (api::KvService* shard : shards_) {
    node::ClusterBackgroundRequest share = request;
    if (share.bytes_per_second.has_value()) {
      share.bytes_per_second =
          replication::BackgroundBytesPerSecondShare(*share.bytes_per_second, shard_count);
    }
    shard->Submit(std::move(share), [gathered](node::ClientReply reply) {
      const auto* body =
          reply.status.ok() ? std::get_if<node::BackgroundReply>(&reply.body) : nullptr;
      if (body == nullptr) {
        if (reply.status.ok()) {
          reply.status =
              Status::Internal("a shard answered a background change with another reply");
        }
        if (!gathered->error.has_value()) gathered->error = std::move(reply);
      } else {
        gathered->total.bytes_per_second += body->bytes_per_second;
        gathered->total.paused = gathered->total.paused || body->paused;
      }
      if (--gathered->pending > 0) return;
      if (gathered->error.has_value()) {
        gathered->done(std::move(*gathered->error));
        return;
      }
      node::ClientReply combined;
      combined.body = gathered->total;
      gathered->done(std::move(combined));
    });
  }
}

void ShardedKvService::SetBucket(node::SetBucketRequest request, Completion done) {
  shards_[0]->Submit(
      std::move(request), [this, done = std::move(done)](node::ClientReply reply) mutable {
        if (!reply.status.ok()) {
          done(std::move(reply));
          return;
        }
        hooks_.publish_buckets([done = std::move(done), reply = std::move(reply)]() mutable {
          done(std::move(reply));
        });
      });
}

void ShardedKvService::CheckedSetBucket(node::SetBucketRequest request, BucketProps current,
                                        BucketProps next, Completion done) {
  const std::string bucket = request.bucket;
  if (!checked_changes_.insert(bucket).second) {
    node::ClientReply reply;
    reply.status = Status::Unavailable("a change of bucket \"" + bucket +
                                       "\" is being checked on this node; retry when it has "
                                       "finished");
    done(std::move(reply));
    return;
  }
  // Every outcome releases the holds (after the new properties reached every shard) and then
  // answers.
  auto finish = [this, bucket, done = std::move(done)](node::ClientReply reply) mutable {
    hooks_.release_buckets(
        bucket, [this, bucket, done = std::move(done), reply = std::move(reply)]() mutable {
          checked_changes_.erase(bucket);
          done(std::move(reply));
        });
  };
  hooks_.hold_buckets(
      bucket, [this, request = std::move(request), current, next,
               finish = std::move(finish)](Result<std::optional<std::uint32_t>> holder) mutable {
        node::ClientReply refused;
        if (!holder.ok()) {
          refused.status = holder.status();
          finish(std::move(refused));
          return;
        }
        if (holder->has_value()) {
          refused.status =
              node::BucketHoldsDataStatus(request.bucket, current, next,
                                          "on shard " + std::to_string(**holder) + " of this node");
          finish(std::move(refused));
          return;
        }
        request.other_shards_checked = true;
        SetBucket(std::move(request), std::move(finish));
      });
}

}  // namespace meridian::runtime
