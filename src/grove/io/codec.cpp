// Byte codecs of the chunked stores; see codec.h.
#include "grove/io/codec.h"

#include <blosc.h>
#include <bzlib.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <memory>

namespace grove {

namespace {

// Blosc, bzip2 and zlib count in int/unsigned; chunks beyond this are refused up front.
constexpr size_t kMaxCodecBytes = static_cast<size_t>(INT_MAX) - BLOSC_MAX_OVERHEAD;

Error size_mismatch(std::string_view codec, size_t expected, std::string_view what) {
  return make_error(ErrorCode::kCorrupt, "{} stream {} (expected {} bytes)", codec, what, expected);
}

// Compressors write into a per-thread buffer that is reused from chunk to chunk (no zeroing
// and no fresh pages each time); only the compressed bytes are copied out.
class OutputBuffer {
 public:
  explicit OutputBuffer(size_t bytes) : size_(bytes) {
    thread_local std::unique_ptr<uint8_t[]> reused;
    thread_local size_t reused_size = 0;
    constexpr size_t kMaxReused = size_t{64} << 20;
    if (bytes > kMaxReused) {
      owned_.reset(new (std::nothrow) uint8_t[bytes]);
      data_ = owned_.get();
      return;
    }
    if (reused_size < bytes) {
      reused.reset(new (std::nothrow) uint8_t[bytes]);
      reused_size = reused ? bytes : 0;
    }
    data_ = reused.get();
  }
  bool ok() const { return data_ != nullptr; }
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::vector<uint8_t> take(size_t written) const {
    return std::vector<uint8_t>(data_, data_ + written);
  }

