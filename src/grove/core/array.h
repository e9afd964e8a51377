// Arrays in the t,z,y,x,c model (DESIGN.md §3).
//
// View<T>: a non-owning strided view (pointer, shape, strides in elements). Cropping, channel
//   slicing and axis permutation make new views without copying.
// AnyArray: a type-erased array that owns (or shares) its buffer; crops and permutations share
//   the buffer. Layer edges pass AnyArray; kernels take View<T>.
// Array<T>: an AnyArray whose dtype is known at compile time.
#pragma once

#include <array>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "grove/core/dtype.h"
#include "grove/core/result.h"
#include "grove/core/shape.h"

namespace grove {

using Strides5 = std::array<int64_t, kRank>;

// C-order strides (c fastest) of a shape, in elements.
Strides5 contiguous_strides(const Shape5& shape);

// An axis permutation: axis a of the result is axis order[a] of the source.
using AxisOrder = std::array<int, kRank>;

template <class T>
class View {
 public:
  View() = default;
  View(T* data, Shape5 shape) : data_(data), shape_(shape), strides_(contiguous_strides(shape)) {}
  View(T* data, Shape5 shape, Strides5 strides) : data_(data), shape_(shape), strides_(strides) {}
  // A View<T> converts to a View<const T>.
  template <class U>
  requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>) View(const View<U>& other)
      : data_(other.data()), shape_(other.shape()), strides_(other.strides()) {}

  T* data() const { return data_; }
  const Shape5& shape() const { return shape_; }
  const Strides5& strides() const { return strides_; }
  int64_t size() const { return shape_.size(); }
  bool empty() const { return shape_.empty(); }

  int64_t offset(int64_t t, int64_t z, int64_t y, int64_t x, int64_t c) const {
    return t * strides_[0] + z * strides_[1] + y * strides_[2] + x * strides_[3] + c * strides_[4];
  }
  T& operator()(int64_t t, int64_t z, int64_t y, int64_t x, int64_t c) const {
    return data_[offset(t, z, y, x, c)];
  }
  T& at(const Shape5& index) const {
    return (*this)(index[0], index[1], index[2], index[3], index[4]);
  }

  // The sub-view of box (coordinates relative to this view; must lie inside it).
  View crop(const Box5& box) const {
    return View(
        data_ + offset(box.begin[0], box.begin[1], box.begin[2], box.begin[3], box.begin[4]),
        box.shape(), strides_);
  }
  View channels(int64_t begin_c, int64_t end_c) const {
    return crop(Box5::of(shape_).with_channels(begin_c, end_c));
  }
  View channel(int64_t c) const { return channels(c, c + 1); }
  View permuted(const AxisOrder& order) const {
    Shape5 s;
    Strides5 st;
    for (int a = 0; a < kRank; ++a) {
      s[a] = shape_[order[a]];
      st[a] = strides_[order[a]];
    }
    return View(data_, s, st);
  }
  // True if the elements are laid out in C order without gaps.
  bool contiguous() const {
    int64_t expected = 1;
    for (int a = kRank - 1; a >= 0; --a) {
      if (shape_[a] != 1 && strides_[a] != expected) return false;
      expected *= shape_[a];
    }
    return true;
  }

  // Calls f(T&) for every element, in C order.
  template <class F>
  void for_each(F&& f) const {
    for (int64_t t = 0; t < shape_[0]; ++t)
      for (int64_t z = 0; z < shape_[1]; ++z)
        for (int64_t y = 0; y < shape_[2]; ++y)
          for (int64_t x = 0; x < shape_[3]; ++x) {
            T* p = data_ + offset(t, z, y, x, 0);
            for (int64_t c = 0; c < shape_[4]; ++c) f(p[c * strides_[4]]);
          }
  }

 private:
  T* data_ = nullptr;
  Shape5 shape_ = Shape5::filled(0);
  Strides5 strides_{};
};

template <class T>
using ConstView = View<const T>;

// Converts one value the way numpy's astype does (truncation towards zero), but without
// undefined behaviour: floats are clamped to the target's range and NaN becomes 0.
template <class D, class S>
inline D convert_value(S value) {
  if constexpr (std::is_same_v<D, bool>) {
    return value != S{};
  } else if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) {
    if (!(value == value)) return D{0};
    if (value <= static_cast<S>(std::numeric_limits<D>::min()))
      return std::numeric_limits<D>::min();
    if (value >= static_cast<S>(std::numeric_limits<D>::max()))
      return std::numeric_limits<D>::max();
    return static_cast<D>(value);
  } else {
    return static_cast<D>(value);
  }
}

