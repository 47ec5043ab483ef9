// The cluster administration endpoints of docs/api.md ("Cluster"), under /v1/cluster/:
//
//   GET  /v1/cluster/status              -> ClusterStatusRequest  (metrics op cluster_status)
//   GET  /v1/cluster/ring[?partitions=…] -> ClusterRingRequest    (metrics op cluster_ring)
//   POST /v1/cluster/join|leave|remove|weight -> the admin requests (metrics op cluster_admin)
//   GET  /v1/cluster/locate/{bucket}/{key} -> ClusterLocateRequest (metrics op cluster_locate)
//   GET  /v1/cluster/local/{bucket}/{key}  -> ClusterLocalRequest  (metrics op cluster_local)
//   POST /v1/cluster/backup {"directory"}  -> BackupService::Backup (metrics op cluster_backup)
//
// The two key endpoints validate the bucket and key exactly as /v1/kv/ does (400
// invalid_bucket / invalid_key, 413 key_too_large) and are read-only: the node answers from
// its own state alone.
//
// HttpHandler routes every path under kClusterPrefix here. This validates the method, the
// query and the JSON body at the edge (400 invalid_argument naming the problem; nothing is
// submitted then), submits the request to the KvService and turns the reply or the node's
// error into the response. No sockets, no Beast: stateless functions over HttpRequest.
//
// Thread-safety: as HttpHandler — call on the event-loop thread that runs the KvService.
// `finish` is invoked exactly once, possibly before HandleClusterRequest returns.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "api/backup_service.h"
#include "api/http_message.h"
#include "api/kv_service.h"

namespace meridian::api {

inline constexpr std::string_view kClusterPrefix = "/v1/cluster/";

// The `error` code of a cluster request the edge or the node refuses as invalid (bad JSON,
// unknown or missing field, wrong type, weight 0, a node that runs standalone).
// WIRE FORMAT: listed in docs/api.md ("Errors").
inline constexpr std::string_view kClusterInvalidArgument = "invalid_argument";

// The metrics `op` of a request for `path` (under kClusterPrefix) with `method`:
// "cluster_status", "cluster_ring", "cluster_admin", "cluster_locate", "cluster_local",
// "cluster_backup", or "other" for unknown paths and unsupported methods.
std::string_view ClusterOperation(std::string_view method, std::string_view path);

// Receives the metrics op and the response to send.
using ClusterFinish = std::function<void(std::string_view op, HttpResponse response)>;

// Handles `request`, whose path (`path`, split from `query`) starts with kClusterPrefix.
// Keys longer than `key_bytes_max` are refused (413 key_too_large), as on /v1/kv/.
// A backup goes to `backup` (null: this server takes no backups, 404 not_found).
// The services must outlive the pending reply.
void HandleClusterRequest(KvService& service, BackupService* backup, HttpRequest& request,
                          std::string_view path, std::string_view query, std::size_t key_bytes_max,
                          ClusterFinish finish);

}  // namespace meridian::api
