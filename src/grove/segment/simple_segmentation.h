// Simple segmentation: each pixel gets the class with the highest probability, numbered from 1
// (ilastik's "Simple Segmentation" export: label values 1..K, ties to the lower class).
#pragma once

#include <nlohmann/json.hpp>

#include "grove/engine/op.h"

namespace grove {

struct SimpleSegmentation {
  static constexpr std::string_view name = "simple_segmentation";
};
void to_json(nlohmann::json& j, const SimpleSegmentation&);
void from_json(const nlohmann::json& j, SimpleSegmentation&);
// Input: float32 probabilities with K channels (1 <= K <= 255); output: uint8, one channel.
Result<ArrayInfo> infer(const SimpleSegmentation&, const ArrayInfo& input);
Box5 input_box(const SimpleSegmentation&, const Box5& out_box, const ArrayInfo& input);
Status compute(const SimpleSegmentation&, const AnyArray& in, const Box5& in_box,
               const AnyArray& out, const Box5& out_box);

}  // namespace grove
