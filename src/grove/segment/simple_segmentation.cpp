#include "grove/segment/simple_segmentation.h"

namespace grove {

void to_json(nlohmann::json& j, const SimpleSegmentation&) { j = nlohmann::json::object(); }
void from_json(const nlohmann::json&, SimpleSegmentation&) {}

Result<ArrayInfo> infer(const SimpleSegmentation&, const ArrayInfo& input) {
  if (input.dtype != DType::f32) {
    return make_error(ErrorCode::kInvalidArgument,
                      "simple segmentation needs float32 probabilities, got {}",
                      dtype_name(input.dtype));
  }
  if (input.shape.c() < 1 || input.shape.c() > 255) {
    return make_error(ErrorCode::kInvalidArgument,
                      "simple segmentation needs 1 to 255 class channels, got {}", input.shape.c());
  }
  Shape5 shape = input.shape;
  shape[kC] = 1;
  return ArrayInfo{shape, DType::u8};
}

Box5 input_box(const SimpleSegmentation&, const Box5& out_box, const ArrayInfo& input) {
  return out_box.with_channels(0, input.shape.c());
}

Status compute(const SimpleSegmentation&, const AnyArray& in, const Box5& in_box,
               const AnyArray& out, const Box5& out_box) {
  View<const float> probabilities =
      in.crop(out_box.relative_to(in_box.begin).with_channels(0, in.shape().c())).view<float>();
  View<uint8_t> labels = out.view<uint8_t>();
  const Shape5 s = labels.shape();
  const int64_t classes = probabilities.shape().c();
  for (int64_t t = 0; t < s[0]; ++t)
    for (int64_t z = 0; z < s[1]; ++z)
      for (int64_t y = 0; y < s[2]; ++y)
        for (int64_t x = 0; x < s[3]; ++x) {
          const float* p = &probabilities(t, z, y, x, 0);
          const int64_t stride = probabilities.strides()[kC];
          int64_t best = 0;
          for (int64_t c = 1; c < classes; ++c) {
            if (p[c * stride] > p[best * stride]) best = c;
          }
          labels(t, z, y, x, 0) = static_cast<uint8_t>(best + 1);
        }
  return ok_status();
}

}  // namespace grove
