// MemberReport: what a member reports about its own work and load — partition streams with
// their progress, hints it owes, anti-entropy, disk and request figures — for `cluster status`
// and the web console. The node answering a status request collects one from every reachable
// member (ReportCollection); a report is a snapshot and changes nothing.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/node_id.h"
#include "proto/member_report.pb.h"

namespace meridian::node {

// Figures only the runtime knows (the file system, the front ends' requests), handed to the
// node by Node::SetLocalLoad.
struct LocalLoad {
  std::uint64_t disk_used_bytes = 0;  // of the file system holding the data directory
  std::uint64_t disk_capacity_bytes = 0;
  std::uint64_t disk_available_bytes = 0;
  // Client requests (gets, puts, deletes, RESP commands) over the last window_seconds.
  std::uint32_t window_seconds = 0;
  double requests_per_second = 0;
  double errors_per_second = 0;  // answered with a 5xx status
  double p50_ms = 0;
  double p99_ms = 0;
};

// One outgoing partition stream (an ownership transfer or a replica copy).
struct TransferView {
  std::uint32_t partition = 0;
  bool replica_copy = false;
  std::string peer;               // the receiving member
  std::uint64_t bytes_done = 0;   // acknowledged by the receiver
  std::uint64_t bytes_total = 0;  // estimated at the start; 0: unknown
  std::uint64_t objects_done = 0;
  std::uint64_t elapsed_ms = 0;  // since the stream started

  // The acknowledged rate since the start (0 before anything was acknowledged).
  double BytesPerSecond() const;
  // Done fraction in [0, 1): an estimate can be low, so a running stream never shows 1;
  // nullopt when the total is unknown.
  std::optional<double> Fraction() const;
  // Seconds left at the rate so far; nullopt without a total or a rate.
  std::optional<double> EtaSeconds() const;
};

struct MemberReport {
  // The member's release ("0.2.0"); empty in a report from release 0.1.0, which sent none.
  std::string meridian_version;
  std::optional<LocalLoad> load;  // nullopt: the runtime gave none (the simulator)
  std::uint64_t hints_pending = 0;
  std::uint64_t hint_bytes = 0;
  std::vector<TransferView> transfers;  // running streams, by partition
  std::uint64_t copies_queued = 0;      // partitions waiting to be handed off or filled
  std::uint64_t aae_exchanges = 0;      // completed, as initiator (since start)
  std::uint64_t aae_exchanges_failed = 0;
  std::uint64_t aae_keys_repaired = 0;  // copies sent plus received for repair (since start)
};

void EncodeMemberReport(const MemberReport& report, proto::MemberReport& out);
MemberReport DecodeMemberReport(const proto::MemberReport& in);

// One status request's collection of reports: the members asked, their answers, a deadline.
class ReportCollection {
 public:
  ReportCollection(std::uint64_t report_id, std::set<cluster::NodeId> asked,
                   std::uint64_t deadline_ms);

  std::uint64_t report_id() const { return report_id_; }
  const std::set<cluster::NodeId>& asked() const { return asked_; }
  // Keeps the first answer of a member asked; others are ignored.
  void OnReply(const cluster::NodeId& from, MemberReport report);
  // Every member asked answered, or the deadline passed.
  bool Done(std::uint64_t now_ms) const;
  const std::map<cluster::NodeId, MemberReport>& reports() const { return reports_; }
  std::uint64_t deadline_ms() const { return deadline_ms_; }

 private:
  std::uint64_t report_id_;
  std::set<cluster::NodeId> asked_;
  std::uint64_t deadline_ms_;
  std::map<cluster::NodeId, MemberReport> reports_;
};

}  // namespace meridian::node
