// StrongMove: one move of a partition's strong configuration from epoch e to e+1
// (docs/design/strong.md, "A move"), run by any node that served epoch e:
//
//   choose    compare-and-set on the partition's configuration register over the members of
//             e: from e's configuration to (e+1, target). If the register already holds an
//             e+1 configuration (another mover's), that one is adopted and finished instead.
//   collect   page by page, every member of e sends its records of the partition (having
//             retired e first); done once the members that sent everything hold a majority
//             of every key's acceptors (CollectCovers); merged per key as they arrive.
//   install   every member of e+1 receives the merged records and, with the last page, the
//             register holding the chosen configuration, which activates e+1 there.
//
// Succeeds once every member of e+1 acknowledged its last page, or `install_grace_ms` after
// enough did to cover every key's acceptors (the others stay "not ready"); fails at the
// deadline otherwise. Requests lost on the way are sent again after `resend_after_ms`.
//
// Sans-IO: requests come out of Take*(), answers go in through On*(), time through OnTime().
// Members are indices into from().members (register requests, scans) or to().members
// (installs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "replication/strong_configuration.h"
#include "replication/strong_proposer.h"

namespace meridian::replication {

struct StrongMoveConfig {
  StrongProposerConfig proposer;  // the register's compare-and-set
  std::size_t page_bytes_max = 1 << 20;
  std::uint64_t resend_after_ms = 1'000;
  // Pause between the collect and the install (the simulator's stand-in for copying a large
  // partition, which widens the window a fencing bug needs). 0 in production.
  std::uint64_t install_delay_ms = 0;
  // Once the members that installed cover every key's acceptors, the others get this long
  // before the move ends without them (they stay "not ready" until a later move); 0: until
  // the deadline. Members the caller gives up on (SkipInstall) do not wait for it.
  std::uint64_t install_grace_ms = 0;
};

struct StrongScanPage {
  std::size_t member = 0;  // index into from().members
  std::string after;       // empty: from the start
};

struct StrongInstallPage {
  std::size_t member = 0;  // index into to().members
  std::uint64_t page = 0;  // 0, 1, ...; acknowledged by number
  std::vector<std::pair<std::string, AcceptorState>> records;
  bool last = false;
  AcceptorState register_state;  // last page only
};

class StrongMove {
 public:
  enum class State : std::uint8_t {
    kChoosing,
    kCollecting,
    kCollected,  // waiting out install_delay_ms
    kInstalling,
    kSucceeded,
    kFailed
  };

  // `from`: the configuration this node serves, `from_value` the register value holding it
  // (its version is the compare-and-set's condition); `target`: the members e+1 should have
  // (the ring's primaries); `factors`: the replication factors of the strong buckets.
  StrongMove(const StrongMoveConfig& config, StrongConfiguration from, RegisterValue from_value,
             std::vector<cluster::NodeId> target, std::vector<std::uint32_t> factors,
             std::uint64_t round_floor, std::uint64_t seed, std::uint64_t now_ms,
             std::uint64_t deadline_ms);

  std::vector<StrongRequest> TakeRegisterRequests();
  std::vector<StrongScanPage> TakeScans();
  std::vector<StrongInstallPage> TakeInstalls();

  void OnRegisterReply(std::size_t member, StrongRequest::Kind kind, const Ballot& ballot,
                       const AcceptorReply& reply);
  // One page of `member`'s records, in key order; `done`: nothing after them.
  void OnScanPage(std::size_t member, const std::string& after,
                  std::vector<std::pair<std::string, AcceptorState>> records, bool done);
  void OnInstallAck(std::size_t member, std::uint64_t page);
  // The caller knows `member` (of to()) cannot be reached (removed, or down): the move does
  // not wait for it once the others cover every key's acceptors.
  void SkipInstall(std::size_t member);
  void OnTime(std::uint64_t now_ms);

  State state() const { return state_; }
  const Status& failure() const { return failure_; }
  const StrongConfiguration& from() const { return from_; }
  // The configuration chosen for e+1 (empty before the choose step completes).
  const StrongConfiguration& to() const { return to_; }
  std::uint64_t highest_round() const { return proposer_.highest_round(); }
  std::size_t records_merged() const { return merged_.size(); }

 private:
  void Adopt(const ChosenProposal& chosen);
  void StartInstall();
  void QueueInstall(std::size_t member);
  void Fail(Status status);
  bool InstallCovered() const;
  void FinishInstallIfDone();

  StrongMoveConfig config_;
  StrongConfiguration from_;
  std::vector<std::uint32_t> factors_;
  std::uint64_t deadline_ms_;
  std::uint64_t now_ms_;
  StrongProposer proposer_;
  State state_ = State::kChoosing;
  Status failure_;
  StrongConfiguration to_;
  AcceptorState register_state_;  // the register holding to_, as installed

  struct ScanCursor {
    std::string after;
    bool done = false;
    std::uint64_t asked_ms = 0;
    bool in_flight = false;
  };
  std::vector<ScanCursor> scans_;
  std::uint64_t collected_ms_ = 0;
  std::vector<StrongScanPage> scan_out_;
  std::map<std::string, AcceptorState> merged_;

  struct InstallCursor {
    std::uint64_t page = 0;  // the page in flight (or next)
    std::string after;       // the first record of `page` comes after this key
    std::uint64_t asked_ms = 0;
    bool done = false;
    bool skipped = false;
  };
  std::vector<InstallCursor> installs_;
  std::optional<std::uint64_t> install_covered_ms_;
  std::vector<StrongInstallPage> install_out_;
};

}  // namespace meridian::replication
