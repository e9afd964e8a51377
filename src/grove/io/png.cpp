#include "grove/io/png.h"

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "grove/io/axes.h"
#include "grove/io/file_util.h"

namespace grove::io {

namespace {

// libpng reports errors by longjmp. Every function that calls libpng holds only trivially
// destructible locals between its setjmp and the libpng calls, so the jump skips no destructor.
struct PngErrorState {
  char message[256];
};

[[noreturn]] void on_png_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngErrorState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof(state->message), "%s", message);
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

struct FileCloser {
  void operator()(std::FILE* file) const {
    if (file != nullptr) std::fclose(file);
  }
};
using FilePointer = std::unique_ptr<std::FILE, FileCloser>;

// What the header says, after the expansions grove asks for.
struct PngHeader {
  uint32_t width = 0;
  uint32_t height = 0;
  int bit_depth = 8;     // 8 or 16 after expansion
  int channels = 1;      // after expansion
  size_t row_bytes = 0;  // after expansion
  bool has_physical = false;
  uint32_t pixels_per_unit_x = 0;
  uint32_t pixels_per_unit_y = 0;
  int physical_unit = 0;  // PNG_RESOLUTION_METER or unknown
};

// A read in progress. Plain data: it crosses longjmp boundaries.
struct PngReadState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngErrorState error{};
};

void destroy(PngReadState& state) {
  if (state.png != nullptr) png_destroy_read_struct(&state.png, &state.info, nullptr);
  state.png = nullptr;
  state.info = nullptr;
}

