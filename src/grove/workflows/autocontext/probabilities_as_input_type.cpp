#include "grove/workflows/autocontext/probabilities_as_input_type.h"

#include <fmt/format.h>
#include <cmath>
#include <limits>
#include <type_traits>

namespace grove {

namespace {

// ilastik computes (max − min) · p − min with numpy: in float32 for 8- and 16-bit types (the
// scalars fit float32 there), in float64 for wider ones, then casts, which truncates.
template <class T>
T convert_one(float p) {
  if constexpr (std::is_same_v<T, bool>) {
    return p != 0.0f;
  } else if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(p);
  } else {
    if (std::isnan(p)) return T{0};
    constexpr double low = static_cast<double>(std::numeric_limits<T>::min());
    constexpr double high = static_cast<double>(std::numeric_limits<T>::max());
    if constexpr (sizeof(T) <= 2) {
      const float scaled = static_cast<float>(high - low) * p - static_cast<float>(low);
      // numpy keeps the low bits of the truncated value (uint8: ⌊255·p⌋; int8: ⌊255·p + 128⌋
      // − 256, which maps 0..1 onto −128..127 monotonically).
      const auto truncated = static_cast<int64_t>(std::clamp(scaled, -1e9f, 1e9f));
      using Unsigned = std::make_unsigned_t<T>;
      return static_cast<T>(static_cast<Unsigned>(static_cast<uint64_t>(truncated)));
    } else {
      const double scaled = (high - low) * static_cast<double>(p) - low;
      if (!(scaled > low)) return std::numeric_limits<T>::min();
      if (!(scaled < high)) return std::numeric_limits<T>::max();
      return static_cast<T>(scaled);
    }
  }
}

}  // namespace

void to_json(nlohmann::json& json, const ProbabilitiesAsInputType& params) {
  json = {{"dtype", std::string(dtype_name(params.dtype))}};
}

void from_json(const nlohmann::json& json, ProbabilitiesAsInputType& params) {
  const std::string name = json.at("dtype").get<std::string>();
  auto dtype = parse_dtype(name);
  if (!dtype) throw std::invalid_argument(fmt::format("unknown dtype '{}'", name));
  params.dtype = *dtype;
}

Result<ArrayInfo> infer(const ProbabilitiesAsInputType& params, const ArrayInfo& input) {
  if (input.dtype != DType::f32) {
    return make_error(ErrorCode::kInvalidArgument,
                      "probabilities_as_input_type needs float32 probabilities, got {}",
                      dtype_name(input.dtype));
  }
  return ArrayInfo{input.shape, params.dtype};
}

Box5 input_box(const ProbabilitiesAsInputType&, const Box5& out_box, const ArrayInfo&) {
  return out_box;
}

Status compute(const ProbabilitiesAsInputType& params, const AnyArray& in, const Box5& in_box,
               const AnyArray& out, const Box5& out_box) {
  if (in.dtype() != DType::f32 || out.dtype() != params.dtype) {
    return Error(ErrorCode::kInvalidArgument,
                 "probabilities_as_input_type got arrays of the wrong dtype");
  }
  View<const float> source = in.crop(out_box.relative_to(in_box.begin)).view<float>();
  return visit_dtype(params.dtype, [&](auto tag) -> Status {
    using T = decltype(tag);
    View<T> target = out.view<T>();
    const Shape5 s = target.shape();
    for (int64_t t = 0; t < s[0]; ++t)
      for (int64_t z = 0; z < s[1]; ++z)
        for (int64_t y = 0; y < s[2]; ++y)
          for (int64_t x = 0; x < s[3]; ++x)
            for (int64_t c = 0; c < s[4]; ++c)
              target(t, z, y, x, c) = convert_one<T>(source(t, z, y, x, c));
    return ok_status();
  });
}

}  // namespace grove
