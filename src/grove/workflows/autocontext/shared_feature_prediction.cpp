#include "grove/workflows/autocontext/shared_feature_prediction.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "grove/core/blocking.h"
#include "grove/engine/engine.h"

namespace grove {

namespace {

uint64_t mix(uint64_t hash, uint64_t value) {
  return hash ^ (value + 0x9E3779B97F4A7C15ull + (hash << 6) + (hash >> 2));
}

// Pixels put side by side per forest call: 256 rows of up to a few hundred features stay in
// the L2 cache between the copy and the walk.
constexpr int64_t kChunkPixels = 256;

class SharedFeaturePredictionNode final : public Node {
 public:
  SharedFeaturePredictionNode(NodePtr raw_features, NodePtr previous_features, RandomForest forest,
                              uint64_t identity, bool cacheable)
      : raw_(std::move(raw_features)),
        previous_(std::move(previous_features)),
        forest_(std::move(forest)) {
    info_ = ArrayInfo{raw_->info().shape, DType::f32};
    info_.shape[kC] = forest_.output_count();
    identity_ = identity;
    cacheable_ = cacheable;
    // The blocks of stage 1's cached features, so that a block here reads whole blocks there.
    cache_block_shape_ = raw_->cacheable()
                             ? raw_->cache_block_shape()
                             : raw_->block_hint().value_or(default_block_shape(info_.shape));
    cache_block_shape_[kC] = info_.shape[kC];
  }

  std::string describe() const override {
    return fmt::format("forest_prediction of the features of ({}) and ({})", raw_->describe(),
                       previous_->describe());
  }

  std::optional<Shape5> block_hint() const override {
    Shape5 hint = cache_block_shape_;
    return hint;
  }

  int64_t working_bytes(const Box5& box) const override {
    const int64_t pixels = box.shape().size() / std::max<int64_t>(box.shape().c(), 1);
    const int64_t raw_channels = raw_->info().shape.c();
    const int64_t previous_channels = previous_->info().shape.c();
    const int64_t own = static_cast<int64_t>(sizeof(float)) * pixels *
                        (info_.shape.c() + previous_channels + raw_channels);
    const Box5 previous_box = box.with_channels(0, previous_channels);
    return own + std::max(previous_->working_bytes(previous_box),
                          raw_->working_bytes(box.with_channels(0, raw_channels)));
  }

  Status compute(Engine& engine, const Box5& box, const AnyArray& out,
                 const RequestContext& context) const override {
    const int64_t raw_channels = raw_->info().shape.c();
    const int64_t previous_channels = previous_->info().shape.c();
    const int64_t outputs = info_.shape.c();
    const Box5 spatial = box.with_channels(0, 1);
    GROVE_ASSIGN_OR_RETURN(
        AnyArray previous_array,
        engine.fetch(*previous_, box.with_channels(0, previous_channels), context));
    AnyArray result = out;
    if (out.strides()[kC] != 1 || box.begin[kC] != 0 || box.end[kC] != outputs) {
      GROVE_ASSIGN_OR_RETURN(result, AnyArray::allocate_uninitialized(
                                         DType::f32, box.with_channels(0, outputs).shape()));
    }
    const View<const float> previous(previous_array.view<float>());
    const View<float> values = result.view<float>();
    std::vector<float> rows(static_cast<size_t>(kChunkPixels * (raw_channels + previous_channels)));

    // Stage 1's features block by block as they are cached (one array for the box otherwise).
    std::vector<Box5> parts;
    if (raw_->cacheable()) {
      const Blocking blocking{Box5::of(raw_->info().shape), raw_->cache_block_shape()};
      for (int64_t id : blocking.blocks_intersecting(box.with_channels(0, raw_channels)))
        parts.push_back(blocking.block(id));
    } else {
      parts.push_back(box.with_channels(0, raw_channels));
    }
    for (const Box5& part : parts) {
      GROVE_ASSIGN_OR_RETURN(AnyArray raw_array, engine.fetch(*raw_, part, context));
      const View<const float> raw(raw_array.view<float>());
      const Box5 region = part.with_channels(0, 1).intersect(spatial);
      for (int64_t t = region.begin[kT]; t < region.end[kT]; ++t)
        for (int64_t z = region.begin[kZ]; z < region.end[kZ]; ++z)
          for (int64_t y = region.begin[kY]; y < region.end[kY]; ++y)
            for (int64_t x0 = region.begin[kX]; x0 < region.end[kX]; x0 += kChunkPixels) {
              const int64_t n = std::min(kChunkPixels, region.end[kX] - x0);
              const int64_t width = raw_channels + previous_channels;
              for (int64_t i = 0; i < n; ++i) {
                const int64_t x = x0 + i;
                float* row = rows.data() + i * width;
                const float* from_raw = &raw(t - part.begin[kT], z - part.begin[kZ],
                                             y - part.begin[kY], x - part.begin[kX], 0);
                const float* from_previous = &previous(t - box.begin[kT], z - box.begin[kZ],
                                                       y - box.begin[kY], x - box.begin[kX], 0);
                if (raw.strides()[kC] == 1) {
                  std::memcpy(row, from_raw, sizeof(float) * raw_channels);
                } else {
                  for (int64_t c = 0; c < raw_channels; ++c)
                    row[c] = from_raw[c * raw.strides()[kC]];
                }
                if (previous.strides()[kC] == 1) {
                  std::memcpy(row + raw_channels, from_previous, sizeof(float) * previous_channels);
                } else {
                  for (int64_t c = 0; c < previous_channels; ++c)
                    row[raw_channels + c] = from_previous[c * previous.strides()[kC]];
                }
              }
              float* first = &values(t - box.begin[kT], z - box.begin[kZ], y - box.begin[kY],
                                     x0 - box.begin[kX], 0);
              GROVE_RETURN_IF_ERROR(
                  forest_.predict(FeatureMatrix(rows.data(), n, width),
                                  MatrixView<float>(first, n, outputs, values.strides()[kX])));
            }
    }
    if (result.raw_data() != out.raw_data()) {
      return result.channels(box.begin[kC], box.end[kC]).copy_into(out);
    }
    return ok_status();
  }