// Reads the header and sets up expansions. False on error (state.error says why).
bool read_header(std::FILE* file, PngReadState& state, PngHeader& header) {
  state.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state.error, on_png_error, on_png_warning);
  if (state.png == nullptr) {
    std::snprintf(state.error.message, sizeof(state.error.message), "out of memory");
    return false;
  }
  state.info = png_create_info_struct(state.png);
  if (state.info == nullptr) {
    std::snprintf(state.error.message, sizeof(state.error.message), "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(state.png))) return false;
  png_init_io(state.png, file);
  png_read_info(state.png, state.info);
  const int color_type = png_get_color_type(state.png, state.info);
  const int bit_depth = png_get_bit_depth(state.png, state.info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(state.png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(state.png);
  if (color_type == PNG_COLOR_TYPE_PALETTE && png_get_valid(state.png, state.info, PNG_INFO_tRNS)) {
    png_set_tRNS_to_alpha(state.png);
  }
  if (bit_depth == 16) png_set_swap(state.png);  // PNG is big-endian; x86 is not
  png_set_interlace_handling(state.png);
  png_read_update_info(state.png, state.info);
  header.width = png_get_image_width(state.png, state.info);
  header.height = png_get_image_height(state.png, state.info);
  header.bit_depth = png_get_bit_depth(state.png, state.info);
  header.channels = png_get_channels(state.png, state.info);
  header.row_bytes = png_get_rowbytes(state.png, state.info);
  png_uint_32 x = 0, y = 0;
  int unit = 0;
  if (png_get_pHYs(state.png, state.info, &x, &y, &unit)) {
    header.has_physical = true;
    header.pixels_per_unit_x = x;
    header.pixels_per_unit_y = y;
    header.physical_unit = unit;
  }
  return true;
}

// Decodes all rows into rows[0..height). False on error.
bool read_rows(PngReadState& state, png_bytep* rows) {
  if (setjmp(png_jmpbuf(state.png))) return false;
  png_read_image(state.png, rows);
  png_read_end(state.png, nullptr);
  return true;
}

struct PngWriteState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  PngErrorState error{};
};

struct PngWriteSettings {
  uint32_t width = 0;
  uint32_t height = 0;
  int bit_depth = 8;
  int color_type = PNG_COLOR_TYPE_GRAY;
  int level = -1;
  bool physical = false;
  uint32_t pixels_per_metre_x = 0;
  uint32_t pixels_per_metre_y = 0;
};

bool write_png_file(std::FILE* file, PngWriteState& state, const PngWriteSettings& settings,
                    png_bytep* rows) {
  state.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state.error, on_png_error, on_png_warning);
  if (state.png == nullptr) {
    std::snprintf(state.error.message, sizeof(state.error.message), "out of memory");
    return false;
  }
  state.info = png_create_info_struct(state.png);
  if (state.info == nullptr) {
    std::snprintf(state.error.message, sizeof(state.error.message), "out of memory");
    return false;
  }
  if (setjmp(png_jmpbuf(state.png))) return false;
  png_init_io(state.png, file);
  if (settings.level >= 0) png_set_compression_level(state.png, std::min(settings.level, 9));
  png_set_IHDR(state.png, state.info, settings.width, settings.height, settings.bit_depth,
               settings.color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (settings.physical) {
    png_set_pHYs(state.png, state.info, settings.pixels_per_metre_x, settings.pixels_per_metre_y,
                 PNG_RESOLUTION_METER);
  }
  png_write_info(state.png, state.info);
  if (settings.bit_depth == 16) png_set_swap(state.png);
  png_write_image(state.png, rows);
  png_write_end(state.png, state.info);
  return true;
}

class PngReader final : public ImageReader {
 public:
  PngReader(std::string path, ImageInfo info) : path_(std::move(path)), info_(std::move(info)) {}

  const ImageInfo& info() const override { return info_; }

  Result<AnyArray> read(const Box5& box) override {
    GROVE_RETURN_IF_ERROR(check_box_inside(box, info_.shape));
    AnyArray whole;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (decoded_.is_null()) {
        GROVE_ASSIGN_OR_RETURN(decoded_, decode());
      }
      whole = decoded_;
    }
    return whole.crop(box).copy();
  }

 private:
  Result<AnyArray> decode() {
    FilePointer file(std::fopen(path_.c_str(), "rb"));
    if (!file) return make_error(ErrorCode::kIo, "cannot open the file: {}", std::strerror(errno));
    PngReadState state;
    PngHeader header;
    if (!read_header(file.get(), state, header)) {
      const std::string message = state.error.message;
      destroy(state);
      return make_error(ErrorCode::kCorrupt, "not a readable PNG: {}", message);
    }
    if (header.width != info_.shape.x() || header.height != info_.shape.y() ||
        header.channels != info_.shape.c()) {
      destroy(state);
      return make_error(ErrorCode::kCorrupt, "the file changed while open");
    }
    auto allocated = AnyArray::allocate_uninitialized(info_.dtype, info_.shape);
    if (!allocated.ok()) {
      destroy(state);
      return std::move(allocated).error();
    }
    AnyArray out = std::move(allocated).value();
    std::vector<png_bytep> rows(header.height);
    for (uint32_t y = 0; y < header.height; ++y) {
      rows[y] = static_cast<png_bytep>(out.raw_data()) + static_cast<size_t>(y) * header.row_bytes;
    }
    const bool ok = read_rows(state, rows.data());
    const std::string message = state.error.message;
    destroy(state);
    if (!ok) return make_error(ErrorCode::kCorrupt, "cannot decode the PNG: {}", message);
    return out;
  }

  std::string path_;
  ImageInfo info_;
  std::mutex mutex_;
  AnyArray decoded_;
};

class PngWriter final : public ImageWriter {
 public:
  PngWriter(AtomicOutput output, AnyArray image, WriteOptions options)
      : output_(std::move(output)), image_(std::move(image)), options_(std::move(options)) {}

  Status write(const Box5& box, const AnyArray& data) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (committed_) return make_error(ErrorCode::kInvalidArgument, "write after commit");
    GROVE_RETURN_IF_ERROR(check_box_inside(box, image_.shape()));
    if (data.shape() != box.shape()) {
      return make_error(ErrorCode::kInvalidArgument, "data of shape {} for box {}",
                        data.shape().to_string(), box.to_string());
    }
    return data.copy_into(image_.crop(box));
  }

  Status commit() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (committed_) return ok_status();
    const Shape5& shape = image_.shape();
    PngWriteSettings settings;
    settings.width = static_cast<uint32_t>(shape.x());
    settings.height = static_cast<uint32_t>(shape.y());
    settings.bit_depth = image_.dtype() == DType::u16 ? 16 : 8;
    static constexpr int kColorTypes[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                          PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    settings.color_type = kColorTypes[shape.c() - 1];
    settings.level = options_.compression_level;
    if (options_.has_pixel_size && options_.pixel_unit[kX] == "µm" && options_.pixel_size[kX] > 0 &&
        options_.pixel_size[kY] > 0) {
      settings.physical = true;
      settings.pixels_per_metre_x = static_cast<uint32_t>(std::lround(1e6 / options_.pixel_size[kX]));
      settings.pixels_per_metre_y = static_cast<uint32_t>(std::lround(1e6 / options_.pixel_size[kY]));
    }
    const size_t row_bytes = static_cast<size_t>(shape.x() * shape.c()) * dtype_size(image_.dtype());
    std::vector<png_bytep> rows(static_cast<size_t>(shape.y()));
    for (int64_t y = 0; y < shape.y(); ++y) {
      rows[static_cast<size_t>(y)] = static_cast<png_bytep>(image_.raw_data()) + static_cast<size_t>(y) * row_bytes;
    }
    FilePointer file(std::fopen(output_.temporary_path().c_str(), "wb"));
    if (!file) {
      return make_error(ErrorCode::kIo, "cannot create {}: {}", output_.temporary_path(),
                        std::strerror(errno));
    }
    PngWriteState state;
    const bool ok = write_png_file(file.get(), state, settings, rows.data());
    const std::string message = state.error.message;
    if (state.png != nullptr) png_destroy_write_struct(&state.png, &state.info);
    const bool closed = std::fclose(file.release()) == 0;
    if (!ok || !closed) {
      return make_error(ErrorCode::kIo, "writing {}: {}", output_.final_path(),
                        ok ? std::string(std::strerror(errno)) : message);
    }
    GROVE_RETURN_IF_ERROR(output_.commit());
    committed_ = true;
    return ok_status();
  }

 private:
  AtomicOutput output_;
  AnyArray image_;
  WriteOptions options_;
  std::mutex mutex_;
  bool committed_ = false;
};

}  // namespace

