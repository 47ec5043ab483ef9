#include "replication/background_budget.h"

namespace meridian::replication {

std::string_view WorkKindName(WorkKind kind) {
  switch (kind) {
    case WorkKind::kOwnershipHandoff:
      return "ownership_handoff";
    case WorkKind::kReplicaCopy:
      return "replica_copy";
    case WorkKind::kHintReplay:
      return "hint_replay";
    case WorkKind::kAntiEntropyRepair:
      return "anti_entropy_repair";
    case WorkKind::kTombstoneReaping:
      return "tombstone_reaping";
  }
  return "unknown";
}

}  // namespace meridian::replication