 private:
  NodePtr raw_;
  NodePtr previous_;
  RandomForest forest_;  // its feature indices point into [raw features, previous features]
};

}  // namespace

Result<NodePtr> shared_feature_prediction_node(NodePtr raw_features, NodePtr previous_features,
                                               const std::vector<FeaturePart>& order,
                                               std::shared_ptr<const RandomForest> forest,
                                               uint64_t forest_id, bool cacheable) {
  if (!raw_features || !previous_features || !forest || forest->empty())
    return Error(ErrorCode::kInvalidArgument,
                 "shared feature prediction needs both parts and a forest");
  const ArrayInfo& raw = raw_features->info();
  const ArrayInfo& previous = previous_features->info();
  Shape5 a = raw.shape, b = previous.shape;
  a[kC] = b[kC] = 1;
  if (a != b || raw.dtype != DType::f32 || previous.dtype != DType::f32) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the two parts of a stage's features differ: {} {} and {} {}",
                      raw.shape.to_string(), dtype_name(raw.dtype), previous.shape.to_string(),
                      dtype_name(previous.dtype));
  }
  if (static_cast<int64_t>(order.size()) != forest->feature_count()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the classifier was trained on {} features but the stage gives {}",
                      forest->feature_count(), order.size());
  }
  // Feature j of the stacked input is column position[j] of a row [raw | previous].
  std::vector<uint32_t> position;
  position.reserve(order.size());
  uint64_t identity = mix(0x5AA3ED5u, forest_id);
  identity = mix(identity, raw_features->identity());
  identity = mix(identity, previous_features->identity());
  for (const FeaturePart& part : order) {
    const int64_t channels = part.part == 0 ? raw.shape.c() : previous.shape.c();
    if ((part.part != 0 && part.part != 1) || part.channel < 0 || part.channel >= channels) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a stage's feature names channel {} of part {}, which does not exist",
                        part.channel, part.part);
    }
    position.push_back(
        static_cast<uint32_t>(part.part == 0 ? part.channel : raw.shape.c() + part.channel));
    identity = mix(identity, static_cast<uint64_t>(position.back()));
  }
  ForestParts parts = forest->parts();
  for (ForestNode& node : parts.nodes) {
    if (node.feature >= position.size()) {
      return Error(ErrorCode::kInvalidArgument, "the classifier names a feature it does not have");
    }
    node.feature = position[node.feature];
  }
  parts.feature_count = raw.shape.c() + previous.shape.c();
  parts.training.gini_importance.clear();
  GROVE_ASSIGN_OR_RETURN(RandomForest remapped, RandomForest::create(std::move(parts)));
  return NodePtr(std::make_shared<SharedFeaturePredictionNode>(
      std::move(raw_features), std::move(previous_features), std::move(remapped), identity,
      cacheable));
}

}  // namespace grove
