// ReapRounds on its own: several nodes' round machinery over a scripted FIFO network, each
// with a fake view of its own state. Scenarios in tests/node/testdata/reap_rounds/*.txt
// (data-driven, see datadriven.h):
//
//   members n1,n2,n3,n4                  the cluster (addresses are "<id>:1")
//   store <node> <key>=<hash> ...        objects a node holds (it is a primary when listed
//                                        among a round's primaries)
//   hint <node> <key>                    a hint record of the key on the node
//   coordinator <node> <key>             a coordinator in flight for the key on the node
//   refuse <node> <reason>               the node refuses every partition (e.g. moving)
//   down <node>                          messages to the node are lost from now on
//   start <node> partition=<p> primaries=<a,b> candidates=<key:hash,...>   a round
//   data <from> <to> <key>               a replica write of <key> queued on that link
//   deliver [<from> <to>] [count=<n>]    delivers queued messages, FIFO per link: the first
//                                        of one link, or everything (rounds of every link)
//   tick <node> <ms>                     advance that node's clock and Tick
//   outcome <node>                       the finished round of the reaper, if any
//
// Every command prints what was sent and delivered. Regenerate with
// MERIDIAN_REWRITE=1 build/release/tests/node_test --gtest_filter='ReapRoundsScenario*'
#include "node/reap_rounds.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>
#include <sstream>

#include "core/dvv_set.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "node/datadriven.h"
#include "storage/key_encoding.h"

