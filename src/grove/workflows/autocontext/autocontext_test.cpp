// The autocontext workflow: ilastik's conversion of probabilities to the raw dtype, export
// source names, the stage inputs (channel order, dtype), block-wise prediction through every
// stage equal to whole-image prediction, laziness (a small box reads a small part of the raw
// image), training order and bad input.
#include "grove/workflows/autocontext/autocontext.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>

#include <fmt/format.h>

#include "grove/core/blocking.h"
#include "grove/workflows/autocontext/probabilities_as_input_type.h"

namespace grove {
namespace {

AnyArray probabilities(const std::vector<float>& values) {
  AnyArray a =
      *AnyArray::allocate(DType::f32, Shape5(1, 1, 1, static_cast<int64_t>(values.size()), 1));
  for (size_t i = 0; i < values.size(); ++i)
    a.view<float>()(0, 0, 0, static_cast<int64_t>(i), 0) = values[i];
  return a;
}

template <class T>
std::vector<T> converted(DType dtype, const std::vector<float>& values) {
  AnyArray in = probabilities(values);
  AnyArray out = *AnyArray::allocate(dtype, in.shape());
  const Box5 box = Box5::of(in.shape());
  Status status = compute(ProbabilitiesAsInputType{dtype}, in, box, out, box);
  EXPECT_TRUE(status.ok()) << status.error().to_string();
  std::vector<T> result;
  for (int64_t i = 0; i < in.shape().x(); ++i) result.push_back(out.view<T>()(0, 0, 0, i, 0));
  return result;
}

TEST(ProbabilitiesAsInputType, FollowsIlastiksRule) {
  // uint8: ⌊255·p⌋ in float32 (0.37 · 255 = 94.35; 0.5 · 255 = 127.5).
  EXPECT_EQ(converted<uint8_t>(DType::u8, {0.0f, 0.37f, 0.5f, 0.999f, 1.0f}),
            (std::vector<uint8_t>{0, 94, 127, 254, 255}));
  EXPECT_EQ(converted<uint16_t>(DType::u16, {0.0f, 0.5f, 1.0f}),
            (std::vector<uint16_t>{0, 32767, 65535}));
  // int8: numpy's wrap of ⌊255·p + 128⌋ maps 0..1 onto −128..127.
  EXPECT_EQ(converted<int8_t>(DType::i8, {0.0f, 0.25f, 0.5f, 0.502f, 1.0f}),
            (std::vector<int8_t>{-128, -65, -1, 0, 127}));
  EXPECT_EQ(converted<int16_t>(DType::i16, {0.0f, 0.5f, 1.0f}),
            (std::vector<int16_t>{-32768, -1, 32767}));
  EXPECT_EQ(converted<uint32_t>(DType::u32, {0.0f, 0.5f, 1.0f}),
            (std::vector<uint32_t>{0, 2147483647u, 4294967295u}));
  EXPECT_EQ(converted<float>(DType::f32, {0.0f, 0.37f, 1.0f}),
            (std::vector<float>{0.0f, 0.37f, 1.0f}));
  EXPECT_EQ(converted<double>(DType::f64, {0.25f}), (std::vector<double>{0.25}));
  EXPECT_EQ(converted<bool>(DType::boolean, {0.0f, 0.1f}), (std::vector<bool>{false, true}));
}

TEST(ProbabilitiesAsInputType, NeedsFloatProbabilitiesAndRoundTripsJson) {
  EXPECT_FALSE(
      infer(ProbabilitiesAsInputType{DType::u8}, ArrayInfo{Shape5(1, 1, 4, 4, 2), DType::u8}).ok());
  auto info =
      infer(ProbabilitiesAsInputType{DType::u16}, ArrayInfo{Shape5(1, 1, 4, 4, 2), DType::f32});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->dtype, DType::u16);
  EXPECT_EQ(info->shape, Shape5(1, 1, 4, 4, 2));
  nlohmann::json json = ProbabilitiesAsInputType{DType::i16};
  EXPECT_EQ(json.get<ProbabilitiesAsInputType>(), ProbabilitiesAsInputType{DType::i16});
  EXPECT_THROW(nlohmann::json({{"dtype", "complex"}}).get<ProbabilitiesAsInputType>(),
               std::invalid_argument);
}

TEST(AutocontextSource, ParsesIlastiksAndGrovesNames) {
  auto p = parse_autocontext_source("Probabilities Stage 2", 2);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->source, ExportSource::kProbabilities);
  EXPECT_EQ(p->stage, 1u);
  p = parse_autocontext_source("simple-segmentation-stage-1", 2);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->source, ExportSource::kSimpleSegmentation);
  EXPECT_EQ(p->stage, 0u);
  p = parse_autocontext_source("PROBABILITIES ALL STAGES", 3);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->all_stages);
  p = parse_autocontext_source("Input Stage 2", 2);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->input);
  p = parse_autocontext_source("uncertainty", 2);  // plain name: the last stage
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->source, ExportSource::kUncertainty);
  EXPECT_FALSE(p->stage.has_value());
  EXPECT_EQ(autocontext_source_name(*p, 2), "Uncertainty Stage 2");
  for (const char* name : {"Labels Stage 1", "Features Stage 2", "Simple Segmentation Stage 2",
                           "Probabilities All Stages", "Input Stage 1"}) {
    auto parsed = parse_autocontext_source(name, 2);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(autocontext_source_name(*parsed, 2), name);
  }
  auto bad = parse_autocontext_source("Probabilities Stage 3", 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().to_string().find("stages 1..2"), std::string::npos);
  EXPECT_FALSE(parse_autocontext_source("Probabilities Stage 0", 2).ok());
  EXPECT_FALSE(parse_autocontext_source("Probabilities Stage x", 2).ok());
  EXPECT_FALSE(parse_autocontext_source("Features All Stages", 2).ok());
  EXPECT_FALSE(parse_autocontext_source("nonsense", 2).ok());
}

