#include "grove/workflows/pixel/brush.h"

#include <algorithm>
#include <cmath>

namespace grove {

Result<Plane> parse_plane(std::string_view name) {
  if (name == "xy") return Plane::kXY;
  if (name == "xz") return Plane::kXZ;
  if (name == "yz") return Plane::kYZ;
  return make_error(ErrorCode::kInvalidArgument, "unknown plane '{}' (expected xy, xz or yz)",
                    name);
}

namespace {

// Squared distance from p to the segment ab.
double distance_squared(double px, double py, const std::array<double, 2>& a,
                        const std::array<double, 2>& b) {
  const double dx = b[0] - a[0], dy = b[1] - a[1];
  const double length_squared = dx * dx + dy * dy;
  double t = length_squared > 0 ? ((px - a[0]) * dx + (py - a[1]) * dy) / length_squared : 0.0;
  t = std::clamp(t, 0.0, 1.0);
  const double cx = a[0] + t * dx - px, cy = a[1] + t * dy - py;
  return cx * cx + cy * cy;
}

}  // namespace

Result<StrokeMask> rasterize_stroke(const BrushStroke& stroke, const Shape5& image_shape) {
  if (stroke.points.empty())
    return Error(ErrorCode::kInvalidArgument, "a brush stroke needs at least one point");
  if (!(stroke.radius > 0) || stroke.radius > 4096) {
    return make_error(ErrorCode::kInvalidArgument, "brush radius {} is outside (0, 4096]",
                      stroke.radius);
  }
  for (const auto& p : stroke.points) {
    if (!std::isfinite(p[0]) || !std::isfinite(p[1])) {
      return Error(ErrorCode::kInvalidArgument, "brush stroke points must be finite numbers");
    }
  }
  // The plane's axes (u, v) and its normal axis.
  int u_axis = kX, v_axis = kY, normal = kZ;
  if (stroke.plane == Plane::kXZ) {
    u_axis = kX, v_axis = kZ, normal = kY;
  } else if (stroke.plane == Plane::kYZ) {
    u_axis = kY, v_axis = kZ, normal = kX;
  }
  if (stroke.t < 0 || stroke.t >= image_shape.t() || stroke.slice < 0 ||
      stroke.slice >= image_shape[normal]) {
    return make_error(ErrorCode::kOutOfRange,
                      "brush stroke at t={}, slice {} is outside the image {}", stroke.t,
                      stroke.slice, image_shape.to_string());
  }
  double u_min = stroke.points[0][0], u_max = u_min, v_min = stroke.points[0][1], v_max = v_min;
  for (const auto& p : stroke.points) {
    u_min = std::min(u_min, p[0]), u_max = std::max(u_max, p[0]);
    v_min = std::min(v_min, p[1]), v_max = std::max(v_max, p[1]);
  }
  // Pixel i covers [i, i+1); its centre is i + 0.5.
  const double r = stroke.radius;
  const int64_t u0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(u_min - r)));
  const int64_t u1 =
      std::min<int64_t>(image_shape[u_axis], static_cast<int64_t>(std::ceil(u_max + r)) + 1);
  const int64_t v0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(v_min - r)));
  const int64_t v1 =
      std::min<int64_t>(image_shape[v_axis], static_cast<int64_t>(std::ceil(v_max + r)) + 1);
  if (u0 >= u1 || v0 >= v1)
    return Error(ErrorCode::kOutOfRange, "the brush stroke lies outside the image");

  Box5 box;
  box.begin = {stroke.t, 0, 0, 0, 0};
  box.end = {stroke.t + 1, 1, 1, 1, 1};
  box.begin[normal] = stroke.slice, box.end[normal] = stroke.slice + 1;
  box.begin[u_axis] = u0, box.end[u_axis] = u1;
  box.begin[v_axis] = v0, box.end[v_axis] = v1;
  GROVE_ASSIGN_OR_RETURN(AnyArray mask, AnyArray::allocate(DType::u8, box.shape()));
  View<uint8_t> m = mask.view<uint8_t>();
  const double r2 = r * r;
  bool any = false;
  for (int64_t v = v0; v < v1; ++v)
    for (int64_t u = u0; u < u1; ++u) {
      const double pu = static_cast<double>(u) + 0.5, pv = static_cast<double>(v) + 0.5;
      bool hit = false;
      if (stroke.points.size() == 1) {
        hit = distance_squared(pu, pv, stroke.points[0], stroke.points[0]) <= r2;
      } else {
        for (size_t i = 0; i + 1 < stroke.points.size() && !hit; ++i) {
          hit = distance_squared(pu, pv, stroke.points[i], stroke.points[i + 1]) <= r2;
        }
      }
      if (!hit) continue;
      any = true;
      Shape5 index = Shape5::filled(0);
      index[u_axis] = u - u0;
      index[v_axis] = v - v0;
      m.at(index) = 1;
    }
  if (!any) {
    // A brush smaller than a pixel still marks the pixel under each point.
    for (const auto& p : stroke.points) {
      const int64_t u = static_cast<int64_t>(std::floor(p[0])),
                    v = static_cast<int64_t>(std::floor(p[1]));
      if (u < u0 || u >= u1 || v < v0 || v >= v1) continue;
      Shape5 index = Shape5::filled(0);
      index[u_axis] = u - u0;
      index[v_axis] = v - v0;
      m.at(index) = 1;
      any = true;
    }
  }
  if (!any) return Error(ErrorCode::kOutOfRange, "the brush stroke lies outside the image");
  return StrokeMask{box, std::move(mask)};
}

}  // namespace grove