 private:
  std::unique_ptr<uint8_t[]> owned_;
  uint8_t* data_ = nullptr;
  size_t size_;
};

Error out_of_memory(size_t bytes) {
  return make_error(ErrorCode::kResourceExhausted, "cannot allocate {} bytes to compress a chunk",
                    bytes);
}

int default_level(Compressor compressor) {
  switch (compressor) {
    case Compressor::blosc: return 5;
    case Compressor::zstd: return 3;
    case Compressor::gzip:
    case Compressor::zlib: return 1;
    case Compressor::bzip2: return 9;
    case Compressor::xz: return 6;
    case Compressor::none: return 0;
  }
  return 0;
}

// ---- zlib / gzip ----

Result<std::vector<uint8_t>> deflate_bytes(std::span<const uint8_t> data, int level, bool gzip) {
  z_stream stream{};
  if (level < 0 || level > 9) level = default_level(Compressor::gzip);
  if (deflateInit2(&stream, level, Z_DEFLATED, gzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return make_error(ErrorCode::kInternal, "cannot initialise zlib");
  }
  OutputBuffer out(deflateBound(&stream, static_cast<uLong>(data.size())) + 32);
  if (!out.ok()) {
    deflateEnd(&stream);
    return out_of_memory(out.size());
  }
  stream.next_in = const_cast<Bytef*>(data.data());
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  const size_t written = stream.total_out;
  deflateEnd(&stream);
  if (status != Z_STREAM_END) {
    return make_error(ErrorCode::kInternal, "zlib compression failed ({})", status);
  }
  return out.take(written);
}

Status inflate_bytes(std::span<const uint8_t> input, std::span<uint8_t> out,
                     std::string_view name) {
  z_stream stream{};
  // 15 + 32: accept both zlib and gzip headers.
  if (inflateInit2(&stream, 15 + 32) != Z_OK) {
    return make_error(ErrorCode::kInternal, "cannot initialise zlib");
  }
  struct Ender {
    z_stream* s;
    ~Ender() { inflateEnd(s); }
  } ender{&stream};
  stream.next_in = const_cast<Bytef*>(input.data());
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  // Once out is full, inflate into one spare byte: any byte landing there means the stream is
  // longer than expected.
  uint8_t extra = 0;
  while (true) {
    const bool full = stream.avail_out == 0 || stream.next_out == &extra;
    if (full) {
      stream.next_out = &extra;
      stream.avail_out = 1;
    }
    const int status = inflate(&stream, Z_NO_FLUSH);
    if (full && stream.avail_out == 0)
      return size_mismatch(name, out.size(), "decodes to more bytes than expected");
    if (status == Z_STREAM_END) {
      // gzip allows several members one after the other: go on with the next one, if any.
      if (stream.avail_in == 0) break;
      if (inflateReset(&stream) != Z_OK)
        return make_error(ErrorCode::kInternal, "zlib reset failed");
      continue;
    }
    if (status == Z_OK) continue;
    if (status == Z_BUF_ERROR) return size_mismatch(name, out.size(), "is truncated");
    return make_error(ErrorCode::kCorrupt, "{} stream is damaged ({})", name,
                      stream.msg != nullptr ? stream.msg : "zlib error");
  }
  const size_t produced =
      stream.next_out == &extra ? out.size() : static_cast<size_t>(stream.next_out - out.data());
  if (produced != out.size()) {
    return make_error(ErrorCode::kCorrupt, "{} stream decodes to {} bytes, expected {}", name,
                      produced, out.size());
  }
  return ok_status();
}

// ---- zstd ----

Result<std::vector<uint8_t>> zstd_compress(std::span<const uint8_t> data, int level) {
  if (level < 0) level = default_level(Compressor::zstd);
  level = std::min(level, ZSTD_maxCLevel());
  OutputBuffer out(ZSTD_compressBound(data.size()));
  if (!out.ok()) return out_of_memory(out.size());
  const size_t written = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(written)) {
    return make_error(ErrorCode::kInternal, "zstd compression failed: {}",
                      ZSTD_getErrorName(written));
  }
  return out.take(written);
}

Status zstd_decompress(std::span<const uint8_t> input, std::span<uint8_t> out) {
  // ZSTD_decompress never writes beyond out.size(); a frame claiming more fails with
  // "destination buffer is too small" instead of allocating.
  const size_t produced = ZSTD_decompress(out.data(), out.size(), input.data(), input.size());
  if (ZSTD_isError(produced)) {
    return make_error(ErrorCode::kCorrupt,
                      "zstd stream is damaged or decodes to more than {} bytes: {}", out.size(),
                      ZSTD_getErrorName(produced));
  }
  if (produced != out.size()) {
    return make_error(ErrorCode::kCorrupt, "zstd stream decodes to {} bytes, expected {}", produced,
                      out.size());
  }
  return ok_status();
}

// ---- blosc ----

Result<std::vector<uint8_t>> blosc_compress_bytes(const Compression& c,
                                                  std::span<const uint8_t> data,
                                                  size_t element_size) {
  if (data.size() > static_cast<size_t>(BLOSC_MAX_BUFFERSIZE)) {
    return make_error(ErrorCode::kUnsupported,
                      "blosc cannot compress {} bytes in one chunk (limit {})", data.size(),
                      BLOSC_MAX_BUFFERSIZE);
  }
  int level = c.level < 0 ? default_level(Compressor::blosc) : std::min(c.level, 9);
  size_t typesize = element_size == 0 || element_size > BLOSC_MAX_TYPESIZE ? 1 : element_size;
  int shuffle = c.blosc_shuffle;
  if (shuffle < 0) shuffle = typesize == 1 ? BLOSC_BITSHUFFLE : BLOSC_SHUFFLE;
  if (shuffle > 2)
    return make_error(ErrorCode::kInvalidArgument, "blosc shuffle must be 0, 1 or 2, not {}",
                      shuffle);
  OutputBuffer out(data.size() + BLOSC_MAX_OVERHEAD);
  if (!out.ok()) return out_of_memory(out.size());
  const int written = blosc_compress_ctx(level, shuffle, typesize, data.size(), data.data(),
                                         out.data(), out.size(), c.blosc_inner.c_str(),
                                         static_cast<size_t>(std::max(c.blosc_blocksize, 0)), 1);
  if (written <= 0) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "blosc compression failed (is the inner codec \"{}\" supported? this libblosc has {})",
        c.blosc_inner, blosc_list_compressors());
  }
  return out.take(static_cast<size_t>(written));
}

Status blosc_decompress_bytes(std::span<const uint8_t> input, std::span<uint8_t> out) {
  if (input.size() < BLOSC_MIN_HEADER_LENGTH) {
    return make_error(ErrorCode::kCorrupt, "blosc stream of {} bytes is shorter than its header",
                      input.size());
  }
  size_t claimed = 0;
  // Checks the header against the bytes we really have (compressed size, version, limits).
  if (blosc_cbuffer_validate(input.data(), input.size(), &claimed) < 0) {
    return make_error(ErrorCode::kCorrupt,
                      "blosc header is invalid or claims more bytes than the {} stored",
                      input.size());
  }
  if (claimed != out.size()) {
    return make_error(ErrorCode::kCorrupt, "blosc stream decodes to {} bytes, expected {}", claimed,
                      out.size());
  }
  if (out.empty()) return ok_status();
  const int produced = blosc_decompress_ctx(input.data(), out.data(), out.size(), 1);
  if (produced < 0) {
    return make_error(
        ErrorCode::kCorrupt,
        "blosc stream is damaged or uses an inner codec this libblosc lacks (it has {})",
        blosc_list_compressors());
  }
  if (static_cast<size_t>(produced) != out.size()) {
    return make_error(ErrorCode::kCorrupt, "blosc stream decodes to {} bytes, expected {}",
                      produced, out.size());
  }
  return ok_status();
}

