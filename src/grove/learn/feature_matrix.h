// MatrixView: the row-major N×F float32 matrices the random forest reads and writes. One row is
// one sample (a pixel, an object, an edge); its features are adjacent, which is the pixel-major
// layout of grove's feature images (DESIGN.md §3). For the learn layer and its callers.
#pragma once

#include <cstdint>

#include "grove/core/array.h"
#include "grove/core/result.h"

namespace grove {

template <class T>
struct MatrixView {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t columns = 0;
  int64_t row_stride = 0;  // elements from one row to the next (>= columns)

  MatrixView() = default;
  MatrixView(T* data_, int64_t rows_, int64_t columns_)
      : data(data_), rows(rows_), columns(columns_), row_stride(columns_) {}
  MatrixView(T* data_, int64_t rows_, int64_t columns_, int64_t row_stride_)
      : data(data_), rows(rows_), columns(columns_), row_stride(row_stride_) {}
  // A MatrixView<T> converts to a MatrixView<const T>.
  template <class U>
  requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
      MatrixView(const MatrixView<U>& other)
      : data(other.data), rows(other.rows), columns(other.columns), row_stride(other.row_stride) {}

  T* row(int64_t r) const { return data + r * row_stride; }
  T& operator()(int64_t r, int64_t c) const { return data[r * row_stride + c]; }
  // Rows [begin, end).
  MatrixView row_range(int64_t begin, int64_t end) const {
    return MatrixView(data + begin * row_stride, end - begin, columns, row_stride);
  }
};

using FeatureMatrix = MatrixView<const float>;

// The pixels of a t,z,y,x,c view as matrix rows and its channels as columns. The channels must
// be adjacent (stride 1) and the pixels evenly spaced (a whole contiguous array, or a crop in t
// or z only); otherwise copy the view into a contiguous array first.
template <class T>
Result<MatrixView<T>> matrix_of_pixels(const View<T>& view) {
  const Shape5& shape = view.shape();
  const Strides5& strides = view.strides();
  if (shape[kC] > 1 && strides[kC] != 1)
    return make_error(ErrorCode::kInvalidArgument,
                      "features must be pixel-major (channel stride 1), got channel stride {}",
                      strides[kC]);
  // The first axis (from x outwards) longer than 1 gives the stride of one pixel; every further
  // axis must step by whole runs of the axes inside it.
  int64_t pixel_stride = -1;
  int64_t expected = 0;
  for (int axis = kX; axis >= kT; --axis) {
    if (shape[axis] <= 1) continue;
    if (pixel_stride < 0) {
      pixel_stride = strides[axis];
    } else if (strides[axis] != expected) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the pixels of a {} view are not evenly spaced in memory; copy it into "
                        "a contiguous array first",
                        shape.to_string());
    }
    expected = strides[axis] * shape[axis];
  }
  if (pixel_stride < 0) pixel_stride = shape[kC];  // a single pixel
  if (pixel_stride < shape[kC])
    return make_error(ErrorCode::kInvalidArgument, "pixels overlap in memory (stride {} < {})",
                      pixel_stride, shape[kC]);
  return MatrixView<T>(view.data(), shape.pixels(), shape[kC], pixel_stride);
}

}  // namespace grove
