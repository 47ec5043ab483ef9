#include "bench/key_chooser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

namespace meridian::bench {

const char* DistributionName(Distribution distribution) {
  switch (distribution) {
    case Distribution::kUniform:
      return "uniform";
    case Distribution::kZipfian:
      return "zipfian";
    case Distribution::kLatest:
      return "latest";
  }
  return "unknown";
}

std::uint64_t FnvHash64(std::uint64_t value) {
  std::uint64_t hash = 0xCBF29CE484222325ULL;
  for (int i = 0; i < 8; ++i) {
    hash ^= value & 0xff;
    hash *= 1099511628211ULL;
    value >>= 8;
  }
  return hash;
}

double ZipfianGenerator::Zeta(std::uint64_t from, std::uint64_t to, double theta, double initial) {
  double sum = initial;
  for (std::uint64_t i = from; i < to; ++i)
    sum += 1.0 / std::pow(static_cast<double>(i + 1), theta);
  return sum;
}

ZipfianGenerator::ZipfianGenerator(std::uint64_t items, double theta)
    : ZipfianGenerator(items, theta, Zeta(0, std::max<std::uint64_t>(items, 1), theta)) {}

ZipfianGenerator::ZipfianGenerator(std::uint64_t items, double theta, double zeta_items)
    : items_(std::max<std::uint64_t>(items, 1)),
      theta_(theta),
      zeta_items_(zeta_items),
      zeta2_(Zeta(0, 2, theta)),
      alpha_(1.0 / (1.0 - theta)) {
  UpdateEta();
}

void ZipfianGenerator::UpdateEta() {
  eta_ = (1 - std::pow(2.0 / static_cast<double>(items_), 1 - theta_)) / (1 - zeta2_ / zeta_items_);
}

std::uint64_t ZipfianGenerator::Next(Rng& rng) const {
  const double u = rng.NextDouble();
  const double uz = u * zeta_items_;
  if (uz < 1.0) return 0;
  if (uz < 1.0 + std::pow(0.5, theta_)) return std::min<std::uint64_t>(1, items_ - 1);
  const auto item = static_cast<std::uint64_t>(static_cast<double>(items_) *
                                               std::pow(eta_ * u - eta_ + 1, alpha_));
  return std::min(item, items_ - 1);
}

std::uint64_t ZipfianGenerator::Next(Rng& rng, std::uint64_t items) {
  if (items > items_) {
    zeta_items_ = Zeta(items_, items, theta_, zeta_items_);
    items_ = items;
    UpdateEta();
  }
  return Next(rng);
}

ScrambledZipfianGenerator::ScrambledZipfianGenerator()
    : zipfian_(kItems, ZipfianGenerator::kTheta, kZetaItems) {}

std::uint64_t ScrambledZipfianGenerator::Next(Rng& rng, std::uint64_t limit) const {
  return FnvHash64(zipfian_.Next(rng)) % std::max<std::uint64_t>(limit, 1);
}

KeyChooser::KeyChooser(Distribution distribution, std::uint64_t initial_limit, double latest_zeta)
    : distribution_(distribution),
      latest_(std::max<std::uint64_t>(initial_limit, 1), ZipfianGenerator::kTheta,
              initial_limit == 0 ? 1.0 : latest_zeta) {}

std::uint64_t KeyChooser::Next(Rng& rng, std::uint64_t limit) {
  limit = std::max<std::uint64_t>(limit, 1);
  switch (distribution_) {
    case Distribution::kUniform:
      return rng.Below(limit);
    case Distribution::kZipfian:
      return scrambled_.Next(rng, limit);
    case Distribution::kLatest: {
      const std::uint64_t offset = latest_.Next(rng, limit);
      return limit - 1 - std::min(offset, limit - 1);
    }
  }
  return 0;
}

std::string_view KeyName(std::uint64_t key, char (&buffer)[kKeyNameCapacity]) {
  std::memcpy(buffer, "user", 4);
  const auto [end, error] = std::to_chars(buffer + 4, buffer + kKeyNameCapacity, FnvHash64(key));
  (void)error;  // 20 digits always fit
  return std::string_view(buffer, static_cast<std::size_t>(end - buffer));
}

}  // namespace meridian::bench
