#include "grove/io/tiff_contiguous.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

#include "grove/io/axes.h"

namespace grove::io {

static_assert(std::endian::native == std::endian::little, "the TIFF writer writes the host order");

namespace {

enum FieldType : uint16_t { kAscii = 2, kShort = 3, kLong = 4, kRational = 5, kLong8 = 16 };

// One directory entry: its value already encoded little-endian.
struct Entry {
  uint16_t tag;
  uint16_t type;
  uint64_t count;
  std::vector<uint8_t> value;
};

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v));
  out.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Entry shorts(uint16_t tag, const std::vector<uint16_t>& values) {
  Entry e{tag, kShort, values.size(), {}};
  for (uint16_t v : values) put16(e.value, v);
  return e;
}
Entry longs(uint16_t tag, uint32_t value) {
  Entry e{tag, kLong, 1, {}};
  put32(e.value, value);
  return e;
}
Entry ascii(uint16_t tag, const std::string& text) {
  Entry e{tag, kAscii, text.size() + 1, {}};
  e.value.assign(text.begin(), text.end());
  e.value.push_back(0);
  return e;
}
Entry rational(uint16_t tag, double value) {
  // numerator / denominator with as many digits as 32 bits allow.
  uint32_t denominator = 1000000;
  while (denominator > 1 && value * denominator > 4.0e9) denominator /= 10;
  const double numerator = std::clamp(std::round(value * denominator), 1.0, 4294967295.0);
  Entry e{tag, kRational, 1, {}};
  put32(e.value, static_cast<uint32_t>(numerator));
  put32(e.value, denominator);
  return e;
}
Entry offsets(uint16_t tag, const std::vector<uint64_t>& values, bool big) {
  Entry e{tag, static_cast<uint16_t>(big ? kLong8 : kLong), values.size(), {}};
  for (uint64_t v : values) big ? put64(e.value, v) : put32(e.value, static_cast<uint32_t>(v));
  return e;
}

// Bytes of a directory with these entries, its out-of-line values included.
uint64_t directory_size(const std::vector<Entry>& entries, bool big) {
  const size_t inline_bytes = big ? 8 : 4;
  uint64_t size = big ? 8 + entries.size() * 20 + 8 : 2 + entries.size() * 12 + 4;
  for (const Entry& e : entries) {
    if (e.value.size() > inline_bytes) size += (e.value.size() + 7) / 8 * 8;
  }
  return size;
}

// Encodes a directory placed at `at` (its out-of-line values follow it), pointing to `next`.
std::vector<uint8_t> encode_directory(std::vector<Entry> entries, uint64_t at, uint64_t next,
                                      bool big) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.tag < b.tag; });
  const size_t inline_bytes = big ? 8 : 4;
  std::vector<uint8_t> head, values;
  uint64_t values_at = at + (big ? 8 + entries.size() * 20 + 8 : 2 + entries.size() * 12 + 4);
  big ? put64(head, entries.size()) : put16(head, static_cast<uint16_t>(entries.size()));
  for (const Entry& e : entries) {
    put16(head, e.tag);
    put16(head, e.type);
    big ? put64(head, e.count) : put32(head, static_cast<uint32_t>(e.count));
    if (e.value.size() <= inline_bytes) {
      std::vector<uint8_t> field = e.value;
      field.resize(inline_bytes, 0);
      head.insert(head.end(), field.begin(), field.end());
    } else {
      const uint64_t where = values_at + values.size();
      big ? put64(head, where) : put32(head, static_cast<uint32_t>(where));
      values.insert(values.end(), e.value.begin(), e.value.end());
      values.resize((values.size() + 7) / 8 * 8, 0);
    }
  }
  big ? put64(head, next) : put32(head, static_cast<uint32_t>(next));
  head.insert(head.end(), values.begin(), values.end());
  return head;
}

Status write_all(int fd, const void* data, size_t size, uint64_t offset, const std::string& what) {
  const auto* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, bytes, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "writing {}: {}", what, std::strerror(errno));
    }
    bytes += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return ok_status();
}

