// Shared pieces of the fuzzers: a failure helper, and a KvService backed by a real standalone
// Node (MemoryEngine, manual clock, seeded random), so that requests the API layers accept
// go on through the node's own validation, context decoding and storage — nothing is faked.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "api/kv_service.h"
#include "node/node.h"
#include "node/test_env.h"
#include "storage/memory_engine.h"

namespace meridian::fuzz {

// A violated invariant: says which and aborts, so libFuzzer records the input as a crash.
[[noreturn]] inline void Fail(std::string_view what) {
  std::fprintf(stderr, "fuzz invariant violated: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}
#define MERIDIAN_FUZZ_CHECK(cond) \
  ((cond) ? (void)0 : ::meridian::fuzz::Fail(#cond " (" __FILE__ ":" MERIDIAN_FUZZ_LINE ")"))
#define MERIDIAN_FUZZ_STR2(x) #x
#define MERIDIAN_FUZZ_STR(x) MERIDIAN_FUZZ_STR2(x)
#define MERIDIAN_FUZZ_LINE MERIDIAN_FUZZ_STR(__LINE__)

// libprotobuf logs every string field of invalid UTF-8 it refuses to parse; under a fuzzer
// that is most inputs. Silenced at start-up in every fuzzer.
inline const bool kProtobufLogsSilenced = [] {
  google::protobuf::SetLogHandler(nullptr);
  return true;
}();

// The node behind NodeKvService: standalone (it owns every partition), few partitions so
// that opening it per input stays cheap.
inline node::NodeConfig StandaloneNodeConfig() {
  node::NodeConfig config;
  config.partition_count = 16;
  return config;
}

// KvService over a fresh standalone Node. Submit hands the request to the node and delivers
// the reply through the completion as soon as the node produces it — at once, or (deferred)
// when the fuzzer calls CompleteNext, so that front ends see completions late and out of
// order as they do under a real event loop.
class NodeKvService final : public api::KvService {
 public:
  explicit NodeKvService(node::NodeConfig config = StandaloneNodeConfig())
      : node_(config, node::Env{&clock_, &random_, &engine_}) {
    MERIDIAN_FUZZ_CHECK(node_.Open().ok());
  }
  ~NodeKvService() override { node_.Close().IgnoreError(); }

  void set_deferred(bool deferred) { deferred_ = deferred; }

  void Submit(node::ClientRequest request, Completion done) override {
    const node::RequestId id = next_id_++;
    waiting_.emplace(id, std::move(done));
    clock_.Advance(1);
    node_.Submit(id, std::move(request));
    Collect();
  }

  // Replies ready but held back (deferred mode).
  std::size_t ready() const { return ready_.size(); }
  // Requests the node has not answered yet.
  std::size_t waiting() const { return waiting_.size(); }
  // Completes the held reply at `index` (modulo the count); false when none is held.
  bool CompleteAt(std::size_t index) {
    if (ready_.empty()) return false;
    auto it = ready_.begin() + static_cast<std::ptrdiff_t>(index % ready_.size());
    auto [reply, done] = std::move(*it);
    ready_.erase(it);
    done(std::move(reply));
    return true;
  }
  // Lets time pass (timeouts fire) and completes everything held; bounded.
  void Settle() {
    for (int i = 0; i < 100 && (!waiting_.empty() || !ready_.empty()); ++i) {
      while (CompleteAt(0)) {
      }
      if (waiting_.empty()) break;
      clock_.Advance(node_.config().tick_interval_ms);
      node_.Tick();
      Collect();
    }
  }

  node::Node& node() { return node_; }

 private:
  void Collect() {
    node_.TakeOutbound();  // standalone: nobody to send to
    for (node::ClientReply& reply : node_.TakeReplies()) {
      auto it = waiting_.find(reply.id);
      MERIDIAN_FUZZ_CHECK(it != waiting_.end());  // exactly one reply per request
      Completion done = std::move(it->second);
      waiting_.erase(it);
      if (deferred_) {
        ready_.emplace_back(std::move(reply), std::move(done));
      } else {
        done(std::move(reply));
      }
    }
  }

  node::test_support::ManualClock clock_;
  SplitMix64Random random_{20261204};
  storage::MemoryEngine engine_;
  node::Node node_;
  node::RequestId next_id_ = 1;
  bool deferred_ = false;
  std::map<node::RequestId, Completion> waiting_;
  std::deque<std::pair<node::ClientReply, Completion>> ready_;
};

}  // namespace meridian::fuzz
