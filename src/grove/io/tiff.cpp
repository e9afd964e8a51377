#include "grove/io/tiff.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <tiffio.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>

#include "grove/core/memory.h"
#include "grove/io/axes.h"
#include "grove/io/file_util.h"
#include "grove/io/tiff_contiguous.h"

namespace grove::io {

namespace {

// ---------------------------------------------------------------------------------------------
// libtiff handles with their own error messages

struct Messages {
  std::string last_error;
};

int on_error(TIFF*, void* user_data, const char* module, const char* format, va_list arguments) {
  char text[1024];
  std::vsnprintf(text, sizeof(text), format, arguments);
  if (auto* messages = static_cast<Messages*>(user_data)) {
    if (messages->last_error.empty()) messages->last_error = text;
  }
  (void)module;
  return 1;  // handled: libtiff prints nothing
}

int on_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

void silence_global_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    TIFFSetErrorHandler(nullptr);
    TIFFSetWarningHandler(nullptr);
  });
}

class Handle {
 public:
  ~Handle() {
    if (tif_ != nullptr) TIFFClose(tif_);
  }

  static Result<std::unique_ptr<Handle>> open(const std::string& path, const char* mode) {
    silence_global_handlers();
    auto handle = std::unique_ptr<Handle>(new Handle());
    TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(options, on_error, handle->messages_.get());
    TIFFOpenOptionsSetWarningHandlerExtR(options, on_warning, handle->messages_.get());
    // A single allocation inside libtiff above 1 GiB means a broken or hostile header.
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, tmsize_t{1} << 30);
    handle->tif_ = TIFFOpenExt(path.c_str(), mode, options);
    TIFFOpenOptionsFree(options);
    if (handle->tif_ == nullptr) {
      return make_error(ErrorCode::kCorrupt,
                        "cannot read the TIFF (truncated or corrupt?): libtiff: {}",
                        handle->take_error("unknown error"));
    }
    return handle;
  }

  TIFF* get() const { return tif_; }

  // Flushes and closes the file; false (with take_error() saying why) if writing failed.
  bool close() {
    if (tif_ == nullptr) return true;
    const bool flushed = TIFFFlush(tif_) != 0;
    TIFFClose(tif_);
    tif_ = nullptr;
    return flushed;
  }

  std::string take_error(const char* fallback = "libtiff failed") {
    std::string text = messages_->last_error.empty() ? fallback : messages_->last_error;
    messages_->last_error.clear();
    return text;
  }

  // Makes the directory at offset current (no work if it already is).
  Status set_directory(uint64_t offset) {
    if (offset == current_offset_) return ok_status();
    if (!TIFFSetSubDirectory(tif_, offset)) {
      current_offset_ = 0;
      return make_error(ErrorCode::kCorrupt, "cannot read the TIFF directory at byte {}: {}",
                        offset, take_error());
    }
    current_offset_ = offset;
    return ok_status();
  }
  void forget_directory() { current_offset_ = 0; }

 private:
  Handle() : messages_(std::make_unique<Messages>()) {}
  TIFF* tif_ = nullptr;
  std::unique_ptr<Messages> messages_;
  uint64_t current_offset_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Page layout

struct PageLayout {
  uint32_t width = 0;
  uint32_t height = 0;
  uint16_t samples = 1;
  uint16_t bits = 1;
  uint16_t sample_format = SAMPLEFORMAT_UINT;
  uint16_t planar = PLANARCONFIG_CONTIG;
  uint16_t photometric = PHOTOMETRIC_MINISBLACK;
  uint16_t compression = COMPRESSION_NONE;
  bool tiled = false;
  uint32_t tile_width = 0;
  uint32_t tile_height = 0;
  uint32_t rows_per_strip = 0;
  uint32_t subfile_type = 0;

  bool same_image(const PageLayout& o) const {
    return width == o.width && height == o.height && samples == o.samples && bits == o.bits &&
           sample_format == o.sample_format;
  }
  bool separate_planes() const { return planar == PLANARCONFIG_SEPARATE && samples > 1; }
};

PageLayout read_layout(TIFF* tif) {
  PageLayout l;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &l.width);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &l.height);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &l.samples);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &l.bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &l.sample_format);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &l.planar);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &l.photometric)) {
    l.photometric = l.samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  }
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &l.compression);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SUBFILETYPE, &l.subfile_type);
  l.tiled = TIFFIsTiled(tif) != 0;
  if (l.tiled) {
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &l.tile_width);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &l.tile_height);
  } else {
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &l.rows_per_strip);
    if (l.rows_per_strip == 0 || l.rows_per_strip > l.height) l.rows_per_strip = l.height;
  }
  if (l.compression == COMPRESSION_JPEG && l.photometric == PHOTOMETRIC_YCBCR) {
    // libtiff converts JPEG-compressed YCbCr to RGB for us.
    TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  }
  return l;
}

Result<DType> dtype_of_layout(const PageLayout& l) {
  const int format = l.sample_format == SAMPLEFORMAT_VOID ? SAMPLEFORMAT_UINT : l.sample_format;
  if (l.bits == 1 && format == SAMPLEFORMAT_UINT) return DType::u8;
  if (format == SAMPLEFORMAT_UINT) {
    switch (l.bits) {
      case 8: return DType::u8;
      case 16: return DType::u16;
      case 32: return DType::u32;
      case 64: return DType::u64;
      default: break;
    }
  } else if (format == SAMPLEFORMAT_INT) {
    switch (l.bits) {
      case 8: return DType::i8;
      case 16: return DType::i16;
      case 32: return DType::i32;
      case 64: return DType::i64;
      default: break;
    }
  } else if (format == SAMPLEFORMAT_IEEEFP) {
    if (l.bits == 32) return DType::f32;
    if (l.bits == 64) return DType::f64;
    return make_error(ErrorCode::kUnsupported,
                      "{}-bit floating point TIFF samples are not supported", l.bits);
  } else {
    return make_error(ErrorCode::kUnsupported, "TIFF sample format {} (complex?) is not supported",
                      l.sample_format);
  }
  return make_error(ErrorCode::kUnsupported,
                    "{}-bit TIFF samples are not supported (grove reads 1, 8, 16, 32 and 64 bits)",
                    l.bits);
}

std::string compression_name(uint16_t compression) {
  switch (compression) {
    case COMPRESSION_NONE: return "none";
    case COMPRESSION_LZW: return "lzw";
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE: return "deflate";
    case COMPRESSION_PACKBITS: return "packbits";
    case COMPRESSION_JPEG:
    case COMPRESSION_OJPEG: return "jpeg";
    case COMPRESSION_CCITTRLE:
    case COMPRESSION_CCITTFAX3:
    case COMPRESSION_CCITTFAX4: return "ccitt";
    case COMPRESSION_LZMA: return "lzma";
    case COMPRESSION_ZSTD: return "zstd";
    case COMPRESSION_WEBP: return "webp";
    default: return "tiff compression " + std::to_string(compression);
  }
}

// The largest ratio of decoded to encoded bytes a codec reaches, for the plausibility check.
double max_compression_ratio(uint16_t compression) {
  switch (compression) {
    case COMPRESSION_NONE: return 1.0;
    case COMPRESSION_PACKBITS: return 130.0;
    case COMPRESSION_LZW:
    case COMPRESSION_ADOBE_DEFLATE:
    case COMPRESSION_DEFLATE:
    case COMPRESSION_JPEG: return 5000.0;
    default: return 1e6;  // zstd, lzma, ... reach huge ratios on constant data
  }
}

