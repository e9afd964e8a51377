// PixelFeatures: the op (engine/op.h contract) that computes ilastik's pixel features for a
// FeatureSelection: float32 output with feature_channel_count(...) channels in ilastik's order,
// from any input dtype, every time point and input channel independently.
//
//   auto op = make_op(filters::PixelFeatures{filters::FeatureSelection::all()});
//
// input_box grows the output box by the exact halo (presmoothing radius + feature radius of the
// widest selected scale; in z only for scales computed in 3D; never in t or c), and computing any
// block from that box equals the same crop of the whole-image result.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "grove/engine/op.h"
#include "grove/filters/feature_selection.h"

namespace grove::filters {

struct PixelFeatures {
  FeatureSelection selection = FeatureSelection::all();
  static constexpr std::string_view name = "pixel_features";
  friend bool operator==(const PixelFeatures&, const PixelFeatures&) = default;
};

// {"selection": <FeatureSelection JSON>}
void to_json(nlohmann::json& json, const PixelFeatures& params);
void from_json(const nlohmann::json& json, PixelFeatures& params);

Result<ArrayInfo> infer(const PixelFeatures& params, const ArrayInfo& input);
Box5 input_box(const PixelFeatures& params, const Box5& out_box, const ArrayInfo& input);
Status compute(const PixelFeatures& params, const AnyArray& in, const Box5& in_box,
               const AnyArray& out, const Box5& out_box);

// Preferred output block: one time point and all channels, wide in x (rows are the vector
// axis) and deep in z (the large presmoothing halos make small blocks wasteful).
std::optional<Shape5> block_hint(const PixelFeatures& params, const ArrayInfo& input);
// Memory compute needs beyond its input and output: the planar results of one time point
// (interleaved at the end) and the intermediate volumes of one scale.
int64_t scratch_bytes(const PixelFeatures& params, const Box5& out_box, const ArrayInfo& input);

// The halo (t, z, y, x, c) that input_box adds on each side.
Shape5 pixel_features_halo(const FeatureSelection& selection, bool volume_is_3d);

}  // namespace grove::filters
