// ConvertValues: converts an image to another dtype, optionally mapping a value range linearly
// first (ilastik's export options --export_dtype with --pipeline_result_drange and
// --export_drange: e.g. probabilities 0..1 to uint8 0..255). Values outside the target type's
// range are clamped; NaN becomes 0.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "grove/engine/op.h"

namespace grove::filters {

struct ConvertValues {
  DType dtype = DType::f32;
  // Linear map from [input_min, input_max] to [output_min, output_max] before converting.
  bool map_range = false;
  double input_min = 0, input_max = 1, output_min = 0, output_max = 1;
  // Round to the nearest integer (instead of truncating) when converting to an integer type.
  bool round = false;
  static constexpr std::string_view name = "convert_values";
};

void to_json(nlohmann::json& j, const ConvertValues& p);
void from_json(const nlohmann::json& j, ConvertValues& p);
Result<ArrayInfo> infer(const ConvertValues& p, const ArrayInfo& input);
Box5 input_box(const ConvertValues& p, const Box5& out_box, const ArrayInfo& input);
Status compute(const ConvertValues& p, const AnyArray& in, const Box5& in_box, const AnyArray& out,
               const Box5& out_box);

// "(0, 255)" or "0,255" or "[0.0, 1.0]" -> {0, 255}.
Result<std::pair<double, double>> parse_value_range(std::string_view text);

}  // namespace grove::filters
