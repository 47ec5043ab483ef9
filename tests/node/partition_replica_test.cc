// PartitionReplica on its own, without a cluster: scripted scenarios in
// tests/node/testdata/partition_replica/*.txt (data-driven, etcd-raft style; see
// datadriven.h). Each file drives one replica of partition 5 on node "n1" over a MemoryEngine:
//
//   placement owner=n1 pending=n2 primaries=n1,n3,n4 [n1=n3] [data] [first]   ring change;
//                                n1=<nodes>: a second replica count in use (1 here) and its
//                                primaries (keys named solo-* are of that bucket)
//   put <key> <value>            a write stored here (objects column), OnStored and
//                                OnObjectChanged (and OnArrived, as the node does)
//   applied <key> <value>        a write that does not pass OnStored (a hint delivered here,
//                                a copy received): stored, OnObjectChanged, and OnArrived or,
//                                when the partition is not held here, OnForeignData
//   tick [<ms>]                  advance the clock (default 100 ms) and Tick
//   ack [status=<code>]          acknowledge the last handoff batch sent
//   fill-request from=<node>     a replica asks for a copy
//   copy-from <node>             a replica copy of the partition arrived from <node>
//   foreign-data | incoming-complete | fill-complete
//   drop [budget=<n>]            Drop(), the batch applied to the engine
//   down <node> | up <node>      the failure detector's opinion
//   keys                         the objects stored for the partition
//   hint <key> <value> for=<nodes>   a hint stored here as a fallback (synced)
//   hint-tick [<ms>]             advance the clock and deliver hints (TickHints): reachable
//                                targets are those not down; primaries from the placement
//   hint-ack [status=<code>]     acknowledge the last hint batch sent
//
// Every command prints the messages the replica sent, its persistence duties and a state line.
// Regenerate the expected outputs after an intended change with
// MERIDIAN_REWRITE=1 build/release/tests/node_test --gtest_filter='PartitionReplicaScenario*'
// and review the diff.
#include "node/partition_replica.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "core/dvv_set.h"
#include "core/object_codec.h"
#include "node/datadriven.h"
#include "replication/background_governor.h"
#include "storage/key_encoding.h"
#include "storage/memory_engine.h"