Status read_all(int fd, void* data, size_t size, uint64_t offset, const std::string& what) {
  auto* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::pread(fd, bytes, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return make_error(ErrorCode::kIo, "reading back {}: {}", what, std::strerror(errno));
    bytes += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return ok_status();
}

// The geometry shared by the writer and the overhead estimate.
struct Geometry {
  int64_t pages = 0;
  int64_t page_channels = 1;
  int64_t row_bytes = 0;
  int64_t page_bytes = 0;
  int64_t rows_per_strip = 0;
  int64_t strips = 0;
};

Geometry geometry_of(const ContiguousTiffLayout& layout) {
  Geometry g;
  const Shape5& s = layout.shape;
  g.page_channels = s.c() / layout.samples;
  g.pages = s.t() * s.z() * g.page_channels;
  g.row_bytes = s.x() * layout.samples * static_cast<int64_t>(dtype_size(layout.dtype));
  g.page_bytes = g.row_bytes * s.y();
  // Strips of about 128 KiB: readers can fetch a few rows of a large plane.
  g.rows_per_strip =
      std::clamp<int64_t>((int64_t{128} << 10) / std::max<int64_t>(g.row_bytes, 1), 1, s.y());
  g.strips = (s.y() + g.rows_per_strip - 1) / g.rows_per_strip;
  return g;
}

// The entries of page `page`'s directory (pixels from data_offset on, page after page).
std::vector<Entry> directory_entries(const ContiguousTiffLayout& layout, const Geometry& geometry,
                                     uint64_t data_offset, int64_t page) {
  const Shape5& s = layout.shape;
  const bool big = layout.bigtiff;
  const uint16_t bits = static_cast<uint16_t>(dtype_size(layout.dtype) * 8);
  const uint16_t format = dtype_is_float(layout.dtype) ? 3 : dtype_is_signed(layout.dtype) ? 2 : 1;
  const auto samples = static_cast<size_t>(layout.samples);
  std::vector<uint64_t> strip_offsets, strip_counts;
  const uint64_t page_at = data_offset + static_cast<uint64_t>(page * geometry.page_bytes);
  for (int64_t j = 0; j < geometry.strips; ++j) {
    const int64_t rows = std::min(geometry.rows_per_strip, s.y() - j * geometry.rows_per_strip);
    strip_offsets.push_back(
        page_at + static_cast<uint64_t>(j * geometry.rows_per_strip * geometry.row_bytes));
    strip_counts.push_back(static_cast<uint64_t>(rows * geometry.row_bytes));
  }
  std::vector<Entry> list = {
      longs(254, 0),  // NewSubfileType
      longs(256, static_cast<uint32_t>(s.x())),
      longs(257, static_cast<uint32_t>(s.y())),
      shorts(258, std::vector<uint16_t>(samples, bits)),
      shorts(259, {1}),                                            // no compression
      shorts(262, {static_cast<uint16_t>(samples >= 3 ? 2 : 1)}),  // RGB or min-is-black
      offsets(273, strip_offsets, big),
      shorts(277, {static_cast<uint16_t>(samples)}),
      longs(278, static_cast<uint32_t>(geometry.rows_per_strip)),
      offsets(279, strip_counts, big),
      shorts(284, {1}),  // contiguous samples
      ascii(305, "grove"),
      shorts(339, std::vector<uint16_t>(samples, format)),
  };
  if (page == 0 && !layout.description.empty()) list.push_back(ascii(270, layout.description));
  if (layout.has_resolution) {
    list.push_back(rational(282, layout.x_resolution));
    list.push_back(rational(283, layout.y_resolution));
    list.push_back(shorts(296, {1}));  // no absolute unit (ImageJ names it in the description)
  }
  return list;
}

class ContiguousTiffWriter final : public ImageWriter {
 public:
  ContiguousTiffWriter(AtomicOutput output, int fd, ContiguousTiffLayout layout, Geometry geometry,
                       uint64_t first_directory, uint64_t data_offset)
      : output_(std::move(output)),
        fd_(fd),
        layout_(std::move(layout)),
        geometry_(geometry),
        first_directory_(first_directory),
        data_offset_(data_offset) {}

  ~ContiguousTiffWriter() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status write(const Box5& box, const AnyArray& data) override {
    if (committed_) return make_error(ErrorCode::kInvalidArgument, "write after commit");
    GROVE_RETURN_IF_ERROR(check_box_inside(box, layout_.shape));
    if (data.shape() != box.shape()) {
      return make_error(ErrorCode::kInvalidArgument, "data of shape {} for box {}",
                        data.shape().to_string(), box.to_string());
    }
    if (box.empty()) return ok_status();
    GROVE_ASSIGN_OR_RETURN(AnyArray converted, data.convert(layout_.dtype));
    const Shape5& s = layout_.shape;
    const int64_t samples = layout_.samples;
    const size_t element = dtype_size(layout_.dtype);
    const int64_t width = box.end.x() - box.begin.x();
    const std::string& what = output_.temporary_path();
    for (int64_t t = box.begin.t(); t < box.end.t(); ++t) {
      for (int64_t z = box.begin.z(); z < box.end.z(); ++z) {
        for (int64_t pc = 0; pc < geometry_.page_channels; ++pc) {
          const int64_t first = std::max(box.begin.c(), pc * samples);
          const int64_t last = std::min(box.end.c(), (pc + 1) * samples);
          if (first >= last) continue;
          const int64_t page = (t * s.z() + z) * geometry_.page_channels + pc;
          const Box5 part({t - box.begin.t(), z - box.begin.z(), 0, 0, first - box.begin.c()},
                          {t - box.begin.t() + 1, z - box.begin.z() + 1,
                           box.end.y() - box.begin.y(), width, last - box.begin.c()});
          GROVE_ASSIGN_OR_RETURN(AnyArray rows, converted.crop(part).copy());
          const auto* bytes = static_cast<const uint8_t*>(rows.raw_data());
          const bool whole_pixels = first == pc * samples && last == (pc + 1) * samples;
          const uint64_t page_at =
              data_offset_ + static_cast<uint64_t>(page * geometry_.page_bytes);
          const size_t segment = static_cast<size_t>(width * samples) * element;
          if (whole_pixels && width == s.x()) {
            // Whole rows: one write.
            GROVE_RETURN_IF_ERROR(write_all(
                fd_, bytes, rows.bytes(),
                page_at + static_cast<uint64_t>(box.begin.y() * geometry_.row_bytes), what));
            continue;
          }
          for (int64_t y = box.begin.y(); y < box.end.y(); ++y) {
            const uint64_t at = page_at + static_cast<uint64_t>(y * geometry_.row_bytes) +
                                static_cast<uint64_t>(box.begin.x() * samples) * element;
            const uint8_t* source =
                bytes + static_cast<size_t>((y - box.begin.y()) * width * (last - first)) * element;
            if (whole_pixels) {
              GROVE_RETURN_IF_ERROR(write_all(fd_, source, segment, at, what));
              continue;
            }
            // Some samples of each pixel: read, patch, write back (one writer at a time).
            std::lock_guard<std::mutex> lock(patch_mutex_);
            std::vector<uint8_t> row(segment);
            GROVE_RETURN_IF_ERROR(read_all(fd_, row.data(), row.size(), at, what));
            for (int64_t x = 0; x < width; ++x) {
              for (int64_t c = first; c < last; ++c) {
                std::memcpy(
                    row.data() + static_cast<size_t>(x * samples + c - pc * samples) * element,
                    source + static_cast<size_t>(x * (last - first) + c - first) * element,
                    element);
              }
            }
            GROVE_RETURN_IF_ERROR(write_all(fd_, row.data(), row.size(), at, what));
          }
        }
      }
    }
    return ok_status();
  }

  Status commit() override {
    std::lock_guard<std::mutex> lock(patch_mutex_);
    if (committed_) return ok_status();
    const bool big = layout_.bigtiff;
    const std::string& what = output_.temporary_path();
    // The other pages' directories follow the pixels, each pointing to the next.
    uint64_t at = data_offset_ + static_cast<uint64_t>(geometry_.pages * geometry_.page_bytes);
    at = (at + 7) / 8 * 8;
    const uint64_t second = geometry_.pages > 1 ? at : 0;
    for (int64_t page = 1; page < geometry_.pages; ++page) {
      const std::vector<Entry> list = directory_entries(layout_, geometry_, data_offset_, page);
      const uint64_t size = directory_size(list, big);
      const uint64_t next = page + 1 < geometry_.pages ? at + size : 0;
      const std::vector<uint8_t> bytes = encode_directory(list, at, next, big);
      GROVE_RETURN_IF_ERROR(write_all(fd_, bytes.data(), bytes.size(), at, what));
      at += size;
    }
    if (!big && at > 0xffffffffULL) {
      return make_error(ErrorCode::kInternal, "classic TIFF over 4 GB (BigTIFF was not chosen)");
    }
    // Link the first directory to the second.
    const std::vector<Entry> first = directory_entries(layout_, geometry_, data_offset_, 0);
    const uint64_t link_at =
        first_directory_ + (big ? 8 + first.size() * 20 : 2 + first.size() * 12);
    std::vector<uint8_t> link;
    big ? put64(link, second) : put32(link, static_cast<uint32_t>(second));
    GROVE_RETURN_IF_ERROR(write_all(fd_, link.data(), link.size(), link_at, what));
    if (::close(fd_) != 0) {
      fd_ = -1;
      return make_error(ErrorCode::kIo, "writing {}: {}", what, std::strerror(errno));
    }
    fd_ = -1;
    GROVE_RETURN_IF_ERROR(output_.commit());
    committed_ = true;
    return ok_status();
  }

 private:
  AtomicOutput output_;
  int fd_ = -1;
  ContiguousTiffLayout layout_;
  Geometry geometry_;
  uint64_t first_directory_ = 0;
  uint64_t data_offset_ = 0;
  std::mutex patch_mutex_;
  bool committed_ = false;
};

}  // namespace

