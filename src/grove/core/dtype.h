// The element types grove handles (DESIGN.md §3), type-erased at layer edges and dispatched to
// templated kernels with visit_dtype.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

namespace grove {

enum class DType : uint8_t { u8, u16, u32, u64, i8, i16, i32, i64, f32, f64, boolean };

inline constexpr DType kAllDTypes[] = {DType::u8,  DType::u16, DType::u32,    DType::u64,
                                       DType::i8,  DType::i16, DType::i32,    DType::i64,
                                       DType::f32, DType::f64, DType::boolean};

// "uint8", "float32", ... (numpy's names).
std::string_view dtype_name(DType dtype);
// Accepts numpy's names and bit-count forms ("uint8", "u8", "float32", "f32", "bool").
std::optional<DType> parse_dtype(std::string_view name);
size_t dtype_size(DType dtype);
bool dtype_is_float(DType dtype);
bool dtype_is_signed(DType dtype);
// Range of an integer dtype as double (for float types: -inf..inf).
double dtype_min(DType dtype);
double dtype_max(DType dtype);

template <class T>
struct dtype_of_t;
template <>
struct dtype_of_t<uint8_t> {
  static constexpr DType value = DType::u8;
};
template <>
struct dtype_of_t<uint16_t> {
  static constexpr DType value = DType::u16;
};
template <>
struct dtype_of_t<uint32_t> {
  static constexpr DType value = DType::u32;
};
template <>
struct dtype_of_t<uint64_t> {
  static constexpr DType value = DType::u64;
};
template <>
struct dtype_of_t<int8_t> {
  static constexpr DType value = DType::i8;
};
template <>
struct dtype_of_t<int16_t> {
  static constexpr DType value = DType::i16;
};
template <>
struct dtype_of_t<int32_t> {
  static constexpr DType value = DType::i32;
};
template <>
struct dtype_of_t<int64_t> {
  static constexpr DType value = DType::i64;
};
template <>
struct dtype_of_t<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct dtype_of_t<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct dtype_of_t<bool> {
  static constexpr DType value = DType::boolean;
};
template <class T>
inline constexpr DType dtype_of = dtype_of_t<std::remove_cv_t<T>>::value;

// Calls f(T{}) with T the C++ type of dtype; returns what f returns.
template <class F>
decltype(auto) visit_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::u8: return f(uint8_t{});
    case DType::u16: return f(uint16_t{});
    case DType::u32: return f(uint32_t{});
    case DType::u64: return f(uint64_t{});
    case DType::i8: return f(int8_t{});
    case DType::i16: return f(int16_t{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::boolean: return f(bool{});
  }
  return f(uint8_t{});  // unreachable for valid enum values
}

}  // namespace grove