namespace meridian::node {
namespace {

std::vector<std::string> Split(const std::string& text, char separator = ',') {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, separator);) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

std::string IdOf(const std::string& address) {
  return address.substr(0, address.find(':'));
}

// What a node's own state says (Node::JudgeReapRound, reduced to its inputs).
struct FakeView final : ReapLocalView {
  std::string self;
  std::map<std::string, std::uint64_t> objects;
  std::set<std::string> hints;
  std::set<std::string> coordinators;
  std::string refused;
  std::vector<proto::ReapVerdict> Judge(const proto::ReapPrepare& prepare) override {
    std::vector<proto::ReapVerdict> verdicts;
    for (const proto::ReapPartition& partition : prepare.partitions()) {
      proto::ReapVerdict& verdict = verdicts.emplace_back();
      verdict.set_partition(partition.partition());
      if (!refused.empty()) {
        verdict.set_refused(refused);
        continue;
      }
      bool primary = false;
      for (const std::string& id : partition.primaries()) primary = primary || id == self;
      for (int c = 0; c < partition.candidates_size(); ++c) {
        const proto::ReapCandidate& candidate = partition.candidates(c);
        const char* why = nullptr;
        auto stored = objects.find(candidate.storage_key());
        if (primary && (stored == objects.end() || stored->second != candidate.version_hash())) {
          why = "hash";
        } else if (hints.contains(candidate.storage_key())) {
          why = "hint";
        } else if (coordinators.contains(candidate.storage_key())) {
          why = "coordinator";
        }
        if (why != nullptr) {
          verdict.add_rejected(static_cast<std::uint32_t>(c));
          verdict.add_rejected_reasons(why);
        }
      }
    }
    return verdicts;
  }
};

std::string Describe(const proto::PeerMessage& message) {
  switch (message.body_case()) {
    case proto::PeerMessage::kReapPrepare:
      return "prepare round=" + std::to_string(message.reap_prepare().round());
    case proto::PeerMessage::kReapPrepared:
      return "prepared";
    case proto::PeerMessage::kReapMarker:
      return "marker";
    case proto::PeerMessage::kReapAnswer: {
      std::string text = "answer";
      for (const proto::ReapVerdict& verdict : message.reap_answer().verdicts()) {
        text += " p" + std::to_string(verdict.partition());
        if (!verdict.refused().empty()) text += " refused=" + verdict.refused();
        for (int r = 0; r < verdict.rejected_size(); ++r) {
          text += " rejected=" + std::to_string(verdict.rejected(r)) + ":" +
                  verdict.rejected_reasons(r);
        }
      }
      return text;
    }
    case proto::PeerMessage::kReplicaWrite:
      return "replica_write " + message.replica_write().storage_key();
    default:
      return "message " + std::to_string(message.body_case());
  }
}

class Harness {
 public:
  std::string Run(const test_support::DataDrivenCase& c) {
    std::ostringstream out;
    if (c.command == "members") {
      for (const std::string& id : Split(c.args.at(0))) {
        Node& node = nodes_[id];
        node.view.self = id;
        node.rounds = std::make_unique<ReapRounds>(id, id + ":1", config_, node.counters,
                                                   /*partition_count=*/8);
      }
    } else if (c.command == "store") {
      for (std::size_t i = 1; i < c.args.size(); ++i) {
        const auto parts = Split(c.args[i], '=');
        nodes_.at(c.args.at(0)).view.objects[parts.at(0)] = std::stoull(parts.at(1));
      }
    } else if (c.command == "hint") {
      nodes_.at(c.args.at(0)).view.hints.insert(c.args.at(1));
    } else if (c.command == "coordinator") {
      nodes_.at(c.args.at(0)).view.coordinators.insert(c.args.at(1));
    } else if (c.command == "down") {
      down_.insert(c.args.at(0));
    } else if (c.command == "refuse") {
      nodes_.at(c.args.at(0)).view.refused = c.args.at(1);
    } else if (c.command == "start") {
      proto::ReapPrepare prepare;
      prepare.set_round(++rounds_);
      for (const auto& [id, node] : nodes_) {
        proto::ReapMember* member = prepare.add_members();
        member->set_id(id);
        member->set_address(id + ":1");
      }
      proto::ReapPartition* partition = prepare.add_partitions();
      partition->set_partition(static_cast<std::uint32_t>(std::stoul(c.Get("partition"))));
      for (const std::string& id : Split(c.Get("primaries"))) partition->add_primaries(id);
      for (const std::string& entry : Split(c.Get("candidates"))) {
        const auto parts = Split(entry, ':');
        proto::ReapCandidate* candidate = partition->add_candidates();
        candidate->set_storage_key(parts.at(0));
        candidate->set_version_hash(std::stoull(parts.at(1)));
      }
      Node& node = nodes_.at(c.args.at(0));
      node.rounds->Start(prepare, node.view, node.now_ms);
    } else if (c.command == "data") {
      cluster::Outbound out_message;
      out_message.to_address = c.args.at(1) + ":1";
      out_message.message.mutable_replica_write()->set_storage_key(c.args.at(2));
      links_[{c.args.at(0), c.args.at(1)}].push_back(out_message.message);
      out << "queued " << c.args.at(0) << "->" << c.args.at(1) << " replica_write " << c.args.at(2)
          << "\n";
    } else if (c.command == "deliver") {
      if (c.args.size() >= 2) {
        DeliverOne(c.args.at(0), c.args.at(1), out);
      } else {
        // Round robin over the links until nothing is queued (bounded).
        for (int step = 0; step < 10'000 && Collect(); ++step) {
          for (auto& [link, queue] : links_) {
            if (!queue.empty()) DeliverOne(link.first, link.second, out);
          }
        }
      }
    } else if (c.command == "tick") {
      Node& node = nodes_.at(c.args.at(0));
      node.now_ms += std::stoull(c.args.at(1));
      node.rounds->Tick(node.now_ms);
    } else if (c.command == "outcome") {
      auto outcome = nodes_.at(c.args.at(0)).rounds->TakeOutcome();
      if (!outcome) {
        out << "no outcome\n";
      } else {
        for (const ReapPartitionOutcome& partition : outcome->partitions) {
          out << "partition " << partition.partition;
          if (!partition.refused.empty()) out << " refused=" << partition.refused;
          out << " accepted=";
          for (std::size_t i = 0; i < partition.accepted.size(); ++i) {
            out << (i ? "," : "") << partition.accepted[i].storage_key;
          }
          out << "\n";
        }
      }
    } else {
      ADD_FAILURE() << "unknown command " << c.command;
    }
    Collect();
    std::string text = out.str();
    return text.empty() ? "ok\n" : text;
  }

