// What autocontext's second stage costs on top of the first, against the pixel workflow (stage 1
// alone is exactly a pixel classifier) measured in the same run. Issue 10's bound: stage 2 costs
// no more than stage 1 plus the features of the extra channels (the previous stage's
// probabilities), i.e. (both − stage 1) / (stage 1 + extra features) ≤ 1, with nothing lost to
// recomputing stage 1 in the halos of stage 2's blocks.
//
// Cases: ilastik's 2d.h5 (1024 × 1344 nuclei) and a 3D volume (the 30 ISBI EM slices, cropped
// to 30 × 256 × 256; synthetic data of those shapes when ../shared/data is absent). Both stages
// use the same feature selection; the forests (100 trees) are trained on threshold strokes.
// Every figure is measured with a fresh engine (so no stage-1 block comes from an earlier run's
// cache), streamed block by block as `grove run` does, best of --repeat runs; process CPU
// seconds are the primary figure (steadier on a shared machine), wall seconds beside them.
//
// Flags: --threads=N (default 2)  --repeat=N (default 2)  --features2d=SPEC  --features3d=SPEC
//        --only=2d|3d
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "grove/core/blocking.h"
#include "grove/filters/pixel_features.h"
#include "grove/io/image.h"
#include "grove/learn/forest_prediction.h"
#include "grove/workflows/autocontext/autocontext.h"

namespace {

using namespace grove;

struct Settings {
  int threads = 2;
  int repeat = 2;
  std::string features2d = "all";
  // ilastik's usual choice for volumes (scales up to 3.5): all of "all" costs minutes on 2 cores.
  std::string features3d =
      "GaussianSmoothing:0.7,1.6,3.5;LaplacianOfGaussian:1.6,3.5;GaussianGradientMagnitude:1.6,3.5;"
      "DifferenceOfGaussians:1.6,3.5;StructureTensorEigenvalues:1.6,3.5;"
      "HessianOfGaussianEigenvalues:1.6,3.5";
  std::string only;
};

double cpu_seconds() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "autocontext_bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T check(Result<T> result, const char* what) {
  if (!result.ok()) fail(std::string(what) + ": " + result.error().to_string());
  return std::move(result).value();
}

AnyArray synthetic(const Shape5& shape, unsigned seed) {
  AnyArray array = *AnyArray::allocate(DType::u8, shape);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> noise(0, 40);
  View<uint8_t> v = array.view<uint8_t>();
  for (int64_t z = 0; z < shape[kZ]; ++z)
    for (int64_t y = 0; y < shape[kY]; ++y)
      for (int64_t x = 0; x < shape[kX]; ++x) {
        const double wave = 60 * std::sin(0.05 * x + 0.02 * z) * std::cos(0.07 * y) +
                            30 * std::sin(0.011 * (x + y + z));
        v(0, z, y, x, 0) = static_cast<uint8_t>(std::clamp(120 + wave + noise(random), 0.0, 255.0));
      }
  return array;
}

const std::string kData = GROVE_SOURCE_DIR "/../shared/data";

AnyArray image_2d() {
  auto reader = open_image(kData + "/ilastik_testdata/inputdata/2d.h5/data");
  if (!reader.ok()) return synthetic(Shape5(1, 1, 1024, 1344, 1), 1);
  return check((*reader)->read(Box5::of((*reader)->info().shape)), "reading 2d.h5");
}

AnyArray volume_3d() {
  const Shape5 shape(1, 30, 256, 256, 1);
  AnyArray volume = *AnyArray::allocate(DType::u8, shape);
  for (int64_t z = 0; z < 30; ++z) {
    char name[64];
    std::snprintf(name, sizeof name, "/%02d.png", static_cast<int>(z));
    auto reader = open_image(kData + "/pixel_classification/isbi2012_em_membranes/image" + name);
    if (!reader.ok()) return synthetic(shape, 2);
    AnyArray slice = check((*reader)->read(Box5(Shape5(0, 0, 0, 0, 0), Shape5(1, 1, 256, 256, 1))),
                           "reading an ISBI slice");
    if (!slice.copy_into(volume.crop(Box5(Shape5(0, z, 0, 0, 0), Shape5(1, z + 1, 256, 256, 1))))
             .ok()) {
      fail("copying an ISBI slice");
    }
  }
  return volume;
}

