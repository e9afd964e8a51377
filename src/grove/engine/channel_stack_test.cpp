// The channel stack node: channel order, block-wise == whole through ops with halos on both
// sides of the stack, boxes with a subset of the channels, caching, and bad input.
#include "grove/engine/channel_stack.h"

#include <gtest/gtest.h>

#include <optional>
#include <random>

#include "grove/engine/engine.h"

namespace grove {
namespace channel_stack_test_ops {

// Mean over a (2r+1)^2 window in y,x, reflected at the edges of what it is given: an op with a
// halo, to check that halos compose through the stack.
struct WindowMean {
  int64_t radius = 1;
  static constexpr std::string_view name = "window_mean_for_stack_test";
};
void to_json(nlohmann::json& j, const WindowMean& p) { j = {{"radius", p.radius}}; }
void from_json(const nlohmann::json& j, WindowMean& p) { p.radius = j.at("radius"); }
Result<ArrayInfo> infer(const WindowMean&, const ArrayInfo& input) {
  return ArrayInfo{input.shape, DType::f32};
}
Box5 input_box(const WindowMean& p, const Box5& out, const ArrayInfo&) {
  Box5 in = out;
  for (int a : {kY, kX}) {
    in.begin[a] -= p.radius;
    in.end[a] += p.radius;
  }
  return in;
}
int64_t reflect(int64_t i, int64_t n) {
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}
Status compute(const WindowMean& p, const AnyArray& in_any, const Box5& in_box,
               const AnyArray& out_any, const Box5& out_box) {
  GROVE_ASSIGN_OR_RETURN(AnyArray in_f, in_any.convert(DType::f32));
  View<const float> in = in_f.view<float>();
  View<float> out = out_any.view<float>();
  const Shape5 s = out.shape();
  for (int64_t t = 0; t < s[0]; ++t)
    for (int64_t z = 0; z < s[1]; ++z)
      for (int64_t y = 0; y < s[2]; ++y)
        for (int64_t x = 0; x < s[3]; ++x)
          for (int64_t c = 0; c < s[4]; ++c) {
            double sum = 0;
            for (int64_t dy = -p.radius; dy <= p.radius; ++dy)
              for (int64_t dx = -p.radius; dx <= p.radius; ++dx) {
                const int64_t iy =
                    reflect(y + out_box.begin[kY] - in_box.begin[kY] + dy, in.shape()[kY]);
                const int64_t ix =
                    reflect(x + out_box.begin[kX] - in_box.begin[kX] + dx, in.shape()[kX]);
                sum += in(t + out_box.begin[kT] - in_box.begin[kT],
                          z + out_box.begin[kZ] - in_box.begin[kZ], iy, ix,
                          c + out_box.begin[kC] - in_box.begin[kC]);
              }
            out(t, z, y, x, c) =
                static_cast<float>(sum / double((2 * p.radius + 1) * (2 * p.radius + 1)));
          }
  return ok_status();
}

}  // namespace channel_stack_test_ops

namespace {

using channel_stack_test_ops::WindowMean;

AnyArray random_image(DType dtype, const Shape5& shape, uint32_t seed) {
  AnyArray a = *AnyArray::allocate(DType::f32, shape);
  std::mt19937 rng(seed);
  a.view<float>().for_each([&](float& v) { v = static_cast<float>(rng() % 200); });
  return *a.convert(dtype);
}

EngineOptions small_engine() {
  EngineOptions options;
  options.threads = 3;
  options.memory_bytes = int64_t{256} << 20;
  return options;
}

TEST(ChannelStack, StacksChannelsInOrder) {
  const Shape5 shape(2, 1, 9, 11, 1);
  AnyArray a = random_image(DType::f32, shape, 1);
  AnyArray b = random_image(DType::f32, Shape5(2, 1, 9, 11, 2), 2);
  auto stack = channel_stack_node({array_node(a, "a"), array_node(b, "b")});
  ASSERT_TRUE(stack.ok()) << stack.error().to_string();
  EXPECT_EQ((*stack)->info().shape, Shape5(2, 1, 9, 11, 3));
  EXPECT_EQ((*stack)->info().dtype, DType::f32);
  Engine engine(small_engine());
  auto whole = engine.compute(*stack, Box5::of((*stack)->info().shape));
  ASSERT_TRUE(whole.ok()) << whole.error().to_string();
  View<const float> s = whole->view<float>();
  View<const float> va = a.view<float>(), vb = b.view<float>();
  for (int64_t t = 0; t < 2; ++t)
    for (int64_t y = 0; y < 9; ++y)
      for (int64_t x = 0; x < 11; ++x) {
        EXPECT_EQ(s(t, 0, y, x, 0), va(t, 0, y, x, 0));
        EXPECT_EQ(s(t, 0, y, x, 1), vb(t, 0, y, x, 0));
        EXPECT_EQ(s(t, 0, y, x, 2), vb(t, 0, y, x, 1));
      }
}

// raw -> mean(r=2) -> [raw, mean] -> mean(r=1): computed in odd blocks equals computed whole, and
// equals the chain applied by hand to whole arrays.
TEST(ChannelStack, BlockwiseEqualsWholeThroughHalos) {
  const Shape5 shape(1, 2, 37, 29, 2);
  AnyArray image = random_image(DType::f32, shape, 3);
  NodePtr raw = array_node(image, "raw");
  for (bool cacheable : {false, true}) {
    NodePtr smoothed = *apply_op(make_op(WindowMean{2}), raw, cacheable);
    auto stack = channel_stack_node({raw, smoothed});
    ASSERT_TRUE(stack.ok());
    NodePtr top = *apply_op(make_op(WindowMean{1}), *stack);
    Engine engine(small_engine());
    const Box5 all = Box5::of(top->info().shape);
    RunOptions whole_options;
    whole_options.block_shape = top->info().shape;
    auto whole = engine.compute(top, all, whole_options);
    ASSERT_TRUE(whole.ok()) << whole.error().to_string();
    for (Shape5 block : {Shape5(1, 1, 7, 5, 4), Shape5(1, 2, 3, 11, 4), Shape5(1, 1, 1, 1, 4)}) {
      RunOptions options;
      options.block_shape = block;
      auto blockwise = engine.compute(top, all, options);
      ASSERT_TRUE(blockwise.ok()) << blockwise.error().to_string();
      View<const float> w = whole->view<float>(), b = blockwise->view<float>();
      for (int64_t i = 0; i < w.size(); ++i) ASSERT_EQ(w.data()[i], b.data()[i]) << i;
    }
    // By hand: the same ops on whole arrays.
    AnyArray smoothed_whole = *AnyArray::allocate(DType::f32, shape);
    ASSERT_TRUE(
        compute(WindowMean{2}, image, Box5::of(shape), smoothed_whole, Box5::of(shape)).ok());
    Shape5 stacked_shape = shape;
    stacked_shape[kC] = 4;
    AnyArray stacked = *AnyArray::allocate(DType::f32, stacked_shape);
    ASSERT_TRUE(image.copy_into(stacked.channels(0, 2)).ok());
    ASSERT_TRUE(smoothed_whole.copy_into(stacked.channels(2, 4)).ok());
    AnyArray expected = *AnyArray::allocate(DType::f32, stacked_shape);
    ASSERT_TRUE(
        compute(WindowMean{1}, stacked, Box5::of(stacked_shape), expected, Box5::of(stacked_shape))
            .ok());
    View<const float> w = whole->view<float>(), e = expected.view<float>();
    for (int64_t i = 0; i < w.size(); ++i) ASSERT_FLOAT_EQ(w.data()[i], e.data()[i]) << i;
  }
}

TEST(ChannelStack, BoxesWithSomeChannels) {
  const Shape5 shape(1, 1, 6, 7, 2);
  AnyArray a = random_image(DType::u16, shape, 4);
  AnyArray b = random_image(DType::u16, shape, 5);
  AnyArray c = random_image(DType::u16, Shape5(1, 1, 6, 7, 1), 6);
  NodePtr stack = *channel_stack_node({array_node(a, "a"), array_node(b, "b"), array_node(c, "c")});
  ASSERT_EQ(stack->info().shape.c(), 5);
  Engine engine(small_engine());
  const Box5 all = Box5::of(stack->info().shape);
  AnyArray whole = *engine.compute(stack, all);
  for (int64_t begin = 0; begin < 5; ++begin)
    for (int64_t end = begin + 1; end <= 5; ++end) {
      const Box5 box = Box5(Shape5(0, 0, 1, 2, begin), Shape5(1, 1, 5, 6, end));
      auto part = engine.compute(stack, box);
      ASSERT_TRUE(part.ok()) << part.error().to_string();
      View<const uint16_t> p = part->view<uint16_t>();
      View<const uint16_t> w = whole.crop(box).view<uint16_t>();
      for (int64_t y = 0; y < p.shape()[kY]; ++y)
        for (int64_t x = 0; x < p.shape()[kX]; ++x)
          for (int64_t k = 0; k < p.shape()[kC]; ++k)
            ASSERT_EQ(p(0, 0, y, x, k), w(0, 0, y, x, k)) << begin << ".." << end;
    }
}

TEST(ChannelStack, IdentityFollowsTheInputs) {
  const Shape5 shape(1, 1, 4, 4, 1);
  NodePtr a = array_node(random_image(DType::u8, shape, 7), "a");
  NodePtr b = array_node(random_image(DType::u8, shape, 8), "b");
  NodePtr ab = *channel_stack_node({a, b});
  NodePtr ab_again = *channel_stack_node({a, b});
  NodePtr ba = *channel_stack_node({b, a});
  EXPECT_EQ(ab->identity(), ab_again->identity());
  EXPECT_NE(ab->identity(), ba->identity());
  EXPECT_NE(ab->identity(), a->identity());
  EXPECT_NE(ab->describe().find("channel stack"), std::string::npos);
}

// A gather takes any channels of its inputs in any order: whole, in odd blocks, for a subset
// of its channels, from a cached input (whole blocks read without copies) and a plain one.
TEST(ChannelGather, TakesChannelsInAnyOrder) {
  AnyArray a = random_image(DType::f32, Shape5(1, 2, 37, 29, 3), 1);
  AnyArray b = random_image(DType::f32, Shape5(1, 2, 37, 29, 2), 2);
  NodePtr cached_a = *apply_op(make_op(WindowMean{1}), array_node(a, "a"), /*cacheable=*/true);
  NodePtr plain_b = array_node(b, "b");
  const std::vector<ChannelSource> sources = {{1, 1}, {0, 2}, {0, 0}, {1, 0}, {0, 2}};
  auto gather = channel_gather_node({cached_a, plain_b}, sources);
  ASSERT_TRUE(gather.ok()) << gather.error().to_string();
  EXPECT_EQ((*gather)->info().shape, Shape5(1, 2, 37, 29, 5));
  Engine engine(small_engine());
  const AnyArray mean_a = *engine.compute(cached_a, Box5::of(cached_a->info().shape));
  for (std::optional<Shape5> block :
       {std::optional<Shape5>(), std::optional<Shape5>(Shape5(1, 1, 10, 7, 5))}) {
    RunOptions options;
    if (block) options.block_shape = *block;
    auto whole = engine.compute(*gather, Box5::of((*gather)->info().shape), options);
    ASSERT_TRUE(whole.ok()) << whole.error().to_string();
    View<const float> g = whole->view<float>();
    View<const float> va = mean_a.view<float>(), vb = b.view<float>();
    for (int64_t z = 0; z < 2; ++z)
      for (int64_t y = 0; y < 37; ++y)
        for (int64_t x = 0; x < 29; ++x) {
          ASSERT_EQ(g(0, z, y, x, 0), vb(0, z, y, x, 1));
          ASSERT_EQ(g(0, z, y, x, 1), va(0, z, y, x, 2));
          ASSERT_EQ(g(0, z, y, x, 2), va(0, z, y, x, 0));
          ASSERT_EQ(g(0, z, y, x, 3), vb(0, z, y, x, 0));
          ASSERT_EQ(g(0, z, y, x, 4), va(0, z, y, x, 2));
        }
  }
  // Channels 1..3 of a box.
  const Box5 box({0, 1, 5, 6, 1}, {1, 2, 30, 20, 4});
  auto part = engine.compute(*gather, box);
  ASSERT_TRUE(part.ok()) << part.error().to_string();
  EXPECT_EQ(part->view<float>()(0, 0, 0, 0, 0), mean_a.view<float>()(0, 1, 5, 6, 2));
  EXPECT_EQ(part->view<float>()(0, 0, 24, 13, 2), b.view<float>()(0, 1, 29, 19, 0));
  // Bad sources.
  EXPECT_FALSE(channel_gather_node({cached_a, plain_b}, {}).ok());
  auto missing = channel_gather_node({cached_a, plain_b}, {{0, 3}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().to_string().find("does not exist"), std::string::npos);
  EXPECT_FALSE(channel_gather_node({cached_a, plain_b}, {{2, 0}}).ok());
  EXPECT_FALSE(channel_gather_node({cached_a, nullptr}, {{0, 0}}).ok());
}

TEST(ChannelStack, BadInput) {
  const Shape5 shape(1, 1, 4, 4, 1);
  NodePtr a = array_node(random_image(DType::u8, shape, 9), "first");
  EXPECT_FALSE(channel_stack_node({}).ok());
  auto null_input = channel_stack_node({a, nullptr});
  ASSERT_FALSE(null_input.ok());
  EXPECT_NE(null_input.error().to_string().find("null"), std::string::npos);
  auto other_shape = channel_stack_node(
      {a, array_node(random_image(DType::u8, Shape5(1, 1, 4, 5, 1), 1), "wide")});
  ASSERT_FALSE(other_shape.ok());
  EXPECT_NE(other_shape.error().to_string().find("wide"), std::string::npos);
  auto other_dtype =
      channel_stack_node({a, array_node(random_image(DType::f32, shape, 1), "floats")});
  ASSERT_FALSE(other_dtype.ok());
  EXPECT_NE(other_dtype.error().to_string().find("dtypes differ"), std::string::npos);
  // Differing channel counts are what a stack is for.
  EXPECT_TRUE(
      channel_stack_node({a, array_node(random_image(DType::u8, Shape5(1, 1, 4, 4, 3), 1), "c3")})
          .ok());
}

}  // namespace
}  // namespace grove
