#include "grove/core/dtype.h"

#include <limits>
#include <string>

namespace grove {

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::u8: return "uint8";
    case DType::u16: return "uint16";
    case DType::u32: return "uint32";
    case DType::u64: return "uint64";
    case DType::i8: return "int8";
    case DType::i16: return "int16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::boolean: return "bool";
  }
  return "unknown";
}

std::optional<DType> parse_dtype(std::string_view name) {
  struct Alias {
    std::string_view name;
    DType dtype;
  };
  static constexpr Alias aliases[] = {
      {"uint8", DType::u8},   {"u8", DType::u8},        {"uint16", DType::u16},
      {"u16", DType::u16},    {"uint32", DType::u32},   {"u32", DType::u32},
      {"uint64", DType::u64}, {"u64", DType::u64},      {"int8", DType::i8},
      {"i8", DType::i8},      {"int16", DType::i16},    {"i16", DType::i16},
      {"int32", DType::i32},  {"i32", DType::i32},      {"int64", DType::i64},
      {"i64", DType::i64},    {"float32", DType::f32},  {"f32", DType::f32},
      {"float", DType::f32},  {"float64", DType::f64},  {"f64", DType::f64},
      {"double", DType::f64}, {"bool", DType::boolean}, {"boolean", DType::boolean},
  };
  for (const auto& alias : aliases) {
    if (alias.name == name) return alias.dtype;
  }
  return std::nullopt;
}

size_t dtype_size(DType dtype) {
  return visit_dtype(dtype, [](auto v) { return sizeof(v); });
}

bool dtype_is_float(DType dtype) { return dtype == DType::f32 || dtype == DType::f64; }

bool dtype_is_signed(DType dtype) {
  return visit_dtype(dtype, [](auto v) { return std::is_signed_v<decltype(v)>; });
}

double dtype_min(DType dtype) {
  return visit_dtype(dtype, [](auto v) -> double {
    using T = decltype(v);
    if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<double>::infinity();
    return static_cast<double>(std::numeric_limits<T>::min());
  });
}

double dtype_max(DType dtype) {
  return visit_dtype(dtype, [](auto v) -> double {
    using T = decltype(v);
    if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<double>::infinity();
    return static_cast<double>(std::numeric_limits<T>::max());
  });
}

}  // namespace grove