// Bytes of one decoded row of one chunk (strip or tile) of width columns.
int64_t row_bytes(const PageLayout& l, int64_t width) {
  const int64_t samples = l.separate_planes() ? 1 : l.samples;
  if (l.bits == 1) return (width * samples + 7) / 8;
  return width * samples * (l.bits / 8);
}

// Checks the current directory's strips or tiles: enough of them, inside the file, and a
// decoded size the encoded bytes can hold.
Status check_page_data(TIFF* tif, const PageLayout& l, int64_t file_size, int64_t page) {
  if (l.width == 0 || l.height == 0) {
    return make_error(ErrorCode::kCorrupt, "page {} has size {}x{}", page, l.width, l.height);
  }
  const int64_t planes = l.separate_planes() ? l.samples : 1;
  // Decoded bytes of the page, in double to survive absurd headers.
  const double decoded = static_cast<double>(row_bytes(l, l.width)) * planes * l.height;
  const double ratio = max_compression_ratio(l.compression);
  if (decoded > static_cast<double>(file_size) * ratio + 65536.0) {
    return make_error(ErrorCode::kCorrupt,
                      "page {} claims {}x{} pixels ({:.0f} bytes), impossible for a file of {} "
                      "bytes (corrupt header?)",
                      page, l.width, l.height, decoded, file_size);
  }
  int64_t expected = 0;
  if (l.tiled) {
    if (l.tile_width == 0 || l.tile_height == 0) {
      return make_error(ErrorCode::kCorrupt, "page {} has tiles of size 0", page);
    }
    // One tile is decoded whole, padding included: a tile far larger than the page (a tiny
    // image in tiles of 10^8 columns) would make the reader allocate gigabytes for nothing.
    const double tile = static_cast<double>(row_bytes(l, l.tile_width)) * l.tile_height;
    if (tile > 16.0 * decoded + static_cast<double>(int64_t{1} << 20)) {
      return make_error(ErrorCode::kCorrupt,
                        "page {} has tiles of {}x{} pixels ({:.0f} bytes each) for an image of "
                        "{}x{} (corrupt header?)",
                        page, l.tile_width, l.tile_height, tile, l.width, l.height);
    }
    expected = ((l.width + int64_t{l.tile_width} - 1) / l.tile_width) *
               ((l.height + int64_t{l.tile_height} - 1) / l.tile_height) * planes;
  } else {
    expected = ((l.height + int64_t{l.rows_per_strip} - 1) / l.rows_per_strip) * planes;
  }
  const int64_t count = l.tiled ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
  if (count < expected) {
    return make_error(ErrorCode::kCorrupt, "page {} has {} {} where its size needs {}", page, count,
                      l.tiled ? "tiles" : "strips", expected);
  }
  int64_t encoded = 0;
  for (int64_t i = 0; i < expected; ++i) {
    int error = 0;
    const uint64_t offset = TIFFGetStrileOffsetWithErr(tif, static_cast<uint32_t>(i), &error);
    const uint64_t bytes = TIFFGetStrileByteCountWithErr(tif, static_cast<uint32_t>(i), &error);
    if (error) {
      return make_error(ErrorCode::kCorrupt, "page {}: cannot read the offset of {} {}", page,
                        l.tiled ? "tile" : "strip", i);
    }
    if (bytes > 0 && (offset > static_cast<uint64_t>(file_size) ||
                      bytes > static_cast<uint64_t>(file_size) - offset)) {
      return make_error(ErrorCode::kCorrupt,
                        "the file is truncated: {} {} of page {} ends at byte {} but the file has "
                        "{} bytes",
                        l.tiled ? "tile" : "strip", i, page, offset + bytes, file_size);
    }
    encoded += static_cast<int64_t>(bytes);
  }
  const double limit = static_cast<double>(encoded) * ratio + 65536.0;
  if (decoded > limit) {
    return make_error(ErrorCode::kCorrupt,
                      "page {} claims {}x{} pixels ({:.0f} bytes) but holds only {} bytes of "
                      "{} data (corrupt header?)",
                      page, l.width, l.height, decoded, encoded, compression_name(l.compression));
  }
  return ok_status();
}

// ---------------------------------------------------------------------------------------------
// Page grids: how page numbers map to t, z and channel

struct PageGrid {
  std::string order = "z";  // page axes, slowest first, letters of "tzc"
  int64_t t = 1, z = 1, c = 1;

  int64_t extent(char axis) const { return axis == 't' ? t : axis == 'z' ? z : c; }
  int64_t count() const { return t * z * c; }
  int64_t index(int64_t ti, int64_t zi, int64_t ci) const {
    int64_t i = 0;
    for (char axis : order) {
      const int64_t coordinate = axis == 't' ? ti : axis == 'z' ? zi : ci;
      i = i * extent(axis) + coordinate;
    }
    return i;
  }
};

// ---------------------------------------------------------------------------------------------
// Metadata parsers

std::string normalize_unit(std::string unit) {
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.back()))) unit.pop_back();
  if (unit == "micron" || unit == "microns" || unit == "um" || unit == "\\u00B5m" ||
      unit == "\\u00b5m" || unit == "µm" || unit == "μm" || unit == "&#181;m" ||
      unit == "micrometer" || unit == "micrometre") {
    return "µm";
  }
  if (unit == "pixel" || unit == "pixels") return "";
  return unit;
}

struct ImageJMeta {
  bool present = false;
  int64_t images = 0, channels = 1, slices = 1, frames = 1;
  double spacing = 0, finterval = 0;
  std::string unit, yunit, zunit, tunit;
};

ImageJMeta parse_imagej(const std::string& description) {
  ImageJMeta meta;
  if (description.rfind("ImageJ=", 0) != 0) return meta;
  meta.present = true;
  size_t position = 0;
  while (position < description.size()) {
    size_t end = description.find('\n', position);
    if (end == std::string::npos) end = description.size();
    const std::string line = description.substr(position, end - position);
    position = end + 1;
    const size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    const std::string key = line.substr(0, equals);
    const std::string value = line.substr(equals + 1);
    auto number = [&](auto& target) {
      try {
        if constexpr (std::is_same_v<std::decay_t<decltype(target)>, double>) {
          target = std::stod(value);
        } else {
          target = std::stoll(value);
        }
      } catch (...) {
      }
    };
    if (key == "images") number(meta.images);
    if (key == "channels") number(meta.channels);
    if (key == "slices") number(meta.slices);
    if (key == "frames") number(meta.frames);
    if (key == "spacing") number(meta.spacing);
    if (key == "finterval") number(meta.finterval);
    if (key == "unit") meta.unit = normalize_unit(value);
    if (key == "yunit") meta.yunit = normalize_unit(value);
    if (key == "zunit") meta.zunit = normalize_unit(value);
    if (key == "tunit") meta.tunit = normalize_unit(value);
  }
  meta.channels = std::max<int64_t>(meta.channels, 1);
  meta.slices = std::max<int64_t>(meta.slices, 1);
  meta.frames = std::max<int64_t>(meta.frames, 1);
  return meta;
}

struct OmeMeta {
  bool present = false;
  std::string dimension_order;
  int64_t size_x = 0, size_y = 0, size_z = 1, size_c = 1, size_t = 1;
  double physical[3] = {0, 0, 0};  // x, y, z
  std::string units[3] = {"µm", "µm", "µm"};
  double time_increment = 0;
  std::string time_unit = "s";
  int64_t samples_per_channel = 1;
};

