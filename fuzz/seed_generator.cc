// Writes the committed seed corpora of the fuzzers (fuzz/corpus/<target>/), each seed in its
// fuzzer's input format: real HTTP requests and RESP commands (with a context a real node
// issued), real encoded objects, contexts, keys and tictac levels, and the real peer messages
// node 1 received while the cluster of fuzz/cluster_fixture.h formed. Deterministic.
//
// Usage: build/fuzz/fuzz/meridian_fuzz_seeds fuzz/corpus   (replaces the files it names)
#include <google/protobuf/descriptor.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/resp_test_support.h"
#include "cluster/gossip_codec.h"
#include "cluster_fixture.h"
#include "core/byte_codec.h"
#include "core/causal_context.h"
#include "core/hash.h"
#include "core/object_codec.h"
#include "fuzz_support.h"
#include "node/kv_codec.h"
#include "proto/peer.pb.h"
#include "replication/anti_entropy.h"
#include "runtime/peer_frame.h"
#include "storage/key_encoding.h"
#include "storage/tictac_codec.h"

namespace meridian::fuzz {
namespace {

namespace fs = std::filesystem;

class Writer {
 public:
  explicit Writer(fs::path root) : root_(std::move(root)) {}
  void Put(const std::string& target, const std::string& name, std::string_view bytes) {
    const fs::path dir = root_ / target;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    MERIDIAN_FUZZ_CHECK(out.good());
    ++count_;
  }
  int count() const { return count_; }

