#include "grove/workflows/pixel/overlay.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

namespace grove {

namespace {

class OverlayNode final : public Node {
 public:
  OverlayNode(NodePtr raw, NodePtr probabilities, OverlayStyle style)
      : raw_(std::move(raw)), probabilities_(std::move(probabilities)), style_(std::move(style)) {
    Shape5 shape = raw_->info().shape;
    shape[kC] = 3;
    info_ = ArrayInfo{shape, DType::u8};
    identity_ = raw_->identity() * 31 + probabilities_->identity();
    cache_block_shape_ = Shape5(1, shape.z() > 1 ? 64 : 1, 256, 256, 3);
  }
  std::string describe() const override { return fmt::format("overlay of {}", raw_->describe()); }
  Status compute(Engine& engine, const Box5& box, const AnyArray& out,
                 const RequestContext& context) const override {
    GROVE_ASSIGN_OR_RETURN(AnyArray raw, engine.fetch(*raw_, box.with_channels(0, 1), context));
    GROVE_ASSIGN_OR_RETURN(
        AnyArray p, engine.fetch(*probabilities_,
                                 box.with_channels(0, probabilities_->info().shape.c()), context));
    GROVE_ASSIGN_OR_RETURN(AnyArray gray, raw.convert(DType::f64));
    View<const double> g = gray.view<double>();
    View<const float> prob = p.view<float>();
    View<uint8_t> rgb = out.view<uint8_t>();
    const double span = style_.display_max - style_.display_min;
    const int64_t classes =
        std::min<int64_t>(prob.shape().c(), static_cast<int64_t>(style_.colors.size()));
    const Shape5 s = g.shape();
    for (int64_t t = 0; t < s[0]; ++t)
      for (int64_t z = 0; z < s[1]; ++z)
        for (int64_t y = 0; y < s[2]; ++y)
          for (int64_t x = 0; x < s[3]; ++x) {
            const double v =
                span > 0 ? std::clamp((g(t, z, y, x, 0) - style_.display_min) / span, 0.0, 1.0)
                         : 0.5;
            double color[3] = {0, 0, 0};
            double weight = 0;
            for (int64_t k = 0; k < classes; ++k) {
              const double w = prob(t, z, y, x, k);
              for (int i = 0; i < 3; ++i) color[i] += w * style_.colors[k][i];
              weight += w;
            }
            const double alpha = style_.opacity * std::min(weight, 1.0);
            for (int i = 0; i < 3; ++i) {
              const double blended =
                  (1 - alpha) * 255.0 * v + alpha * (weight > 0 ? color[i] / weight : 0.0);
              rgb(t, z, y, x, i) = static_cast<uint8_t>(std::clamp(std::lround(blended), 0L, 255L));
            }
          }
    return ok_status();
  }
  int64_t working_bytes(const Box5& box) const override {
    const Box5 p = box.with_channels(0, probabilities_->info().shape.c());
    return probabilities_->working_bytes(p) + box.size() * 16;
  }
  std::optional<Shape5> block_hint() const override { return probabilities_->block_hint(); }

 private:
  NodePtr raw_;
  NodePtr probabilities_;
  OverlayStyle style_;
};

}  // namespace

Result<NodePtr> overlay_node(const NodePtr& raw, const NodePtr& probabilities,
                             const OverlayStyle& style) {
  Shape5 a = raw->info().shape, b = probabilities->info().shape;
  a[kC] = b[kC] = 1;
  if (a != b) {
    return make_error(ErrorCode::kInvalidArgument,
                      "an overlay needs probabilities of the image's shape ({} vs {})",
                      raw->info().shape.to_string(), probabilities->info().shape.to_string());
  }
  if (probabilities->info().dtype != DType::f32 || style.colors.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "an overlay needs float32 probabilities and class colours");
  }
  return NodePtr(std::make_shared<OverlayNode>(raw, probabilities, style));
}

Result<std::pair<double, double>> value_range(Engine& engine, const NodePtr& node) {
  double low = std::numeric_limits<double>::infinity(), high = -low;
  std::mutex mutex;
  Box5 first_channel = Box5::of(node->info().shape).with_channels(0, 1);
  GROVE_RETURN_IF_ERROR(engine.for_each_block(
      node, first_channel, {}, [&](const Box5&, const AnyArray& data) -> Status {
        GROVE_ASSIGN_OR_RETURN(AnyArray values, data.convert(DType::f64));
        double l = std::numeric_limits<double>::infinity(), h = -l;
        values.view<double>().for_each([&](const double& v) {
          if (std::isfinite(v)) l = std::min(l, v), h = std::max(h, v);
        });
        std::lock_guard lock(mutex);
        low = std::min(low, l);
        high = std::max(high, h);
        return ok_status();
      }));
  if (!(low <= high)) return std::make_pair(0.0, 1.0);
  return std::make_pair(low, high);
}

}  // namespace grove
