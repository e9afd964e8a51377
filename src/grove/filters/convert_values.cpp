#include "grove/filters/convert_values.h"

#include <cmath>
#include <string>

namespace grove::filters {

void to_json(nlohmann::json& j, const ConvertValues& p) {
  j = {{"dtype", std::string(dtype_name(p.dtype))},
       {"map_range", p.map_range},
       {"input_min", p.input_min},
       {"input_max", p.input_max},
       {"output_min", p.output_min},
       {"output_max", p.output_max},
       {"round", p.round}};
}

void from_json(const nlohmann::json& j, ConvertValues& p) {
  auto dtype = parse_dtype(j.at("dtype").get<std::string>());
  if (!dtype) throw std::invalid_argument("unknown dtype");
  p.dtype = *dtype;
  p.map_range = j.value("map_range", false);
  p.input_min = j.value("input_min", 0.0);
  p.input_max = j.value("input_max", 1.0);
  p.output_min = j.value("output_min", 0.0);
  p.output_max = j.value("output_max", 1.0);
  p.round = j.value("round", false);
}

Result<ArrayInfo> infer(const ConvertValues& p, const ArrayInfo& input) {
  if (p.map_range &&
      !(p.input_max != p.input_min && std::isfinite(p.input_min) && std::isfinite(p.input_max) &&
        std::isfinite(p.output_min) && std::isfinite(p.output_max))) {
    return make_error(ErrorCode::kInvalidArgument, "bad value range [{}, {}] -> [{}, {}]",
                      p.input_min, p.input_max, p.output_min, p.output_max);
  }
  return ArrayInfo{input.shape, p.dtype};
}

Box5 input_box(const ConvertValues&, const Box5& out_box, const ArrayInfo&) { return out_box; }

Status compute(const ConvertValues& p, const AnyArray& in, const Box5& in_box, const AnyArray& out,
               const Box5& out_box) {
  AnyArray source = in.crop(out_box.relative_to(in_box.begin));
  if (!p.map_range && !p.round) return source.copy_into(out);
  GROVE_ASSIGN_OR_RETURN(AnyArray values, source.convert(DType::f64));
  const double scale =
      p.map_range ? (p.output_max - p.output_min) / (p.input_max - p.input_min) : 1.0;
  const bool integer_target = !dtype_is_float(p.dtype) && p.dtype != DType::boolean;
  values.view<double>().for_each([&](double& v) {
    if (p.map_range) v = p.output_min + (v - p.input_min) * scale;
    if (integer_target && (p.round || p.map_range)) v = std::nearbyint(v);
  });
  return values.copy_into(out);
}

Result<std::pair<double, double>> parse_value_range(std::string_view text) {
  std::string cleaned;
  for (char ch : text) {
    if (ch == '(' || ch == ')' || ch == '[' || ch == ']' || ch == ' ') continue;
    cleaned += ch;
  }
  const size_t comma = cleaned.find(',');
  if (comma == std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "value range '{}' is not of the form (min, max)",
                      text);
  }
  try {
    size_t used = 0;
    const std::string first = cleaned.substr(0, comma), second = cleaned.substr(comma + 1);
    const double low = std::stod(first, &used);
    if (used != first.size()) throw std::invalid_argument("trailing");
    const double high = std::stod(second, &used);
    if (used != second.size()) throw std::invalid_argument("trailing");
    if (!std::isfinite(low) || !std::isfinite(high) || low == high)
      throw std::invalid_argument("empty");
    return std::make_pair(low, high);
  } catch (const std::exception&) {
    return make_error(ErrorCode::kInvalidArgument, "value range '{}' is not of the form (min, max)",
                      text);
  }
}

}  // namespace grove::filters