// ---- bzip2 ----

Result<std::vector<uint8_t>> bzip2_compress(std::span<const uint8_t> data, int level) {
  if (level < 1 || level > 9) level = default_level(Compressor::bzip2);
  OutputBuffer out(data.size() + data.size() / 100 + 600);
  if (!out.ok()) return out_of_memory(out.size());
  unsigned int length = static_cast<unsigned int>(out.size());
  // The library refuses null pointers, which empty spans may have.
  char empty = 0;
  char* source =
      data.empty() ? &empty : const_cast<char*>(reinterpret_cast<const char*>(data.data()));
  const int status = BZ2_bzBuffToBuffCompress(reinterpret_cast<char*>(out.data()), &length, source,
                                              static_cast<unsigned int>(data.size()), level, 0, 0);
  if (status != BZ_OK) {
    return make_error(ErrorCode::kInternal, "bzip2 compression failed ({})", status);
  }
  return out.take(length);
}

Status bzip2_decompress(std::span<const uint8_t> input, std::span<uint8_t> out) {
  // The library refuses empty buffers; a zero-byte chunk still has a stream to check.
  uint8_t scratch = 0;
  char* target =
      out.empty() ? reinterpret_cast<char*>(&scratch) : reinterpret_cast<char*>(out.data());
  unsigned int length = out.empty() ? 1u : static_cast<unsigned int>(out.size());
  char empty = 0;
  char* source =
      input.empty() ? &empty : const_cast<char*>(reinterpret_cast<const char*>(input.data()));
  const int status = BZ2_bzBuffToBuffDecompress(target, &length, source,
                                                static_cast<unsigned int>(input.size()), 0, 0);
  if (status == BZ_OUTBUFF_FULL) {
    return size_mismatch("bzip2", out.size(), "decodes to more bytes than expected");
  }
  if (status != BZ_OK) {
    return make_error(ErrorCode::kCorrupt, "bzip2 stream is damaged or truncated ({})", status);
  }
  if (length != out.size()) {
    return make_error(ErrorCode::kCorrupt, "bzip2 stream decodes to {} bytes, expected {}", length,
                      out.size());
  }
  return ok_status();
}

// ---- xz ----

Result<std::vector<uint8_t>> xz_compress(std::span<const uint8_t> data, int level) {
  if (level < 0 || level > 9) level = default_level(Compressor::xz);
  OutputBuffer out(lzma_stream_buffer_bound(data.size()));
  if (!out.ok()) return out_of_memory(out.size());
  size_t position = 0;
  const lzma_ret status =
      lzma_easy_buffer_encode(static_cast<uint32_t>(level), LZMA_CHECK_CRC64, nullptr, data.data(),
                              data.size(), out.data(), &position, out.size());
  if (status != LZMA_OK)
    return make_error(ErrorCode::kInternal, "xz compression failed ({})", static_cast<int>(status));
  return out.take(position);
}

Status xz_decompress(std::span<const uint8_t> input, std::span<uint8_t> out) {
  lzma_stream stream = LZMA_STREAM_INIT;
  // 256 MiB of decoder memory is far above what any xz preset needs.
  if (lzma_auto_decoder(&stream, uint64_t{256} << 20, 0) != LZMA_OK) {
    return make_error(ErrorCode::kInternal, "cannot initialise the xz decoder");
  }
  struct Ender {
    lzma_stream* s;
    ~Ender() { lzma_end(s); }
  } ender{&stream};
  stream.next_in = input.data();
  stream.avail_in = input.size();
  stream.next_out = out.data();
  stream.avail_out = out.size();
  lzma_ret status = lzma_code(&stream, LZMA_FINISH);
  if (status == LZMA_OK || status == LZMA_BUF_ERROR) {
    if (stream.avail_out == 0) {
      uint8_t extra = 0;
      stream.next_out = &extra;
      stream.avail_out = 1;
      status = lzma_code(&stream, LZMA_FINISH);
      if (stream.avail_out == 0)
        return size_mismatch("xz", out.size(), "decodes to more bytes than expected");
    }
  }
  if (status != LZMA_STREAM_END) {
    return make_error(ErrorCode::kCorrupt, "xz stream is damaged or truncated ({})",
                      static_cast<int>(status));
  }
  if (stream.total_out != out.size()) {
    return make_error(ErrorCode::kCorrupt, "xz stream decodes to {} bytes, expected {}",
                      stream.total_out, out.size());
  }
  return ok_status();
}

}  // namespace

