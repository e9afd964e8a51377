#include "grove/engine/op.h"

#include <gtest/gtest.h>

namespace grove {
namespace test_ops {

// A toy op: adds a constant, with a halo of `halo` pixels it does not need (to test plumbing).
struct AddConstant {
  double value = 0;
  int64_t halo = 0;
  static constexpr std::string_view name = "add_constant";
};
void to_json(nlohmann::json& j, const AddConstant& p) {
  j = {{"value", p.value}, {"halo", p.halo}};
}
void from_json(const nlohmann::json& j, AddConstant& p) {
  p.value = j.at("value");
  p.halo = j.at("halo");
}
Result<ArrayInfo> infer(const AddConstant&, const ArrayInfo& input) {
  return ArrayInfo{input.shape, DType::f32};
}
Box5 input_box(const AddConstant& p, const Box5& out, const ArrayInfo&) {
  return out.grown({0, 0, p.halo, p.halo, 0},
                   Box5({-1000, -1000, -1000, -1000, -1000}, Shape5::filled(1 << 30)));
}
Status compute(const AddConstant& p, const AnyArray& in, const Box5& in_box, const AnyArray& out,
               const Box5& out_box) {
  AnyArray inner = in.crop(out_box.relative_to(in_box.begin));
  GROVE_RETURN_IF_ERROR(inner.copy_into(out));
  out.view<float>().for_each([&](float& v) { v += static_cast<float>(p.value); });
  return ok_status();
}

}  // namespace test_ops

TEST(Op, AdapterCallsFreeFunctionsAndHashesParams) {
  auto op = make_op(test_ops::AddConstant{2.5, 3});
  EXPECT_EQ(op->name(), "add_constant");
  EXPECT_EQ(op->params()["value"], 2.5);
  auto info = op->infer({Shape5(1, 1, 4, 4, 1), DType::u8});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->dtype, DType::f32);
  Box5 out({0, 0, 1, 1, 0}, {1, 1, 3, 3, 1});
  EXPECT_EQ(op->input_box(out, *info), Box5({0, 0, -2, -2, 0}, {1, 1, 6, 6, 1}));
  EXPECT_NE(op->params_hash(), make_op(test_ops::AddConstant{2.0, 3})->params_hash());
  EXPECT_EQ(op->params_hash(), make_op(test_ops::AddConstant{2.5, 3})->params_hash());
  EXPECT_FALSE(op->block_hint(*info).has_value());

  auto in = AnyArray::allocate(DType::u8, {1, 1, 4, 4, 1});
  auto result = AnyArray::allocate(DType::f32, out.shape());
  ASSERT_TRUE(in.ok() && result.ok());
  ASSERT_TRUE(op->compute(*in, Box5::of({1, 1, 4, 4, 1}), *result, out).ok());
  EXPECT_EQ(result->view<float>()(0, 0, 0, 0, 0), 2.5f);
}

}  // namespace grove