// A 2D test image: bright disks with a dim rim on a noisy background; class 1 background,
// class 2 disk interiors, painted as strokes.
struct Scene {
  AnyArray image;
  AnyArray labels;
};

Scene make_scene(int64_t height, int64_t width, uint32_t seed) {
  Scene scene;
  const Shape5 shape(1, 1, height, width, 1);
  scene.image = *AnyArray::allocate(DType::u8, shape);
  scene.labels = *AnyArray::allocate(DType::u8, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 12.0);
  View<uint8_t> image = scene.image.view<uint8_t>();
  View<uint8_t> labels = scene.labels.view<uint8_t>();
  const double radius = 13.0;
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x) {
      const double cy = static_cast<double>((y / 40) * 40 + 20);
      const double cx = static_cast<double>((x / 40) * 40 + 20);
      const double r = std::hypot(static_cast<double>(y) - cy, static_cast<double>(x) - cx);
      double value = r < radius ? 150.0 : (r < radius + 3 ? 90.0 : 60.0);
      value += noise(rng);
      image(0, 0, y, x, 0) = static_cast<uint8_t>(std::clamp(value, 0.0, 255.0));
      uint8_t label = 0;
      if (y % 40 == 20 && r < radius - 3) label = 2;
      if (x % 40 == 2) label = 1;
      labels(0, 0, y, x, 0) = label;
    }
  return scene;
}

Autocontext trained_autocontext(const Scene& scene, NodePtr raw, Engine& engine) {
  Autocontext autocontext(2);
  for (PixelClassification& stage : autocontext.stages) {
    stage.features = *filters::parse_feature_spec(
        "GaussianSmoothing:0.7,1.6;GaussianGradientMagnitude:1.0;HessianOfGaussianEigenvalues:1.6");
    stage.forest_options.tree_count = 12;
    PixelLane lane;
    lane.path = "memory";
    lane.nickname = "scene";
    lane.shape = scene.image.shape();
    lane.dtype = DType::u8;
    lane.labels = std::make_shared<LabelStore>(lane.shape);
    EXPECT_TRUE(lane.labels->write(Box5::of(lane.shape), scene.labels).ok());
    stage.lanes.push_back(std::move(lane));
  }
  auto reports = autocontext.train(engine, {raw});
  EXPECT_TRUE(reports.ok()) << reports.error().to_string();
  return autocontext;
}

EngineOptions small_engine() {
  EngineOptions options;
  options.threads = 2;
  options.memory_bytes = int64_t{512} << 20;
  options.cache_fraction = 0.1;
  return options;
}

