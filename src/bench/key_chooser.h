// Key choice as in YCSB: the generators behind `requestdistribution` (uniform, zipfian,
// latest) and the key names. Key numbers are chosen in [0, limit), where `limit` is the
// number of keys known to exist (it grows with inserts; see Keyspace).
//
// Value types; not thread-safe (one per worker). Deterministic given the Rng.
#pragma once

#include <cstdint>
#include <string_view>

#include "bench/rng.h"

namespace meridian::bench {

enum class Distribution { kUniform, kZipfian, kLatest };

// "uniform", "zipfian", "latest".
const char* DistributionName(Distribution distribution);

// YCSB's FNV-1a 64-bit hash of the eight bytes of `value` (Utils.fnvhash64).
std::uint64_t FnvHash64(std::uint64_t value);

// YCSB's ZipfianGenerator: item i (0-based) of n is drawn with probability proportional to
// 1 / (i+1)^theta, item 0 the most popular, by Gray et al.'s "Quickly generating
// billion-record synthetic databases" method. The item count may grow between draws (zeta is
// extended incrementally, O(growth)).
class ZipfianGenerator {
 public:
  static constexpr double kTheta = 0.99;  // YCSB's zipfian constant

  // Items [0, items); computes zeta(items) in O(items).
  explicit ZipfianGenerator(std::uint64_t items, double theta = kTheta);
  // With zeta(items, theta) precomputed (Zeta below), in O(1).
  ZipfianGenerator(std::uint64_t items, double theta, double zeta_items);

  // An item in [0, items) for the current item count.
  std::uint64_t Next(Rng& rng) const;
  // An item in [0, items) after growing the item count to `items` (never shrinks it).
  std::uint64_t Next(Rng& rng, std::uint64_t items);

  std::uint64_t items() const { return items_; }
  double zeta() const { return zeta_items_; }

  // sum over i in [from, to) of 1 / (i+1)^theta, plus `initial`.
  static double Zeta(std::uint64_t from, std::uint64_t to, double theta, double initial = 0);

 private:
  void UpdateEta();

  std::uint64_t items_;
  double theta_;
  double zeta_items_;
  double zeta2_;
  double alpha_;
  double eta_;
};

// YCSB's ScrambledZipfianGenerator: zipfian popularity (theta 0.99) over 10^10 items, each
// hashed (FnvHash64) into [0, limit): popular keys are spread over the key space instead of
// being the lowest numbers. Independent of `limit`, so the key space may grow freely.
class ScrambledZipfianGenerator {
 public:
  static constexpr std::uint64_t kItems = 10'000'000'000ULL;
  static constexpr double kZetaItems = 26.46902820178302;  // zeta(10^10, 0.99)

  ScrambledZipfianGenerator();
  std::uint64_t Next(Rng& rng, std::uint64_t limit) const;

 private:
  ZipfianGenerator zipfian_;
};

// A key number in [0, limit) by one Distribution: uniform; scrambled zipfian; latest =
// YCSB's SkewedLatestGenerator, limit-1 minus a zipfian offset, so the most recently
// inserted keys are the most popular.
class KeyChooser {
 public:
  // `latest_zeta`: ZipfianGenerator::Zeta(0, initial_limit, kTheta), computed once and shared
  // by every chooser (O(limit) to compute); only used by kLatest.
  KeyChooser(Distribution distribution, std::uint64_t initial_limit, double latest_zeta);

  std::uint64_t Next(Rng& rng, std::uint64_t limit);

 private:
  Distribution distribution_;
  ScrambledZipfianGenerator scrambled_;
  ZipfianGenerator latest_;
};

// The name of key number `key`: "user" followed by the decimal FnvHash64 of it (YCSB's
// hashed key names), written into `buffer`; the view points into it.
inline constexpr std::size_t kKeyNameCapacity = 32;
std::string_view KeyName(std::uint64_t key, char (&buffer)[kKeyNameCapacity]);

}  // namespace meridian::bench
