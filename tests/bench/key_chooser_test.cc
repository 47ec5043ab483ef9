// Key choice: YCSB's hash and key names, the zipfian generator's shape (top-key frequency
// against 1/zeta), the scrambled zipfian's hot key, latest, uniform, ranges and determinism.
#include "bench/key_chooser.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace meridian::bench {
namespace {

constexpr int kDraws = 200'000;

std::vector<int> Histogram(KeyChooser& chooser, Rng& rng, std::uint64_t limit, int draws) {
  std::vector<int> counts(limit, 0);
  for (int i = 0; i < draws; ++i) ++counts[chooser.Next(rng, limit)];
  return counts;
}

TEST(KeyChooserTest, FnvHashMatchesYcsb) {
  // FNV-1a 64 over the eight little-endian bytes, as YCSB's Utils.fnvhash64.
  EXPECT_EQ(FnvHash64(0), 12161962213042174405ULL);
  EXPECT_EQ(FnvHash64(1), 9929646806074584996ULL);
}

TEST(KeyChooserTest, KeyNamesAreUserAndTheHash) {
  char buffer[kKeyNameCapacity];
  EXPECT_EQ(KeyName(0, buffer), "user12161962213042174405");
  EXPECT_EQ(KeyName(1, buffer), "user9929646806074584996");
}

TEST(KeyChooserTest, ZipfianTopItemFrequencyIsOneOverZeta) {
  constexpr std::uint64_t kItems = 1000;
  ZipfianGenerator zipfian(kItems);
  const double zeta = ZipfianGenerator::Zeta(0, kItems, ZipfianGenerator::kTheta);
  EXPECT_NEAR(zipfian.zeta(), zeta, 1e-9);
  Rng rng(42);
  std::vector<int> counts(kItems, 0);
  for (int i = 0; i < kDraws; ++i) {
    const std::uint64_t item = zipfian.Next(rng);
    ASSERT_LT(item, kItems);
    ++counts[item];
  }
  const double top = static_cast<double>(counts[0]) / kDraws;
  EXPECT_NEAR(top, 1.0 / zeta, 0.005);  // 0.129
  const double second = static_cast<double>(counts[1]) / kDraws;
  EXPECT_NEAR(second, std::pow(0.5, ZipfianGenerator::kTheta) / zeta, 0.005);  // 0.065
  // Popularity falls with rank: the top 10 items draw far more than the bottom 500.
  int head = 0;
  int tail = 0;
  for (std::uint64_t i = 0; i < 10; ++i) head += counts[i];
  for (std::uint64_t i = 500; i < kItems; ++i) tail += counts[i];
  EXPECT_GT(head, 2 * tail);
}

TEST(KeyChooserTest, ZipfianZetaGrowsIncrementally) {
  ZipfianGenerator growing(1000);
  Rng rng(1);
  (void)growing.Next(rng, 5000);
  EXPECT_EQ(growing.items(), 5000u);
  EXPECT_NEAR(growing.zeta(), ZipfianGenerator(5000).zeta(), 1e-9);
}

TEST(KeyChooserTest, ScrambledZipfianHotKeyIsTheHashOfRankZero) {
  constexpr std::uint64_t kLimit = 1000;
  KeyChooser chooser(Distribution::kZipfian, kLimit, 1.0);
  Rng rng(7);
  const std::vector<int> counts = Histogram(chooser, rng, kLimit, kDraws);
  const auto hottest = std::max_element(counts.begin(), counts.end()) - counts.begin();
  EXPECT_EQ(static_cast<std::uint64_t>(hottest), FnvHash64(0) % kLimit);
  // Rank 0 of 10^10 items has probability 1/zeta(10^10) = 1/26.47; other ranks hashing to the
  // same key add a little.
  const double top = static_cast<double>(counts[hottest]) / kDraws;
  EXPECT_GT(top, 1.0 / ScrambledZipfianGenerator::kZetaItems - 0.004);
  EXPECT_LT(top, 1.0 / ScrambledZipfianGenerator::kZetaItems + 0.008);
}

TEST(KeyChooserTest, LatestFavoursTheNewestKeys) {
  constexpr std::uint64_t kLimit = 1000;
  const double zeta = ZipfianGenerator::Zeta(0, kLimit, ZipfianGenerator::kTheta);
  KeyChooser chooser(Distribution::kLatest, kLimit, zeta);
  Rng rng(3);
  std::vector<int> counts = Histogram(chooser, rng, kLimit, kDraws);
  EXPECT_NEAR(static_cast<double>(counts[kLimit - 1]) / kDraws, 1.0 / zeta, 0.005);
  EXPECT_GT(counts[kLimit - 1], counts[kLimit - 2]);
  EXPECT_GT(counts[kLimit - 2], counts[kLimit - 50]);
  // After inserts the newest key is the hot one.
  std::map<std::uint64_t, int> grown;
  for (int i = 0; i < 50'000; ++i) ++grown[chooser.Next(rng, kLimit + 100)];
  const auto hottest = std::max_element(grown.begin(), grown.end(), [](auto& a, auto& b) {
                         return a.second < b.second;
                       })->first;
  EXPECT_EQ(hottest, kLimit + 99);
}

TEST(KeyChooserTest, UniformIsFlat) {
  constexpr std::uint64_t kLimit = 10;
  KeyChooser chooser(Distribution::kUniform, kLimit, 1.0);
  Rng rng(11);
  for (int count : Histogram(chooser, rng, kLimit, kDraws)) {
    EXPECT_NEAR(count, kDraws / static_cast<int>(kLimit), kDraws / kLimit / 20);
  }
}

TEST(KeyChooserTest, SameSeedSameKeys) {
  for (Distribution distribution :
       {Distribution::kUniform, Distribution::kZipfian, Distribution::kLatest}) {
    KeyChooser a(distribution, 5000, ZipfianGenerator::Zeta(0, 5000, ZipfianGenerator::kTheta));
    KeyChooser b(distribution, 5000, ZipfianGenerator::Zeta(0, 5000, ZipfianGenerator::kTheta));
    Rng rng_a(99);
    Rng rng_b(99);
    Rng rng_c(100);
    std::vector<std::uint64_t> first;
    std::vector<std::uint64_t> second;
    std::vector<std::uint64_t> other;
    for (int i = 0; i < 1000; ++i) {
      first.push_back(a.Next(rng_a, 5000));
      second.push_back(b.Next(rng_b, 5000));
      other.push_back(a.Next(rng_c, 5000));
    }
    EXPECT_EQ(first, second) << DistributionName(distribution);
    EXPECT_NE(first, other) << DistributionName(distribution);
  }
}

RC_GTEST_PROP(KeyChooserProperty, KeysStayBelowTheLimit, ()) {
  const auto distribution =
      *rc::gen::element(Distribution::kUniform, Distribution::kZipfian, Distribution::kLatest);
  const auto initial = *rc::gen::inRange<std::uint64_t>(1, 20'000);
  const auto growth = *rc::gen::inRange<std::uint64_t>(0, 1'000);
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  KeyChooser chooser(distribution, initial,
                     ZipfianGenerator::Zeta(0, initial, ZipfianGenerator::kTheta));
  Rng rng(seed);
  for (int i = 0; i < 200; ++i) {
    const std::uint64_t limit = initial + growth * static_cast<std::uint64_t>(i) / 200;
    RC_ASSERT(chooser.Next(rng, limit) < limit);
  }
}

RC_GTEST_PROP(KeyChooserProperty, RngBelowStaysBelow, (std::uint64_t seed)) {
  Rng rng(seed);
  const auto bound = *rc::gen::inRange<std::uint64_t>(1, std::numeric_limits<std::uint64_t>::max());
  for (int i = 0; i < 100; ++i) RC_ASSERT(rng.Below(bound) < bound);
  const double u = rng.NextDouble();
  RC_ASSERT(u >= 0.0);
  RC_ASSERT(u < 1.0);
}

}  // namespace
}  // namespace meridian::bench