// Strokes like a user's: every 64th row (and every 8th slice), class 2 where the image is bright,
// class 1 where it is dark.
AnyArray threshold_strokes(const AnyArray& image) {
  AnyArray labels = *AnyArray::allocate(DType::u8, image.shape());
  View<const uint8_t> v = image.view<uint8_t>();
  double sum = 0, squares = 0;
  v.for_each([&](const uint8_t& value) {
    sum += value;
    squares += double(value) * value;
  });
  const double n = static_cast<double>(image.size());
  const double mean = sum / n, deviation = std::sqrt(std::max(0.0, squares / n - mean * mean));
  View<uint8_t> l = labels.view<uint8_t>();
  const Shape5 s = image.shape();
  for (int64_t z = 0; z<s[kZ]; z += s[kZ]> 1 ? 8 : 1)
    for (int64_t y = 32; y < s[kY]; y += 64)
      for (int64_t x = 0; x < s[kX]; ++x) {
        const double value = v(0, z, y, x, 0);
        l(0, z, y, x, 0) = value > mean + deviation ? 2 : (value < mean ? 1 : 0);
      }
  return labels;
}

EngineOptions engine_options(const Settings& settings) {
  EngineOptions options;
  options.threads = settings.threads;
  options.cache_fraction = 0.05;  // as `grove run` (batch)
  return options;
}

struct Timing {
  double cpu = 1e300, wall = 1e300;
};

// Streams every block of node through the engine (as an export does, without the writing); best
// of settings.repeat runs, each on a fresh engine.
Timing stream(const Settings& settings, const NodePtr& node) {
  Timing best;
  for (int r = 0; r < settings.repeat; ++r) {
    Engine engine(engine_options(settings));
    const double cpu = cpu_seconds(), wall = wall_seconds();
    Status status = engine.for_each_block(node, Box5::of(node->info().shape), {},
                                          [](const Box5&, const AnyArray&) { return ok_status(); });
    if (!status.ok()) fail(status.error().to_string());
    best.cpu = std::min(best.cpu, cpu_seconds() - cpu);
    best.wall = std::min(best.wall, wall_seconds() - wall);
  }
  return best;
}

