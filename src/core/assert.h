// Assertions. MERIDIAN_CHECK is always on (data-safety invariants, also in release builds);
// MERIDIAN_DCHECK is compiled out in NDEBUG builds (expensive checks). Split compound
// conditions into separate checks so a failure names the exact clause.
#pragma once

namespace meridian::detail {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace meridian::detail

#define MERIDIAN_CHECK(cond) \
  ((cond) ? (void)0 : ::meridian::detail::CheckFailed(#cond, __FILE__, __LINE__))

#ifdef NDEBUG
#define MERIDIAN_DCHECK(cond) ((void)0)
#else
#define MERIDIAN_DCHECK(cond) MERIDIAN_CHECK(cond)
#endif
