#include "grove/io/axes.h"

#include <cctype>
#include <limits>

namespace grove::io {

int axis_index(char letter) {
  switch (std::tolower(static_cast<unsigned char>(letter))) {
    case 't': return kT;
    case 'z': return kZ;
    case 'y': return kY;
    case 'x': return kX;
    case 'c': return kC;
    default: return -1;
  }
}

Status validate_axes(std::string_view axes, size_t rank) {
  if (axes.size() != rank) {
    return make_error(ErrorCode::kInvalidArgument, "axes '{}' name {} axes but the data has {}",
                      axes, axes.size(), rank);
  }
  bool seen[kRank] = {false, false, false, false, false};
  for (char letter : axes) {
    const int index = axis_index(letter);
    if (index < 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "axes '{}': '{}' is not one of t, z, y, x, c", axes, letter);
    }
    if (seen[index]) {
      return make_error(ErrorCode::kInvalidArgument, "axes '{}' name '{}' twice", axes, letter);
    }
    seen[index] = true;
  }
  return ok_status();
}

Result<std::string> guess_axes(const std::vector<int64_t>& dims) {
  const bool few_last = !dims.empty() && dims.back() <= 4;
  switch (dims.size()) {
    case 0: return std::string();
    case 1: return std::string("x");
    case 2: return std::string("yx");
    case 3: return std::string(few_last ? "yxc" : "zyx");
    case 4: return std::string(few_last ? "zyxc" : "tzyx");
    case 5: return std::string("tzyxc");
    default:
      return make_error(ErrorCode::kUnsupported,
                        "{} dimensions: grove handles at most 5 (t, z, y, x, c)", dims.size());
  }
}

Shape5 shape_from_stored(const std::vector<int64_t>& dims, std::string_view axes) {
  Shape5 shape;
  for (size_t i = 0; i < dims.size() && i < axes.size(); ++i) shape[axis_index(axes[i])] = dims[i];
  return shape;
}

std::vector<int64_t> stored_dims(const Shape5& shape, std::string_view axes) {
  std::vector<int64_t> dims;
  for (char letter : axes) dims.push_back(shape[axis_index(letter)]);
  return dims;
}

void stored_box(const Box5& box, std::string_view axes, std::vector<int64_t>& start,
                std::vector<int64_t>& count) {
  start.clear();
  count.clear();
  const Shape5 shape = box.shape();
  for (char letter : axes) {
    const int a = axis_index(letter);
    start.push_back(box.begin[a]);
    count.push_back(shape[a]);
  }
}

Strides5 strides_of_stored(const std::vector<int64_t>& dims, std::string_view axes) {
  Strides5 strides{0, 0, 0, 0, 0};
  int64_t stride = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[axis_index(axes[i])] = stride;
    stride *= std::max<int64_t>(dims[i], 1);
  }
  return strides;
}

bool stored_in_grove_order(std::string_view axes) {
  int previous = -1;
  for (char letter : axes) {
    const int index = axis_index(letter);
    if (index < previous) return false;
    previous = index;
  }
  return true;
}

std::string default_write_axes(const Shape5& shape) {
  std::string axes;
  if (shape.t() > 1) axes += 't';
  if (shape.z() > 1) axes += 'z';
  axes += "yxc";
  return axes;
}

Status check_write_axes(std::string_view axes, const Shape5& shape) {
  GROVE_RETURN_IF_ERROR(validate_axes(axes, axes.size()));
  for (int a = 0; a < kRank; ++a) {
    if (shape[a] > 1 && axes.find(kAxisNames[a]) == std::string_view::npos &&
        axes.find(static_cast<char>(std::toupper(kAxisNames[a]))) == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "output axes '{}' leave out axis {} of extent {}", axes, kAxisNames[a],
                        shape[a]);
    }
  }
  return ok_status();
}

Result<int64_t> checked_product(const std::vector<int64_t>& dims, int64_t factor) {
  int64_t product = factor;
  for (int64_t extent : dims) {
    if (extent < 0) return make_error(ErrorCode::kCorrupt, "negative extent {}", extent);
    if (extent != 0 && product > std::numeric_limits<int64_t>::max() / extent) {
      return make_error(ErrorCode::kResourceExhausted, "the extents overflow 64 bits");
    }
    product *= extent;
  }
  return product;
}

Status check_box_inside(const Box5& box, const Shape5& shape) {
  for (int a = 0; a < kRank; ++a) {
    if (box.begin[a] < 0 || box.end[a] < box.begin[a] || box.end[a] > shape[a]) {
      return make_error(ErrorCode::kOutOfRange, "box {} is not inside the image shape {}",
                        box.to_string(), shape.to_string());
    }
  }
  return ok_status();
}

Result<AnyArray> stored_buffer_to_grove(AnyArray stored_buffer, const std::vector<int64_t>& count,
                                        std::string_view axes, const Shape5& box_shape) {
  if (stored_in_grove_order(axes)) {
    return AnyArray::wrap(stored_buffer.dtype(), stored_buffer.raw_data(), box_shape,
                          contiguous_strides(box_shape), stored_buffer.buffer());
  }
  const AnyArray view = AnyArray::wrap(stored_buffer.dtype(), stored_buffer.raw_data(), box_shape,
                                       strides_of_stored(count, axes), stored_buffer.buffer());
  return view.copy();
}

}  // namespace grove::io