TEST(Autocontext, StageInputIsRawThenPreviousProbabilitiesInRawDtype) {
  Scene scene = make_scene(90, 70, 1);
  NodePtr raw = array_node(scene.image, "scene");
  Engine engine(small_engine());
  Autocontext autocontext = trained_autocontext(scene, raw, engine);
  ASSERT_TRUE(autocontext.trained());
  EXPECT_EQ(autocontext.stages[0].trained_channels, 1);
  EXPECT_EQ(autocontext.stages[1].trained_channels, 3);  // raw + 2 classes of stage 1

  NodePtr input = *autocontext.stage_input_node(raw, 1);
  EXPECT_EQ(input->info().shape, Shape5(1, 1, 90, 70, 3));
  EXPECT_EQ(input->info().dtype, DType::u8);
  NodePtr first = *autocontext.probability_node(raw, 0);
  const Box5 all = Box5::of(input->info().shape);
  AnyArray stacked = *engine.compute(input, all);
  AnyArray p = *engine.compute(first, Box5::of(first->info().shape));
  View<const uint8_t> s = stacked.view<uint8_t>();
  View<const float> q = p.view<float>();
  View<const uint8_t> image = scene.image.view<uint8_t>();
  for (int64_t y = 0; y < 90; ++y)
    for (int64_t x = 0; x < 70; ++x) {
      ASSERT_EQ(s(0, 0, y, x, 0), image(0, 0, y, x, 0));
      for (int k = 0; k < 2; ++k)
        ASSERT_EQ(s(0, 0, y, x, 1 + k),
                  static_cast<uint8_t>(std::floor(255.0f * q(0, 0, y, x, k))));
    }
  // The stages learned something: stage 2 finds the disks' interiors.
  NodePtr second = *autocontext.probability_node(raw, 1);
  AnyArray p2 = *engine.compute(second, Box5::of(second->info().shape));
  EXPECT_GT(p2.view<float>()(0, 0, 20, 20, 1), 0.5f);
  EXPECT_LT(p2.view<float>()(0, 0, 2, 2, 1), 0.5f);
}

TEST(Autocontext, BlockwiseEqualsWholeThroughEveryStage) {
  Scene scene = make_scene(150, 130, 2);
  NodePtr raw = array_node(scene.image, "scene");
  Engine engine(small_engine());
  Autocontext autocontext = trained_autocontext(scene, raw, engine);
  for (const char* name :
       {"Probabilities Stage 2", "Probabilities All Stages", "Simple Segmentation Stage 2",
        "Uncertainty Stage 1", "Features Stage 2"}) {
    NodePtr node = *autocontext.export_node(raw, *parse_autocontext_source(name, 2));
    const Box5 all = Box5::of(node->info().shape);
    RunOptions whole_options;
    whole_options.block_shape = node->info().shape;
    AnyArray whole = *engine.compute(node, all, whole_options);
    for (Shape5 block :
         {Shape5(1, 1, 37, 29, 1), Shape5(1, 1, 64, 64, 1), Shape5(1, 1, 13, 130, 1)}) {
      RunOptions options;
      options.block_shape = block;
      auto blockwise = engine.compute(node, all, options);
      ASSERT_TRUE(blockwise.ok()) << blockwise.error().to_string();
      ASSERT_EQ(whole.bytes(), blockwise->bytes());
      ASSERT_EQ(std::memcmp(whole.raw_data(), blockwise->raw_data(), whole.bytes()), 0)
          << name << " in blocks of " << block.to_string();
    }
  }
  // All stages = stage 1's channels, then stage 2's.
  NodePtr all_stages = *autocontext.all_stages_probability_node(raw);
  ASSERT_EQ(all_stages->info().shape.c(), 4);
  AnyArray everything = *engine.compute(all_stages, Box5::of(all_stages->info().shape));
  AnyArray second =
      *engine.compute(*autocontext.probability_node(raw, 1), Box5::of(Shape5(1, 1, 150, 130, 2)));
  EXPECT_EQ(everything.view<float>()(0, 0, 75, 60, 2), second.view<float>()(0, 0, 75, 60, 0));
  EXPECT_EQ(everything.view<float>()(0, 0, 75, 60, 3), second.view<float>()(0, 0, 75, 60, 1));
}

// Later stages may read stage 1's cached features of the raw channels instead of computing the
// features of the stacked input (shared_feature_prediction.h): every stage's probabilities, the
// "all stages" stack and the stage's features must be the same bits either way, for 2 and 3
// stages, in 2D and 3D, whole and in odd blocks.
AnyArray computed(Engine& engine, const NodePtr& node, std::optional<Shape5> block = {}) {
  RunOptions options;
  if (block) options.block_shape = *block;
  auto result = engine.compute(node, Box5::of(node->info().shape), options);
  EXPECT_TRUE(result.ok()) << result.error().to_string();
  return result.ok() ? *result : AnyArray();
}

void expect_same_bits(const AnyArray& a, const AnyArray& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  ASSERT_EQ(std::memcmp(a.raw_data(), b.raw_data(), a.bytes()), 0) << what;
}

