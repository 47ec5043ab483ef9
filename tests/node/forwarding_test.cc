// Request forwarding pieces: the KvRequest/KvReply codec and the table of forwarded requests.
#include <gtest/gtest.h>

#include "node/forwarded_requests.h"
#include "node/kv_codec.h"

namespace meridian::node {
namespace {

TEST(KvCodecTest, RequestsRoundTripThroughTheWireFormat) {
  const std::string binary_key("k\0\xff", 3);
  const ClientRequest put = PutRequest{{"b", binary_key},
                                       std::string("v\0", 2),
                                       "ctx",
                                       RequestOptions{.dw = QuorumValue::Number(1)}};
  proto::KvRequest message = EncodeKvRequest(42, put, 1);
  proto::KvRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(message.SerializeAsString()));
  EXPECT_EQ(parsed.request_id(), 42u);
  EXPECT_EQ(parsed.hops(), 1u);
  auto decoded = DecodeKvRequest(parsed);
  ASSERT_TRUE(decoded.ok());
  const auto& decoded_put = std::get<PutRequest>(*decoded);
  EXPECT_EQ(decoded_put.id.key, binary_key);
  EXPECT_EQ(decoded_put.value, std::string("v\0", 2));
  EXPECT_EQ(decoded_put.context, "ctx");
  EXPECT_EQ(decoded_put.options.dw, QuorumValue::Number(1));

  auto get = DecodeKvRequest(EncodeKvRequest(1, GetRequest{{"b", "k"}}, 0));
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(std::get<GetRequest>(*get).id.key, "k");
  auto del = DecodeKvRequest(EncodeKvRequest(1, DeleteRequest{{"b", "k"}, "c", {}}, 0));
  ASSERT_TRUE(del.ok());
  EXPECT_FALSE(std::get<DeleteRequest>(*del).options.dw.has_value());

  // The legacy dw field above the replica limit is refused (fuzz/codecs_fuzzer, F2): it could
  // not be forwarded again.
  proto::KvRequest legacy = EncodeKvRequest(1, GetRequest{{"b", "k"}}, 0);
  legacy.set_dw(56);
  EXPECT_EQ(DecodeKvRequest(legacy).status().code(), StatusCode::kInvalidArgument);
  legacy.set_dw(1);
  EXPECT_TRUE(DecodeKvRequest(legacy).ok());

  proto::KvRequest unknown;
  unknown.set_op(proto::KvRequest::OP_UNSPECIFIED);
  EXPECT_EQ(DecodeKvRequest(unknown).status().code(), StatusCode::kInvalidArgument);
}

// A forwarded write's fixed version (hedged forwarding) travels with it; a read or a
// conditional write carrying one, or one without a timestamp, is refused.
TEST(KvCodecTest, AFixedVersionTravelsOnlyWithAPlainWrite) {
  PutRequest put{{"b", "k"}, "v", "", {}};
  put.fixed_version = FixedVersion{0x8000000000000001ULL, HlcTimestamp::FromParts(1000, 2)};
  auto decoded = DecodeKvRequest(EncodeKvRequest(1, put, 1));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<PutRequest>(*decoded).fixed_version, put.fixed_version);
  DeleteRequest del{{"b", "k"}, "", {}};
  del.fixed_version = put.fixed_version;
  decoded = DecodeKvRequest(EncodeKvRequest(1, del, 1));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(std::get<DeleteRequest>(*decoded).fixed_version, put.fixed_version);
  // Without one, none.
  decoded = DecodeKvRequest(EncodeKvRequest(1, PutRequest{{"b", "k"}, "v", "", {}}, 1));
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(std::get<PutRequest>(*decoded).fixed_version.has_value());

  proto::KvRequest conditional = EncodeKvRequest(1, put, 1);
  conditional.set_condition(static_cast<std::uint32_t>(WriteCondition::kIfAbsent));
  EXPECT_EQ(DecodeKvRequest(conditional).status().code(), StatusCode::kInvalidArgument);
  proto::KvRequest read = EncodeKvRequest(1, GetRequest{{"b", "k"}}, 1);
  read.set_fixed_actor(7);
  read.set_fixed_timestamp(9);
  EXPECT_EQ(DecodeKvRequest(read).status().code(), StatusCode::kInvalidArgument);
  proto::KvRequest untimed = EncodeKvRequest(1, put, 1);
  untimed.set_fixed_timestamp(0);
  EXPECT_EQ(DecodeKvRequest(untimed).status().code(), StatusCode::kInvalidArgument);

  // The refusal of a full clock reaches the forwarder.
  ClientReply refused;
  refused.status = Status::Unavailable("full");
  refused.fixed_version_refused = true;
  EXPECT_TRUE(
      DecodeKvReply(1, proto::KvRequest::OP_PUT, EncodeKvReply(1, refused)).fixed_version_refused);
  refused.fixed_version_refused = false;
  EXPECT_FALSE(
      DecodeKvReply(1, proto::KvRequest::OP_PUT, EncodeKvReply(1, refused)).fixed_version_refused);
}

// Retained copies of forwarded writes are counted while their entries are in flight.
TEST(ForwardedRequestsTest, RetainedBytesFollowTheEntriesInFlight) {
  ForwardedRequests table(10);
  ForwardedRequests::Entry entry;
  entry.peer_address = "p:1";
  entry.deadline_ms = 100;
  entry.retained = ClientRequest(PutRequest{{"b", "k"}, "v", "", {}});
  entry.retained_bytes = 3;
  const auto first = table.Track(entry);
  entry.deadline_ms = 200;
  entry.retained_bytes = 5;
  const auto second = table.Track(entry);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(table.retained_bytes(), 8u);
  ASSERT_TRUE(table.Resolve(*first, "p:1").has_value());
  EXPECT_EQ(table.retained_bytes(), 5u);
  EXPECT_EQ(table.Abandon([](const std::string&) { return true; }).size(), 1u);
  EXPECT_EQ(table.retained_bytes(), 0u);
}

