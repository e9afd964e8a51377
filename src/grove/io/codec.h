// Byte codecs of the chunked stores (Zarr v2/v3, N5): blosc (with every inner codec Debian's
// libblosc has), zstd, gzip, zlib, bzip2 and xz, plus the crc32c checksum of Zarr v3.
//
// Decompression is always bounded by the size the caller expects (the chunk's element count
// times the element size): a stream that would decode to more or fewer bytes is an error, and a
// header's claimed size is never used to allocate. That makes a malicious or truncated chunk a
// clear Error instead of a crash or a giant allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "grove/core/result.h"

namespace grove {

enum class Compressor { none, gzip, zlib, zstd, blosc, bzip2, xz };

struct Compression {
  Compressor compressor = Compressor::none;
  // Codec level; -1 means the codec's default: blosc 5, zstd 3, bzip2 9, xz 6, and gzip/zlib 1
  // (on image data higher levels cost 3-10x the time for a few percent in size).
  int level = -1;
  // Blosc only: the inner codec ("blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"), the
  // shuffle (0 none, 1 byte, 2 bit, -1 bit for 1-byte elements else byte) and the block size
  // (0: blosc chooses).
  std::string blosc_inner = "lz4";
  int blosc_shuffle = 1;
  int blosc_blocksize = 0;
};

// "none", "gzip", "zlib", "zstd", "blosc" (lz4 inside), "blosc-zstd", "bzip2", "xz", ...
std::string compression_name(const Compression& compression);
// Parses a user's --compression value: "none"/"raw", "gzip", "zlib", "zstd", "bzip2"/"bz2",
// "xz"/"lzma", "blosc" or "blosc-INNER"/"blosc:INNER". "" gives default_compression.
Result<Compression> parse_compression(std::string_view name, int level,
                                      const Compression& default_compression);
// The inner codecs this machine's libblosc supports.
std::vector<std::string> blosc_inner_codecs();

// Compresses data; element_size is what blosc's shuffle works on (ignored by other codecs).
Result<std::vector<uint8_t>> compress(const Compression& compression, std::span<const uint8_t> data,
                                      size_t element_size);
// Decompresses input into exactly out.size() bytes. Fails (kCorrupt) if the stream is damaged,
// truncated, or decodes to any other size. gzip and zlib streams are told apart by their header,
// so either name reads both.
Status decompress(Compressor compressor, std::span<const uint8_t> input, std::span<uint8_t> out);

// CRC-32C (Castagnoli), as Zarr v3's crc32c codec appends it (little-endian).
uint32_t crc32c(std::span<const uint8_t> data);

}  // namespace grove