TEST(Autocontext, SharedStage1FeaturesGiveTheSameBitsAsTheStackedInput) {
  Scene scene = make_scene(90, 110, 5);
  // A volume: the scene in 9 slices, each with its own noise, labelled in two of them.
  const Shape5 volume_shape(1, 9, 48, 52, 1);
  AnyArray volume = *AnyArray::allocate(DType::u8, volume_shape);
  AnyArray volume_labels = *AnyArray::allocate(DType::u8, volume_shape);
  std::mt19937 rng(9);
  std::uniform_int_distribution<int> jitter(-6, 6);
  for (int64_t z = 0; z < 9; ++z)
    for (int64_t y = 0; y < 48; ++y)
      for (int64_t x = 0; x < 52; ++x) {
        const int value = scene.image.view<uint8_t>()(0, 0, y + z, x, 0) + jitter(rng);
        volume.view<uint8_t>()(0, z, y, x, 0) = static_cast<uint8_t>(std::clamp(value, 0, 255));
        if (z == 2 || z == 6)
          volume_labels.view<uint8_t>()(0, z, y, x, 0) =
              scene.labels.view<uint8_t>()(0, 0, y, x, 0);
      }
  Scene volume_scene{volume, volume_labels};
  for (size_t stages : {size_t{2}, size_t{3}}) {
    for (const Scene* s : {&scene, &volume_scene}) {
      const std::string what = fmt::format("{} stages, {}", stages, s == &scene ? "2D" : "3D");
      NodePtr raw = array_node(s->image, what);
      Engine engine(small_engine());
      Autocontext plain = trained_autocontext(*s, raw, engine);
      if (stages == 3) {
        plain.stages.push_back(plain.stages[1]);
        plain.stages[2].training_rows = std::make_shared<TrainingRowCache>();
        ASSERT_TRUE(plain.train_stage(engine, 2, {raw}).ok());
      }
      Autocontext shared = plain;
      shared.share_features_within(engine);
      ASSERT_GT(shared.feature_sharing_bytes, 0);
      for (size_t k = 1; k < stages; ++k) {
        ASSERT_TRUE(shared.shares_stage1_features(raw, k)) << what;
        ASSERT_FALSE(plain.shares_stage1_features(raw, k)) << what;
      }
      for (size_t k = 0; k < stages; ++k) {
        const std::string stage = fmt::format("{}, stage {}", what, k + 1);
        NodePtr expected_node = *plain.probability_node(raw, k);
        NodePtr shared_node = *shared.probability_node(raw, k);
        const AnyArray expected = computed(engine, expected_node);
        expect_same_bits(computed(engine, shared_node), expected, stage);
        expect_same_bits(computed(engine, shared_node, Shape5(1, 3, 37, 29, 1)), expected,
                         stage + " in blocks");
        expect_same_bits(computed(engine, *shared.feature_node(raw, k)),
                         computed(engine, *plain.feature_node(raw, k)), stage + " features");
      }
      expect_same_bits(computed(engine, *shared.all_stages_probability_node(raw)),
                       computed(engine, *plain.all_stages_probability_node(raw)),
                       what + ", all stages");
    }
  }
}

TEST(Autocontext, SharesStage1FeaturesOnlyWhenTheyFitAndMatch) {
  Scene scene = make_scene(60, 50, 6);
  NodePtr raw = array_node(scene.image, "scene");
  Engine engine(small_engine());
  Autocontext autocontext = trained_autocontext(scene, raw, engine);
  EXPECT_FALSE(autocontext.shares_stage1_features(raw, 1));  // off unless an engine is named
  autocontext.share_features_within(engine);
  EXPECT_TRUE(autocontext.shares_stage1_features(raw, 1));
  EXPECT_FALSE(autocontext.shares_stage1_features(raw, 0));
  // 5 feature channels + 2 classes per pixel, as float32: 60 * 50 * 7 * 4 bytes.
  autocontext.feature_sharing_bytes = 60 * 50 * 7 * 4;
  EXPECT_TRUE(autocontext.shares_stage1_features(raw, 1));
  autocontext.feature_sharing_bytes -= 1;
  EXPECT_FALSE(autocontext.shares_stage1_features(raw, 1));
  autocontext.share_features_within(engine);
  autocontext.stages[1].features = *filters::parse_feature_spec("GaussianSmoothing:0.7");
  EXPECT_FALSE(autocontext.shares_stage1_features(raw, 1));
}

