// A quick look at a result: the raw image in gray with each class's colour blended in by its
// probability, as an RGB uint8 image (`grove run --export overlay --format png`, the demo).
#pragma once

#include <array>
#include <vector>

#include "grove/engine/engine.h"

namespace grove {

struct OverlayStyle {
  std::vector<std::array<uint8_t, 3>> colors;  // one per class
  double opacity = 0.5;                        // of the class colours at probability 1
  // Raw values mapped to black and white (from the image's range when display_min == display_max).
  double display_min = 0, display_max = 0;
};

// raw: any dtype, first channel shown; probabilities: float32 with colors.size() channels, same
// t,z,y,x. Returns an RGB uint8 node of raw's t,z,y,x.
Result<NodePtr> overlay_node(const NodePtr& raw, const NodePtr& probabilities,
                             const OverlayStyle& style);

// The minimum and maximum of a node's first channel, block-wise.
Result<std::pair<double, double>> value_range(Engine& engine, const NodePtr& node);

}  // namespace grove
