// Cluster status with every member's report (member_report.h): the answering node asks each
// reachable member, waits for the answers up to member_report_timeout_ms, and replies with
// what arrived; a member without a report says why.
#include <algorithm>
#include <string>
#include <utility>

#include "core/assert.h"
#include "node/node.h"

namespace meridian::node {

ClusterStatusReply Node::StatusReply() const {
  const cluster::ClusterState& state = membership_->state();
  ClusterStatusReply reply;
  reply.cluster_name = state.cluster_name();
  reply.self = config_.node_id;
  reply.claimant = membership_->Claimant();
  reply.ring_version = state.ring().version();
  reply.partition_count = state.partition_count();
  reply.members = MemberViews();
  return reply;
}

MemberReport Node::OwnReport(std::uint64_t now_ms) const {
  const NodeStats stats = Stats();
  MemberReport report;
  report.meridian_version = MERIDIAN_VERSION;
  report.load = local_load_;
  report.hints_pending = stats.hints_pending;
  report.hint_bytes = stats.hint_bytes;
  report.copies_queued = stats.copies_queued;
  report.aae_exchanges = stats.aae_exchanges;
  report.aae_exchanges_failed = stats.aae_exchanges_failed;
  report.aae_keys_repaired = stats.aae_keys_sent + stats.aae_keys_received;
  for (const auto& [partition, replica] : replicas_) {
    replica->AppendTransfers(now_ms, report.transfers);
  }
  if (!shard_reports_.empty()) {
    for (const auto& [shard, part] : shard_reports_) {
      report.hints_pending += part.hints_pending;
      report.hint_bytes += part.hint_bytes;
      report.copies_queued += part.copies_queued;
      report.aae_exchanges += part.aae_exchanges;
      report.aae_exchanges_failed += part.aae_exchanges_failed;
      report.aae_keys_repaired += part.aae_keys_repaired;
      report.transfers.insert(report.transfers.end(), part.transfers.begin(), part.transfers.end());
    }
    std::stable_sort(
        report.transfers.begin(), report.transfers.end(),
        [](const TransferView& a, const TransferView& b) { return a.partition < b.partition; });
  }
  return report;
}

MemberReport Node::ShardReport() const {
  MERIDIAN_CHECK(FollowsShell());
  MemberReport report = OwnReport(NowMs());
  report.load.reset();  // node-wide: the shell's
  return report;
}

void Node::SetShardReport(std::uint32_t shard, MemberReport report) {
  MERIDIAN_CHECK(config_.shard_index == 0 && shard > 0 && shard < config_.shard_count);
  shard_reports_[shard] = std::move(report);
}

std::optional<Result<ReplyBody>> Node::StartStatusReport(RequestId id) {
  std::set<cluster::NodeId> asked;
  for (const auto& member : membership_->state().members()) {
    if (member->id == config_.node_id || member->status == cluster::MemberStatus::kRemoved) {
      continue;
    }
    if (Reachable(member->id) && !AddressOf(member->id).empty()) asked.insert(member->id);
  }
  const std::uint64_t now_ms = NowMs();
  const std::uint64_t report_id = call_ids_.Next();
  for (const cluster::NodeId& member : asked) {
    cluster::Outbound& out = outbound_.emplace_back();
    out.to_address = AddressOf(member);
    proto::MemberReportRequest* request = out.message.mutable_member_report_request();
    request->set_cluster_name(config_.cluster_name);
    request->set_from_id(config_.node_id);
    request->set_report_id(report_id);
  }
  status_reports_.emplace(
      report_id,
      PendingStatusReport{id, ReportCollection(report_id, std::move(asked),
                                               now_ms + config_.member_report_timeout_ms)});
  if (!status_reports_.at(report_id).collection.Done(now_ms)) return std::nullopt;
  // Nobody else to ask: answer at once.
  PendingStatusReport pending = std::move(status_reports_.at(report_id));
  status_reports_.erase(report_id);
  ClusterStatusReply reply = StatusReply();
  for (MemberView& view : reply.members) {
    if (view.id == config_.node_id)
      view.report = OwnReport(now_ms);
    else
      view.report_missing = view.status == "removed" ? "removed" : "not reachable";
  }
  return ReplyBody(std::move(reply));
}

void Node::FinishStatusReport(std::uint64_t report_id) {
  auto found = status_reports_.find(report_id);
  if (found == status_reports_.end()) return;
  const std::uint64_t now_ms = NowMs();
  const ReportCollection& collection = found->second.collection;
  ClusterStatusReply reply = StatusReply();
  for (MemberView& view : reply.members) {
    if (view.id == config_.node_id) {
      view.report = OwnReport(now_ms);
    } else if (auto report = collection.reports().find(view.id);
               report != collection.reports().end()) {
      view.report = report->second;
    } else if (collection.asked().count(view.id) != 0) {
      view.report_missing =
          "no answer within " + std::to_string(config_.member_report_timeout_ms) + " ms";
    } else {
      view.report_missing = view.status == "removed" ? "removed" : "not reachable";
    }
  }
  const RequestId request = found->second.request;
  status_reports_.erase(found);
  Reply(request, ReplyBody(std::move(reply)));
}

void Node::TickStatusReports(std::uint64_t now_ms) {
  std::vector<std::uint64_t> done;
  for (const auto& [report_id, pending] : status_reports_) {
    if (pending.collection.Done(now_ms)) done.push_back(report_id);
  }
  for (std::uint64_t report_id : done) FinishStatusReport(report_id);
}

void Node::OnMemberReportRequest(const std::string& from_address,
                                 const proto::MemberReportRequest& request) {
  if (request.cluster_name() != config_.cluster_name) return;
  cluster::Outbound out;
  out.to_address = from_address;
  proto::MemberReportReply* reply = out.message.mutable_member_report_reply();
  reply->set_from_id(config_.node_id);
  reply->set_report_id(request.report_id());
  EncodeMemberReport(OwnReport(NowMs()), *reply->mutable_report());
  outbound_.push_back(std::move(out));
}

void Node::OnMemberReportReply(const std::string& from_address,
                               const proto::MemberReportReply& reply) {
  // Answers count only from the member asked (its address, as the transport authenticated).
  if (reply.from_id().empty() || AddressOf(reply.from_id()) != from_address) return;
  auto found = status_reports_.find(reply.report_id());
  if (found == status_reports_.end()) return;
  found->second.collection.OnReply(reply.from_id(), DecodeMemberReport(reply.report()));
  if (found->second.collection.Done(NowMs())) FinishStatusReport(reply.report_id());
}

}  // namespace meridian::node