// Records the largest box anyone reads from the raw image.
class RecordingNode final : public Node {
 public:
  explicit RecordingNode(AnyArray array) : array_(std::move(array)) {
    info_ = ArrayInfo{array_.shape(), array_.dtype()};
    identity_ = 0x5EC0D;
    cache_block_shape_ = default_block_shape(info_.shape);
  }
  std::string describe() const override { return "recorded raw"; }
  Status compute(Engine&, const Box5& box, const AnyArray& out,
                 const RequestContext&) const override {
    {
      std::lock_guard lock(mutex_);
      largest_ = std::max(largest_, box.size());
      total_ += box.size();
    }
    return array_.crop(box).copy_into(out);
  }
  int64_t working_bytes(const Box5& box) const override { return box.size(); }
  int64_t largest() const { return largest_; }

 private:
  AnyArray array_;
  mutable std::mutex mutex_;
  mutable int64_t largest_ = 0, total_ = 0;
};

TEST(Autocontext, ASmallBoxReadsOnlyWhatItsHalosNeed) {
  Scene scene = make_scene(120, 100, 3);
  Engine engine(small_engine());
  Autocontext autocontext = trained_autocontext(scene, array_node(scene.image, "scene"), engine);
  // A large image (tiled scene) read through a recording node; ask for a 16² box of stage 2.
  const Shape5 big(1, 1, 1200, 1000, 1);
  AnyArray image = *AnyArray::allocate(DType::u8, big);
  for (int64_t y = 0; y < 1200; ++y)
    for (int64_t x = 0; x < 1000; ++x)
      image.view<uint8_t>()(0, 0, y, x, 0) = scene.image.view<uint8_t>()(0, 0, y % 120, x % 100, 0);
  auto recording = std::make_shared<RecordingNode>(image);
  NodePtr second = *autocontext.probability_node(recording, 1);
  const Box5 box(Shape5(0, 0, 600, 500, 0), Shape5(1, 1, 616, 516, 2));
  auto result = engine.compute(second, box);
  ASSERT_TRUE(result.ok()) << result.error().to_string();
  // Stage 1's cached blocks (256²) around the box plus halos, never the whole image.
  EXPECT_LE(recording->largest(), 400 * 400);
  EXPECT_LT(recording->largest(), big.size() / 4);
  // And the values equal those of the same box computed in the small tile it repeats.
  AnyArray whole =
      *engine.compute(second, Box5(Shape5(0, 0, 560, 460, 0), Shape5(1, 1, 660, 560, 2)));
  EXPECT_EQ(result->view<float>()(0, 0, 8, 8, 1), whole.view<float>()(0, 0, 48, 48, 1));
}

TEST(Autocontext, BadInput) {
  Scene scene = make_scene(60, 50, 4);
  NodePtr raw = array_node(scene.image, "scene");
  Engine engine(small_engine());
  Autocontext untrained(2);
  auto missing = untrained.probability_node(raw, 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().to_string().find("stage 2"), std::string::npos);
  EXPECT_FALSE(untrained.probability_node(raw, 5).ok());
  // Stage 2 cannot train before stage 1.
  auto early = untrained.train_stage(engine, 1, {raw});
  ASSERT_FALSE(early.ok());
  EXPECT_NE(early.error().to_string().find("train stage 1 first"), std::string::npos);

  Autocontext autocontext = trained_autocontext(scene, raw, engine);
  // An image with another channel count.
  AnyArray two = *AnyArray::allocate(DType::u8, Shape5(1, 1, 60, 50, 2));
  auto channels = autocontext.probability_node(array_node(two, "two channels"), 1);
  ASSERT_FALSE(channels.ok());
  EXPECT_NE(channels.error().to_string().find("channel"), std::string::npos);
  // Stage 1 retrained with a third class: stage 2's forest no longer fits its input.
  AnyArray labels = scene.labels;
  labels = *labels.copy();
  labels.view<uint8_t>()(0, 0, 0, 0, 0) = 3;
  ASSERT_TRUE(autocontext.stages[0].lanes[0].labels->write(Box5::of(labels.shape()), labels).ok());
  ASSERT_TRUE(autocontext.train_stage(engine, 0, {raw}).ok());
  auto stale = autocontext.probability_node(raw, 1);
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(stale.error().to_string().find("retrain stage 2"), std::string::npos);
  ASSERT_TRUE(autocontext.train_stage(engine, 1, {raw}).ok());
  EXPECT_TRUE(autocontext.probability_node(raw, 1).ok());
  EXPECT_EQ(autocontext.stages[1].trained_channels, 4);
}

}  // namespace
}  // namespace grove
