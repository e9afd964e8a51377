// Autocontext's later stages without computing stage 1's features again.
//
// Stage k > 1 classifies the features of [raw channels, stage k−1's probabilities]. Filters act
// on each input channel on its own, so the raw channels' part of those features is exactly what
// stage 1 computed (when both stages select the same features), and only the probability
// channels' features are new. This node predicts stage k from the two parts without stacking
// them into one array: it reads the raw channels' features from stage 1's cached feature blocks
// (no copy), computes the probability channels' features for its box, puts each pixel's two
// parts side by side in a small buffer that stays in the CPU cache, and walks a copy of stage
// k's forest whose feature indices point into that order. The probabilities equal, bit for
// bit, the forest applied to the stacked input's features in ilastik's channel order.
#pragma once

#include <memory>
#include <vector>

#include "grove/engine/node.h"
#include "grove/learn/random_forest.h"

namespace grove {

// raw_features: stage 1's features of the raw channels (a cacheable node, so its blocks are
// computed once); previous_features: the features of the previous stage's probabilities (in
// the raw dtype); order[j] names the part feature j of the stacked input comes from: {0, c} is
// channel c of raw_features, {1, c} channel c of previous_features. forest: stage k's, trained
// on the stacked features (forest_id: its identity, for the block cache).
struct FeaturePart {
  int part = 0;
  int64_t channel = 0;
};
Result<NodePtr> shared_feature_prediction_node(NodePtr raw_features, NodePtr previous_features,
                                               const std::vector<FeaturePart>& order,
                                               std::shared_ptr<const RandomForest> forest,
                                               uint64_t forest_id, bool cacheable);

}  // namespace grove