// The attributes of the first element named name (any namespace prefix).
std::vector<std::pair<std::string, std::string>> xml_attributes(const std::string& xml,
                                                                const std::string& name,
                                                                size_t* found_at = nullptr) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t position = 0;
  while ((position = xml.find(name, position)) != std::string::npos) {
    const bool starts = position > 0 && (xml[position - 1] == '<' || xml[position - 1] == ':');
    const size_t after = position + name.size();
    const bool ends = after < xml.size() && (std::isspace(static_cast<unsigned char>(xml[after])) ||
                                             xml[after] == '>' || xml[after] == '/');
    if (starts && ends) break;
    position = after;
  }
  if (position == std::string::npos) return out;
  if (found_at) *found_at = position;
  size_t i = position + name.size();
  while (i < xml.size() && xml[i] != '>') {
    while (i < xml.size() && std::isspace(static_cast<unsigned char>(xml[i]))) ++i;
    const size_t key_begin = i;
    while (i < xml.size() && xml[i] != '=' && xml[i] != '>' &&
           !std::isspace(static_cast<unsigned char>(xml[i]))) {
      ++i;
    }
    const std::string key = xml.substr(key_begin, i - key_begin);
    while (i < xml.size() && std::isspace(static_cast<unsigned char>(xml[i]))) ++i;
    if (i >= xml.size() || xml[i] != '=') {
      if (i < xml.size() && xml[i] != '>') ++i;
      continue;
    }
    ++i;
    while (i < xml.size() && std::isspace(static_cast<unsigned char>(xml[i]))) ++i;
    if (i >= xml.size() || (xml[i] != '"' && xml[i] != '\'')) break;
    const char quote = xml[i++];
    const size_t value_end = xml.find(quote, i);
    if (value_end == std::string::npos) break;
    out.emplace_back(key, xml.substr(i, value_end - i));
    i = value_end + 1;
  }
  return out;
}

OmeMeta parse_ome(const std::string& description) {
  OmeMeta meta;
  if (description.find("<OME") == std::string::npos &&
      description.find(":OME") == std::string::npos) {
    return meta;
  }
  size_t pixels_at = 0;
  const auto attributes = xml_attributes(description, "Pixels", &pixels_at);
  if (attributes.empty()) return meta;
  meta.present = true;
  for (const auto& attribute : attributes) {
    // Named copies, not a structured binding: clang before 16 cannot capture those in lambdas.
    const auto& key = attribute.first;
    const auto& value = attribute.second;
    auto integer = [&](int64_t& target) {
      try {
        target = std::stoll(value);
      } catch (...) {
      }
    };
    auto real = [&](double& target) {
      try {
        target = std::stod(value);
      } catch (...) {
      }
    };
    if (key == "DimensionOrder") meta.dimension_order = value;
    if (key == "SizeX") integer(meta.size_x);
    if (key == "SizeY") integer(meta.size_y);
    if (key == "SizeZ") integer(meta.size_z);
    if (key == "SizeC") integer(meta.size_c);
    if (key == "SizeT") integer(meta.size_t);
    if (key == "PhysicalSizeX") real(meta.physical[0]);
    if (key == "PhysicalSizeY") real(meta.physical[1]);
    if (key == "PhysicalSizeZ") real(meta.physical[2]);
    if (key == "PhysicalSizeXUnit") meta.units[0] = normalize_unit(value);
    if (key == "PhysicalSizeYUnit") meta.units[1] = normalize_unit(value);
    if (key == "PhysicalSizeZUnit") meta.units[2] = normalize_unit(value);
    if (key == "TimeIncrement") real(meta.time_increment);
    if (key == "TimeIncrementUnit") meta.time_unit = value;
  }
  const auto channel = xml_attributes(description.substr(pixels_at), "Channel");
  for (const auto& [key, value] : channel) {
    if (key == "SamplesPerPixel") {
      try {
        meta.samples_per_channel = std::max<int64_t>(1, std::stoll(value));
      } catch (...) {
      }
    }
  }
  return meta;
}

// tifffile's shaped description: {"shape": [...], "axes": "..."}.
struct ShapedMeta {
  bool present = false;
  std::vector<int64_t> shape;
  std::string axes;  // upper case as tifffile writes, may be empty
  std::array<double, 4> pixel_size{0, 0, 0, 0};
  std::array<std::string, 4> pixel_unit{"", "", "", ""};
};

ShapedMeta parse_shaped(const std::string& description) {
  ShapedMeta meta;
  if (description.empty() || description.front() != '{') return meta;
  const auto document = nlohmann::json::parse(description, nullptr, false);
  if (document.is_discarded() || !document.is_object() || !document.contains("shape") ||
      !document["shape"].is_array()) {
    return meta;
  }
  for (const auto& extent : document["shape"]) {
    if (!extent.is_number_integer()) return meta;
    meta.shape.push_back(extent.get<int64_t>());
  }
  if (document.contains("axes") && document["axes"].is_string()) {
    meta.axes = document["axes"].get<std::string>();
  }
  // grove's own additions.
  if (document.contains("pixel_size") && document["pixel_size"].is_array() &&
      document["pixel_size"].size() == 4) {
    for (int i = 0; i < 4; ++i) {
      if (document["pixel_size"][i].is_number())
        meta.pixel_size[i] = document["pixel_size"][i].get<double>();
    }
  }
  if (document.contains("pixel_unit") && document["pixel_unit"].is_array() &&
      document["pixel_unit"].size() == 4) {
    for (int i = 0; i < 4; ++i) {
      if (document["pixel_unit"][i].is_string())
        meta.pixel_unit[i] = document["pixel_unit"][i].get<std::string>();
    }
  }
  meta.present = true;
  return meta;
}

// ---------------------------------------------------------------------------------------------
// Copying decoded chunks into the output

struct Target {
  // The output plane of one (t, z): y, x, c contiguous with C channels.
  unsigned char* plane = nullptr;
  int64_t out_width = 0;       // x extent of the output box
  int64_t out_channels = 0;    // c extent of the output box
  int64_t y0 = 0, x0 = 0;      // box origin in the page
  int64_t channel_offset = 0;  // output channel of page sample 0 (may be negative)
};

// Copies rows [row_begin, row_end) x cols [col_begin, col_end) of the page, from a decoded chunk
// whose first row/column in the page is (chunk_y, chunk_x) and which holds chunk_width columns
// of `samples_in_chunk` samples (1 for a separate plane, whose sample is `plane_sample`).
void copy_chunk(const unsigned char* chunk, int64_t chunk_y, int64_t chunk_x, int64_t chunk_width,
                int64_t samples_in_chunk, int64_t plane_sample, int64_t row_begin, int64_t row_end,
                int64_t col_begin, int64_t col_end, size_t element, const Target& target) {
  const int64_t chunk_row_bytes = chunk_width * samples_in_chunk * static_cast<int64_t>(element);
  const int64_t out_row_elements = target.out_width * target.out_channels;
  // The samples of this chunk that land in the output's channel range.
  int64_t s_begin = 0, s_end = samples_in_chunk;
  auto out_channel = [&](int64_t s) {
    return target.channel_offset + (samples_in_chunk == 1 ? plane_sample : s);
  };
  while (s_begin < s_end && out_channel(s_begin) < 0) ++s_begin;
  while (s_end > s_begin && out_channel(s_end - 1) >= target.out_channels) --s_end;
  if (s_begin >= s_end) return;
  const bool whole_pixels = s_begin == 0 && s_end == samples_in_chunk &&
                            samples_in_chunk == target.out_channels && out_channel(0) == 0;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const unsigned char* source_row =
        chunk + (row - chunk_y) * chunk_row_bytes +
        (col_begin - chunk_x) * samples_in_chunk * static_cast<int64_t>(element);
    unsigned char* out_row = target.plane + ((row - target.y0) * out_row_elements +
                                             (col_begin - target.x0) * target.out_channels) *
                                                static_cast<int64_t>(element);
    if (whole_pixels) {
      std::memcpy(out_row, source_row,
                  static_cast<size_t>((col_end - col_begin) * samples_in_chunk) * element);
      continue;
    }
    for (int64_t col = 0; col < col_end - col_begin; ++col) {
      const unsigned char* source_pixel =
          source_row + col * samples_in_chunk * static_cast<int64_t>(element);
      unsigned char* out_pixel =
          out_row + col * target.out_channels * static_cast<int64_t>(element);
      for (int64_t s = s_begin; s < s_end; ++s) {
        std::memcpy(out_pixel + out_channel(s) * static_cast<int64_t>(element),
                    source_pixel + s * static_cast<int64_t>(element), element);
      }
    }
  }
}

