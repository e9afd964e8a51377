#include "grove/engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <random>

namespace grove {
namespace engine_test_ops {

// A box filter (mean over a (2r+1)^2 window in y,x, reflected at the edges of what it is
// given), standing in for a real op with a halo.
struct BoxMean {
  int64_t radius = 1;
  int64_t hint = 0;  // > 0: hints blocks of hint x (hint + 28) pixels
  static constexpr std::string_view name = "box_mean";
};
std::atomic<int64_t> box_mean_calls{0};
void to_json(nlohmann::json& j, const BoxMean& p) {
  j = {{"radius", p.radius}};
  if (p.hint > 0) j["hint"] = p.hint;
}
void from_json(const nlohmann::json& j, BoxMean& p) {
  p.radius = j.at("radius");
  p.hint = j.value("hint", 0);
}
std::optional<Shape5> block_hint(const BoxMean& p, const ArrayInfo& input) {
  if (p.hint <= 0) return std::nullopt;
  return Shape5(1, 1, p.hint, p.hint + 28, input.shape.c());
}
Result<ArrayInfo> infer(const BoxMean&, const ArrayInfo& input) {
  return ArrayInfo{input.shape, DType::f32};
}
Box5 input_box(const BoxMean& p, const Box5& out, const ArrayInfo&) {
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
Status compute(const BoxMean& p, const AnyArray& in_any, const Box5& in_box,
               const AnyArray& out_any, const Box5& out_box) {
  box_mean_calls.fetch_add(1);
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

}  // namespace engine_test_ops

namespace {

using engine_test_ops::BoxMean;

AnyArray random_image(const Shape5& shape, uint32_t seed) {
  AnyArray a = *AnyArray::allocate(DType::u8, shape);
  std::mt19937 rng(seed);
  a.view<uint8_t>().for_each([&](uint8_t& v) { v = static_cast<uint8_t>(rng() & 0xFF); });
  return a;
}

// Whole-image reference: the op chain applied directly to the full array.
AnyArray reference(const AnyArray& image, const std::vector<int64_t>& radii) {
  AnyArray current = image;
  for (int64_t r : radii) {
    AnyArray next = *AnyArray::allocate(DType::f32, current.shape());
    EXPECT_TRUE(
        compute(BoxMean{r}, current, Box5::of(current.shape()), next, Box5::of(current.shape()))
            .ok());
    current = next;
  }
  return current;
}

void expect_equal(const AnyArray& a, const AnyArray& b) {
  ASSERT_EQ(a.shape(), b.shape());
  auto va = a.view<float>();
  auto vb = b.view<float>();
  int64_t mismatches = 0;
  const Shape5 s = a.shape();
  for (int64_t t = 0; t < s[0]; ++t)
    for (int64_t z = 0; z < s[1]; ++z)
      for (int64_t y = 0; y < s[2]; ++y)
        for (int64_t x = 0; x < s[3]; ++x)
          for (int64_t c = 0; c < s[4]; ++c)
            if (std::abs(va(t, z, y, x, c) - vb(t, z, y, x, c)) > 1e-4f) ++mismatches;
  EXPECT_EQ(mismatches, 0);
}

NodePtr chain(const AnyArray& image, const std::vector<int64_t>& radii, bool cacheable) {
  NodePtr node = array_node(image, "test-image");
  for (int64_t r : radii) node = *apply_op(make_op(BoxMean{r}), node, cacheable);
  return node;
}

TEST(Engine, BlockwiseChainEqualsWholeImageForOddBlocks) {
  const AnyArray image = random_image({2, 1, 45, 38, 2}, 7);
  const std::vector<int64_t> radii = {2, 1, 3};
  const AnyArray expected = reference(image, radii);
  Engine engine({.threads = 2, .memory_bytes = 64 << 20});
  for (Shape5 block : {Shape5(1, 1, 7, 5, 2), Shape5(1, 1, 13, 38, 2), Shape5(2, 1, 45, 38, 2)}) {
    RunOptions options;
    options.block_shape = block;
    auto result = engine.compute(chain(image, radii, false), Box5::of(image.shape()), options);
    ASSERT_TRUE(result.ok()) << result.error().to_string();
    expect_equal(*result, expected);
  }
  // A sub-box equals the crop of the whole.
  Box5 sub({1, 0, 3, 30, 1}, {2, 1, 41, 37, 2});
  auto part = engine.compute(chain(image, radii, false), sub);
  ASSERT_TRUE(part.ok());
  expect_equal(*part, *expected.crop(sub).copy());
}

TEST(Engine, CacheComputesEachBlockOnce) {
  const AnyArray image = random_image({1, 1, 300, 300, 1}, 3);
  Engine engine({.threads = 2, .memory_bytes = 256 << 20});
  NodePtr node = chain(image, {1}, true);
  engine_test_ops::box_mean_calls = 0;
  auto first = engine.compute(node, Box5::of(image.shape()));
  ASSERT_TRUE(first.ok());
  const int64_t calls = engine_test_ops::box_mean_calls.load();
  EXPECT_EQ(calls, 4);  // 300x300 in 256x256 cache blocks
  auto second = engine.compute(node, Box5({0, 0, 10, 10, 0}, {1, 1, 290, 200, 1}));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(engine_test_ops::box_mean_calls.load(), calls);
  expect_equal(*second, *first->crop(Box5({0, 0, 10, 10, 0}, {1, 1, 290, 200, 1})).copy());
  EXPECT_GT(engine.cache().hits(), 0);
  // A new generation recomputes.
  RunOptions next;
  next.context.generation = 1;
  ASSERT_TRUE(engine.compute(node, Box5::of(image.shape()), next).ok());
  EXPECT_EQ(engine_test_ops::box_mean_calls.load(), 2 * calls);
  engine.cache().drop_older(node->identity(), 1);
  EXPECT_EQ(engine.cache().entries(), 4);
}

// Two nodes of the same identity but cached in blocks of different shapes (an op node over a
// cached input takes the input's blocks) must not read each other's blocks: block 1 of one is
// not block 1 of the other.
TEST(Engine, NodesOfOneIdentityWithOtherBlockShapesDoNotShareBlocks) {
  const AnyArray image = random_image({1, 1, 300, 280, 1}, 5);
  Engine engine({.threads = 2, .memory_bytes = 256 << 20});
  NodePtr raw = array_node(image, "test-image");
  NodePtr cached_input = *apply_op(make_op(BoxMean{1, 100}), raw, /*cacheable=*/true);
  NodePtr plain_input = *apply_op(make_op(BoxMean{1, 100}), raw, /*cacheable=*/false);
  // Same op on inputs of the same identity: the same identity, other cache blocks.
  NodePtr over_cached = *apply_op(make_op(BoxMean{2}), cached_input, /*cacheable=*/true);
  NodePtr over_plain = *apply_op(make_op(BoxMean{2}), plain_input, /*cacheable=*/true);
  ASSERT_EQ(over_cached->identity(), over_plain->identity());
  ASSERT_EQ(over_cached->cache_block_shape(), Shape5(1, 1, 100, 128, 1));
  ASSERT_EQ(over_plain->cache_block_shape(), Shape5(1, 1, 256, 256, 1));
  const AnyArray expected = reference(image, {1, 2});
  expect_equal(*engine.compute(over_plain, Box5::of(image.shape())), expected);
  expect_equal(*engine.compute(over_cached, Box5::of(image.shape())), expected);
}

TEST(Engine, CancelledRequestReturnsCancelled) {
  const AnyArray image = random_image({1, 1, 64, 64, 1}, 1);
  Engine engine({.threads = 1, .memory_bytes = 64 << 20});
  RunOptions options;
  options.context.cancel.cancel();
  auto result = engine.submit(chain(image, {1}, false), Box5::of(image.shape()), options).get();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kCancelled);
}

TEST(Engine, OutOfBoundsBoxIsAnError) {
  const AnyArray image = random_image({1, 1, 16, 16, 1}, 1);
  Engine engine({.threads = 1, .memory_bytes = 16 << 20});
  auto result = engine.compute(chain(image, {1}, false), Box5::of({1, 1, 17, 16, 1}));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kOutOfRange);
}

class MemoryWriter final : public ImageWriter {
 public:
  explicit MemoryWriter(Shape5 shape) : data(*AnyArray::allocate(DType::f32, shape)) {}
  Status write(const Box5& box, const AnyArray& block) override {
    ++writes;
    return block.copy_into(data.crop(box));
  }
  Status commit() override { return ok_status(); }
  AnyArray data;
  std::atomic<int> writes{0};
};

TEST(Engine, StreamsIntoWriterAlignedToChunksWithProgress) {
  const AnyArray image = random_image({1, 1, 100, 90, 1}, 5);
  const AnyArray expected = reference(image, {2});
  Engine engine({.threads = 2, .memory_bytes = 64 << 20});
  MemoryWriter writer(image.shape());
  int64_t last_done = 0, last_total = 0;
  Progress progress([&](int64_t d, int64_t t, const std::string&) {
    last_done = d;
    last_total = t;
  });
  RunOptions options;
  options.progress = &progress;
  options.block_shape = {1, 1, 40, 40, 1};
  options.align_to = {1, 1, 32, 32, 1};
  ASSERT_TRUE(
      engine.compute_to_writer(chain(image, {2}, false), writer, Box5::of(image.shape()), options)
          .ok());
  expect_equal(writer.data, expected);
  EXPECT_EQ(writer.writes.load(), 12);  // 32x32 blocks: ceil(100/32) * ceil(90/32)
  EXPECT_EQ(last_done, 12);
  EXPECT_EQ(last_total, 12);
}

TEST(Engine, PlansSmallerBlocksUnderATightBudget) {
  const AnyArray image = random_image({1, 1, 512, 512, 1}, 5);
  NodePtr node = chain(image, {1}, false);
  Engine roomy({.threads = 2, .memory_bytes = int64_t{1} << 30});
  Engine tight({.threads = 2, .memory_bytes = 256 << 10, .cache_fraction = 0.0});
  const Shape5 big = roomy.plan_block_shape(*node, Box5::of(image.shape()), {});
  const Shape5 small = tight.plan_block_shape(*node, Box5::of(image.shape()), {});
  EXPECT_EQ(big, Shape5(1, 1, 256, 256, 1));
  EXPECT_LT(small.size(), big.size());
  EXPECT_LE(2 * node->working_bytes(Box5::of(small)), int64_t{256} << 10);
}

TEST(Engine, ErrorsPropagateWithContext) {
  const AnyArray image = random_image({1, 1, 32, 32, 1}, 1);
  Engine engine({.threads = 2, .memory_bytes = 16 << 20});
  MemoryWriter writer(Shape5(1, 1, 8, 8, 1));  // wrong shape: writes fail
  Status status =
      engine.compute_to_writer(chain(image, {1}, false), writer, Box5::of(image.shape()));
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().to_string().find("writing block"), std::string::npos);
}

}  // namespace
}  // namespace grove
