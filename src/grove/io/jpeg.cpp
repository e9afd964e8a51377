#include "grove/io/jpeg.h"

// jpeglib.h needs FILE and size_t declared first.
#include <cstdio>
#include <cstring>
#include <jpeglib.h>
#include <jerror.h>

#include <algorithm>
#include <csetjmp>
#include <mutex>

#include "grove/io/axes.h"
#include "grove/io/file_util.h"

namespace grove::io {

namespace {

// libjpeg reports fatal errors through error_exit, which must not return: it longjmps back.
// Functions that call libjpeg hold only trivially destructible locals between setjmp and the
// calls, so the jump skips no destructor.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool premature_end;
};

[[noreturn]] void on_jpeg_error(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

void on_jpeg_message(j_common_ptr info, int level) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  // A truncated file is only a warning to libjpeg (it pads with gray); to grove it is an error.
  if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF) error->premature_end = true;
}

void init_error(JpegError& error) {
  jpeg_std_error(&error.manager);
  error.manager.error_exit = on_jpeg_error;
  error.manager.emit_message = on_jpeg_message;
  error.message[0] = '\0';
  error.premature_end = false;
}

struct FileCloser {
  void operator()(std::FILE* file) const {
    if (file != nullptr) std::fclose(file);
  }
};
using FilePointer = std::unique_ptr<std::FILE, FileCloser>;

struct JpegHeader {
  uint32_t width = 0;
  uint32_t height = 0;
  int channels = 1;
};

// Reads the header and sets the output color space. False on error.
bool read_jpeg_header(std::FILE* file, jpeg_decompress_struct& info, JpegError& error,
                      JpegHeader& header) {
  info.err = &error.manager;
  if (setjmp(error.jump)) return false;
  jpeg_create_decompress(&info);
  jpeg_stdio_src(&info, file);
  jpeg_read_header(&info, TRUE);
  if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
    std::snprintf(error.message, sizeof(error.message), "CMYK JPEGs are not supported");
    return false;
  }
  if (info.data_precision != 8) {
    std::snprintf(error.message, sizeof(error.message), "%d-bit JPEGs are not supported",
                  info.data_precision);
    return false;
  }
  info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_calc_output_dimensions(&info);
  header.width = info.output_width;
  header.height = info.output_height;
  header.channels = info.output_components;
  return true;
}

bool read_jpeg_rows(jpeg_decompress_struct& info, JpegError& error, unsigned char* out,
                    size_t row_bytes) {
  if (setjmp(error.jump)) return false;
  jpeg_start_decompress(&info);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out + static_cast<size_t>(info.output_scanline) * row_bytes;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  return true;
}

struct JpegWriteSettings {
  uint32_t width = 0;
  uint32_t height = 0;
  int channels = 1;
  int quality = 95;
};

bool write_jpeg_file(std::FILE* file, jpeg_compress_struct& info, JpegError& error,
                     const JpegWriteSettings& settings, const unsigned char* pixels) {
  info.err = &error.manager;
  if (setjmp(error.jump)) return false;
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file);
  info.image_width = settings.width;
  info.image_height = settings.height;
  info.input_components = settings.channels;
  info.in_color_space = settings.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, settings.quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  const size_t row_bytes = static_cast<size_t>(settings.width) * settings.channels;
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<unsigned char*>(pixels) + static_cast<size_t>(info.next_scanline) * row_bytes;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  return true;
}

class JpegReader final : public ImageReader {
 public:
  JpegReader(std::string path, ImageInfo info) : path_(std::move(path)), info_(std::move(info)) {}

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
    jpeg_decompress_struct info{};
    JpegError error;
    init_error(error);
    JpegHeader header;
    if (!read_jpeg_header(file.get(), info, error, header)) {
      jpeg_destroy_decompress(&info);
      return make_error(ErrorCode::kCorrupt, "not a readable JPEG: {}", error.message);
    }
    if (header.width != info_.shape.x() || header.height != info_.shape.y() ||
        header.channels != info_.shape.c()) {
      jpeg_destroy_decompress(&info);
      return make_error(ErrorCode::kCorrupt, "the file changed while open");
    }
    auto allocated = AnyArray::allocate_uninitialized(DType::u8, info_.shape);
    if (!allocated.ok()) {
      jpeg_destroy_decompress(&info);
      return std::move(allocated).error();
    }
    AnyArray out = std::move(allocated).value();
    const bool ok = read_jpeg_rows(info, error, static_cast<unsigned char*>(out.raw_data()),
                                   static_cast<size_t>(header.width) * header.channels);
    jpeg_destroy_decompress(&info);
    if (!ok) return make_error(ErrorCode::kCorrupt, "cannot decode the JPEG: {}", error.message);
    if (error.premature_end) {
      return make_error(ErrorCode::kCorrupt, "the JPEG data is truncated (premature end of file)");
    }
    return out;
  }

  std::string path_;
  ImageInfo info_;
  std::mutex mutex_;
  AnyArray decoded_;
};