// Expands 1-bit rows (MSB first) to one byte per sample.
void expand_bits(const unsigned char* packed, unsigned char* out, int64_t rows, int64_t packed_row,
                 int64_t values_per_row) {
  for (int64_t r = 0; r < rows; ++r) {
    const unsigned char* in = packed + r * packed_row;
    unsigned char* o = out + r * values_per_row;
    for (int64_t i = 0; i < values_per_row; ++i) o[i] = (in[i >> 3] >> (7 - (i & 7))) & 1;
  }
}

void swap_bytes(unsigned char* data, size_t count, size_t element) {
  for (size_t i = 0; i < count; ++i) {
    unsigned char* e = data + i * element;
    for (size_t a = 0, b = element - 1; a < b; ++a, --b) std::swap(e[a], e[b]);
  }
}

// ---------------------------------------------------------------------------------------------
// Reader

class TiffReader final : public ImageReader {
 public:
  TiffReader(std::string path, ImageInfo info, PageLayout layout, PageGrid grid,
             std::vector<uint64_t> page_offsets, std::unique_ptr<Handle> first_handle)
      : path_(std::move(path)),
        info_(std::move(info)),
        layout_(layout),
        grid_(grid),
        page_offsets_(std::move(page_offsets)) {
    first_handle->forget_directory();
    pool_.push_back(std::move(first_handle));
  }

  // ImageJ's large files: pages stored back to back after the first, uncompressed.
  void use_contiguous_pages(ReadOnlyFile file, int64_t offset, bool byte_swapped) {
    contiguous_ = true;
    raw_ = std::move(file);
    contiguous_offset_ = offset;
    byte_swapped_ = byte_swapped;
  }

  const ImageInfo& info() const override { return info_; }

  Result<AnyArray> read(const Box5& box) override {
    GROVE_RETURN_IF_ERROR(check_box_inside(box, info_.shape));
    GROVE_ASSIGN_OR_RETURN(AnyArray out, AnyArray::allocate(info_.dtype, box.shape()));
    if (box.empty()) return out;
    std::unique_ptr<Handle> handle;
    if (!contiguous_) {
      GROVE_ASSIGN_OR_RETURN(handle, acquire());
    }
    const Shape5 shape = box.shape();
    const size_t element = dtype_size(info_.dtype);
    const int64_t plane_elements = shape.y() * shape.x() * shape.c();
    const int64_t samples = layout_.samples;
    Status status = ok_status();
    for (int64_t t = box.begin.t(); t < box.end.t() && status.ok(); ++t) {
      for (int64_t z = box.begin.z(); z < box.end.z() && status.ok(); ++z) {
        for (int64_t page_channel = 0; page_channel < grid_.c && status.ok(); ++page_channel) {
          // Channels page_channel*samples .. +samples of the image live in this page.
          const int64_t first = page_channel * samples;
          if (first + samples <= box.begin.c() || first >= box.end.c()) continue;
          Target target;
          target.plane = static_cast<unsigned char*>(out.raw_data()) +
                         ((t - box.begin.t()) * shape.z() + (z - box.begin.z())) * plane_elements *
                             static_cast<int64_t>(element);
          target.out_width = shape.x();
          target.out_channels = shape.c();
          target.y0 = box.begin.y();
          target.x0 = box.begin.x();
          target.channel_offset = first - box.begin.c();
          const int64_t page = grid_.index(t, z, page_channel);
          status = contiguous_ ? read_contiguous_page(page, box, target)
                               : read_page(*handle, page, box, target);
          if (!status.ok()) {
            status = std::move(status).context(fmt::format(
                "reading page {} (t={}, z={}, channel page {})", page, t, z, page_channel));
          }
        }
      }
    }
    if (handle) release(std::move(handle));
    if (!status.ok()) return std::move(status).error();
    return out;
  }

