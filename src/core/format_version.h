// The refusal of a versioned record (an object, a hint, bucket properties, an anti-entropy
// tree node) whose format version this release does not know. Records written by a newer
// release say so, so that an operator who rolled a node back sees why (docs/operations.md,
// "Upgrades"). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace meridian {

// Corruption: "<record> has format version V, newer than this release (Meridian X) reads (up
// to N): a newer release wrote it" when V > newest_known, else "<record> has unknown format
// version V".
Status UnknownFormatVersion(std::string_view record, std::uint32_t version,
                            std::uint32_t newest_known);

}  // namespace meridian
