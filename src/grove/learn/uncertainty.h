// Uncertainty of a probability map, ilastik's definition: 1 − (p₁ − p₂) with p₁ ≥ p₂ the two
// highest class probabilities of a pixel (0: sure, 1: a tie). One class: 0 everywhere.
#pragma once

#include <nlohmann/json.hpp>

#include "grove/engine/op.h"

namespace grove {

struct Uncertainty {
  static constexpr std::string_view name = "uncertainty";
};
void to_json(nlohmann::json& j, const Uncertainty&);
void from_json(const nlohmann::json& j, Uncertainty&);
// Input: float32 probabilities with K >= 1 channels; output: float32, one channel.
Result<ArrayInfo> infer(const Uncertainty&, const ArrayInfo& input);
Box5 input_box(const Uncertainty&, const Box5& out_box, const ArrayInfo& input);
Status compute(const Uncertainty&, const AnyArray& in, const Box5& in_box, const AnyArray& out,
               const Box5& out_box);

}  // namespace grove
