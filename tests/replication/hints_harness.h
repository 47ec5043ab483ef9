// One partition's HintedHandoff together with the NodeHintState it shares (here with no other
// partition), for the hinted handoff tests.
#pragma once

#include <cstdint>

#include "replication/hinted_handoff.h"

namespace meridian::replication::test_support {

struct NodeHintStateHolder {
  explicit NodeHintStateHolder(HintedHandoffConfig config) : node_state(config) {}
  NodeHintState node_state;
};

// Not opened: call Open() first, as the node does.
class TestHints : public NodeHintStateHolder, public HintedHandoff {
 public:
  TestHints(storage::Engine& engine, BackgroundBudget& budget, HintedHandoffConfig config,
            std::uint32_t partition)
      : NodeHintStateHolder(config), HintedHandoff(partition, engine, budget, node_state) {}
};

}  // namespace meridian::replication::test_support
