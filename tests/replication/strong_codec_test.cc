#include "replication/strong_codec.h"

#include <gtest/gtest.h>

namespace meridian::replication {
namespace {

TEST(StrongCodecTest, AcceptorRecordsRoundTrip) {
  AcceptorState state;
  EXPECT_EQ(DecodeAcceptorRecord(EncodeAcceptorRecord(state), 100).value(), state);
  RegisterValue value;
  for (std::uint64_t round = 1; round <= 6; ++round) {
    value = value.Written(Ballot{round, 0xabcdef0123456789, 3, round % 2}, round != 4,
                          std::string("v\0x", 3) + std::to_string(round));
  }
  state.promised = Ballot{9, 1, 1, 0};
  state.accepted = Ballot{8, 1, 1, 2};
  state.value = value;
  auto decoded = DecodeAcceptorRecord(EncodeAcceptorRecord(state), 100);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, state);
}

TEST(StrongCodecTest, MalformedRecordsAreCorruption) {
  EXPECT_EQ(DecodeAcceptorRecord("\xff\xff\xff", 100).status().code(), StatusCode::kCorruption);
  AcceptorState backwards;
  backwards.promised = Ballot{1, 1, 1, 0};
  backwards.accepted = Ballot{2, 1, 1, 0};
  EXPECT_EQ(DecodeAcceptorRecord(EncodeAcceptorRecord(backwards), 100).status().code(),
            StatusCode::kCorruption);
  AcceptorState too_big;
  too_big.promised = too_big.accepted = Ballot{1, 1, 1, 0};
  too_big.value = RegisterValue{}.Written(Ballot{1, 1, 1, 0}, true, std::string(101, 'x'));
  EXPECT_EQ(DecodeAcceptorRecord(EncodeAcceptorRecord(too_big), 100).status().code(),
            StatusCode::kCorruption);
}

TEST(StrongCodecTest, RegisterValuesAreValidated) {
  proto::RegisterValue wire;
  ToProto(RegisterValue{}.Written(Ballot{2, 1, 1, 0}, true, "v"), &wire);
  EXPECT_TRUE(RegisterValueFromProto(wire, 10).ok());

  proto::RegisterValue out_of_order = wire;
  ToProto(Ballot{1, 1, 1, 0}, out_of_order.add_recent());
  EXPECT_EQ(RegisterValueFromProto(out_of_order, 10).status().code(), StatusCode::kCorruption);

  proto::RegisterValue no_history = wire;
  no_history.clear_recent();
  EXPECT_EQ(RegisterValueFromProto(no_history, 10).status().code(), StatusCode::kCorruption);

  proto::RegisterValue present_never_written;
  present_never_written.set_present(true);
  EXPECT_EQ(RegisterValueFromProto(present_never_written, 10).status().code(),
            StatusCode::kCorruption);

  proto::RegisterValue long_history = wire;
  long_history.clear_recent();
  for (std::uint64_t round = 1; round <= kRecentWrites + 1; ++round) {
    ToProto(Ballot{round, 1, 1, 0}, long_history.add_recent());
  }
  ToProto(Ballot{kRecentWrites + 1, 1, 1, 0}, long_history.mutable_version());
  EXPECT_EQ(RegisterValueFromProto(long_history, 10).status().code(), StatusCode::kCorruption);
}

TEST(StrongCodecTest, RequestKinds) {
  for (auto kind : {StrongRequest::Kind::kPrepare, StrongRequest::Kind::kPropose,
                    StrongRequest::Kind::kQuery}) {
    EXPECT_EQ(KindFromProto(ToProto(kind)).value(), kind);
  }
  EXPECT_FALSE(KindFromProto(proto::StrongRequest::KIND_UNSPECIFIED).ok());
  EXPECT_FALSE(KindFromProto(static_cast<proto::StrongRequest::Kind>(42)).ok());
}

}  // namespace
}  // namespace meridian::replication