 private:
  Result<std::unique_ptr<Handle>> acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      if (!pool_.empty()) {
        auto handle = std::move(pool_.back());
        pool_.pop_back();
        return handle;
      }
    }
    return Handle::open(path_, "r");
  }
  void release(std::unique_ptr<Handle> handle) {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    pool_.push_back(std::move(handle));
  }

  Status read_page(Handle& handle, int64_t page, const Box5& box, const Target& target) {
    if (page < 0 || page >= static_cast<int64_t>(page_offsets_.size())) {
      return make_error(ErrorCode::kInternal, "page {} out of range", page);
    }
    GROVE_RETURN_IF_ERROR(handle.set_directory(page_offsets_[static_cast<size_t>(page)]));
    TIFF* tif = handle.get();
    if (layout_.compression == COMPRESSION_JPEG && layout_.photometric == PHOTOMETRIC_YCBCR) {
      TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    }
    const PageLayout& l = layout_;
    const size_t element = dtype_size(info_.dtype);
    const int64_t y0 = box.begin.y(), y1 = box.end.y(), x0 = box.begin.x(), x1 = box.end.x();
    const int64_t planes = l.separate_planes() ? l.samples : 1;
    const int64_t chunk_samples = l.separate_planes() ? 1 : l.samples;
    const int64_t chunk_width = l.tiled ? l.tile_width : l.width;
    const int64_t chunk_height = l.tiled ? l.tile_height : l.rows_per_strip;
    const int64_t decoded_size = row_bytes(l, chunk_width) * chunk_height;
    if (decoded_size <= 0 || decoded_size > (int64_t{1} << 31)) {
      return make_error(ErrorCode::kUnsupported, "{} of {} bytes are too large",
                        l.tiled ? "tiles" : "strips", decoded_size);
    }
    GROVE_RETURN_IF_ERROR(
        check_file_allocation(decoded_size, l.tiled ? "decoding a tile" : "decoding a strip"));
    std::vector<unsigned char> buffer(static_cast<size_t>(decoded_size));
    std::vector<unsigned char> expanded;
    for (int64_t plane = 0; plane < planes; ++plane) {
      // Skip planes whose sample lands outside the output's channels.
      if (l.separate_planes()) {
        const int64_t channel = target.channel_offset + plane;
        if (channel < 0 || channel >= target.out_channels) continue;
      }
      const int64_t across = l.tiled ? (l.width + chunk_width - 1) / chunk_width : 1;
      const int64_t down = (l.height + chunk_height - 1) / chunk_height;
      for (int64_t cy = y0 / chunk_height; cy < down && cy * chunk_height < y1; ++cy) {
        for (int64_t cx = x0 / chunk_width; cx < across && cx * chunk_width < x1; ++cx) {
          const int64_t index = (plane * down + cy) * across + cx;
          const int64_t chunk_y = cy * chunk_height, chunk_x = cx * chunk_width;
          const int64_t rows = std::min<int64_t>(chunk_height, l.height - chunk_y);
          tmsize_t got = 0;
          if (l.tiled) {
            got = TIFFReadEncodedTile(tif, static_cast<uint32_t>(index), buffer.data(),
                                      static_cast<tmsize_t>(buffer.size()));
          } else {
            got = TIFFReadEncodedStrip(tif, static_cast<uint32_t>(index), buffer.data(),
                                       static_cast<tmsize_t>(buffer.size()));
          }
          if (got < 0) {
            return make_error(ErrorCode::kCorrupt, "cannot decode {} {}: {}",
                              l.tiled ? "tile" : "strip", index, handle.take_error());
          }
          const unsigned char* data = buffer.data();
          if (l.bits == 1) {
            const int64_t values = chunk_width * chunk_samples;
            expanded.resize(static_cast<size_t>(values * chunk_height));
            expand_bits(buffer.data(), expanded.data(), rows, row_bytes(l, chunk_width), values);
            data = expanded.data();
          }
          copy_chunk(data, chunk_y, chunk_x, chunk_width, chunk_samples, plane,
                     std::max(y0, chunk_y), std::min(y1, chunk_y + rows), std::max(x0, chunk_x),
                     std::min<int64_t>(x1, std::min<int64_t>(chunk_x + chunk_width, l.width)),
                     element, target);
        }
      }
    }
    return ok_status();
  }

  Status read_contiguous_page(int64_t page, const Box5& box, const Target& target) {
    const PageLayout& l = layout_;
    const size_t element = dtype_size(info_.dtype);
    const int64_t page_row = row_bytes(l, l.width);
    const int64_t page_bytes = page_row * l.height;
    const int64_t y0 = box.begin.y(), y1 = box.end.y();
    std::vector<unsigned char> rows(static_cast<size_t>((y1 - y0) * page_row));
    GROVE_RETURN_IF_ERROR(raw_.read_at(contiguous_offset_ + page * page_bytes + y0 * page_row,
                                       rows.data(), rows.size()));
    if (byte_swapped_ && element > 1) swap_bytes(rows.data(), rows.size() / element, element);
    copy_chunk(rows.data(), y0, 0, l.width, l.samples, 0, y0, y1, box.begin.x(), box.end.x(),
               element, target);
    return ok_status();
  }

  std::string path_;
  ImageInfo info_;
  PageLayout layout_;
  PageGrid grid_;
  std::vector<uint64_t> page_offsets_;
  bool contiguous_ = false;
  ReadOnlyFile raw_;
  int64_t contiguous_offset_ = 0;
  bool byte_swapped_ = false;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Handle>> pool_;
};

// ---------------------------------------------------------------------------------------------
// Writer

std::string imagej_unit(const std::string& unit) { return unit == "µm" ? "micron" : unit; }

struct EncodeSettings {
  uint16_t compression = COMPRESSION_NONE;
  int level = -1;
  uint16_t predictor = PREDICTOR_NONE;
};

class TiffWriter final : public ImageWriter {
 public:
  TiffWriter(AtomicOutput output, std::unique_ptr<Handle> handle, Shape5 shape, DType file_dtype,
             int64_t samples, PageGrid grid, EncodeSettings encode, std::string description,
             WriteOptions options)
      : output_(std::move(output)),
        handle_(std::move(handle)),
        shape_(shape),
        dtype_(file_dtype),
        samples_(samples),
        grid_(grid),
        encode_(encode),
        description_(std::move(description)),
        options_(std::move(options)) {}

  ~TiffWriter() override {
    scratch_.reset();
    if (scratch_fd_ >= 0) ::close(scratch_fd_);
    handle_.reset();  // closes the TIFF before AtomicOutput removes it
  }

