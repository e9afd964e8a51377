// Tests of the byte codecs: round trips for every codec and blosc inner codec, and refusal of
// streams that decode to another size, are cut short or are garbage.
#include "grove/io/codec.h"

#include <gtest/gtest.h>

#include <random>

namespace grove {
namespace {

std::vector<uint8_t> sample_bytes(size_t n, unsigned seed) {
  std::mt19937 random(seed);
  std::vector<uint8_t> bytes(n);
  // Compressible but not trivial: runs of small values with noise.
  for (size_t i = 0; i < n; ++i)
    bytes[i] = static_cast<uint8_t>((i / 7) % 13 + (random() % 4 == 0 ? random() : 0));
  return bytes;
}

std::vector<Compression> all_compressions() {
  std::vector<Compression> out;
  for (Compressor c : {Compressor::none, Compressor::gzip, Compressor::zlib, Compressor::zstd,
                       Compressor::bzip2, Compressor::xz}) {
    Compression compression;
    compression.compressor = c;
    out.push_back(compression);
  }
  for (const std::string& inner : blosc_inner_codecs()) {
    for (int shuffle : {0, 1, 2, -1}) {
      Compression compression;
      compression.compressor = Compressor::blosc;
      compression.blosc_inner = inner;
      compression.blosc_shuffle = shuffle;
      out.push_back(compression);
    }
  }
  return out;
}

TEST(Codec, DebianBloscHasAllInnerCodecs) {
  const auto inner = blosc_inner_codecs();
  for (const char* name : {"blosclz", "lz4", "lz4hc", "zlib", "zstd"}) {
    EXPECT_NE(std::find(inner.begin(), inner.end(), name), inner.end()) << name;
  }
}

TEST(Codec, RoundTripsEveryCodec) {
  for (const Compression& compression : all_compressions()) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{4096}, size_t{100003}}) {
      const auto input = sample_bytes(n, static_cast<unsigned>(n));
      auto packed = compress(compression, input, 4);
      ASSERT_TRUE(packed.ok()) << compression_name(compression) << ": "
                               << packed.error().to_string();
      std::vector<uint8_t> output(n, 0xAB);
      Status status = decompress(compression.compressor, *packed, output);
      ASSERT_TRUE(status.ok()) << compression_name(compression) << " n=" << n << ": "
                               << status.error().to_string();
      EXPECT_EQ(output, input) << compression_name(compression);
    }
  }
}

TEST(Codec, GzipAndZlibReadEachOther) {
  const auto input = sample_bytes(5000, 3);
  Compression gzip;
  gzip.compressor = Compressor::gzip;
  Compression zlib;
  zlib.compressor = Compressor::zlib;
  auto a = compress(gzip, input, 1);
  auto b = compress(zlib, input, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);  // different headers
  std::vector<uint8_t> out(input.size());
  EXPECT_TRUE(decompress(Compressor::zlib, *a, out).ok());
  EXPECT_EQ(out, input);
  EXPECT_TRUE(decompress(Compressor::gzip, *b, out).ok());
  EXPECT_EQ(out, input);
}

TEST(Codec, RefusesWrongSizesTruncationAndGarbage) {
  const auto input = sample_bytes(20000, 5);
  for (const Compression& compression : all_compressions()) {
    auto packed = compress(compression, input, 2);
    ASSERT_TRUE(packed.ok());
    const std::string name = compression_name(compression);
    // Expecting fewer bytes than the stream holds: never writes past out, reports the mismatch.
    std::vector<uint8_t> smaller(input.size() - 1);
    Status status = decompress(compression.compressor, *packed, smaller);
    ASSERT_FALSE(status.ok()) << name;
    EXPECT_EQ(status.error().code(), ErrorCode::kCorrupt) << name;
    // Expecting more.
    std::vector<uint8_t> larger(input.size() + 1);
    status = decompress(compression.compressor, *packed, larger);
    ASSERT_FALSE(status.ok()) << name;
    EXPECT_EQ(status.error().code(), ErrorCode::kCorrupt) << name;
    // Cut short.
    std::vector<uint8_t> cut(packed->begin(),
                             packed->begin() + static_cast<std::ptrdiff_t>(packed->size() / 2));
    std::vector<uint8_t> out(input.size());
    status = decompress(compression.compressor, cut, out);
    EXPECT_FALSE(status.ok()) << name;
    // Garbage.
    std::vector<uint8_t> garbage = sample_bytes(packed->size(), 99);
    status = decompress(compression.compressor, garbage, out);
    if (compression.compressor != Compressor::none) {
      EXPECT_FALSE(status.ok()) << name;
    }
  }
}

TEST(Codec, BloscHeaderClaimingHugeSizeIsRefusedWithoutAllocating) {
  Compression blosc;
  blosc.compressor = Compressor::blosc;
  const auto input = sample_bytes(1000, 1);
  auto packed = compress(blosc, input, 1);
  ASSERT_TRUE(packed.ok());
  // Bytes 4..7 of a blosc header are the decompressed size: claim 1.5 GB.
  std::vector<uint8_t> forged = *packed;
  const uint32_t huge = 1500000000u;
  std::memcpy(forged.data() + 4, &huge, 4);
  std::vector<uint8_t> out(input.size());
  Status status = decompress(Compressor::blosc, forged, out);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kCorrupt);
}

TEST(Codec, Crc32cKnownValue) {
  const std::string text = "123456789";
  EXPECT_EQ(
      crc32c(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())),
      0xE3069283u);
  EXPECT_EQ(crc32c({}), 0u);
}

TEST(Codec, ParsesCompressionNames) {
  Compression fallback;
  fallback.compressor = Compressor::zstd;
  EXPECT_EQ(parse_compression("", 4, fallback)->compressor, Compressor::zstd);
  EXPECT_EQ(parse_compression("", 4, fallback)->level, 4);
  EXPECT_EQ(parse_compression("gzip", -1, fallback)->compressor, Compressor::gzip);
  auto blosc = parse_compression("blosc-zstd", 3, fallback);
  ASSERT_TRUE(blosc.ok());
  EXPECT_EQ(blosc->compressor, Compressor::blosc);
  EXPECT_EQ(blosc->blosc_inner, "zstd");
  EXPECT_EQ(parse_compression("blosc", -1, fallback)->blosc_inner, "lz4");
  EXPECT_EQ(parse_compression("blosc-nonsense", -1, fallback).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(parse_compression("lzw", -1, fallback).error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace grove