 private:
  struct Node {
    FakeView view;
    replication::ReapCounters counters;
    std::unique_ptr<ReapRounds> rounds;
    std::uint64_t now_ms = 0;
  };

  // Moves every node's outbound messages onto their links; true when anything is queued.
  bool Collect() {
    for (auto& [id, node] : nodes_) {
      for (cluster::Outbound& message : node.rounds->TakeOutbound()) {
        links_[{id, IdOf(message.to_address)}].push_back(std::move(message.message));
      }
    }
    for (const auto& [link, queue] : links_) {
      if (!queue.empty()) return true;
    }
    return false;
  }

  void DeliverOne(const std::string& from, const std::string& to, std::ostringstream& out) {
    std::deque<proto::PeerMessage>& queue = links_[{from, to}];
    if (queue.empty()) {
      out << "nothing queued " << from << "->" << to << "\n";
      return;
    }
    proto::PeerMessage message = std::move(queue.front());
    queue.pop_front();
    out << from << "->" << to << " " << Describe(message) << (down_.contains(to) ? " lost" : "")
        << "\n";
    if (down_.contains(to)) return;
    Node& node = nodes_.at(to);
    const std::string from_address = from + ":1";
    node.rounds->OnDataMessage(from_address, message);
    switch (message.body_case()) {
      case proto::PeerMessage::kReapPrepare:
        node.rounds->OnPrepare(message.reap_prepare(), node.now_ms);
        break;
      case proto::PeerMessage::kReapPrepared:
        node.rounds->OnPrepared(message.reap_prepared(), node.view);
        break;
      case proto::PeerMessage::kReapMarker:
        node.rounds->OnMarker(message.reap_marker(), node.view);
        break;
      case proto::PeerMessage::kReapAnswer:
        node.rounds->OnAnswer(message.reap_answer());
        break;
      default:
        break;
    }
  }