// Only entries with a retained copy forwarded at least `after_ms` ago are taken for routing
// again on time — routed again already or not (each routing avoids the peers that left it
// unanswered, and spends a hop).
TEST(ForwardedRequestsTest, TakeUnansweredTakesOnlyRetainedForwardsPastTheDelay) {
  ForwardedRequests table(10);
  ForwardedRequests::Entry entry;
  entry.peer_address = "p:1";
  entry.deadline_ms = 5'000;
  entry.started_ms = 100;
  const auto plain = table.Track(entry);  // no retained copy: never hedged on time
  entry.retained = ClientRequest(PutRequest{{"b", "k"}, "v", "", {}});
  entry.retained_bytes = 3;
  const auto hedgeable = table.Track(entry);
  entry.origin.unanswered_by = {"n0"};
  entry.started_ms = 200;
  const auto again = table.Track(entry);  // routed again once already
  entry.origin.unanswered_by.clear();
  entry.started_ms = 600;
  const auto later = table.Track(entry);
  ASSERT_TRUE(plain && hedgeable && again && later);

  EXPECT_TRUE(table.TakeUnanswered(1'099, 1'000).empty());
  std::vector<ForwardedRequests::Entry> taken = table.TakeUnanswered(1'100, 1'000);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].started_ms, 100u);
  EXPECT_FALSE(taken[0].origin.routed_again());
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.retained_bytes(), 6u);
  taken = table.TakeUnanswered(1'200, 1'000);
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_TRUE(taken[0].origin.routed_again());
  EXPECT_EQ(taken[0].origin.unanswered_by, std::vector<std::string>{"n0"});
  EXPECT_EQ(table.TakeUnanswered(1'600, 1'000).size(), 1u);
  EXPECT_TRUE(table.TakeUnanswered(4'000, 1'000).empty());
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.retained_bytes(), 0u);
}

TEST(KvCodecTest, RepliesRoundTripIncludingErrorsAndSiblings) {
  ClientReply get_reply;
  get_reply.id = 7;
  get_reply.body = GetReply{true, {{"a", HlcTimestamp{5}}, {"b", HlcTimestamp{6}}}, "ctx"};
  const ClientReply back = DecodeKvReply(99, proto::KvRequest::OP_GET, EncodeKvReply(3, get_reply));
  EXPECT_EQ(back.id, 99u);
  ASSERT_TRUE(back.status.ok());
  const auto& get = std::get<GetReply>(back.body);
  EXPECT_TRUE(get.found);
  ASSERT_EQ(get.values.size(), 2u);
  EXPECT_EQ(get.values[1].value, "b");
  EXPECT_EQ(get.values[1].timestamp.value, 6u);
  EXPECT_EQ(get.context, "ctx");

  ClientReply error;
  error.status = Status::TooLarge("value too big");
  const ClientReply error_back =
      DecodeKvReply(1, proto::KvRequest::OP_PUT, EncodeKvReply(1, error));
  EXPECT_EQ(error_back.status.code(), StatusCode::kTooLarge);
  EXPECT_EQ(error_back.status.message(), "value too big");

  proto::KvReply bogus;
  bogus.set_status_code(999);
  EXPECT_EQ(DecodeKvReply(1, proto::KvRequest::OP_GET, bogus).status.code(), StatusCode::kInternal);

  ClientReply write;
  write.body = WriteReply{"c2", true};
  const ClientReply write_back =
      DecodeKvReply(1, proto::KvRequest::OP_DELETE, EncodeKvReply(1, write));
  EXPECT_TRUE(std::get<WriteReply>(write_back.body).durable);
  EXPECT_EQ(std::get<WriteReply>(write_back.body).context, "c2");
}

TEST(ForwardedRequestsTest, TracksResolvesExpiresAndBounds) {
  ForwardedRequests table(2);
  auto first = table.Track({{1, "", 0}, proto::KvRequest::OP_GET, "a:1", 100});
  auto second = table.Track({{2, "", 0}, proto::KvRequest::OP_PUT, "b:1", 50});
  ASSERT_TRUE(first && second);
  EXPECT_NE(*first, *second);
  EXPECT_FALSE(table.Track({{3, "", 0}, proto::KvRequest::OP_GET, "c:1", 10}).has_value());  // full
  EXPECT_FALSE(table.Resolve(*first, "b:1").has_value());  // only the peer asked answers
  auto resolved = table.Resolve(*first, "a:1");
  ASSERT_TRUE(resolved.has_value());
  EXPECT_EQ(resolved->origin.client_id, 1u);
  EXPECT_FALSE(table.Resolve(*first, "a:1").has_value());  // only once
  EXPECT_TRUE(table.Expire(49).empty());
  auto expired = table.Expire(50);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].origin.client_id, 2u);
  EXPECT_FALSE(table.Resolve(*second, "b:1").has_value());  // a late reply finds nothing
  EXPECT_EQ(table.size(), 0u);
}

TEST(ForwardedRequestsTest, IdsContinueFromWhereTheyAreToldToStart) {
  ForwardedRequests table(4);
  table.UseIds(RequestIds(std::uint64_t{2} << 40, 0, 1));
  auto id = table.Track({{1, "", 0}, proto::KvRequest::OP_GET, "a:1", 100});
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, (std::uint64_t{2} << 40) + 1);
  EXPECT_FALSE(table.Resolve(1, "a:1").has_value());  // an id of the first incarnation
}

}  // namespace
}  // namespace meridian::node