Result<std::unique_ptr<ImageReader>> open_png(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(int64_t file_size, regular_file_size(path));
  if (file_size == 0) return make_error(ErrorCode::kCorrupt, "the file is empty");
  FilePointer file(std::fopen(path.c_str(), "rb"));
  if (!file) return make_error(ErrorCode::kIo, "cannot open the file: {}", std::strerror(errno));
  unsigned char signature[8] = {0};
  if (std::fread(signature, 1, 8, file.get()) != 8 || png_sig_cmp(signature, 0, 8) != 0) {
    return make_error(ErrorCode::kCorrupt, "not a PNG file (bad signature)");
  }
  std::rewind(file.get());
  PngReadState state;
  PngHeader header;
  const bool ok = read_header(file.get(), state, header);
  const std::string message = state.error.message;
  destroy(state);
  if (!ok) return make_error(ErrorCode::kCorrupt, "not a readable PNG: {}", message);
  // Deflate expands at most ~1032:1.
  GROVE_RETURN_IF_ERROR(check_plausible_size(
      static_cast<int64_t>(header.row_bytes) * header.height, file_size, 1100.0, "the PNG header"));
  ImageInfo info;
  info.format = "png";
  info.dtype = header.bit_depth == 16 ? DType::u16 : DType::u8;
  info.shape = Shape5(1, 1, header.height, header.width, header.channels);
  info.axes = header.channels > 1 ? "yxc" : "yx";
  info.stored_shape = {static_cast<int64_t>(header.height), static_cast<int64_t>(header.width)};
  if (header.channels > 1) info.stored_shape.push_back(header.channels);
  info.compression = "deflate";
  if (header.has_physical && header.physical_unit == PNG_RESOLUTION_METER &&
      header.pixels_per_unit_x > 0 && header.pixels_per_unit_y > 0) {
    info.pixel_size[kX] = 1e6 / header.pixels_per_unit_x;
    info.pixel_size[kY] = 1e6 / header.pixels_per_unit_y;
    info.pixel_unit[kX] = info.pixel_unit[kY] = "µm";
    info.has_pixel_size = true;
  }
  return std::unique_ptr<ImageReader>(std::make_unique<PngReader>(path, std::move(info)));
}

Result<std::unique_ptr<ImageWriter>> create_png(const std::string& path, const Shape5& shape,
                                                DType dtype, const WriteOptions& options) {
  if (!shape.valid() || shape.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "cannot write an image of shape {}",
                      shape.to_string());
  }
  if (shape.t() != 1 || shape.z() != 1) {
    return make_error(ErrorCode::kUnsupported,
                      "PNG holds one 2-D image; shape {} has t or z > 1 (use TIFF or HDF5)",
                      shape.to_string());
  }
  if (shape.c() < 1 || shape.c() > 4) {
    return make_error(ErrorCode::kUnsupported,
                      "PNG holds 1 to 4 channels (gray, gray+alpha, RGB, RGBA), not {}", shape.c());
  }
  if (dtype != DType::u8 && dtype != DType::u16 && dtype != DType::boolean) {
    return make_error(ErrorCode::kUnsupported, "PNG holds uint8 or uint16, not {}", dtype_name(dtype));
  }
  if (shape.x() > 0x7fffffff || shape.y() > 0x7fffffff) {
    return make_error(ErrorCode::kUnsupported, "PNG images are limited to 2^31 rows and columns");
  }
  const DType file_dtype = dtype == DType::u16 ? DType::u16 : DType::u8;
  GROVE_ASSIGN_OR_RETURN(AtomicOutput output, AtomicOutput::prepare(path, options.overwrite));
  GROVE_ASSIGN_OR_RETURN(AnyArray image, AnyArray::allocate(file_dtype, shape));
  return std::unique_ptr<ImageWriter>(
      std::make_unique<PngWriter>(std::move(output), std::move(image), options));
}

}  // namespace grove::io