  replication::ReapConfig config_;
  std::map<std::string, Node> nodes_;
  std::map<std::pair<std::string, std::string>, std::deque<proto::PeerMessage>> links_;
  std::uint64_t rounds_ = 0;
  std::set<std::string> down_;
};

class ReapRoundsScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(ReapRoundsScenario, MatchesTheRecordedOutput) {
  Harness harness;
  test_support::RunDataDriven(
      std::string(MERIDIAN_TESTDATA_DIR) + "/reap_rounds/" + GetParam() + ".txt",
      [&](const test_support::DataDrivenCase& c) { return harness.Run(c); });
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ReapRoundsScenario,
                         ::testing::Values("accepted", "member_holds", "primary_differs",
                                           "primary_down", "barrier", "refused"));

std::vector<std::string> KeysCarried(const proto::PeerMessage& message) {
  std::string key_storage;
  std::vector<std::string> keys;
  for (const CarriedCopy& copy : CopiesCarried(message, 8, key_storage)) {
    keys.emplace_back(copy.storage_key);
  }
  return keys;
}

TEST(CopiesCarriedTest, NamesTheKeysOfEveryDataMessage) {
  proto::PeerMessage write;
  write.mutable_replica_write()->set_storage_key("a");
  EXPECT_EQ(KeysCarried(write), std::vector<std::string>{"a"});
  proto::PeerMessage hints;
  hints.mutable_hint_batch()->add_entries()->set_storage_key("b");
  EXPECT_EQ(KeysCarried(hints), std::vector<std::string>{"b"});
  proto::PeerMessage handoff;
  handoff.mutable_handoff_batch()->add_entries()->set_storage_key("c");
  EXPECT_EQ(KeysCarried(handoff), std::vector<std::string>{"c"});
  proto::PeerMessage mirror;
  mirror.mutable_handoff_mirror()->add_entries()->set_storage_key("d");
  EXPECT_EQ(KeysCarried(mirror), std::vector<std::string>{"d"});
  proto::PeerMessage repair;
  repair.mutable_aae_repair()->add_objects()->set_storage_key("e");
  EXPECT_EQ(KeysCarried(repair), std::vector<std::string>{"e"});
  proto::PeerMessage read;
  read.mutable_replica_read()->set_storage_key("f");  // carries no object
  EXPECT_TRUE(KeysCarried(read).empty());
  // A forwarded write with a fixed version may yet be applied (as a fallback too): its key.
  proto::PeerMessage forward;
  forward.mutable_kv_request()->set_op(proto::KvRequest::OP_PUT);
  forward.mutable_kv_request()->set_bucket("bk");
  forward.mutable_kv_request()->set_key("g");
  EXPECT_TRUE(KeysCarried(forward).empty());  // no fixed version: minted anew
  forward.mutable_kv_request()->set_fixed_actor(77);
  const std::uint32_t partition = PartitionOf(ObjectHash("bk", "g"), 8);
  EXPECT_EQ(KeysCarried(forward),
            std::vector<std::string>{storage::EncodeObjectKey(partition, "bk", "g")});
}

// A prune that names its actors is stopped only by a copy of one of those writes: an object
// whose clock has their entries but whose siblings are later writes does not matter; a sibling
// of one of them, a forward under one of them, or an undecodable copy does. A tombstone (or a
// prune by hash) is stopped by any copy of its key.
TEST(CopiesCarriedTest, APruneByActorsIsStoppedOnlyByACopyOfOneOfTheirWrites) {
  DvvSet object;
  ASSERT_TRUE(object.Apply({}, Dot{7, kSingleUseCounter}, HlcTimestamp::FromParts(1, 0), false,
                           "old", ConflictPolicy::kSiblings));
  DvvSet overwritten = object;
  overwritten.Update(overwritten.clock(), 1, HlcTimestamp::FromParts(2, 0), false, "new",
                     ConflictPolicy::kSiblings);
  ASSERT_EQ(overwritten.SupersededSingleUseActors(), std::vector<ActorId>{7});
  const std::string old_copy = EncodeObject(object);
  const std::string new_copy = EncodeObject(overwritten);

  proto::ReapCandidate prune;
  prune.set_storage_key("k");
  prune.set_prune(true);
  prune.add_single_use_actors(3);
  prune.add_single_use_actors(7);
  EXPECT_FALSE(CopyMatters(prune, CarriedCopy{"k", new_copy}));
  EXPECT_TRUE(CopyMatters(prune, CarriedCopy{"k", old_copy}));
  EXPECT_TRUE(CopyMatters(prune, CarriedCopy{"k", "not an object"}));
  EXPECT_TRUE(CopyMatters(prune, CarriedCopy{"k", {}, 7}));
  EXPECT_FALSE(CopyMatters(prune, CarriedCopy{"k", {}, 8}));

  proto::ReapCandidate unsorted = prune;
  unsorted.clear_single_use_actors();
  unsorted.add_single_use_actors(7);
  unsorted.add_single_use_actors(3);
  EXPECT_TRUE(CopyMatters(unsorted, CarriedCopy{"k", new_copy}));  // malformed: any copy
  proto::ReapCandidate by_hash;
  by_hash.set_prune(true);
  EXPECT_TRUE(CopyMatters(by_hash, CarriedCopy{"k", new_copy}));
  proto::ReapCandidate tombstone;
  EXPECT_TRUE(CopyMatters(tombstone, CarriedCopy{"k", new_copy}));
}

}  // namespace
}  // namespace meridian::node
