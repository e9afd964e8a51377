// Helpers of the backend interface: plane geometry, names of planes and layers, and the
// feature selections a new project starts with.
#include "backend.h"

namespace grove::server {

std::string_view plane_name(Plane plane) {
  switch (plane) {
    case Plane::xy: return "xy";
    case Plane::xz: return "xz";
    case Plane::yz: return "yz";
  }
  return "xy";
}

std::optional<Plane> parse_plane(std::string_view name) {
  if (name == "xy") return Plane::xy;
  if (name == "xz") return Plane::xz;
  if (name == "yz") return Plane::yz;
  return std::nullopt;
}

std::array<int64_t, 2> plane_extent(const Shape5& shape, Plane plane) {
  switch (plane) {
    case Plane::xy: return {shape.x(), shape.y()};
    case Plane::xz: return {shape.x(), shape.z()};
    case Plane::yz: return {shape.z(), shape.y()};
  }
  return {0, 0};
}

int64_t plane_depth(const Shape5& shape, Plane plane) {
  switch (plane) {
    case Plane::xy: return shape.z();
    case Plane::xz: return shape.y();
    case Plane::yz: return shape.x();
  }
  return 0;
}

Box5 plane_box(const Shape5& shape, Plane plane, int64_t t, int64_t slice, int64_t u0, int64_t v0,
               int64_t u1, int64_t v1) {
  Shape5 begin(t, 0, 0, 0, 0);
  Shape5 end(t + 1, 1, 1, 1, shape.c());
  switch (plane) {
    case Plane::xy:
      begin[kZ] = slice, end[kZ] = slice + 1;
      begin[kX] = u0, end[kX] = u1;
      begin[kY] = v0, end[kY] = v1;
      break;
    case Plane::xz:
      begin[kY] = slice, end[kY] = slice + 1;
      begin[kX] = u0, end[kX] = u1;
      begin[kZ] = v0, end[kZ] = v1;
      break;
    case Plane::yz:
      begin[kX] = slice, end[kX] = slice + 1;
      begin[kZ] = u0, end[kZ] = u1;
      begin[kY] = v0, end[kY] = v1;
      break;
  }
  return {begin, end};
}

std::string_view layer_name(Layer layer) {
  switch (layer) {
    case Layer::raw: return "raw";
    case Layer::labels: return "labels";
    case Layer::probabilities: return "probabilities";
    case Layer::segmentation: return "segmentation";
    case Layer::uncertainty: return "uncertainty";
  }
  return "raw";
}

std::optional<Layer> parse_layer(std::string_view name) {
  for (Layer layer :
       {Layer::raw, Layer::labels, Layer::probabilities, Layer::segmentation, Layer::uncertainty}) {
    if (layer_name(layer) == name) return layer;
  }
  return std::nullopt;
}

FeatureSelection FeatureSelection::all() {
  FeatureSelection selection;
  for (int family = 0; family < kFamilyCount; ++family) {
    for (int scale = 0; scale < kScaleCount; ++scale) {
      selection.selected[family][scale] = valid_cell(family, scale);
    }
  }
  return selection;
}

FeatureSelection FeatureSelection::default_selection() {
  // Intensity, edges and texture at a fine and a coarse scale: enough for a first prediction on
  // most images, and quick to compute while painting.
  FeatureSelection selection;
  for (int family = 0; family < kFamilyCount; ++family) {
    selection.selected[family][2] = true;  // sigma 1.0
    selection.selected[family][4] = true;  // sigma 3.5
  }
  selection.selected[0][1] = true;  // smoothing at 0.7
  return selection;
}

int FeatureSelection::selected_count() const {
  int count = 0;
  for (int family = 0; family < kFamilyCount; ++family) {
    for (int scale = 0; scale < kScaleCount; ++scale) {
      if (selected[family][scale] && valid_cell(family, scale)) ++count;
    }
  }
  return count;
}

}  // namespace grove::server
