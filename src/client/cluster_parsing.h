// The JSON of the cluster administration endpoints (docs/api.md "Cluster"): decoding the
// replies of GET /v1/cluster/status and /v1/cluster/ring and of the admin POSTs, and
// encoding the admin request bodies. Pure functions; thread-safe.
//
// Decoding is strict about the fields the result types carry (each must be present with
// the documented JSON type; kProtocolError otherwise) and ignores fields it does not know,
// so a newer server may add fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "meridian/client.h"

namespace meridian::client::internal {

Result<ClusterStatusResult> ParseClusterStatusBody(std::string_view body);
Result<ClusterRingResult> ParseClusterRingBody(std::string_view body);
Result<ClusterAdminResult> ParseClusterAdminBody(std::string_view body);
// GET /v1/cluster/locate/... and /v1/cluster/local/...; base64 values are decoded.
Result<KeyLocation> ParseKeyLocationBody(std::string_view body);
Result<LocalCopyResult> ParseLocalCopyBody(std::string_view body);
// POST /v1/cluster/backup
Result<BackupResult> ParseBackupBody(std::string_view body);
Result<BackgroundSetting> ParseBackgroundBody(std::string_view body);

// {"seeds": [...]}
std::string ClusterJoinBody(const std::vector<std::string>& seeds);
std::string BackgroundBody(std::optional<std::uint64_t> bytes_per_second,
                           std::optional<bool> paused);
// {"node": "..."}; for leave an empty node gives an empty body (the server's own node).
std::string ClusterNodeBody(std::string_view node);
// {"directory": "..."}
std::string BackupBody(std::string_view directory);
// {"node": "...", "weight": N}
std::string ClusterWeightBody(std::string_view node, std::uint32_t weight);

}  // namespace meridian::client::internal
