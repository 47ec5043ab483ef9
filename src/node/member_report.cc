#include "node/member_report.h"

#include <algorithm>
#include <utility>

namespace meridian::node {

double TransferView::BytesPerSecond() const {
  if (elapsed_ms == 0 || bytes_done == 0) return 0;
  return static_cast<double>(bytes_done) * 1000.0 / static_cast<double>(elapsed_ms);
}

std::optional<double> TransferView::Fraction() const {
  if (bytes_total == 0) return std::nullopt;
  // Running, so not done: an estimate below what was sent shows as almost done.
  constexpr double kRunningMax = 0.99;
  return std::min(kRunningMax, static_cast<double>(bytes_done) / static_cast<double>(bytes_total));
}

std::optional<double> TransferView::EtaSeconds() const {
  const double rate = BytesPerSecond();
  if (bytes_total == 0 || rate <= 0) return std::nullopt;
  const std::uint64_t left = bytes_total > bytes_done ? bytes_total - bytes_done : 0;
  return static_cast<double>(left) / rate;
}

void EncodeMemberReport(const MemberReport& report, proto::MemberReport& out) {
  out.set_meridian_version(report.meridian_version);
  if (report.load.has_value()) {
    const LocalLoad& load = *report.load;
    out.set_load_known(true);
    out.set_disk_used_bytes(load.disk_used_bytes);
    out.set_disk_capacity_bytes(load.disk_capacity_bytes);
    out.set_disk_available_bytes(load.disk_available_bytes);
    out.set_requests_window_seconds(load.window_seconds);
    out.set_requests_per_second(load.requests_per_second);
    out.set_errors_per_second(load.errors_per_second);
    out.set_p50_ms(load.p50_ms);
    out.set_p99_ms(load.p99_ms);
  }
  out.set_hints_pending(report.hints_pending);
  out.set_hint_bytes(report.hint_bytes);
  for (const TransferView& transfer : report.transfers) {
    proto::TransferReport* entry = out.add_transfers();
    entry->set_partition(transfer.partition);
    entry->set_replica_copy(transfer.replica_copy);
    entry->set_peer(transfer.peer);
    entry->set_bytes_done(transfer.bytes_done);
    entry->set_bytes_total(transfer.bytes_total);
    entry->set_objects_done(transfer.objects_done);
    entry->set_elapsed_ms(transfer.elapsed_ms);
  }
  out.set_copies_queued(report.copies_queued);
  out.set_aae_exchanges(report.aae_exchanges);
  out.set_aae_exchanges_failed(report.aae_exchanges_failed);
  out.set_aae_keys_repaired(report.aae_keys_repaired);
}

MemberReport DecodeMemberReport(const proto::MemberReport& in) {
  MemberReport report;
  report.meridian_version = in.meridian_version();
  if (in.load_known()) {
    LocalLoad& load = report.load.emplace();
    load.disk_used_bytes = in.disk_used_bytes();
    load.disk_capacity_bytes = in.disk_capacity_bytes();
    load.disk_available_bytes = in.disk_available_bytes();
    load.window_seconds = in.requests_window_seconds();
    load.requests_per_second = in.requests_per_second();
    load.errors_per_second = in.errors_per_second();
    load.p50_ms = in.p50_ms();
    load.p99_ms = in.p99_ms();
  }
  report.hints_pending = in.hints_pending();
  report.hint_bytes = in.hint_bytes();
  for (const proto::TransferReport& entry : in.transfers()) {
    TransferView& transfer = report.transfers.emplace_back();
    transfer.partition = entry.partition();
    transfer.replica_copy = entry.replica_copy();
    transfer.peer = entry.peer();
    transfer.bytes_done = entry.bytes_done();
    transfer.bytes_total = entry.bytes_total();
    transfer.objects_done = entry.objects_done();
    transfer.elapsed_ms = entry.elapsed_ms();
  }
  report.copies_queued = in.copies_queued();
  report.aae_exchanges = in.aae_exchanges();
  report.aae_exchanges_failed = in.aae_exchanges_failed();
  report.aae_keys_repaired = in.aae_keys_repaired();
  return report;
}

ReportCollection::ReportCollection(std::uint64_t report_id, std::set<cluster::NodeId> asked,
                                   std::uint64_t deadline_ms)
    : report_id_(report_id), asked_(std::move(asked)), deadline_ms_(deadline_ms) {}

void ReportCollection::OnReply(const cluster::NodeId& from, MemberReport report) {
  if (asked_.count(from) == 0) return;
  reports_.emplace(from, std::move(report));
}

bool ReportCollection::Done(std::uint64_t now_ms) const {
  return reports_.size() == asked_.size() || now_ms >= deadline_ms_;
}

}  // namespace meridian::node