void run_case(const Settings& settings, const char* name, const AnyArray& image,
              const std::string& spec) {
  const filters::FeatureSelection selection =
      check(filters::parse_feature_spec(spec), "parsing the features");
  NodePtr raw = array_node(image, std::string("bench ") + name);
  Autocontext autocontext(2);
  for (PixelClassification& stage : autocontext.stages) {
    stage.features = selection;
    stage.forest_options.tree_count = 100;
    PixelLane lane;
    lane.path = name;
    lane.shape = image.shape();
    lane.dtype = image.dtype();
    lane.labels = std::make_shared<LabelStore>(lane.shape);
    check(lane.labels->write(Box5::of(lane.shape), threshold_strokes(image)), "labels");
    stage.lanes.push_back(std::move(lane));
  }
  {
    Engine engine(engine_options(settings));
    check(autocontext.train(engine, {raw}), "training");
  }
  {
    // As `grove run` does: stage 2 reads stage 1's features from the cache when they fit.
    Engine engine(engine_options(settings));
    autocontext.share_features_within(engine);
  }
  const bool shared = autocontext.shares_stage1_features(raw, 1);
  NodePtr first = check(autocontext.probability_node(raw, 0), "stage 1");
  NodePtr second = check(autocontext.probability_node(raw, 1), "stage 2");
  // Stage 2 on its input computed beforehand (stage 1 never recomputed): its own cost.
  AnyArray stage_input;
  {
    Engine engine(engine_options(settings));
    NodePtr input = check(autocontext.stage_input_node(raw, 1), "stage 2's input");
    stage_input = check(engine.compute(input, Box5::of(input->info().shape)), "stage 2's input");
  }
  NodePtr precomputed = array_node(stage_input, std::string("bench stage input ") + name);
  NodePtr second_alone =
      check(apply_op(make_op(ForestPrediction{autocontext.stages[1].forest,
                                              autocontext.stages[1].forest_id, 0}),
                     check(autocontext.stages[1].feature_node(precomputed), "stage 2 features")),
            "stage 2 alone");
  // The features of the extra channels alone (stage 1's probabilities, in the raw dtype).
  const int64_t classes = stage_input.shape().c() - image.shape().c();
  AnyArray extra = check(stage_input.channels(image.shape().c(), stage_input.shape().c()).copy(),
                         "extra channels");
  NodePtr extra_features = check(
      autocontext.stages[1].feature_node(array_node(extra, std::string("bench extra ") + name)),
      "extra features");

  NodePtr first_features = check(autocontext.stages[0].feature_node(raw), "stage 1 features");
  NodePtr second_features =
      check(autocontext.stages[1].feature_node(precomputed), "stage 2 features");

  const Timing t1 = stream(settings, first);
  const Timing both = stream(settings, second);
  const Timing alone = stream(settings, second_alone);
  const Timing features = stream(settings, extra_features);
  const Timing f1 = stream(settings, first_features);
  const Timing f2 = stream(settings, second_features);

  const Shape5 s = image.shape();
  std::printf(
      "\n%s: %lld x %lld x %lld, %lld features per channel, %d threads "
      "(CPU s, wall s in brackets)\n",
      name, static_cast<long long>(s[kZ]), static_cast<long long>(s[kY]),
      static_cast<long long>(s[kX]),
      static_cast<long long>(filters::feature_channel_count(selection, 1, s[kZ] > 1)),
      settings.threads);
  std::printf("  stage 2 reads stage 1's raw-channel features from the cache: %s\n",
              shared ? "yes" : "no (they do not fit)");
  std::printf("  stage 1 alone (the pixel workflow)      %8.2f  (%.2f)\n", t1.cpu, t1.wall);
  std::printf("  both stages, block-wise                 %8.2f  (%.2f)   %.2f x stage 1\n",
              both.cpu, both.wall, both.cpu / t1.cpu);
  std::printf("  stage 2 alone, input precomputed        %8.2f  (%.2f)\n", alone.cpu, alone.wall);
  std::printf("  features of the %lld extra channels      %8.2f  (%.2f)\n",
              static_cast<long long>(classes), features.cpu, features.wall);
  const double stage2 = both.cpu - t1.cpu;
  std::printf(
      "  of which features: stage 1 %.2f, stage 2 %.2f; forests: stage 1 %.2f, stage 2 %.2f\n",
      f1.cpu, f2.cpu, t1.cpu - f1.cpu, alone.cpu - f2.cpu);
  std::printf("  stage 2's cost (both - stage 1)         %8.2f\n", stage2);
  std::printf("  bound: stage 1 + extra features         %8.2f   ratio %.2f (<= 1 meets it)\n",
              t1.cpu + features.cpu, stage2 / (t1.cpu + features.cpu));
  std::printf("  halo overhead (both - stage 1 - stage 2 alone) %.2f = %.1f%% of both\n",
              both.cpu - t1.cpu - alone.cpu, 100.0 * (both.cpu - t1.cpu - alone.cpu) / both.cpu);
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* prefix) -> std::optional<std::string> {
      if (arg.rfind(prefix, 0) != 0) return std::nullopt;
      return arg.substr(std::strlen(prefix));
    };
    if (auto v = value("--threads=")) {
      settings.threads = std::max(1, std::atoi(v->c_str()));
    } else if (auto v = value("--repeat=")) {
      settings.repeat = std::max(1, std::atoi(v->c_str()));
    } else if (auto v = value("--features2d=")) {
      settings.features2d = *v;
    } else if (auto v = value("--features3d=")) {
      settings.features3d = *v;
    } else if (auto v = value("--only=")) {
      settings.only = *v;
    } else {
      fail("unknown flag " + arg + " (see the top of bench/autocontext_bench.cpp)");
    }
  }
  if (settings.only.empty() || settings.only == "2d")
    run_case(settings, "2d.h5", image_2d(), settings.features2d);
  if (settings.only.empty() || settings.only == "3d")
    run_case(settings, "ISBI 3D", volume_3d(), settings.features3d);
  return 0;
}
