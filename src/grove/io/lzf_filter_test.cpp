#include "grove/io/lzf_filter.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace grove::io {
namespace {

void expect_round_trip(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> compressed(data.size() + data.size() / 16 + 64);
  const size_t size = lzf_compress(data.data(), data.size(), compressed.data(), compressed.size());
  ASSERT_GT(size, 0u);
  std::vector<uint8_t> back(data.size());
  ASSERT_EQ(lzf_decompress(compressed.data(), size, back.data(), back.size()), data.size());
  EXPECT_EQ(back, data);
}

TEST(Lzf, RoundTrips) {
  std::mt19937 random(7);
  std::vector<uint8_t> noise(100000);
  for (auto& v : noise) v = static_cast<uint8_t>(random());
  expect_round_trip(noise);
  std::vector<uint8_t> zeros(100000, 0);
  expect_round_trip(zeros);
  std::vector<uint8_t> pattern(70000);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>((i * 37 + 11) % 251);
  expect_round_trip(pattern);
  expect_round_trip({1});
  expect_round_trip({1, 2});
  expect_round_trip({1, 2, 3, 1, 2, 3, 1, 2, 3});
}

TEST(Lzf, CompressesRepetitiveData) {
  std::vector<uint8_t> zeros(100000, 0);
  std::vector<uint8_t> out(zeros.size());
  const size_t size = lzf_compress(zeros.data(), zeros.size(), out.data(), out.size());
  EXPECT_GT(size, 0u);
  EXPECT_LT(size, zeros.size() / 50);
}

TEST(Lzf, RejectsCorruptInput) {
  std::vector<uint8_t> out(100);
  // A back reference before the start of the output.
  const uint8_t bad_reference[] = {0x20, 0x05};
  EXPECT_EQ(lzf_decompress(bad_reference, sizeof(bad_reference), out.data(), out.size()), 0u);
  // A literal run longer than the input.
  const uint8_t short_literal[] = {0x1f, 1, 2};
  EXPECT_EQ(lzf_decompress(short_literal, sizeof(short_literal), out.data(), out.size()), 0u);
  // Output too small.
  const uint8_t literal[] = {0x03, 1, 2, 3, 4};
  EXPECT_EQ(lzf_decompress(literal, sizeof(literal), out.data(), 2), 0u);
}

}  // namespace
}  // namespace grove::io
