#include "grove/core/array.h"

#include <new>

namespace grove {

Strides5 contiguous_strides(const Shape5& shape) {
  Strides5 strides{};
  int64_t s = 1;
  for (int a = kRank - 1; a >= 0; --a) {
    strides[a] = s;
    s *= std::max<int64_t>(shape[a], 1);
  }
  return strides;
}

namespace {

constexpr std::align_val_t kAlignment{64};

Result<AnyArray> allocate_impl(DType dtype, const Shape5& shape, bool zero) {
  if (!shape.valid()) {
    return make_error(ErrorCode::kInvalidArgument, "invalid array shape {}", shape.to_string());
  }
  const int64_t count = shape.size();
  const size_t element = dtype_size(dtype);
  if (count > 0 && static_cast<uint64_t>(count) > (uint64_t{1} << 62) / element) {
    return make_error(ErrorCode::kResourceExhausted, "array of shape {} is too large",
                      shape.to_string());
  }
  const size_t bytes = std::max<size_t>(static_cast<size_t>(count) * element, 1);
  void* memory = ::operator new(bytes, kAlignment, std::nothrow);
  if (memory == nullptr) {
    return make_error(ErrorCode::kResourceExhausted,
                      "cannot allocate {} bytes for an array of shape {}", bytes,
                      shape.to_string());
  }
  if (zero) std::memset(memory, 0, bytes);
  std::shared_ptr<void> buffer(memory, [](void* p) { ::operator delete(p, kAlignment); });
  return AnyArray::wrap(dtype, memory, shape, contiguous_strides(shape), std::move(buffer));
}

}  // namespace

Result<AnyArray> AnyArray::allocate(DType dtype, const Shape5& shape) {
  return allocate_impl(dtype, shape, true);
}

Result<AnyArray> AnyArray::allocate_uninitialized(DType dtype, const Shape5& shape) {
  return allocate_impl(dtype, shape, false);
}

AnyArray AnyArray::wrap(DType dtype, void* data, const Shape5& shape, const Strides5& strides,
                        std::shared_ptr<void> keepalive) {
  AnyArray a;
  a.dtype_ = dtype;
  a.data_ = data;
  a.shape_ = shape;
  a.strides_ = strides;
  a.buffer_ = std::move(keepalive);
  return a;
}

AnyArray AnyArray::crop(const Box5& box) const {
  // Clipped to the array, so a wrong box can never reach outside the buffer.
  const Box5 clipped = box.intersect(Box5::of(shape_));
  return visit_dtype(dtype_, [&](auto v) {
    using T = decltype(v);
    View<T> cropped = view<T>().crop(clipped);
    return wrap(dtype_, cropped.data(), cropped.shape(), cropped.strides(), buffer_);
  });
}

AnyArray AnyArray::channels(int64_t begin_c, int64_t end_c) const {
  return crop(Box5::of(shape_).with_channels(begin_c, end_c));
}

AnyArray AnyArray::permuted(const AxisOrder& order) const {
  AnyArray a = *this;
  for (int i = 0; i < kRank; ++i) {
    a.shape_[i] = shape_[order[i]];
    a.strides_[i] = strides_[order[i]];
  }
  return a;
}

bool AnyArray::contiguous() const {
  return visit_dtype(dtype_, [&](auto v) { return view<decltype(v)>().contiguous(); });
}

Result<AnyArray> AnyArray::convert(DType dtype) const {
  GROVE_ASSIGN_OR_RETURN(AnyArray out, allocate_uninitialized(dtype, shape_));
  GROVE_RETURN_IF_ERROR(copy_into(out));
  return out;
}

Result<AnyArray> AnyArray::contiguous_or_copy() const {
  if (contiguous()) return *this;
  return copy();
}

Status AnyArray::copy_into(const AnyArray& dst) const {
  if (dst.shape() != shape_) {
    return make_error(ErrorCode::kInvalidArgument,
                      "cannot copy an array of shape {} into one of shape {}", shape_.to_string(),
                      dst.shape().to_string());
  }
  visit_dtype(dtype_, [&](auto s) {
    using S = decltype(s);
    visit_dtype(dst.dtype(), [&](auto d) {
      using D = decltype(d);
      copy_view(view<S>(), dst.view<D>());
    });
  });
  return ok_status();
}

}  // namespace grove