std::string compression_name(const Compression& compression) {
  switch (compression.compressor) {
    case Compressor::none: return "none";
    case Compressor::gzip: return "gzip";
    case Compressor::zlib: return "zlib";
    case Compressor::zstd: return "zstd";
    case Compressor::blosc: return "blosc-" + compression.blosc_inner;
    case Compressor::bzip2: return "bzip2";
    case Compressor::xz: return "xz";
  }
  return "none";
}

std::vector<std::string> blosc_inner_codecs() {
  std::vector<std::string> names;
  std::string_view list = blosc_list_compressors();
  while (!list.empty()) {
    const size_t comma = list.find(',');
    names.emplace_back(list.substr(0, comma));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return names;
}

Result<Compression> parse_compression(std::string_view name, int level,
                                      const Compression& default_compression) {
  Compression c;
  if (name.empty()) {
    c = default_compression;
    if (level >= 0) c.level = level;
    return c;
  }
  c.level = level;
  if (name == "none" || name == "raw") {
    c.compressor = Compressor::none;
  } else if (name == "gzip") {
    c.compressor = Compressor::gzip;
  } else if (name == "zlib" || name == "deflate") {
    c.compressor = Compressor::zlib;
  } else if (name == "zstd") {
    c.compressor = Compressor::zstd;
  } else if (name == "bzip2" || name == "bz2") {
    c.compressor = Compressor::bzip2;
  } else if (name == "xz" || name == "lzma") {
    c.compressor = Compressor::xz;
  } else if (name == "blosc" || name.starts_with("blosc-") || name.starts_with("blosc:")) {
    c.compressor = Compressor::blosc;
    if (name.size() > 6) c.blosc_inner = std::string(name.substr(6));
    const auto inner = blosc_inner_codecs();
    if (std::find(inner.begin(), inner.end(), c.blosc_inner) == inner.end()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "compression \"{}\": blosc has no inner codec \"{}\" (it has {})", name,
                        c.blosc_inner, blosc_list_compressors());
    }
  } else {
    return make_error(
        ErrorCode::kInvalidArgument,
        "unknown compression \"{}\" for a chunked store (use none, gzip, zlib, zstd, blosc, "
        "blosc-INNER, bzip2 or xz)",
        name);
  }
  return c;
}

Result<std::vector<uint8_t>> compress(const Compression& compression, std::span<const uint8_t> data,
                                      size_t element_size) {
  if (data.size() > kMaxCodecBytes) {
    return make_error(ErrorCode::kUnsupported,
                      "a chunk of {} bytes is too large to compress (limit {})", data.size(),
                      kMaxCodecBytes);
  }
  switch (compression.compressor) {
    case Compressor::none: return std::vector<uint8_t>(data.begin(), data.end());
    case Compressor::gzip: return deflate_bytes(data, compression.level, true);
    case Compressor::zlib: return deflate_bytes(data, compression.level, false);
    case Compressor::zstd: return zstd_compress(data, compression.level);
    case Compressor::blosc: return blosc_compress_bytes(compression, data, element_size);
    case Compressor::bzip2: return bzip2_compress(data, compression.level);
    case Compressor::xz: return xz_compress(data, compression.level);
  }
  return make_error(ErrorCode::kInternal, "unknown compressor");
}

Status decompress(Compressor compressor, std::span<const uint8_t> input, std::span<uint8_t> out) {
  if (out.size() > kMaxCodecBytes || input.size() > kMaxCodecBytes) {
    return make_error(ErrorCode::kUnsupported,
                      "a chunk of {} bytes is too large to decompress (limit {})",
                      std::max(out.size(), input.size()), kMaxCodecBytes);
  }
  switch (compressor) {
    case Compressor::none:
      if (input.size() != out.size()) {
        return make_error(ErrorCode::kCorrupt, "uncompressed chunk has {} bytes, expected {}",
                          input.size(), out.size());
      }
      if (!out.empty()) std::memcpy(out.data(), input.data(), out.size());
      return ok_status();
    case Compressor::gzip: return inflate_bytes(input, out, "gzip");
    case Compressor::zlib: return inflate_bytes(input, out, "zlib");
    case Compressor::zstd: return zstd_decompress(input, out);
    case Compressor::blosc: return blosc_decompress_bytes(input, out);
    case Compressor::bzip2: return bzip2_decompress(input, out);
    case Compressor::xz: return xz_decompress(input, out);
  }
  return make_error(ErrorCode::kInternal, "unknown compressor");
}

uint32_t crc32c(std::span<const uint8_t> data) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t value = i;
      for (int bit = 0; bit < 8; ++bit)
        value = (value & 1) ? (value >> 1) ^ 0x82F63B78u : value >> 1;
      t[i] = value;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (uint8_t byte : data) crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace grove
