// ProbabilitiesAsInputType: the op that turns a stage's class probabilities (float32, 0..1) into
// the raw image's dtype before autocontext stacks them with the raw channels, as ilastik does
// (its stacked stage input has the raw image's dtype). Needed for parity: a stage-2 forest
// trained by ilastik on an 8-bit image learned thresholds on probabilities scaled to 0..255 and
// truncated, not on 0..1.
//
// ilastik's rule, reproduced exactly: for an integer dtype with range [min, max], the value is
// (max − min) · p − min computed in float32 and truncated to the dtype, with numpy's wrap-around
// for 8- and 16-bit types (so uint8 gets ⌊255·p⌋, int8 gets ⌊255·p + 128⌋ − 256); for float
// dtypes p is kept as it is; bool gets p ≠ 0. For 32- and 64-bit integers, where numpy's result
// for p = 1 is platform-dependent overflow, grove clamps to the dtype's range instead.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "grove/engine/op.h"

namespace grove {

struct ProbabilitiesAsInputType {
  DType dtype = DType::u8;  // the raw image's dtype
  static constexpr std::string_view name = "probabilities_as_input_type";
  friend bool operator==(const ProbabilitiesAsInputType&,
                         const ProbabilitiesAsInputType&) = default;
};

// {"dtype": "uint8"}
void to_json(nlohmann::json& json, const ProbabilitiesAsInputType& params);
void from_json(const nlohmann::json& json, ProbabilitiesAsInputType& params);

// Input: float32 probabilities; output: the same shape in params.dtype.
Result<ArrayInfo> infer(const ProbabilitiesAsInputType& params, const ArrayInfo& input);
Box5 input_box(const ProbabilitiesAsInputType& params, const Box5& out_box, const ArrayInfo& input);
Status compute(const ProbabilitiesAsInputType& params, const AnyArray& in, const Box5& in_box,
               const AnyArray& out, const Box5& out_box);

}  // namespace grove