  Status write(const Box5& box, const AnyArray& data) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (committed_) return make_error(ErrorCode::kInvalidArgument, "write after commit");
    GROVE_RETURN_IF_ERROR(check_box_inside(box, shape_));
    if (data.shape() != box.shape()) {
      return make_error(ErrorCode::kInvalidArgument, "data of shape {} for box {}",
                        data.shape().to_string(), box.to_string());
    }
    if (box.empty()) return ok_status();
    if (!scratch_ && covers_next_pages(box)) {
      // The common case (whole planes in page order): encode straight away.
      GROVE_ASSIGN_OR_RETURN(AnyArray converted, data.convert(dtype_));
      for (int64_t t = box.begin.t(); t < box.end.t(); ++t) {
        for (int64_t z = box.begin.z(); z < box.end.z(); ++z) {
          for (int64_t page_channel = 0; page_channel < grid_.c; ++page_channel) {
            const Box5 page_box(
                {t - box.begin.t(), z - box.begin.z(), 0, 0, page_channel * samples_},
                {t - box.begin.t() + 1, z - box.begin.z() + 1, shape_.y(), shape_.x(),
                 (page_channel + 1) * samples_});
            GROVE_RETURN_IF_ERROR(encode_page(converted.crop(page_box)));
          }
        }
      }
      return ok_status();
    }
    GROVE_RETURN_IF_ERROR(ensure_scratch());
    const AnyArray whole =
        AnyArray::wrap(dtype_, scratch_.get(), shape_, contiguous_strides(shape_), {});
    return data.copy_into(whole.crop(box));
  }

  Status commit() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (committed_) return ok_status();
    const int64_t total = grid_.count();
    if (scratch_) {
      const AnyArray whole =
          AnyArray::wrap(dtype_, scratch_.get(), shape_, contiguous_strides(shape_), {});
      while (next_page_ < total) {
        GROVE_RETURN_IF_ERROR(encode_page(whole.crop(page_box(next_page_))));
      }
    } else if (next_page_ < total) {
      // Pages never written are zeros.
      GROVE_ASSIGN_OR_RETURN(
          AnyArray zeros,
          AnyArray::allocate(dtype_, Shape5(1, 1, shape_.y(), shape_.x(), samples_)));
      while (next_page_ < total) GROVE_RETURN_IF_ERROR(encode_page(zeros));
    }
    if (!handle_->close()) {
      return make_error(ErrorCode::kIo, "writing {}: {}", output_.final_path(),
                        handle_->take_error());
    }
    GROVE_RETURN_IF_ERROR(output_.commit());
    committed_ = true;
    return ok_status();
  }

 private:
  // The box of page number `page` in the full image (pages in the grid's t, z, c order).
  Box5 page_box(int64_t page) const {
    // Decompose in the grid's order (slowest first).
    int64_t coordinates[3] = {0, 0, 0};  // t, z, c
    int64_t rest = page;
    for (size_t i = grid_.order.size(); i-- > 0;) {
      const char axis = grid_.order[i];
      const int64_t extent = grid_.extent(axis);
      const int64_t value = rest % extent;
      rest /= extent;
      coordinates[axis == 't' ? 0 : axis == 'z' ? 1 : 2] = value;
    }
    return Box5({coordinates[0], coordinates[1], 0, 0, coordinates[2] * samples_},
                {coordinates[0] + 1, coordinates[1] + 1, shape_.y(), shape_.x(),
                 (coordinates[2] + 1) * samples_});
  }

  // True if box holds whole pages, exactly the next ones in file order.
  bool covers_next_pages(const Box5& box) const {
    if (box.begin.y() != 0 || box.end.y() != shape_.y() || box.begin.x() != 0 ||
        box.end.x() != shape_.x() || box.begin.c() != 0 || box.end.c() != shape_.c()) {
      return false;
    }
    int64_t expected = next_page_;
    for (int64_t t = box.begin.t(); t < box.end.t(); ++t) {
      for (int64_t z = box.begin.z(); z < box.end.z(); ++z) {
        for (int64_t c = 0; c < grid_.c; ++c) {
          if (grid_.index(t, z, c) != expected) return false;
          ++expected;
        }
      }
    }
    return true;
  }

  Status ensure_scratch() {
    if (scratch_) return ok_status();
    const size_t bytes = static_cast<size_t>(shape_.size()) * dtype_size(dtype_);
    const std::string name = output_.temporary_path() + ".scratch";
    scratch_fd_ = ::open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (scratch_fd_ < 0) {
      return make_error(ErrorCode::kIo, "cannot create scratch file {}: {}", name,
                        std::strerror(errno));
    }
    // Unlinked at once: the space is freed however the process ends.
    ::unlink(name.c_str());
    if (::ftruncate(scratch_fd_, static_cast<off_t>(bytes)) != 0) {
      return make_error(ErrorCode::kIo, "cannot size scratch file: {}", std::strerror(errno));
    }
    void* address = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, scratch_fd_, 0);
    if (address == MAP_FAILED) {
      return make_error(ErrorCode::kIo, "cannot map scratch file: {}", std::strerror(errno));
    }
    scratch_ = std::shared_ptr<void>(address, [bytes](void* p) { ::munmap(p, bytes); });
    // Pages already encoded stay; the rest will come from the scratch file.
    return ok_status();
  }

  // Encodes the next page from page_data (shape 1,1,Y,X,samples; any strides).
  Status encode_page(const AnyArray& page_data) {
    TIFF* tif = handle_->get();
    const int64_t width = shape_.x(), height = shape_.y();
    const size_t element = dtype_size(dtype_);
    const int64_t row = width * samples_ * static_cast<int64_t>(element);
    GROVE_ASSIGN_OR_RETURN(AnyArray page, page_data.contiguous_or_copy());

    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(width));
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(height));
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(element * 8));
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(samples_));
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT,
                 static_cast<uint16_t>(dtype_is_float(dtype_)    ? SAMPLEFORMAT_IEEEFP
                                       : dtype_is_signed(dtype_) ? SAMPLEFORMAT_INT
                                                                 : SAMPLEFORMAT_UINT));
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
                 samples_ >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    if (samples_ == 4 || samples_ == 2) {
      const uint16_t extra = EXTRASAMPLE_UNASSALPHA;
      TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, static_cast<uint16_t>(1), &extra);
    }
    TIFFSetField(tif, TIFFTAG_COMPRESSION, encode_.compression);
    if (encode_.predictor != PREDICTOR_NONE)
      TIFFSetField(tif, TIFFTAG_PREDICTOR, encode_.predictor);
    if (encode_.level >= 0) {
      if (encode_.compression == COMPRESSION_ADOBE_DEFLATE) {
        TIFFSetField(tif, TIFFTAG_ZIPQUALITY, std::clamp(encode_.level, 1, 9));
      } else if (encode_.compression == COMPRESSION_ZSTD) {
        TIFFSetField(tif, TIFFTAG_ZSTD_LEVEL, std::clamp(encode_.level, 1, 22));
      }
    }
    // Strips of about 128 KiB: small enough for sub-box reads, large enough to compress well.
    const int64_t rows_per_strip =
        std::clamp<int64_t>((int64_t{128} << 10) / std::max<int64_t>(row, 1), 1, height);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, static_cast<uint32_t>(rows_per_strip));
    TIFFSetField(tif, TIFFTAG_SOFTWARE, "grove");
    if (options_.has_pixel_size && options_.pixel_size[kX] > 0 && options_.pixel_size[kY] > 0) {
      TIFFSetField(tif, TIFFTAG_XRESOLUTION, static_cast<float>(1.0 / options_.pixel_size[kX]));
      TIFFSetField(tif, TIFFTAG_YRESOLUTION, static_cast<float>(1.0 / options_.pixel_size[kY]));
      TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
    }
    if (next_page_ == 0 && !description_.empty()) {
      TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, description_.c_str());
    }
    if (grid_.count() > 1) {
      TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
      TIFFSetField(tif, TIFFTAG_PAGENUMBER,
                   static_cast<uint16_t>(std::min<int64_t>(next_page_, 65535)),
                   static_cast<uint16_t>(std::min<int64_t>(grid_.count(), 65535)));
    }
    auto* bytes = static_cast<unsigned char*>(page.raw_data());
    uint32_t strip = 0;
    for (int64_t y = 0; y < height; y += rows_per_strip, ++strip) {
      const int64_t rows = std::min(rows_per_strip, height - y);
      if (TIFFWriteEncodedStrip(tif, strip, bytes + y * row, static_cast<tmsize_t>(rows * row)) <
          0) {
        return make_error(ErrorCode::kIo, "writing {}: {}", output_.final_path(),
                          handle_->take_error());
      }
    }
    if (!TIFFWriteDirectory(tif)) {
      return make_error(ErrorCode::kIo, "writing {}: {}", output_.final_path(),
                        handle_->take_error());
    }
    ++next_page_;
    return ok_status();
  }

  AtomicOutput output_;
  std::unique_ptr<Handle> handle_;
  Shape5 shape_;
  DType dtype_;
  int64_t samples_;
  PageGrid grid_;
  EncodeSettings encode_;
  std::string description_;
  WriteOptions options_;
  std::mutex mutex_;
  int64_t next_page_ = 0;
  int scratch_fd_ = -1;
  std::shared_ptr<void> scratch_;
  bool committed_ = false;
};