namespace meridian::node {
namespace {

constexpr std::uint32_t kPartition = 5;

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

class FakePeers final : public PeerDirectory {
 public:
  bool Reachable(const cluster::NodeId& node) const override { return down.count(node) == 0; }
  std::string AddressOf(const cluster::NodeId& node) const override { return node + ":1"; }
  std::set<cluster::NodeId> down;
};

class Harness {
 public:
  Harness() {
    config_ = PartitionReplicaConfig{"n1", "n1:1", {}, 5'000, 1'000, 15'000, {}};
    config_.anti_entropy.exchange_interval_ms = 0;  // anti_entropy_test.cc covers it
    // Keys named solo-* belong to a bucket of one replica; the others to one of three.
    config_.replica_count_of = [](std::string_view storage_key) -> std::uint32_t {
      auto key = storage::DecodeObjectKey(storage_key);
      return key.ok() && key->id.key.starts_with("solo") ? 1 : 3;
    };
  }

  std::string Run(const test_support::DataDrivenCase& c) {
    std::ostringstream out;
    if (c.command == "placement") {
      PartitionPlacement placement;
      placement.owner = c.Get("owner");
      if (c.Has("pending")) placement.pending_owner = c.Get("pending");
      placement.primaries = Split(c.Get("primaries"));
      if (c.Has("n1")) {
        placement.primaries_by_n[1] = Split(c.Get("n1"));
        placement.primaries_by_n[3] = placement.primaries;
      }
      placement.holds = std::find(placement.primaries.begin(), placement.primaries.end(),
                                  config_.self) != placement.primaries.end() ||
                        placement.pending_owner == config_.self;
      const bool has_data = std::find(c.args.begin(), c.args.end(), "data") != c.args.end();
      const bool first = std::find(c.args.begin(), c.args.end(), "first") != c.args.end();
      Replica().OnPlacement(placement, has_data, first);
    } else if (c.command == "put" || c.command == "applied") {
      const std::string key = storage::EncodeObjectKey(kPartition, "b", c.args.at(0));
      DvvSet object;
      object.Update({}, 7, HlcTimestamp::FromParts(++writes_, 0), false, c.args.at(1),
                    ConflictPolicy::kSiblings);
      const std::string encoded = EncodeObject(object);
      storage::WriteBatch batch;
      batch.Put(storage::Column::kObjects, key, encoded);
      EXPECT_TRUE(engine_.Write(batch, {}).ok());
      if (c.command == "put") Replica().OnStored(key, encoded);
      Replica().OnObjectChanged(key, std::nullopt, writes_);
      if (c.command == "applied" && !Replica().placement().holds) {
        Replica().OnForeignData();
      } else if (config_.replica_count_of(key) == 1) {
        Replica().OnArrived(key);  // the node asks for keys of the smaller replica count
      }
    } else if (c.command == "tick") {
      now_ms_ += c.args.empty() ? 100 : std::stoull(c.args.at(0));
      Replica().Tick(now_ms_, peers_, transfer_ids_);
    } else if (c.command == "ack") {
      EXPECT_TRUE(last_batch_.has_value()) << "no batch to acknowledge";
      if (last_batch_) {
        proto::HandoffAck ack;
        ack.set_transfer_id(last_batch_->transfer_id());
        ack.set_partition(last_batch_->partition());
        ack.set_sequence(last_batch_->sequence());
        ack.set_status_code(static_cast<std::uint32_t>(std::stoul(c.Get("status", "0"))));
        ack.set_receiver_incarnation(1);
        Replica().OnHandoffAck(ack, now_ms_);
      }
    } else if (c.command == "fill-request") {
      Replica().OnFillRequest(c.Get("from"));
    } else if (c.command == "copy-from") {
      Replica().OnCopyReceived(peers_.AddressOf(c.args.at(0)));
    } else if (c.command == "foreign-data") {
      Replica().OnForeignData();
    } else if (c.command == "incoming-complete") {
      Replica().OnIncomingComplete();
    } else if (c.command == "fill-complete") {
      Replica().OnFillComplete();
    } else if (c.command == "drop") {
      storage::WriteBatch batch;
      auto deleted = Replica().Drop(std::stoul(c.Get("budget", "1000")), batch);
      EXPECT_TRUE(deleted.ok());
      EXPECT_TRUE(engine_.Write(batch, {}).ok());
      out << "deleted " << (deleted.ok() ? *deleted : 0) << "\n";
    } else if (c.command == "hint") {
      const std::string key = storage::EncodeObjectKey(kPartition, "b", c.args.at(0));
      DvvSet object;
      object.Update({}, 9, HlcTimestamp::FromParts(++writes_, 0), false, c.args.at(1),
                    ConflictPolicy::kSiblings);
      auto hints = Replica().Hints();
      EXPECT_TRUE(hints.ok());
      if (hints.ok()) {
        const Status stored = (*hints)->StoreHint(key, object, Split(c.Get("for")), true);
        out << "stored: " << stored.ToString() << "\n";
      }
    } else if (c.command == "hint-tick") {
      now_ms_ += c.args.empty() ? 100 : std::stoull(c.args.at(0));
      replication::HintRouting routing;
      routing.reachable_address = [this](const cluster::NodeId& node) {
        return peers_.Reachable(node) ? std::optional<std::string>(peers_.AddressOf(node))
                                      : std::nullopt;
      };
      routing.primaries = [this](std::uint32_t) {
        std::vector<cluster::NodeId> primaries = Replica().placement().primaries;
        std::erase(primaries, config_.self);
        return primaries;
      };
      Replica().TickHints(now_ms_, routing);
    } else if (c.command == "hint-ack") {
      EXPECT_TRUE(last_hint_batch_.has_value()) << "no hint batch to acknowledge";
      if (last_hint_batch_) {
        proto::HintAck ack;
        ack.set_batch_id(last_hint_batch_->batch_id());
        ack.set_partition(last_hint_batch_->partition());
        ack.set_status_code(static_cast<std::uint32_t>(std::stoul(c.Get("status", "0"))));
        Replica().OnHintAck(last_hint_to_, ack, now_ms_);
      }
    } else if (c.command == "down") {
      peers_.down.insert(c.args.at(0));
    } else if (c.command == "up") {
      peers_.down.erase(c.args.at(0));
    } else if (c.command == "store") {
      // A key written to storage without the replica hearing of it (as a deletion that was
      // never written leaves one behind).
      DvvSet object;
      object.Update({}, 7, HlcTimestamp::FromParts(++writes_, 0), false, c.args.at(1),
                    ConflictPolicy::kSiblings);
      storage::WriteBatch batch;
      batch.Put(storage::Column::kObjects, storage::EncodeObjectKey(kPartition, "b", c.args.at(0)),
                EncodeObject(object));
      EXPECT_TRUE(engine_.Write(batch, {}).ok());
    } else if (c.command == "keys") {
      const storage::KeyRange range = storage::PartitionRange(kPartition);
      out << "keys:";
      EXPECT_TRUE(engine_
                      .Scan(storage::Column::kObjects, range.begin, range.end,
                            [&](std::string_view key, std::string_view) {
                              out << " " << storage::DecodeObjectKey(key)->id.key;
                              return true;
                            })
                      .ok());
      out << "\n";
    } else {
      ADD_FAILURE() << "unknown command " << c.command;
    }
    Describe(out);
    return out.str();
  }

 private:
  PartitionReplica& Replica() {
    if (!replica_) {
      replica_ = std::make_unique<PartitionReplica>(kPartition, config_, engine_, governor_,
                                                    PartitionPlacement{}, counters_, reap_counters_,
                                                    hint_state_);
    }
    return *replica_;
  }

  void Describe(std::ostringstream& out) {
    PartitionOutput output = Replica().TakeOutput();
    for (const cluster::Outbound& message : output.messages) {
      out << "send " << message.to_address << " ";
      const proto::PeerMessage& m = message.message;
      if (m.has_handoff_batch()) {
        const proto::HandoffBatch& batch = m.handoff_batch();
        last_batch_ = batch;
        out << "handoff_batch transfer=" << batch.transfer_id() << " seq=" << batch.sequence()
            << " keys=";
        for (int i = 0; i < batch.entries_size(); ++i) {
          out << (i ? "," : "") << storage::DecodeObjectKey(batch.entries(i).storage_key())->id.key;
        }
        out << (batch.last() ? " last" : "") << (batch.replica_copy() ? " replica_copy" : "");
      } else if (m.has_handoff_mirror()) {
        out << "handoff_mirror keys=" << m.handoff_mirror().entries_size();
      } else if (m.has_hint_batch()) {
        const proto::HintBatch& batch = m.hint_batch();
        last_hint_batch_ = batch;
        last_hint_to_ = message.to_address;
        out << "hint_batch partition=" << batch.partition() << " keys=";
        for (int i = 0; i < batch.entries_size(); ++i) {
          out << (i ? "," : "") << storage::DecodeObjectKey(batch.entries(i).storage_key())->id.key;
        }
      } else if (m.has_replica_fill_request()) {
        out << "replica_fill_request from=" << m.replica_fill_request().from_id();
      } else {
        out << "message " << m.body_case();
      }
      out << "\n";
    }
    if (output.forwarding_changed) out << "persist forwarding\n";
    if (output.completion_changed) out << "persist completion\n";
    if (output.report_transfer_complete) out << "report transfer complete\n";
    const PartitionReplica& r = Replica();
    out << "state:" << (r.placement().holds ? " holds" : "") << (r.streaming() ? " streaming" : "")
        << (r.forwarding_address() ? " forwarding=" + *r.forwarding_address() : "")
        << (r.copying() ? " copying" : "") << (r.filling() ? " filling" : "")
        << (r.completed_incoming() ? " completed" : "") << (r.to_drop() ? " drop" : "")
        << (r.handing_strays() ? " strays" : "") << " queued=" << r.queued_copies()
        << (r.hints() ? " hints=" + std::to_string(r.hints()->records()) +
                            " owed=" + std::to_string(r.hints()->pending())
                      : "")
        << (r.idle() ? " idle" : "") << "\n";
  }

  PartitionReplicaConfig config_;
  replication::AntiEntropyCounters counters_;
  replication::ReapCounters reap_counters_;
  replication::NodeHintState hint_state_{replication::HintedHandoffConfig{}};
  storage::MemoryEngine engine_;
  // The node's default budget; outlives the replica, which gives its streams back to it.
  replication::BackgroundGovernor governor_{replication::BackgroundGovernorConfig{}};
  FakePeers peers_;
  std::unique_ptr<PartitionReplica> replica_;
  std::optional<proto::HintBatch> last_hint_batch_;
  std::string last_hint_to_;
  std::uint64_t now_ms_ = 0;
  RequestIds transfer_ids_{0, 0, 1};
  std::uint64_t writes_ = 0;
  std::optional<proto::HandoffBatch> last_batch_;
};

class PartitionReplicaScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(PartitionReplicaScenario, MatchesTheRecordedOutput) {
  Harness harness;
  test_support::RunDataDriven(
      std::string(MERIDIAN_TESTDATA_DIR) + "/partition_replica/" + GetParam() + ".txt",
      [&](const test_support::DataDrivenCase& c) { return harness.Run(c); });
}

INSTANTIATE_TEST_SUITE_P(
    Scenarios, PartitionReplicaScenario,
    ::testing::Values("handoff", "handoff_replanned", "handoff_reverted", "handoff_lost_flip",
                      "fill", "fill_request", "orphan", "drop", "drop_resumes", "incoming", "hints",
                      "strays", "fill_per_replica_count", "handoff_hint_applied",
                      "orphan_change_after_last_ack", "strays_drop_waits_for_copy",
                      "handoff_target_gives_back", "handoff_target_gives_back_running"));

}  // namespace
}  // namespace meridian::node
