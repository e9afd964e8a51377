// Fuzz target (libFuzzer, fuzz/README.md) for the chunk codecs of Zarr and N5 (codec.h): blosc,
// zstd, gzip, zlib, bzip2 and xz. First byte: the codec (value % 7); bytes 1-3: the decoded size
// the caller expects (little-endian, at most 1 MiB); the rest: a compressed chunk, which must
// decode to exactly that size or fail cleanly. The same bytes are then compressed and decoded
// again, which must give them back.
#include <cstring>

#include "grove/io/codec.h"
#include "grove/io/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace grove;
  if (size < 4) return 0;
  static constexpr Compressor kCompressors[] = {
      Compressor::none,  Compressor::gzip,  Compressor::zlib, Compressor::zstd,
      Compressor::blosc, Compressor::bzip2, Compressor::xz};
  const Compressor compressor = kCompressors[data[0] % 7];
  const size_t expected =
      (size_t{data[1]} | size_t{data[2]} << 8 | size_t{data[3]} << 16) & ((1u << 20) - 1);
  const std::span<const uint8_t> input(data + 4, size - 4);
  std::vector<uint8_t> out(expected);
  (void)decompress(compressor, input, out);
  (void)crc32c(input);

  Compression compression;
  compression.compressor = compressor;
  compression.blosc_shuffle = data[1] % 3;
  compression.blosc_inner = data[2] % 2 == 0 ? "lz4" : "zstd";
  auto packed = compress(compression, input, 1 + data[3] % 8);
  if (!packed.ok()) return 0;
  std::vector<uint8_t> unpacked(input.size());
  if (!decompress(compressor, *packed, unpacked).ok()) {
    fuzzing::broken_promise("a compressed chunk does not decompress");
  }
  if (!input.empty() && std::memcmp(unpacked.data(), input.data(), input.size()) != 0) {
    fuzzing::broken_promise("a chunk does not survive compression");
  }
  return 0;
}