bool imagej_dtype(DType dtype) {
  return dtype == DType::u8 || dtype == DType::u16 || dtype == DType::f32;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// open_tiff

Result<std::unique_ptr<ImageReader>> open_tiff(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(ReadOnlyFile file, ReadOnlyFile::open(path));
  if (file.size() == 0) return make_error(ErrorCode::kCorrupt, "the file is empty");
  unsigned char signature[4] = {0, 0, 0, 0};
  if (file.size() < 8)
    return make_error(ErrorCode::kCorrupt, "the file is truncated (not a TIFF header)");
  GROVE_RETURN_IF_ERROR(file.read_at(0, signature, 4));
  const bool little = signature[0] == 'I' && signature[1] == 'I' && signature[3] == 0 &&
                      (signature[2] == 42 || signature[2] == 43);
  const bool big = signature[0] == 'M' && signature[1] == 'M' && signature[2] == 0 &&
                   (signature[3] == 42 || signature[3] == 43);
  if (!little && !big) return make_error(ErrorCode::kCorrupt, "not a TIFF file (bad signature)");

  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<Handle> handle, Handle::open(path, "r"));
  TIFF* tif = handle->get();
  const PageLayout layout = read_layout(tif);
  auto dtype = dtype_of_layout(layout);
  if (!dtype.ok()) return std::move(dtype).error();
  if (layout.photometric == PHOTOMETRIC_YCBCR && layout.compression != COMPRESSION_JPEG) {
    return make_error(ErrorCode::kUnsupported,
                      "YCbCr TIFFs without JPEG compression are not supported");
  }
  if (layout.compression != COMPRESSION_NONE && !TIFFIsCODECConfigured(layout.compression)) {
    return make_error(ErrorCode::kUnsupported, "this libtiff cannot decode {} compression",
                      compression_name(layout.compression));
  }
  std::string description;
  {
    char* text = nullptr;
    if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &text) && text != nullptr) description = text;
  }
  float x_resolution = 0, y_resolution = 0;
  uint16_t resolution_unit = RESUNIT_INCH;
  const bool has_resolution = TIFFGetField(tif, TIFFTAG_XRESOLUTION, &x_resolution) &&
                              TIFFGetField(tif, TIFFTAG_YRESOLUTION, &y_resolution);
  TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &resolution_unit);

  handle->take_error("");
  int first_strip_error = 0;
  const int64_t first_strip_offset =
      static_cast<int64_t>(TIFFGetStrileOffsetWithErr(tif, 0, &first_strip_error));
  // Walk the pages of the same image as the first one.
  std::vector<uint64_t> offsets;
  int64_t page = 0;
  while (true) {
    GROVE_RETURN_IF_ERROR(check_page_data(tif, read_layout(tif), file.size(), page));
    offsets.push_back(TIFFCurrentDirOffset(tif));
    if (!TIFFReadDirectory(tif)) {
      const std::string error = handle->take_error("");
      if (!error.empty()) {
        return make_error(ErrorCode::kCorrupt, "cannot read TIFF page {}: {}", page + 1, error);
      }
      break;
    }
    ++page;
    const PageLayout next = read_layout(tif);
    if (!next.same_image(layout) || (next.subfile_type & FILETYPE_REDUCEDIMAGE)) break;
  }
  const int64_t pages = static_cast<int64_t>(offsets.size());

  ImageInfo info;
  info.format = "tiff";
  info.dtype = *dtype;
  info.compression = compression_name(layout.compression);
  PageGrid grid;
  grid.z = pages;
  bool contiguous = false;
  int64_t contiguous_offset = 0;

  const ImageJMeta imagej = parse_imagej(description);
  const OmeMeta ome = imagej.present ? OmeMeta{} : parse_ome(description);
  const ShapedMeta shaped =
      (imagej.present || ome.present) ? ShapedMeta{} : parse_shaped(description);
  if (imagej.present) {
    int64_t channels = imagej.channels, slices = imagej.slices, frames = imagej.frames;
    // RGB hyperstacks name their samples as channels.
    if (layout.samples > 1 && channels == layout.samples) channels = 1;
    const int64_t images = channels * slices * frames;
    const int64_t promised = imagej.images > 0 ? imagej.images : images;
    if (promised == images || images == pages) {
      if (images <= pages) {
        grid = PageGrid{"tzc", frames, slices, channels};
      } else if (pages == 1 && layout.compression == COMPRESSION_NONE && !layout.tiled &&
                 !layout.separate_planes() && layout.bits >= 8) {
        // ImageJ writes files over 4 GB with one directory and the pages back to back.
        const int64_t page_bytes = row_bytes(layout, layout.width) * layout.height;
        contiguous_offset = first_strip_offset;
        const double needed =
            static_cast<double>(contiguous_offset) + static_cast<double>(page_bytes) * images;
        if (first_strip_error || needed > static_cast<double>(file.size())) {
          return make_error(ErrorCode::kCorrupt,
                            "the file is truncated: its ImageJ header promises {} images of {} "
                            "bytes but the file has {} bytes",
                            images, page_bytes, file.size());
        }
        grid = PageGrid{"tzc", frames, slices, channels};
        contiguous = true;
      }
    }
    if (has_resolution && x_resolution > 0 && y_resolution > 0 &&
        (!imagej.unit.empty() || resolution_unit != RESUNIT_NONE)) {
      std::string unit = imagej.unit;
      double scale = 1.0;
      if (unit.empty()) {
        unit = "µm";
        scale = resolution_unit == RESUNIT_CENTIMETER ? 1e4 : 25400.0;
      }
      info.pixel_size[kX] = scale / x_resolution;
      info.pixel_size[kY] = scale / y_resolution;
      info.pixel_unit[kX] = unit;
      info.pixel_unit[kY] = imagej.yunit.empty() ? unit : imagej.yunit;
      info.pixel_unit[kZ] = imagej.zunit.empty() ? unit : imagej.zunit;
      info.has_pixel_size = true;
    }
    if (imagej.spacing > 0) {
      info.pixel_size[kZ] = imagej.spacing;
      if (info.pixel_unit[kZ].empty())
        info.pixel_unit[kZ] = imagej.zunit.empty() ? imagej.unit : imagej.zunit;
      info.has_pixel_size = true;
    }
    if (imagej.finterval > 0) {
      info.pixel_size[kT] = imagej.finterval;
      info.pixel_unit[kT] = imagej.tunit.empty() ? "s" : imagej.tunit;
      info.has_pixel_size = true;
    }
  } else if (ome.present) {
    const int64_t page_channels = (layout.samples > 1 && ome.size_c % layout.samples == 0)
                                      ? ome.size_c / layout.samples
                                      : ome.size_c;
    const int64_t needed = ome.size_z * page_channels * ome.size_t;
    const bool sizes_match = ome.size_x == layout.width && ome.size_y == layout.height;
    std::string order;
    if (ome.dimension_order.size() == 5 && ome.dimension_order.rfind("XY", 0) == 0) {
      for (size_t i = 5; i-- > 2;) {
        order +=
            static_cast<char>(std::tolower(static_cast<unsigned char>(ome.dimension_order[i])));
      }
    }
    if (sizes_match && needed >= 1 && needed <= pages && order.size() == 3) {
      grid = PageGrid{order, ome.size_t, ome.size_z, page_channels};
    }
    const int axes[3] = {kX, kY, kZ};
    for (int i = 0; i < 3; ++i) {
      if (ome.physical[i] > 0) {
        info.pixel_size[axes[i]] = ome.physical[i];
        info.pixel_unit[axes[i]] = ome.units[i];
        info.has_pixel_size = true;
      }
    }
    if (ome.time_increment > 0) {
      info.pixel_size[kT] = ome.time_increment;
      info.pixel_unit[kT] = ome.time_unit;
      info.has_pixel_size = true;
    }
  } else {
    if (shaped.present) {
      // The leading dimensions before y, x (and samples) name the pages.
      const size_t page_dims = layout.samples > 1 ? 3 : 2;
      if (shaped.shape.size() >= page_dims) {
        const size_t leading = shaped.shape.size() - page_dims;
        std::string order;
        PageGrid candidate{"", 1, 1, 1};
        bool usable = leading <= 3;
        for (size_t i = 0; i < leading && usable; ++i) {
          char axis = leading == 1 ? 'z' : (leading == 2 ? "tz"[i] : "tzc"[i]);
          if (shaped.axes.size() == shaped.shape.size()) {
            const char named =
                static_cast<char>(std::tolower(static_cast<unsigned char>(shaped.axes[i])));
            axis = (named == 't' || named == 'c') ? named : 'z';
          }
          if (order.find(axis) != std::string::npos) usable = false;
          order += axis;
          (axis == 't' ? candidate.t : axis == 'z' ? candidate.z : candidate.c) = shaped.shape[i];
        }
        candidate.order = order.empty() ? "z" : order;
        if (usable && candidate.count() == pages) grid = candidate;
      }
      for (int a = 0; a < 4; ++a) {
        if (shaped.pixel_size[a] > 0) {
          info.pixel_size[a] = shaped.pixel_size[a];
          info.pixel_unit[a] = shaped.pixel_unit[a];
          info.has_pixel_size = true;
        }
      }
    }
    if (!info.has_pixel_size && has_resolution && x_resolution > 0 && y_resolution > 0 &&
        (resolution_unit == RESUNIT_INCH || resolution_unit == RESUNIT_CENTIMETER)) {
      const double scale = resolution_unit == RESUNIT_CENTIMETER ? 1e4 : 25400.0;
      info.pixel_size[kX] = scale / x_resolution;
      info.pixel_size[kY] = scale / y_resolution;
      info.pixel_unit[kX] = info.pixel_unit[kY] = "µm";
      info.has_pixel_size = true;
    }
  }

  info.shape = Shape5(grid.t, grid.z, layout.height, layout.width, grid.c * layout.samples);
  for (char axis : grid.order) {
    if (grid.extent(axis) > 1) {
      info.axes += axis;
      info.stored_shape.push_back(grid.extent(axis));
    }
  }
  info.axes += "yx";
  info.stored_shape.push_back(layout.height);
  info.stored_shape.push_back(layout.width);
  if (layout.samples > 1 && grid.c == 1) {
    info.axes += 'c';
    info.stored_shape.push_back(layout.samples);
  }
  if (!info.shape.valid()) {
    return make_error(ErrorCode::kCorrupt, "absurd image shape {}", info.shape.to_string());
  }
  auto reader = std::make_unique<TiffReader>(path, std::move(info), layout, grid,
                                             std::move(offsets), std::move(handle));
  if (contiguous) reader->use_contiguous_pages(std::move(file), contiguous_offset, big);
  return std::unique_ptr<ImageReader>(std::move(reader));
}

