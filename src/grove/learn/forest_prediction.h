// ForestPrediction: the op that turns a pixel-major feature image into per-class probabilities
// (classification) or per-output values (regression) with a trained random forest. The forest
// is shared, immutable data; its identity (forest_id) is what the block cache keys on, so a
// retrained forest gets a new id and never reuses an old forest's blocks.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "grove/engine/op.h"
#include "grove/learn/random_forest.h"

namespace grove {

struct ForestPrediction {
  std::shared_ptr<const RandomForest> forest;
  uint64_t forest_id = 0;  // changes whenever the forest does
  int max_depth = 0;       // 0: full trees; > 0: the depth-limited preview of PredictOptions
  static constexpr std::string_view name = "forest_prediction";
};

// JSON holds the identity and depth only (the forest itself is stored by the project).
void to_json(nlohmann::json& j, const ForestPrediction& p);
void from_json(const nlohmann::json& j, ForestPrediction& p);
// Input: float32 features with forest->feature_count() channels; output: float32 with
// forest->output_count() channels.
Result<ArrayInfo> infer(const ForestPrediction& p, const ArrayInfo& input);
Box5 input_box(const ForestPrediction& p, const Box5& out_box, const ArrayInfo& input);
Status compute(const ForestPrediction& p, const AnyArray& in, const Box5& in_box,
               const AnyArray& out, const Box5& out_box);

// A content hash of a forest's parts (for forest_id).
uint64_t forest_fingerprint(const RandomForest& forest);

}  // namespace grove
