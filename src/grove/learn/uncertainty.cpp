#include "grove/learn/uncertainty.h"

namespace grove {

void to_json(nlohmann::json& j, const Uncertainty&) { j = nlohmann::json::object(); }
void from_json(const nlohmann::json&, Uncertainty&) {}

Result<ArrayInfo> infer(const Uncertainty&, const ArrayInfo& input) {
  if (input.dtype != DType::f32 || input.shape.c() < 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "uncertainty needs float32 probabilities with at least one channel");
  }
  Shape5 shape = input.shape;
  shape[kC] = 1;
  return ArrayInfo{shape, DType::f32};
}

Box5 input_box(const Uncertainty&, const Box5& out_box, const ArrayInfo& input) {
  return out_box.with_channels(0, input.shape.c());
}

Status compute(const Uncertainty&, const AnyArray& in, const Box5& in_box, const AnyArray& out,
               const Box5& out_box) {
  View<const float> probabilities =
      in.crop(out_box.relative_to(in_box.begin).with_channels(0, in.shape().c())).view<float>();
  View<float> result = out.view<float>();
  const Shape5 s = result.shape();
  const int64_t classes = probabilities.shape().c();
  const int64_t stride = probabilities.strides()[kC];
  for (int64_t t = 0; t < s[0]; ++t)
    for (int64_t z = 0; z < s[1]; ++z)
      for (int64_t y = 0; y < s[2]; ++y)
        for (int64_t x = 0; x < s[3]; ++x) {
          const float* p = &probabilities(t, z, y, x, 0);
          float first = -1.0f, second = -1.0f;
          for (int64_t c = 0; c < classes; ++c) {
            const float v = p[c * stride];
            if (v > first) {
              second = first;
              first = v;
            } else if (v > second) {
              second = v;
            }
          }
          result(t, z, y, x, 0) = classes < 2 ? 0.0f : 1.0f - (first - second);
        }
  return ok_status();
}

}  // namespace grove
