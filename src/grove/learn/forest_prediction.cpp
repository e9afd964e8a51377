#include "grove/learn/forest_prediction.h"

#include <cstring>

namespace grove {

void to_json(nlohmann::json& j, const ForestPrediction& p) {
  j = {{"forest_id", p.forest_id}, {"max_depth", p.max_depth}};
}

void from_json(const nlohmann::json& j, ForestPrediction& p) {
  p.forest_id = j.at("forest_id").get<uint64_t>();
  p.max_depth = j.value("max_depth", 0);
}

Result<ArrayInfo> infer(const ForestPrediction& p, const ArrayInfo& input) {
  if (!p.forest || p.forest->empty()) {
    return Error(ErrorCode::kInvalidArgument, "no trained classifier: train the project first");
  }
  if (input.dtype != DType::f32) {
    return make_error(ErrorCode::kInvalidArgument, "the classifier needs float32 features, got {}",
                      dtype_name(input.dtype));
  }
  if (input.shape.c() != p.forest->feature_count()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the classifier was trained on {} features but the image gives {} (was the "
                      "project trained on images with a different number of channels?)",
                      p.forest->feature_count(), input.shape.c());
  }
  Shape5 shape = input.shape;
  shape[kC] = p.forest->output_count();
  return ArrayInfo{shape, DType::f32};
}

Box5 input_box(const ForestPrediction&, const Box5& out_box, const ArrayInfo& input) {
  return out_box.with_channels(0, input.shape.c());
}

Status compute(const ForestPrediction& p, const AnyArray& in, const Box5& in_box,
               const AnyArray& out, const Box5& out_box) {
  AnyArray features = in.crop(out_box.relative_to(in_box.begin).with_channels(0, in.shape().c()));
  if (!features.contiguous()) {
    GROVE_ASSIGN_OR_RETURN(features, features.copy());
  }
  GROVE_ASSIGN_OR_RETURN(MatrixView<const float> matrix,
                         matrix_of_pixels(View<const float>(features.view<float>())));
  AnyArray result = out;
  if (!result.contiguous()) {
    GROVE_ASSIGN_OR_RETURN(result, AnyArray::allocate_uninitialized(DType::f32, out.shape()));
  }
  GROVE_ASSIGN_OR_RETURN(MatrixView<float> values, matrix_of_pixels(result.view<float>()));
  PredictOptions options;
  options.max_depth = p.max_depth;
  GROVE_RETURN_IF_ERROR(p.forest->predict(matrix, values, nullptr, options));
  if (result.raw_data() != out.raw_data()) return result.copy_into(out);
  return ok_status();
}

uint64_t forest_fingerprint(const RandomForest& forest) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](const void* data, size_t bytes) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < bytes; ++i) {
      hash ^= p[i];
      hash *= 1099511628211ull;
    }
  };
  const ForestParts& parts = forest.parts();
  mix(&parts.kind, sizeof(parts.kind));
  mix(&parts.feature_count, sizeof(parts.feature_count));
  mix(&parts.output_count, sizeof(parts.output_count));
  mix(parts.class_labels.data(), parts.class_labels.size() * sizeof(int32_t));
  mix(parts.nodes.data(), parts.nodes.size() * sizeof(ForestNode));
  mix(parts.leaf_values.data(), parts.leaf_values.size() * sizeof(float));
  return hash;
}

}  // namespace grove
