#include "runtime/backup_manifest.h"

#include <fcntl.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/file_sync.h"

namespace meridian::runtime {
namespace {

using Json = nlohmann::ordered_json;

}  // namespace

std::string ShardDatabaseDirectory(std::uint32_t shard) {
  return shard == 0 ? std::string(kBackupDatabaseDirectory) : "db-shard-" + std::to_string(shard);
}

std::string EncodeBackupManifest(const BackupManifest& manifest) {
  Json json{{"format", manifest.format},
            {"node", manifest.node_id},
            {"cluster_name", manifest.cluster_name},
            {"partition_count", manifest.partition_count},
            {"storage_format_version", manifest.storage_format_version},
            {"ring_version", manifest.ring_version},
            {"incarnation", manifest.incarnation},
            {"created_unix_ms", manifest.created_unix_ms},
            {"meridian_version", manifest.meridian_version}};
  if (manifest.format >= kShardedBackupFormat) json["shards"] = manifest.shards;
  return json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<BackupManifest> DecodeBackupManifest(std::string_view text) {
  const Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Status::InvalidArgument("backup.json is not a JSON object");
  }
  const auto unsigned_field = [&json](const char* name,
                                      std::uint64_t max) -> Result<std::uint64_t> {
    const auto found = json.find(name);
    if (found == json.end() || !found->is_number_unsigned() || found->get<std::uint64_t>() > max) {
      return Status::InvalidArgument(std::string("backup.json: ") + name +
                                     " is missing or not an unsigned integer");
    }
    return found->get<std::uint64_t>();
  };
  const auto string_field = [&json](const char* name) -> Result<std::string> {
    const auto found = json.find(name);
    if (found == json.end() || !found->is_string()) {
      return Status::InvalidArgument(std::string("backup.json: ") + name +
                                     " is missing or not a string");
    }
    return found->get<std::string>();
  };
  constexpr std::uint64_t kU32 = 0xffffffffu;
  constexpr std::uint64_t kU64 = ~std::uint64_t{0};
  Result<std::uint64_t> format = unsigned_field("format", kU32);
  if (!format.ok()) return format.status();
  if (*format != kBackupFormat && *format != kShardedBackupFormat) {
    const auto writer = json.find("meridian_version");
    const std::string made_by = writer != json.end() && writer->is_string()
                                    ? "Meridian " + writer->get<std::string>()
                                    : std::string("another release");
    return Status::InvalidArgument(
        "backup.json has format " + std::to_string(*format) +
        "; this release (Meridian " MERIDIAN_VERSION ") reads formats " +
        std::to_string(kBackupFormat) + " and " + std::to_string(kShardedBackupFormat) +
        ". The backup was made by " + made_by +
        (*format > kShardedBackupFormat ? ": restore it with that release or a newer one" : ""));
  }
  BackupManifest manifest;
  manifest.format = static_cast<std::uint32_t>(*format);
  Result<std::string> node = string_field("node");
  if (!node.ok()) return node.status();
  manifest.node_id = std::move(*node);
  Result<std::string> cluster = string_field("cluster_name");
  if (!cluster.ok()) return cluster.status();
  manifest.cluster_name = std::move(*cluster);
  Result<std::string> version = string_field("meridian_version");
  if (!version.ok()) return version.status();
  manifest.meridian_version = std::move(*version);
  Result<std::uint64_t> partitions = unsigned_field("partition_count", kU32);
  if (!partitions.ok()) return partitions.status();
  manifest.partition_count = static_cast<std::uint32_t>(*partitions);
  Result<std::uint64_t> storage = unsigned_field("storage_format_version", kU32);
  if (!storage.ok()) return storage.status();
  manifest.storage_format_version = static_cast<std::uint32_t>(*storage);
  Result<std::uint64_t> ring = unsigned_field("ring_version", kU64);
  if (!ring.ok()) return ring.status();
  manifest.ring_version = *ring;
  Result<std::uint64_t> incarnation = unsigned_field("incarnation", kU64);
  if (!incarnation.ok()) return incarnation.status();
  manifest.incarnation = *incarnation;
  Result<std::uint64_t> created = unsigned_field("created_unix_ms", kU64);
  if (!created.ok()) return created.status();
  manifest.created_unix_ms = *created;
  if (manifest.format >= kShardedBackupFormat) {
    Result<std::uint64_t> shards = unsigned_field("shards", kU32);
    if (!shards.ok()) return shards.status();
    if (*shards < 2 || *shards > manifest.partition_count) {
      return Status::InvalidArgument("backup.json: shards is " + std::to_string(*shards) +
                                     "; a backup of format 2 holds 2 to partition_count databases");
    }
    manifest.shards = static_cast<std::uint32_t>(*shards);
  }
  return manifest;
}

Status WriteBackupManifest(const std::string& directory, const BackupManifest& manifest) {
  const std::string path = (std::filesystem::path(directory) / kBackupManifestFile).string();
  const std::string temporary = path + ".tmp";
  const std::string text = EncodeBackupManifest(manifest);
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.close();
    if (!out) return Status::IoError("cannot write " + temporary);
  }
  MERIDIAN_RETURN_IF_ERROR(SyncPath(temporary, O_RDONLY));
  if (::rename(temporary.c_str(), path.c_str()) != 0) return ErrnoStatus("rename " + temporary);
  return SyncPath(directory, O_RDONLY | O_DIRECTORY);
}

Result<BackupManifest> ReadBackupManifest(const std::string& directory) {
  const std::string path = (std::filesystem::path(directory) / kBackupManifestFile).string();
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return Status::NotFound(path + " does not exist: " + directory + " is not a finished backup");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Status::IoError("cannot read " + path);
  return DecodeBackupManifest(text.str());
}

}  // namespace meridian::runtime