int64_t contiguous_tiff_overhead(const ContiguousTiffLayout& layout) {
  const Geometry g = geometry_of(layout);
  const int64_t per_page = 512 + g.strips * 16 * 2;
  return static_cast<int64_t>(layout.description.size()) + 4096 + g.pages * per_page;
}

Result<std::unique_ptr<ImageWriter>> create_contiguous_tiff(AtomicOutput output,
                                                            const ContiguousTiffLayout& layout) {
  const Geometry geometry = geometry_of(layout);
  const bool big = layout.bigtiff;
  const uint64_t first_directory = big ? 16 : 8;
  // The first directory's size does not depend on the offsets in it: the pixels follow it.
  const uint64_t directory_bytes = directory_size(directory_entries(layout, geometry, 0, 0), big);
  const uint64_t data_offset = (first_directory + directory_bytes + 15) / 16 * 16;
  const uint64_t end = data_offset + static_cast<uint64_t>(geometry.pages * geometry.page_bytes);

  const std::string& path = output.temporary_path();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create {}: {}", path, std::strerror(errno));
  auto writer = std::make_unique<ContiguousTiffWriter>(std::move(output), fd, layout, geometry,
                                                       first_directory, data_offset);
  std::vector<uint8_t> head = {'I', 'I'};
  if (big) {
    put16(head, 43);
    put16(head, 8);
    put16(head, 0);
    put64(head, first_directory);
  } else {
    put16(head, 42);
    put32(head, static_cast<uint32_t>(first_directory));
  }
  const std::vector<uint8_t> directory = encode_directory(
      directory_entries(layout, geometry, data_offset, 0), first_directory, 0, big);
  head.insert(head.end(), directory.begin(), directory.end());
  // Pages never written read as zeros.
  if (::ftruncate(fd, static_cast<off_t>(end)) != 0) {
    return make_error(ErrorCode::kIo, "cannot size {}: {}", path, std::strerror(errno));
  }
  GROVE_RETURN_IF_ERROR(write_all(fd, head.data(), head.size(), 0, path));
  return std::unique_ptr<ImageWriter>(std::move(writer));
}

}  // namespace grove::io
