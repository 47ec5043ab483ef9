// Binary encoding of a DvvSet as stored on disk (and later sent between replicas).
// Format: docs/format/object.md. ON-DISK FORMAT: never change without a version bump.
#pragma once

#include <string>
#include <string_view>

#include "core/dvv_set.h"
#include "core/status.h"

namespace meridian {

std::string EncodeObject(const DvvSet& object);
// Corruption when the bytes are truncated, have trailing garbage, an unknown format
// version, or violate the DvvSet invariants.
Result<DvvSet> DecodeObject(std::string_view bytes);

}  // namespace meridian
