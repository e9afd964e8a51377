// Brush rasterisation: distance from each pixel centre to the polyline's segments, within the
// stroke's bounding box (a bitmap keeps each pixel once).
#include "brush.h"

#include <algorithm>
#include <cmath>

namespace grove::server {
namespace {

// Squared distance from point p to the segment a-b.
double squared_distance_to_segment(double pu, double pv, double au, double av, double bu,
                                   double bv) {
  const double du = bu - au, dv = bv - av;
  const double length_squared = du * du + dv * dv;
  double s = 0;
  if (length_squared > 0) {
    s = std::clamp(((pu - au) * du + (pv - av) * dv) / length_squared, 0.0, 1.0);
  }
  const double eu = pu - (au + s * du), ev = pv - (av + s * dv);
  return eu * eu + ev * ev;
}

}  // namespace

Result<StrokePixels> rasterize_stroke(const BrushStroke& stroke, int64_t width, int64_t height) {
  const double radius = stroke.radius;
  if (!(radius > 0) || radius > kMaxBrushRadius) {
    return make_error(ErrorCode::kInvalidArgument, "brush radius {} is outside (0, {}]", radius,
                      kMaxBrushRadius);
  }
  if (stroke.points.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "a stroke needs at least one point");
  }
  if (stroke.points.size() > kMaxStrokePoints) {
    return make_error(ErrorCode::kInvalidArgument, "a stroke may have at most {} points, not {}",
                      kMaxStrokePoints, stroke.points.size());
  }
  double min_u = stroke.points[0][0], max_u = min_u;
  double min_v = stroke.points[0][1], max_v = min_v;
  for (const auto& point : stroke.points) {
    if (!std::isfinite(point[0]) || !std::isfinite(point[1]) || std::abs(point[0]) > 1e12 ||
        std::abs(point[1]) > 1e12) {
      return make_error(ErrorCode::kInvalidArgument,
                        "stroke point ({}, {}) is not a valid position", point[0], point[1]);
    }
    min_u = std::min(min_u, point[0]), max_u = std::max(max_u, point[0]);
    min_v = std::min(min_v, point[1]), max_v = std::max(max_v, point[1]);
  }
  StrokePixels result;
  const int64_t u0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(min_u - radius)));
  const int64_t v0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(min_v - radius)));
  const int64_t u1 = std::min<int64_t>(width, static_cast<int64_t>(std::ceil(max_u + radius)) + 1);
  const int64_t v1 = std::min<int64_t>(height, static_cast<int64_t>(std::ceil(max_v + radius)) + 1);
  if (u0 >= u1 || v0 >= v1) return result;  // entirely outside the plane
  const int64_t box_width = u1 - u0, box_height = v1 - v0;
  if (box_width * box_height > (int64_t{1} << 28)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "stroke covers {} × {} pixels; paint it in shorter strokes", box_width,
                      box_height);
  }
  std::vector<uint8_t> covered(static_cast<size_t>(box_width * box_height), 0);
  const double radius_squared = radius * radius;
  auto mark_segment = [&](const std::array<double, 2>& a, const std::array<double, 2>& b) {
    const int64_t su0 =
        std::max(u0, static_cast<int64_t>(std::floor(std::min(a[0], b[0]) - radius)));
    const int64_t su1 =
        std::min(u1, static_cast<int64_t>(std::ceil(std::max(a[0], b[0]) + radius)) + 1);
    const int64_t sv0 =
        std::max(v0, static_cast<int64_t>(std::floor(std::min(a[1], b[1]) - radius)));
    const int64_t sv1 =
        std::min(v1, static_cast<int64_t>(std::ceil(std::max(a[1], b[1]) + radius)) + 1);
    for (int64_t v = sv0; v < sv1; ++v) {
      for (int64_t u = su0; u < su1; ++u) {
        if (squared_distance_to_segment(u + 0.5, v + 0.5, a[0], a[1], b[0], b[1]) <=
            radius_squared) {
          covered[(v - v0) * box_width + (u - u0)] = 1;
        }
      }
    }
  };
  for (size_t i = 0; i < stroke.points.size(); ++i) {
    const auto& a = stroke.points[i];
    mark_segment(a, i + 1 < stroke.points.size() ? stroke.points[i + 1] : a);
    const int64_t u = static_cast<int64_t>(std::floor(a[0]));
    const int64_t v = static_cast<int64_t>(std::floor(a[1]));
    if (u >= u0 && u < u1 && v >= v0 && v < v1) covered[(v - v0) * box_width + (u - u0)] = 1;
  }
  result.u0 = u1, result.v0 = v1, result.u1 = u0, result.v1 = v0;
  for (int64_t v = v0; v < v1; ++v) {
    for (int64_t u = u0; u < u1; ++u) {
      if (!covered[(v - v0) * box_width + (u - u0)]) continue;
      result.pixels.push_back({u, v});
      result.u0 = std::min(result.u0, u), result.u1 = std::max(result.u1, u + 1);
      result.v0 = std::min(result.v0, v), result.v1 = std::max(result.v1, v + 1);
    }
  }
  if (result.pixels.empty()) result.u0 = result.v0 = result.u1 = result.v1 = 0;
  return result;
}

}  // namespace grove::server
