// Rasterises a brush stroke (a polyline with a radius, in plane coordinates) into the plane
// pixels it covers. The server validates strokes with it, and a backend uses it to write the
// labels, so that every backend paints exactly the same pixels.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "backend.h"

namespace grove::server {

// Largest brush radius and number of polyline points a stroke may have.
inline constexpr double kMaxBrushRadius = 256.0;
inline constexpr size_t kMaxStrokePoints = 100000;

struct StrokePixels {
  std::vector<std::array<int64_t, 2>> pixels;  // (u, v), each once, in row-major order
  // Bounding box of the pixels, [u0, u1) × [v0, v1); empty when no pixel is covered.
  int64_t u0 = 0, v0 = 0, u1 = 0, v1 = 0;
};

// The pixels of the plane [0, width) × [0, height) whose centre lies within stroke.radius of the
// polyline, plus the pixel under each point. Fails on a radius outside (0, kMaxBrushRadius], no
// points or too many, non-finite coordinates, or a stroke whose bounding box is absurdly large.
Result<StrokePixels> rasterize_stroke(const BrushStroke& stroke, int64_t width, int64_t height);

}  // namespace grove::server
