#include "core/format_version.h"

#include <string>

namespace meridian {

Status UnknownFormatVersion(std::string_view record, std::uint32_t version,
                            std::uint32_t newest_known) {
  if (version > newest_known) {
    return Status::Corruption(
        std::string(record) + " has format version " + std::to_string(version) +
        ", newer than this release (Meridian " MERIDIAN_VERSION ") reads (up to " +
        std::to_string(newest_known) + "): a newer release wrote it");
  }
  return Status::Corruption(std::string(record) + " has unknown format version " +
                            std::to_string(version));
}

}  // namespace meridian