class JpegWriter final : public ImageWriter {
 public:
  JpegWriter(AtomicOutput output, AnyArray image, int quality)
      : output_(std::move(output)), image_(std::move(image)), quality_(quality) {}

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
    JpegWriteSettings settings;
    settings.width = static_cast<uint32_t>(image_.shape().x());
    settings.height = static_cast<uint32_t>(image_.shape().y());
    settings.channels = static_cast<int>(image_.shape().c());
    settings.quality = quality_;
    FilePointer file(std::fopen(output_.temporary_path().c_str(), "wb"));
    if (!file) {
      return make_error(ErrorCode::kIo, "cannot create {}: {}", output_.temporary_path(),
                        std::strerror(errno));
    }
    jpeg_compress_struct info{};
    JpegError error;
    init_error(error);
    const bool ok = write_jpeg_file(file.get(), info, error, settings,
                                    static_cast<const unsigned char*>(image_.raw_data()));
    jpeg_destroy_compress(&info);
    const bool closed = std::fclose(file.release()) == 0;
    if (!ok || !closed) {
      return make_error(ErrorCode::kIo, "writing {}: {}", output_.final_path(),
                        ok ? std::string(std::strerror(errno)) : std::string(error.message));
    }
    GROVE_RETURN_IF_ERROR(output_.commit());
    committed_ = true;
    return ok_status();
  }

 private:
  AtomicOutput output_;
  AnyArray image_;
  int quality_;
  std::mutex mutex_;
  bool committed_ = false;
};

}  // namespace

Result<std::unique_ptr<ImageReader>> open_jpeg(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(int64_t file_size, regular_file_size(path));
  if (file_size == 0) return make_error(ErrorCode::kCorrupt, "the file is empty");
  FilePointer file(std::fopen(path.c_str(), "rb"));
  if (!file) return make_error(ErrorCode::kIo, "cannot open the file: {}", std::strerror(errno));
  unsigned char signature[3] = {0, 0, 0};
  if (std::fread(signature, 1, 3, file.get()) != 3 || signature[0] != 0xFF ||
      signature[1] != 0xD8 || signature[2] != 0xFF) {
    return make_error(ErrorCode::kCorrupt, "not a JPEG file (bad signature)");
  }
  std::rewind(file.get());
  jpeg_decompress_struct info{};
  JpegError error;
  init_error(error);
  JpegHeader header;
  const bool ok = read_jpeg_header(file.get(), info, error, header);
  jpeg_destroy_decompress(&info);
  if (!ok) return make_error(ErrorCode::kCorrupt, "not a readable JPEG: {}", error.message);
  // JPEG rarely compresses beyond a few hundred to one, even on flat images.
  GROVE_RETURN_IF_ERROR(check_plausible_size(
      int64_t{header.width} * header.height * header.channels, file_size, 2000.0, "the JPEG header"));
  ImageInfo info_out;
  info_out.format = "jpeg";
  info_out.dtype = DType::u8;
  info_out.shape = Shape5(1, 1, header.height, header.width, header.channels);
  info_out.axes = header.channels > 1 ? "yxc" : "yx";
  info_out.stored_shape = {static_cast<int64_t>(header.height), static_cast<int64_t>(header.width)};
  if (header.channels > 1) info_out.stored_shape.push_back(header.channels);
  info_out.compression = "jpeg";
  return std::unique_ptr<ImageReader>(std::make_unique<JpegReader>(path, std::move(info_out)));
}

Result<std::unique_ptr<ImageWriter>> create_jpeg(const std::string& path, const Shape5& shape,
                                                 DType dtype, const WriteOptions& options) {
  if (!shape.valid() || shape.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "cannot write an image of shape {}",
                      shape.to_string());
  }
  if (shape.t() != 1 || shape.z() != 1) {
    return make_error(ErrorCode::kUnsupported,
                      "JPEG holds one 2-D image; shape {} has t or z > 1 (use TIFF or HDF5)",
                      shape.to_string());
  }
  if (shape.c() != 1 && shape.c() != 3) {
    return make_error(ErrorCode::kUnsupported, "JPEG holds 1 (gray) or 3 (RGB) channels, not {}",
                      shape.c());
  }
  if (dtype != DType::u8 && dtype != DType::boolean) {
    return make_error(ErrorCode::kUnsupported, "JPEG holds uint8, not {}", dtype_name(dtype));
  }
  if (shape.x() > 65500 || shape.y() > 65500) {
    return make_error(ErrorCode::kUnsupported, "JPEG images are limited to 65500 rows and columns");
  }
  const int quality = options.compression_level >= 0 ? std::clamp(options.compression_level, 1, 100) : 95;
  GROVE_ASSIGN_OR_RETURN(AtomicOutput output, AtomicOutput::prepare(path, options.overwrite));
  GROVE_ASSIGN_OR_RETURN(AnyArray image, AnyArray::allocate(DType::u8, shape));
  return std::unique_ptr<ImageWriter>(
      std::make_unique<JpegWriter>(std::move(output), std::move(image), quality));
}

}  // namespace grove::io
