// Property: against one Node, random interleavings of gets, puts and deletes by several
// clients leave exactly the writes a simple reference model says are live. The model knows
// nothing of version vectors: a write is live until a later write whose context covered it,
// and a context covers exactly the writes its holder had seen (everything written before a
// get; the client's own context plus its own write for a put reply).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <set>
#include <string>
#include <vector>

#include "node/node.h"
#include "node/test_env.h"
#include "storage/memory_engine.h"

namespace meridian::node {
namespace {

constexpr int kClients = 3;
constexpr int kKeys = 2;

enum class Action { kGet, kPut, kDelete, kRestart };

struct Step {
  Action action;
  int client;
  int key;
  bool blind;  // write without a context even when the client holds one
};

// What one client holds for one key: the token and, in model terms, the writes it covers.
struct HeldContext {
  std::string token;
  std::set<int> covered;
};

struct ModelWrite {
  std::string value;
  bool tombstone;
};

struct KeyModel {
  std::vector<ModelWrite> writes;  // index = write id, in the order the node accepted them
  std::set<int> live;

  std::set<int> All() const {
    std::set<int> all;
    for (int id = 0; id < static_cast<int>(writes.size()); ++id) all.insert(id);
    return all;
  }
  std::vector<std::string> LiveValues() const {
    std::vector<std::string> values;  // in write order, which is dot order on one node
    for (int id : live) {
      if (!writes[id].tombstone) values.push_back(writes[id].value);
    }
    return values;
  }
};

rc::Gen<Step> GenStep() {
  return rc::gen::build<Step>(
      rc::gen::set(
          &Step::action,
          rc::gen::weightedElement<Action>(
              {{4, Action::kGet}, {5, Action::kPut}, {2, Action::kDelete}, {1, Action::kRestart}})),
      rc::gen::set(&Step::client, rc::gen::inRange(0, kClients)),
      rc::gen::set(&Step::key, rc::gen::inRange(0, kKeys)),
      rc::gen::set(&Step::blind, rc::gen::weightedElement<bool>({{1, true}, {3, false}})));
}

class Harness {
 public:
  Harness() { Restart(); }

  void Restart() {
    if (node_) {
      RC_ASSERT(node_->Close().ok());
    }
    node_ = std::make_unique<Node>(NodeConfig{}, Env{&clock_, &random_, &engine_});
    RC_ASSERT(node_->Open().ok());
    if (actor_ == 0) actor_ = node_->actor_id();
    RC_ASSERT(node_->actor_id() == actor_);  // same data, same identity
  }

  ClientReply Call(ClientRequest request) {
    clock_.Advance(1);
    node_->Submit(next_id_, std::move(request));
    std::vector<ClientReply> replies = node_->TakeReplies();
    RC_ASSERT(replies.size() == 1u);
    RC_ASSERT(replies[0].id == next_id_);
    ++next_id_;
    RC_ASSERT(replies[0].status.ok());
    return std::move(replies[0]);
  }

  void Run(const Step& step) {
    if (step.action == Action::kRestart) {
      Restart();
      return;
    }
    const ObjectId id{"bucket", "key-" + std::to_string(step.key)};
    KeyModel& model = keys_[step.key];
    HeldContext& held = held_[step.client][step.key];

    if (step.action == Action::kGet) {
      const auto reply = std::get<GetReply>(Call(GetRequest{id}).body);
      std::vector<std::string> values;
      for (const SiblingValue& sibling : reply.values) values.push_back(sibling.value);
      RC_ASSERT(values == model.LiveValues());
      RC_ASSERT(reply.found == !values.empty());
      RC_ASSERT(reply.context.empty() == model.writes.empty());
      held = HeldContext{reply.context, model.All()};
      return;
    }

    const bool tombstone = step.action == Action::kDelete;
    const HeldContext sent = step.blind ? HeldContext{} : held;
    const int write_id = static_cast<int>(model.writes.size());
    const std::string value = "w" + std::to_string(write_id);
    ClientRequest request;
    if (tombstone) {
      request = DeleteRequest{id, sent.token, {}};
    } else {
      request = PutRequest{id, value, sent.token, {}};
    }
    const auto reply = std::get<WriteReply>(Call(std::move(request)).body);

    // A delete without a context covers everything written so far.
    const std::set<int> covered = tombstone && sent.token.empty() ? model.All() : sent.covered;
    const bool covered_everything = covered == model.All();
    for (int superseded : covered) model.live.erase(superseded);
    model.writes.push_back(ModelWrite{value, tombstone});
    model.live.insert(write_id);

    // The reply context exists exactly when it can cover "what was sent plus this write"
    // without also covering a write the client never saw.
    RC_ASSERT(reply.context.empty() != covered_everything);
    if (!reply.context.empty()) {
      HeldContext next{reply.context, covered};
      next.covered.insert(write_id);
      held = std::move(next);
    }
    // Otherwise the client keeps its old (now stale) context: later steps exercise it.
  }

 private:
  test_support::ManualClock clock_;
  test_support::SplitMix64 random_{7};
  storage::MemoryEngine engine_;
  std::unique_ptr<Node> node_;
  ActorId actor_ = 0;
  RequestId next_id_ = 1;
  std::array<KeyModel, kKeys> keys_;
  std::array<std::array<HeldContext, kKeys>, kClients> held_;
};

RC_GTEST_PROP(NodeProperty, SiblingsMatchReferenceModelOfLiveWrites, ()) {
  const auto steps = *rc::gen::container<std::vector<Step>>(GenStep());
  Harness harness;
  for (const Step& step : steps) harness.Run(step);
}

}  // namespace
}  // namespace meridian::node
