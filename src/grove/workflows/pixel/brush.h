// Brush strokes from the UI turned into label masks: a disc of the brush's radius swept along the
// stroke's polyline, in one plane (xy, xz or yz) of one time point.
#pragma once

#include <array>
#include <string_view>
#include <vector>

#include "grove/core/array.h"

namespace grove {

enum class Plane { kXY, kXZ, kYZ };

// "xy", "xz", "yz" -> Plane.
Result<Plane> parse_plane(std::string_view name);

struct BrushStroke {
  Plane plane = Plane::kXY;
  int64_t t = 0;
  // Index along the axis normal to the plane: z for xy, y for xz, x for yz.
  int64_t slice = 0;
  // Points in the plane's coordinates, in pixels: (x, y) for xy, (x, z) for xz, (y, z) for yz.
  std::vector<std::array<double, 2>> points;
  double radius = 1.0;  // pixels; 0.5 paints single pixels
};

struct StrokeMask {
  Box5 box;       // in the image's t,z,y,x (one channel)
  AnyArray mask;  // uint8, box.shape(): 1 where the brush touched
};

// Rasterises a stroke inside an image of this shape (t,z,y,x). Fails if the stroke lies
// entirely outside the image or has no points.
Result<StrokeMask> rasterize_stroke(const BrushStroke& stroke, const Shape5& image_shape);

}  // namespace grove