// ---------------------------------------------------------------------------------------------
// create_tiff

bool tiff_needs_bigtiff(int64_t data_bytes) {
  return data_bytes > (int64_t{1} << 32) - (int64_t{64} << 20);
}

Result<std::unique_ptr<ImageWriter>> create_tiff(const std::string& path, const Shape5& shape,
                                                 DType dtype, const WriteOptions& options,
                                                 const TiffWriteOptions& tiff_options) {
  if (!shape.valid() || shape.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "cannot write an image of shape {}",
                      shape.to_string());
  }
  if (shape.y() > 0xffffffffLL || shape.x() > 0xffffffffLL) {
    return make_error(ErrorCode::kInvalidArgument,
                      "TIFF pages are limited to 2^32 rows and columns");
  }
  if (!options.axes.empty()) GROVE_RETURN_IF_ERROR(check_write_axes(options.axes, shape));
  const DType file_dtype = dtype == DType::boolean ? DType::u8 : dtype;

  EncodeSettings encode;
  const std::string& compression = options.compression;
  if (compression.empty() || compression == "none") {
    encode.compression = COMPRESSION_NONE;
  } else if (compression == "lzw") {
    encode.compression = COMPRESSION_LZW;
  } else if (compression == "deflate" || compression == "zlib" || compression == "gzip") {
    encode.compression = COMPRESSION_ADOBE_DEFLATE;
  } else if (compression == "zstd") {
    encode.compression = COMPRESSION_ZSTD;
  } else if (compression == "packbits") {
    encode.compression = COMPRESSION_PACKBITS;
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "TIFF compression '{}' is not one of none, lzw, deflate, zstd, packbits",
                      compression);
  }
  if (encode.compression != COMPRESSION_NONE && !TIFFIsCODECConfigured(encode.compression)) {
    return make_error(ErrorCode::kUnsupported, "this libtiff cannot encode {}", compression);
  }
  encode.level = options.compression_level;
  if (encode.compression != COMPRESSION_NONE && encode.compression != COMPRESSION_PACKBITS &&
      !dtype_is_float(file_dtype)) {
    encode.predictor = PREDICTOR_HORIZONTAL;
  }

  // uint8 with 3 channels is RGB (samples); otherwise channels are pages.
  const int64_t samples = (file_dtype == DType::u8 && shape.c() == 3) ? 3 : 1;
  const int64_t page_channels = shape.c() / samples;
  PageGrid grid{"tzc", shape.t(), shape.z(), page_channels};

  std::string description;
  if (imagej_dtype(file_dtype)) {
    description = "ImageJ=1.11a\n";
    description += fmt::format("images={}\n", grid.count());
    if (page_channels > 1) description += fmt::format("channels={}\n", page_channels);
    if (shape.z() > 1) description += fmt::format("slices={}\n", shape.z());
    if (shape.t() > 1) description += fmt::format("frames={}\n", shape.t());
    if (grid.count() > 1) description += "hyperstack=true\n";
    if (page_channels > 1) description += "mode=grayscale\n";
    if (options.has_pixel_size) {
      const std::string& unit = options.pixel_unit[kX];
      if (!unit.empty()) description += fmt::format("unit={}\n", imagej_unit(unit));
      if (shape.z() > 1) description += fmt::format("spacing={}\n", options.pixel_size[kZ]);
      if (shape.t() > 1) description += fmt::format("finterval={}\n", options.pixel_size[kT]);
      if (!options.pixel_unit[kT].empty() && shape.t() > 1) {
        description += fmt::format("tunit={}\n", options.pixel_unit[kT]);
      }
    }
    description += "loop=false\n";
  } else {
    nlohmann::json document;
    std::vector<int64_t> dims;
    std::string axes;
    if (shape.t() > 1) dims.push_back(shape.t()), axes += 'T';
    if (shape.z() > 1) dims.push_back(shape.z()), axes += 'Z';
    if (page_channels > 1) dims.push_back(page_channels), axes += 'C';
    dims.push_back(shape.y()), axes += 'Y';
    dims.push_back(shape.x()), axes += 'X';
    if (samples > 1) dims.push_back(samples), axes += 'S';
    document["shape"] = dims;
    document["axes"] = axes;
    if (options.has_pixel_size) {
      document["pixel_size"] = options.pixel_size;
      document["pixel_unit"] = options.pixel_unit;
    }
    description = document.dump();
  }

  const int64_t data_bytes = shape.size() * static_cast<int64_t>(dtype_size(file_dtype));
  GROVE_ASSIGN_OR_RETURN(AtomicOutput output, AtomicOutput::prepare(path, options.overwrite));
  if (encode.compression == COMPRESSION_NONE) {
    // ImageJ's layout: the pixels of all pages back to back (see tiff_contiguous.h).
    ContiguousTiffLayout layout;
    layout.shape = shape;
    layout.dtype = file_dtype;
    layout.samples = samples;
    layout.description = description;
    if (options.has_pixel_size && options.pixel_size[kX] > 0 && options.pixel_size[kY] > 0) {
      layout.has_resolution = true;
      layout.x_resolution = 1.0 / options.pixel_size[kX];
      layout.y_resolution = 1.0 / options.pixel_size[kY];
    }
    layout.bigtiff = tiff_options.force_bigtiff ||
                     tiff_needs_bigtiff(data_bytes + contiguous_tiff_overhead(layout));
    return create_contiguous_tiff(std::move(output), layout);
  }
  const bool bigtiff = tiff_options.force_bigtiff || tiff_needs_bigtiff(data_bytes);
  auto handle = Handle::open(output.temporary_path(), bigtiff ? "w8" : "w");
  if (!handle.ok()) {
    return make_error(ErrorCode::kIo, "cannot create {}: {}", output.temporary_path(),
                      handle.error().message());
  }
  return std::unique_ptr<ImageWriter>(
      std::make_unique<TiffWriter>(std::move(output), std::move(handle).value(), shape, file_dtype,
                                   samples, grid, encode, std::move(description), options));
}

}  // namespace grove::io