// Copies src into dst element by element, converting with convert_value. Shapes must match.
template <class S, class D>
void copy_view(const View<S>& src, const View<D>& dst) {
  const Shape5& s = src.shape();
  const bool rows_contiguous = src.strides()[4] == 1 && dst.strides()[4] == 1;
  // Whole x lines at once where a line's pixels are side by side in both arrays.
  const bool lines_contiguous =
      rows_contiguous && src.strides()[3] == s[4] && dst.strides()[3] == s[4];
  for (int64_t t = 0; t < s[0]; ++t)
    for (int64_t z = 0; z < s[1]; ++z)
      for (int64_t y = 0; y < s[2]; ++y) {
        if constexpr (std::is_same_v<std::remove_const_t<S>, D>) {
          if (lines_contiguous && s[3] > 0) {
            std::memcpy(&dst(t, z, y, 0, 0), &src(t, z, y, 0, 0), sizeof(D) * s[3] * s[4]);
            continue;
          }
        }
        for (int64_t x = 0; x < s[3]; ++x) {
          const S* in = &src(t, z, y, x, 0);
          D* out = &dst(t, z, y, x, 0);
          if constexpr (std::is_same_v<std::remove_const_t<S>, D>) {
            if (rows_contiguous) {
              std::memcpy(out, in, sizeof(D) * s[4]);
              continue;
            }
          }
          for (int64_t c = 0; c < s[4]; ++c)
            out[c * dst.strides()[4]] = convert_value<D>(in[c * src.strides()[4]]);
        }
      }
}

class AnyArray {
 public:
  AnyArray() = default;

  // A new zero-filled C-order array. Fails on a negative or overflowing shape, or when the
  // memory cannot be had.
  static Result<AnyArray> allocate(DType dtype, const Shape5& shape);
  // Like allocate, but the contents are unspecified (for outputs about to be overwritten).
  static Result<AnyArray> allocate_uninitialized(DType dtype, const Shape5& shape);
  // Wraps memory owned elsewhere; keepalive (may be null) holds it alive.
  static AnyArray wrap(DType dtype, void* data, const Shape5& shape, const Strides5& strides,
                       std::shared_ptr<void> keepalive);

  DType dtype() const { return dtype_; }
  const Shape5& shape() const { return shape_; }
  const Strides5& strides() const { return strides_; }
  int64_t size() const { return shape_.size(); }
  bool empty() const { return shape_.empty(); }
  bool is_null() const { return data_ == nullptr; }
  // Bytes of the elements this array spans (not of the whole shared buffer).
  size_t bytes() const { return static_cast<size_t>(size()) * dtype_size(dtype_); }
  void* raw_data() const { return data_; }
  const std::shared_ptr<void>& buffer() const { return buffer_; }

  template <class T>
  View<T> view() const {
    assert(dtype_of<T> == dtype_);
    return View<T>(static_cast<T*>(data_), shape_, strides_);
  }

  // Views sharing this array's buffer. A crop box reaching outside the array is clipped to it.
  AnyArray crop(const Box5& box) const;
  AnyArray channels(int64_t begin_c, int64_t end_c) const;
  AnyArray permuted(const AxisOrder& order) const;
  bool contiguous() const;

  // A contiguous copy (a new buffer), optionally converted to another dtype (static_cast).
  Result<AnyArray> copy() const { return convert(dtype_); }
  Result<AnyArray> convert(DType dtype) const;
  // Returns this array if contiguous, else a contiguous copy.
  Result<AnyArray> contiguous_or_copy() const;
  // Copies this array's elements (converted) into dst, whose shape must match.
  Status copy_into(const AnyArray& dst) const;

 private:
  DType dtype_ = DType::u8;
  std::shared_ptr<void> buffer_;
  void* data_ = nullptr;
  Shape5 shape_ = Shape5::filled(0);
  Strides5 strides_{};
};

// A typed AnyArray.
template <class T>
class Array {
 public:
  Array() = default;
  explicit Array(AnyArray any) : any_(std::move(any)) {
    assert(any_.is_null() || any_.dtype() == dtype_of<T>);
  }
  static Result<Array> allocate(const Shape5& shape) {
    GROVE_ASSIGN_OR_RETURN(AnyArray a, AnyArray::allocate(dtype_of<T>, shape));
    return Array(std::move(a));
  }
  static Result<Array> allocate_uninitialized(const Shape5& shape) {
    GROVE_ASSIGN_OR_RETURN(AnyArray a, AnyArray::allocate_uninitialized(dtype_of<T>, shape));
    return Array(std::move(a));
  }

  View<T> view() const { return any_.view<T>(); }
  T* data() const { return static_cast<T*>(any_.raw_data()); }
  const Shape5& shape() const { return any_.shape(); }
  int64_t size() const { return any_.size(); }
  T& operator()(int64_t t, int64_t z, int64_t y, int64_t x, int64_t c) const {
    return view()(t, z, y, x, c);
  }
  const AnyArray& any() const { return any_; }

 private:
  AnyArray any_;
};

}  // namespace grove