 private:
  fs::path root_;
  int count_ = 0;
};

std::string Byte(int value) {
  return std::string(1, static_cast<char>(value));
}

// A record of the node_message / gossip input formats.
std::string Record(int control, int kind, std::string_view payload) {
  std::string out = Byte(control) + Byte(kind);
  out.push_back(static_cast<char>(payload.size() & 0xff));
  out.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
  out.append(payload);
  return out;
}

// The index of a PeerMessage body case in the oneof (node_message's kind byte).
int BodyIndex(int body_case) {
  const auto* body = proto::PeerMessage::descriptor()->FindOneofByName("body");
  for (int i = 0; i < body->field_count(); ++i) {
    if (body->field(i)->number() == body_case) return i;
  }
  Fail("unknown body case");
}

std::string BodyName(int body_case) {
  return proto::PeerMessage::descriptor()->FindFieldByNumber(body_case)->name();
}

// The serialized body (the sub-message) of a serialized PeerMessage.
std::string BodyBytes(const std::string& message_bytes) {
  proto::PeerMessage message;
  MERIDIAN_FUZZ_CHECK(message.ParseFromString(message_bytes));
  const auto* field = proto::PeerMessage::descriptor()->FindFieldByNumber(message.body_case());
  return message.GetReflection()->GetMessage(message, field).SerializeAsString();
}

std::string Frame(const google::protobuf::MessageLite& message) {
  return runtime::EncodeFrame(message);
}

// One request as a client sends it; Content-Length is added for a body.
std::string Request(const std::string& method, const std::string& target,
                    const std::vector<std::string>& headers = {}, const std::string& body = "") {
  std::string out = method + " " + target + " HTTP/1.1\r\nHost: n1\r\n";
  for (const std::string& header : headers) out += header + "\r\n";
  if (!body.empty()) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

void HttpSeeds(Writer& out, const std::string& context) {
  const auto put = [&](const std::string& name, int flags, const std::string& stream) {
    out.Put("http", name, Byte(flags) + stream);
  };
  const std::string admin = "Authorization: Bearer admin-token";
  put("health", 0, Request("GET", "/health"));
  put("metrics_auth", 3, Request("GET", "/metrics", {admin}));
  put("put_get_delete", 0,
      Request("PUT", "/v1/kv/b/k?w=quorum&dw=1", {}, "hello") +
          Request("GET", "/v1/kv/b/k?r=one&pr=0&sloppy_quorum=true") +
          Request("DELETE", "/v1/kv/b/k", {"X-Meridian-Context: " + context}));
  put("put_with_context", 0,
      Request("PUT", "/v1/kv/b/k",
              {"X-Meridian-Context: " + context, "Content-Type: application/octet-stream"}, "new"));
  put("binary_key", 0, Request("GET", "/v1/kv/b/a%00%2Fb%ff"));
  put("chunked", 0,
      Request("PUT", "/v1/kv/b/c", {"Transfer-Encoding: chunked"}) +
          "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n");
  put("expect_continue", 0, Request("PUT", "/v1/kv/b/e", {"Expect: 100-continue"}, "ok"));
  put("http10_close", 0, "GET /v1/kv/b/k HTTP/1.0\r\nConnection: close\r\n\r\n");
  put("bucket_props", 1,
      Request("PUT", "/v1/buckets/b", {admin},
              R"({"n":3,"r":"quorum","w":2,"dw":"one","conflict_policy":"lww",)"
              R"("sloppy_quorum":false})") +
          Request("GET", "/v1/buckets/b", {"Authorization: Bearer ro-token"}));
  put("cluster", 0,
      Request("GET", "/v1/cluster/status") + Request("GET", "/v1/cluster/ring?partitions=true") +
          Request("GET", "/v1/cluster/locate/b/k") + Request("GET", "/v1/cluster/local/b/k"));
  put("cluster_admin", 0,
      Request("POST", "/v1/cluster/join", {}, R"({"seeds":["127.0.0.2:7001"]})") +
          Request("POST", "/v1/cluster/weight", {}, R"({"node":"node1","weight":2})") +
          Request("POST", "/v1/cluster/leave", {}, "{}"));
  put("auth_refused", 1,
      Request("PUT", "/v1/kv/other/k", {"Authorization: Bearer rw-token"}, "x") +
          Request("GET", "/v1/kv/b/k", {"Authorization: bearer wrong"}));
  put("bad_query", 0, Request("GET", "/v1/kv/b/k?r=10&x=%zz"));
}

void RespSeeds(Writer& out, const std::string& context) {
  using api::test_support::Command;
  const auto put = [&](const std::string& name, int flags, const std::string& stream) {
    out.Put("resp", name, Byte(flags) + Byte(7) + stream);
  };
  put("ping_inline", 0, "PING\r\nECHO \"a\\x00b\" 'it\\'s'\r\n");
  put("set_get", 0, Command({"SET", "k", "v"}) + Command({"GET", "k"}) + Command({"EXISTS", "k"}));
  put("multi_key", 2,
      Command({"MSET", "a", "1", "b", "2"}) + Command({"MGET", "a", "b", "c"}) +
          Command({"DEL", "a", "b", "c"}));
  put("meridian", 0,
      Command({"MERIDIAN.PUT", "k", "v1"}) + Command({"MERIDIAN.GET", "k"}) +
          Command({"MERIDIAN.PUT", "k", "v2", context}) + Command({"MERIDIAN.DEL", "k", context}));
  put("introspection", 0,
      Command({"HELLO", "2", "SETNAME", "app"}) + Command({"CLIENT", "GETNAME"}) +
          Command({"COMMAND", "COUNT"}) + Command({"INFO"}) +
          Command({"CONFIG", "GET", "maxmemory"}) + Command({"SELECT", "0"}));
  put("transaction", 0,
      Command({"MULTI"}) + Command({"SET", "k", "v"}) + Command({"EXEC"}) + Command({"DISCARD"}));
  put("auth", 4,
      Command({"GET", "k"}) + Command({"AUTH", "ro-token"}) + Command({"SET", "k", "v"}) +
          Command({"AUTH", "admin", "admin-token"}) + Command({"SET", "k", "v"}));
  put("quit", 0, Command({"PING"}) + Command({"QUIT"}) + Command({"PING"}));
  put("limits", 9, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$70\r\n" + std::string(70, 'v') + "\r\n");
  put("pipelined_small", 10,
      Command({"SET", "a", "1"}) + Command({"GET", "a"}) + Command({"GET", "a"}) +
          Command({"DEL", "a"}));
  put("protocol_error", 0, Command({"PING"}) + "*1\r\n$x\r\n");
}

void CodecSeeds(Writer& out, const DvvSet& object, const std::string& context) {
  const auto put = [&](const std::string& name, int selector, const std::string& bytes) {
    out.Put("codecs", name, Byte(selector) + bytes);
  };
  put("object", 0, EncodeObject(object));
  DvvSet tombstone = object;
  VersionVector seen = tombstone.clock();
  tombstone.Update(seen, 77, HlcTimestamp::FromParts(1'700'000'000'123, 2), true, "",
                   ConflictPolicy::kSiblings);
  put("object_tombstone", 0, EncodeObject(tombstone));
  put("context_token", 1, Byte(0) + Byte(0) + context);
  // A token body for the sealed mode: two entries (actor LE, counter varint).
  std::string entries;
  PutVarint64(entries, 2);
  PutFixed64(entries, 11);
  PutVarint64(entries, 3);
  PutFixed64(entries, 12);
  PutVarint64(entries, 1);
  put("context_body", 1, Byte(0) + Byte(1) + entries);
  node::RequestOptions options;
  options.w = QuorumValue::Quorum();
  options.dw = QuorumValue::Number(1);
  options.sloppy_quorum = false;
  put("kv_request_put", 2,
      Byte(0) +
          node::EncodeKvRequest(5, node::PutRequest{{"b", "k"}, "value", context, options, true}, 1)
              .SerializeAsString());
  put("kv_request_get", 2,
      Byte(0) + node::EncodeKvRequest(6, node::GetRequest{{"b", "k"}, {}}, 0).SerializeAsString());
  node::ClientReply reply;
  reply.body = node::GetReply{
      true,
      {{"a", HlcTimestamp::FromParts(1000, 1)}, {"b", HlcTimestamp::FromParts(2000, 0)}},
      context,
      {3, 2, 2, 2, 0, 0, 0, 1}};
  put("kv_reply_get", 3, Byte(1) + node::EncodeKvReply(5, reply).SerializeAsString());
  reply.status = Status::Unavailable("1 of 2 replicas answered in time");
  put("kv_reply_error", 3, Byte(2) + node::EncodeKvReply(5, reply).SerializeAsString());
  put("storage_key", 4, storage::EncodeObjectKey(5, "b", std::string("k\0\xff", 3)));
  put("aae_index_key", 4,
      storage::EncodeAaeIndexKey(5, 77, storage::EncodeObjectKey(5, "b", "key-1")));
  put("quorum", 5, "quorum");
  put("quorum_number", 5, "3");
  put("base64", 6, context);
}

void TictacSeeds(Writer& out) {
  storage::TictacTree tree(replication::AntiEntropyConfig{}.shape);
  std::vector<storage::KeyVersionHash> keys;
  for (int i = 0; i < 8; ++i) {
    const std::string key = storage::EncodeObjectKey(3, "b", "key-" + std::to_string(i));
    tree.Update(key, std::nullopt, 1000 + i);
  }
  // Keys of one segment (sorted), as an exchange's last step lists them.
  const std::string first = storage::EncodeObjectKey(3, "b", "key-0");
  keys.push_back({first, 1000});
  const auto put = [&](const std::string& name, int selector, const std::string& bytes) {
    out.Put("tictac", name, Byte(selector) + bytes);
  };
  put("branch_level", 0, storage::EncodeTictacBranchLevel(tree.BranchLevel()));
  const std::vector<std::uint32_t> segments = {tree.SegmentOf(first), tree.SegmentOf(first) + 3};
  put("segment_hashes", 1, storage::EncodeTictacSegmentHashes(tree.SelectSegments(segments)));
  put("key_hashes", 2, storage::EncodeTictacKeyHashes(keys));
  storage::TictacTree small(storage::TictacShape{4, 2});
  small.Update(first, std::nullopt, 42);
  put("tree", 3, storage::EncodeTictacTree(small));
  // The sealed mode: bodies only (header and checksum added by the fuzzer).
  const std::string level = storage::EncodeTictacBranchLevel(small.BranchLevel());
  put("branch_level_body", 4, level.substr(2, level.size() - 10));
}

void PeerSeeds(Writer& out) {
  const ClusterSnapshot& cluster = Cluster();
  std::string all_records;
  for (const auto& [body_case, messages] : cluster.received) {
    const std::string name = BodyName(body_case);
    int index = 0;
    for (const std::string& bytes : messages) {
      if (bytes.size() > 3000) continue;  // seeds stay small
      const std::string suffix = messages.size() > 1 ? "_" + std::to_string(index++) : "";
      // node_message: one record from node 2.
      const std::string record = Record(0, BodyIndex(body_case), BodyBytes(bytes));
      out.Put("node_message", name + suffix, record);
      if (all_records.size() < 3000)
        all_records += Record(4, BodyIndex(body_case), BodyBytes(bytes));
      // peer_frame: node 2's handshake, then the message.
      proto::PeerMessage message;
      MERIDIAN_FUZZ_CHECK(message.ParseFromString(bytes));
      const proto::Handshake hello =
          runtime::MakeHandshake(kClusterName, runtime::ProtocolRange{}, NodeIdOf(1), AddressOf(1));
      out.Put("peer_frame", name + suffix, Byte(0) + Frame(hello) + Frame(message));
      // gossip: the membership messages.
      int gossip_kind = -1;
      switch (body_case) {
        case proto::PeerMessage::kGossipSyn:
          gossip_kind = 0;
          break;
        case proto::PeerMessage::kGossipDigest:
          gossip_kind = 1;
          break;
        case proto::PeerMessage::kGossipDelta:
          gossip_kind = 2;
          break;
        case proto::PeerMessage::kJoinRequest:
          gossip_kind = 3;
          break;
        case proto::PeerMessage::kTransferComplete:
          gossip_kind = 4;
          break;
        default:
          break;
      }
      if (gossip_kind >= 0) {
        out.Put("gossip", name + suffix, Byte(0) + Record(4, gossip_kind, BodyBytes(bytes)));
        out.Put("gossip", "fresh_" + name + suffix,
                Byte(1) + Record(4, gossip_kind, BodyBytes(bytes)));
      }
    }
  }
  out.Put("node_message", "sequence", all_records);
  // A write mirrored to a partition's new owner during a transfer (none happened to be caught).
  {
    proto::HandoffMirror mirror;
    const std::uint32_t partition = PartitionOf(ObjectHash("b", "key-0"), 16);
    mirror.set_transfer_id(1);
    mirror.set_partition(partition);
    proto::HandoffEntry* entry = mirror.add_entries();
    entry->set_storage_key(storage::EncodeObjectKey(partition, "b", "key-0"));
    DvvSet object;
    object.Update({}, 11, HlcTimestamp::FromParts(1'700'000'000'000, 0), false, "mirrored",
                  ConflictPolicy::kSiblings);
    entry->set_encoded_object(EncodeObject(object));
    proto::PeerMessage message;
    *message.mutable_handoff_mirror() = mirror;
    out.Put("node_message", "handoff_mirror",
            Record(0, BodyIndex(proto::PeerMessage::kHandoffMirror), mirror.SerializeAsString()));
    const proto::Handshake hello =
        runtime::MakeHandshake(kClusterName, runtime::ProtocolRange{}, NodeIdOf(1), AddressOf(1));
    out.Put("peer_frame", "handoff_mirror", Byte(0) + Frame(hello) + Frame(message));
  }
  // A client request (put into bucket "one", key owned elsewhere or here) and ticks.
  out.Put("node_message", "client_put", Record(0x20 | (3 << 2), 1 | 4, "key-3"));
  // The dialer's side: an accepted HandshakeReply, then a heartbeat and a syn.
  proto::HandshakeReply reply;
  *reply.mutable_accepted() =
      runtime::MakeHandshake(kClusterName, runtime::ProtocolRange{}, NodeIdOf(2), AddressOf(2));
  reply.mutable_accepted()->set_heartbeat_interval_ms(1000);
  proto::PeerMessage heartbeat;
  heartbeat.mutable_link_heartbeat();
  std::string dialer = Byte(1) + Frame(reply) + Frame(heartbeat);
  if (auto it = cluster.received.find(proto::PeerMessage::kGossipSyn);
      it != cluster.received.end()) {
    proto::PeerMessage syn;
    MERIDIAN_FUZZ_CHECK(syn.ParseFromString(it->second.front()));
    dialer += Frame(syn);
  }
  out.Put("peer_frame", "dialer", dialer);
  proto::HandshakeReply rejected;
  rejected.mutable_rejected()->set_reason("cluster name mismatch");
  out.Put("peer_frame", "dialer_rejected", Byte(1) + Frame(rejected));
  // A bucket record on its own (gossip kind 5).
  proto::BucketPropsEntry entry;
  entry.set_bucket("one");
  BucketProps props;
  props.n = 1;
  entry.set_props(EncodeBucketProps(props));
  entry.set_version(12345);
  entry.set_origin(NodeIdOf(0));
  out.Put("gossip", "bucket_entry", Byte(0) + Record(0, 5, entry.SerializeAsString()));

  std::printf("peer message types the cluster exchanged:");
  for (const auto& [body_case, messages] : cluster.received) {
    std::printf(" %s(%zu)", BodyName(body_case).c_str(), messages.size());
  }
  std::printf("\n");
}

}  // namespace
}  // namespace meridian::fuzz

int main(int argc, char** argv) {
  using namespace meridian;
  using namespace meridian::fuzz;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus root, e.g. fuzz/corpus>\n", argv[0]);
    return 2;
  }
  Writer out(argv[1]);
  // A context a real standalone node issues: the fuzzers' node draws the same actor id.
  std::string context;
  {
    NodeKvService service;
    service.Submit(node::PutRequest{{"b", "k"}, "v", "", {}}, [&](node::ClientReply reply) {
      MERIDIAN_FUZZ_CHECK(reply.status.ok());
      context = std::get<node::WriteReply>(reply.body).context;
    });
  }
  MERIDIAN_FUZZ_CHECK(!context.empty());
  DvvSet object;
  object.Update({}, 11, HlcTimestamp::FromParts(1'700'000'000'000, 0), false, "one",
                ConflictPolicy::kSiblings);
  object.Update({}, 12, HlcTimestamp::FromParts(1'700'000'000'001, 0), false,
                std::string("t\0o", 3), ConflictPolicy::kSiblings);
  HttpSeeds(out, context);
  RespSeeds(out, context);
  CodecSeeds(out, object, context);
  TictacSeeds(out);
  PeerSeeds(out);
  std::printf("wrote %d seeds under %s\n", out.count(), argv[1]);
  return 0;
}
