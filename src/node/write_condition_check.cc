#include "node/write_condition_check.h"

#include <string>

#include "core/causal_context.h"

namespace meridian::node {
namespace {

std::string Holding(const ObjectId& id, const std::optional<DvvSet>& current) {
  if (!current.has_value() || current->empty()) return "the key does not exist";
  const std::string version = EncodeContext(current->clock(), id.bucket, id.key);
  if (current->IsDeleted()) return "the key was deleted (context " + version + ")";
  return "its current context is " + version +
         (current->LiveCount() > 1 ? " (" + std::to_string(current->LiveCount()) + " siblings)"
                                   : std::string());
}

}  // namespace

Status CheckWriteCondition(WriteCondition condition, std::string_view context, const ObjectId& id,
                           const std::optional<DvvSet>& current) {
  const bool live = current.has_value() && current->LiveCount() > 0;
  switch (condition) {
    case WriteCondition::kNone:
      return Status::Ok();
    case WriteCondition::kIfAbsent:
      if (!live) return Status::Ok();
      return Status::FailedPrecondition("the key exists (" + Holding(id, current) +
                                        "); nothing was written");
    case WriteCondition::kIfPresent:
      if (live) return Status::Ok();
      return Status::FailedPrecondition(Holding(id, current) + "; nothing was written");
    case WriteCondition::kIfMatch: {
      if (context.empty()) {
        return Status::InvalidArgument("If-Match needs the context of a get of the key");
      }
      Result<VersionVector> expected = DecodeContext(context, id.bucket, id.key);
      if (!expected.ok())
        return Status::InvalidArgument("If-Match: " + expected.status().message());
      const VersionVector none;
      const VersionVector& now = current.has_value() ? current->clock() : none;
      if (now == *expected) return Status::Ok();
      return Status::FailedPrecondition("If-Match " + std::string(context) +
                                        " does not hold at the coordinating replica: " +
                                        Holding(id, current) + "; nothing was written");
    }
  }
  return Status::InvalidArgument("unknown write condition");
}

}  // namespace meridian::node
