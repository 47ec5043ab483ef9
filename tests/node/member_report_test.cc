// Member reports: a transfer's progress and time left, the wire round trip, and the collection
// of one status request's answers.
#include "node/member_report.h"

#include <gtest/gtest.h>

namespace meridian::node {
namespace {

TransferView Transfer(std::uint64_t done, std::uint64_t total, std::uint64_t elapsed_ms) {
  TransferView view;
  view.partition = 7;
  view.peer = "n2";
  view.bytes_done = done;
  view.bytes_total = total;
  view.elapsed_ms = elapsed_ms;
  return view;
}

TEST(TransferViewTest, RateFractionAndTimeLeftFollowTheAcknowledgedBytes) {
  const TransferView view = Transfer(/*done=*/250'000, /*total=*/1'000'000, /*elapsed_ms=*/5'000);
  EXPECT_DOUBLE_EQ(view.BytesPerSecond(), 50'000);
  ASSERT_TRUE(view.Fraction().has_value());
  EXPECT_DOUBLE_EQ(*view.Fraction(), 0.25);
  ASSERT_TRUE(view.EtaSeconds().has_value());
  EXPECT_DOUBLE_EQ(*view.EtaSeconds(), 15);  // 750,000 bytes left at 50,000 per second
}

TEST(TransferViewTest, NothingAcknowledgedYetHasNoRateAndNoTimeLeft) {
  const TransferView view = Transfer(0, 1'000'000, 2'000);
  EXPECT_EQ(view.BytesPerSecond(), 0);
  EXPECT_DOUBLE_EQ(*view.Fraction(), 0);
  EXPECT_FALSE(view.EtaSeconds().has_value());
  EXPECT_FALSE(Transfer(10, 100, 0).EtaSeconds().has_value()) << "no time elapsed: no rate";
}

TEST(TransferViewTest, AnUnknownTotalHasNoFractionAndNoTimeLeft) {
  const TransferView view = Transfer(500, 0, 1'000);
  EXPECT_DOUBLE_EQ(view.BytesPerSecond(), 500);
  EXPECT_FALSE(view.Fraction().has_value());
  EXPECT_FALSE(view.EtaSeconds().has_value());
}

TEST(TransferViewTest, ALowEstimateNeverShowsARunningStreamAsDone) {
  const TransferView view = Transfer(/*done=*/1'500, /*total=*/1'000, 1'000);
  EXPECT_LT(*view.Fraction(), 1.0);
  EXPECT_GE(*view.Fraction(), 0.99);
  EXPECT_DOUBLE_EQ(*view.EtaSeconds(), 0);
}

TEST(MemberReportCodecTest, EveryFieldSurvivesTheWire) {
  MemberReport report;
  LocalLoad& load = report.load.emplace();
  load.disk_used_bytes = 1;
  load.disk_capacity_bytes = 2;
  load.disk_available_bytes = 3;
  load.window_seconds = 60;
  load.requests_per_second = 12.5;
  load.errors_per_second = 0.25;
  load.p50_ms = 0.4;
  load.p99_ms = 3.5;
  report.hints_pending = 4;
  report.hint_bytes = 5;
  report.copies_queued = 6;
  report.aae_exchanges = 7;
  report.aae_exchanges_failed = 8;
  report.aae_keys_repaired = 9;
  report.meridian_version = "0.2.0";
  TransferView transfer = Transfer(10, 20, 30);
  transfer.replica_copy = true;
  transfer.objects_done = 11;
  report.transfers = {transfer, Transfer(1, 2, 3)};

  proto::MemberReport wire;
  EncodeMemberReport(report, wire);
  proto::MemberReport parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire.SerializeAsString()));
  const MemberReport back = DecodeMemberReport(parsed);
  ASSERT_TRUE(back.load.has_value());
  EXPECT_EQ(back.load->disk_used_bytes, 1u);
  EXPECT_EQ(back.load->disk_capacity_bytes, 2u);
  EXPECT_EQ(back.load->disk_available_bytes, 3u);
  EXPECT_EQ(back.load->window_seconds, 60u);
  EXPECT_DOUBLE_EQ(back.load->requests_per_second, 12.5);
  EXPECT_DOUBLE_EQ(back.load->errors_per_second, 0.25);
  EXPECT_DOUBLE_EQ(back.load->p50_ms, 0.4);
  EXPECT_DOUBLE_EQ(back.load->p99_ms, 3.5);
  EXPECT_EQ(back.hints_pending, 4u);
  EXPECT_EQ(back.hint_bytes, 5u);
  EXPECT_EQ(back.copies_queued, 6u);
  EXPECT_EQ(back.aae_exchanges, 7u);
  EXPECT_EQ(back.aae_exchanges_failed, 8u);
  EXPECT_EQ(back.aae_keys_repaired, 9u);
  EXPECT_EQ(back.meridian_version, "0.2.0");
  ASSERT_EQ(back.transfers.size(), 2u);
  EXPECT_EQ(back.transfers[0].partition, 7u);
  EXPECT_TRUE(back.transfers[0].replica_copy);
  EXPECT_EQ(back.transfers[0].peer, "n2");
  EXPECT_EQ(back.transfers[0].bytes_done, 10u);
  EXPECT_EQ(back.transfers[0].bytes_total, 20u);
  EXPECT_EQ(back.transfers[0].objects_done, 11u);
  EXPECT_EQ(back.transfers[0].elapsed_ms, 30u);
  EXPECT_FALSE(back.transfers[1].replica_copy);
}

TEST(MemberReportCodecTest, AReportWithoutLoadStaysWithoutLoad) {
  MemberReport report;
  report.hints_pending = 3;
  proto::MemberReport wire;
  EncodeMemberReport(report, wire);
  const MemberReport back = DecodeMemberReport(wire);
  EXPECT_FALSE(back.load.has_value());
  EXPECT_EQ(back.hints_pending, 3u);
  EXPECT_EQ(back.meridian_version, "");  // as from release 0.1.0, which sent none
}

TEST(ReportCollectionTest, DoneWhenEveryMemberAskedAnswered) {
  ReportCollection collection(1, {"a", "b"}, /*deadline_ms=*/1'000);
  EXPECT_FALSE(collection.Done(0));
  MemberReport report;
  report.hints_pending = 1;
  collection.OnReply("a", report);
  EXPECT_FALSE(collection.Done(999));
  collection.OnReply("stranger", MemberReport{});  // never asked: ignored
  EXPECT_FALSE(collection.Done(999));
  report.hints_pending = 2;
  collection.OnReply("a", report);  // a second answer does not replace the first
  EXPECT_EQ(collection.reports().at("a").hints_pending, 1u);
  collection.OnReply("b", MemberReport{});
  EXPECT_TRUE(collection.Done(0));
  EXPECT_EQ(collection.reports().size(), 2u);
  EXPECT_EQ(collection.reports().count("stranger"), 0u);
}

TEST(ReportCollectionTest, DoneAtTheDeadlineWithWhatArrived) {
  ReportCollection collection(1, {"a", "b"}, 1'000);
  collection.OnReply("b", MemberReport{});
  EXPECT_FALSE(collection.Done(999));
  EXPECT_TRUE(collection.Done(1'000));
  EXPECT_EQ(collection.reports().size(), 1u);
  EXPECT_TRUE(ReportCollection(2, {}, 5).Done(0)) << "nobody to ask";
}

}  // namespace
}  // namespace meridian::node
