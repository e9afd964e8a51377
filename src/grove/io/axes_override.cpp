#include "grove/io/axes_override.h"

#include <fmt/format.h>

#include "grove/io/axes.h"

namespace grove {

namespace {

class ReinterpretedReader final : public ImageReader {
 public:
  ReinterpretedReader(std::unique_ptr<ImageReader> inner, std::string axes)
      : inner_(std::move(inner)), new_axes_(std::move(axes)) {
    const ImageInfo& old_info = inner_->info();
    old_axes_ = old_info.axes;
    dims_ = io::stored_dims(old_info.shape, old_axes_);
    info_ = old_info;
    info_.axes = new_axes_;
    info_.shape = io::shape_from_stored(dims_, new_axes_);
    info_.stored_shape = dims_;
    // Pixel sizes follow their stored dimension.
    for (int a = 0; a < 4; ++a) {
      info_.pixel_size[a] = 1.0;
      info_.pixel_unit[a].clear();
    }
    for (size_t i = 0; i < old_axes_.size(); ++i) {
      const int from = io::axis_index(old_axes_[i]);
      const int to = io::axis_index(new_axes_[i]);
      if (from < kC && to < kC) {
        info_.pixel_size[to] = old_info.pixel_size[from];
        info_.pixel_unit[to] = old_info.pixel_unit[from];
      }
    }
    info_.chunk_shape = Shape5::filled(0);
    if (old_info.chunk_shape.size() > 0) {
      const std::vector<int64_t> chunk = io::stored_dims(old_info.chunk_shape, old_axes_);
      info_.chunk_shape = io::shape_from_stored(chunk, new_axes_);
    }
  }

  const ImageInfo& info() const override { return info_; }

  Result<AnyArray> read(const Box5& box) override {
    GROVE_RETURN_IF_ERROR(io::check_box_inside(box, info_.shape));
    // Stored dimension i is axis new_axes_[i] here and old_axes_[i] in the inner reader.
    Box5 inner_box(Shape5::filled(0), Shape5::filled(1));
    AxisOrder order{};  // axis a of the result is axis order[a] of the inner array
    for (int a = 0; a < kRank; ++a) order[a] = -1;
    for (size_t i = 0; i < new_axes_.size(); ++i) {
      const int to = io::axis_index(new_axes_[i]);
      const int from = io::axis_index(old_axes_[i]);
      inner_box.begin[from] = box.begin[to];
      inner_box.end[from] = box.end[to];
      order[to] = from;
    }
    // Axes of extent 1 on both sides pair up in any order.
    std::vector<int> unused_inner;
    for (int a = 0; a < kRank; ++a) {
      bool used = false;
      for (int b = 0; b < kRank; ++b) used |= order[b] == a;
      if (!used) unused_inner.push_back(a);
    }
    size_t next = 0;
    for (int a = 0; a < kRank; ++a) {
      if (order[a] < 0) order[a] = unused_inner[next++];
    }
    GROVE_ASSIGN_OR_RETURN(AnyArray inner, inner_->read(inner_box));
    return inner.permuted(order).contiguous_or_copy();
  }

 private:
  std::unique_ptr<ImageReader> inner_;
  std::string old_axes_;
  std::string new_axes_;
  std::vector<int64_t> dims_;
  ImageInfo info_;
};

}  // namespace

Result<std::unique_ptr<ImageReader>> reinterpret_axes(std::unique_ptr<ImageReader> reader,
                                                      const std::string& axes) {
  std::string lower;
  for (char ch : axes) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  const std::string& stored = reader->info().axes;
  if (lower.size() != stored.size()) {
    // A missing trailing channel axis is implied (ilastik writes "yx" for single-channel data
    // that a reader may present as "yxc" with one channel, and vice versa).
    if (lower.size() + 1 == stored.size() && stored.back() == 'c' &&
        lower.find('c') == std::string::npos && reader->info().shape.c() == 1) {
      lower += 'c';
    } else if (lower.size() == stored.size() + 1 && lower.back() == 'c') {
      lower.pop_back();
    } else {
      return make_error(ErrorCode::kInvalidArgument,
                        "axes '{}' do not fit the image, which has {} dimensions (stored as '{}')",
                        axes, stored.size(), stored);
    }
  }
  GROVE_RETURN_IF_ERROR(io::validate_axes(lower, stored.size()));
  if (lower == stored) return reader;
  return std::unique_ptr<ImageReader>(
      std::make_unique<ReinterpretedReader>(std::move(reader), lower));
}

Result<std::unique_ptr<ImageReader>> open_image_with_axes(const std::string& path,
                                                          const std::string& axes) {
  GROVE_ASSIGN_OR_RETURN(std::unique_ptr<ImageReader> reader, open_image(path));
  if (axes.empty()) return reader;
  return std::move(reinterpret_axes(std::move(reader), axes)).context(path);
}

}  // namespace grove
