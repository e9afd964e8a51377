// Benchmark of grove's pixel features (all of ilastik's features, 7 scales) on a 2D image and a 3D
// volume, block-wise on a ThreadPool like the engine runs them. Run through bench/features.py,
// which times VIGRA (ilastik_core.py) on the same data in the same run and prints the ratios.
//
// Custom flags (before Google Benchmark's own):
//   --image2d=PATH,Y,X          raw uint8 image (default: synthetic 1024 x 1344)
//   --volume=PATH,Z,Y,X         raw uint8 volume (default: synthetic 128 x 256 x 256)
//   --threads=N                 worker threads (default 2)
//   --block2d=Y,X --block3d=Z,Y,X   output block shapes
//   --cpu_seconds=N             instead of Google Benchmark: run each case N times and print the
//                               process CPU seconds per megapixel (steadier on a loaded machine)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "grove/core/blocking.h"
#include "grove/core/thread_pool.h"
#include "grove/filters/pixel_features.h"

namespace {

using namespace grove;

struct Settings {
  std::string image2d_path, volume_path;
  Shape5 image2d_shape{1, 1, 1024, 1344, 1};
  Shape5 volume_shape{1, 128, 256, 256, 1};
  int threads = 2;
  Shape5 block2d{1, 1, 256, 512, 1 << 20};
  Shape5 block3d{1, 128, 64, 128, 1 << 20};
};
Settings settings;

std::vector<int64_t> parse_numbers(const std::string& text) {
  std::vector<int64_t> numbers;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) numbers.push_back(std::stoll(item));
  return numbers;
}

AnyArray load_or_make(const std::string& path, const Shape5& shape, unsigned seed) {
  AnyArray array = *AnyArray::allocate(DType::u8, shape);
  auto* data = static_cast<uint8_t*>(array.raw_data());
  if (!path.empty()) {
    std::ifstream file(path, std::ios::binary);
    file.read(reinterpret_cast<char*>(data), static_cast<std::streamsize>(array.bytes()));
    if (!file) {
      std::fprintf(stderr, "cannot read %lld bytes from %s\n",
                   static_cast<long long>(array.bytes()), path.c_str());
      std::exit(2);
    }
    return array;
  }
  // Smooth random data: a sum of a few waves plus noise.
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> noise(0, 40);
  for (int64_t z = 0; z < shape[kZ]; ++z)
    for (int64_t y = 0; y < shape[kY]; ++y)
      for (int64_t x = 0; x < shape[kX]; ++x) {
        const double wave = 60 * std::sin(0.05 * x + 0.02 * z) * std::cos(0.07 * y) +
                            30 * std::sin(0.011 * (x + y + z));
        data[(z * shape[kY] + y) * shape[kX] + x] =
            static_cast<uint8_t>(std::clamp(120 + wave + noise(random), 0.0, 255.0));
      }
  return array;
}

// Computes all features of image block by block on the pool (what the engine does).
void compute_blockwise(ThreadPool& pool, const filters::PixelFeatures& params,
                       const AnyArray& image, const AnyArray& out, const Shape5& block_shape) {
  const ArrayInfo input{image.shape(), image.dtype()};
  Blocking blocking{Box5::of(out.shape()), block_shape};
  for (int a = 0; a < kRank; ++a)
    blocking.block_shape[a] = std::min(block_shape[a], out.shape()[a]);
  const std::vector<Box5> blocks = blocking.blocks();
  pool.parallel_for(static_cast<int64_t>(blocks.size()), [&](int64_t i) {
    const Box5& out_box = blocks[static_cast<size_t>(i)];
    const Box5 in_box =
        filters::input_box(params, out_box, input).intersect(Box5::of(image.shape()));
    const Status status =
        filters::compute(params, image.crop(in_box), in_box, out.crop(out_box), out_box);
    if (!status.ok()) {
      std::fprintf(stderr, "%s\n", status.error().to_string().c_str());
      std::exit(1);
    }
  });
}

void run(benchmark::State& state, const AnyArray& image, const Shape5& block_shape) {
  const filters::PixelFeatures params;
  const ArrayInfo info = *filters::infer(params, {image.shape(), image.dtype()});
  AnyArray out = *AnyArray::allocate(DType::f32, info.shape);
  // parallel_for also runs on the calling thread.
  ThreadPool pool(std::max(1, settings.threads - 1));
  for (auto _ : state) {
    compute_blockwise(pool, params, image, out, block_shape);
    benchmark::DoNotOptimize(out.raw_data());
  }
  const double megapixels = static_cast<double>(image.shape().pixels()) / 1e6;
  state.counters["megapixels"] = megapixels;
  state.counters["channels"] = static_cast<double>(info.shape.c());
  state.counters["s_per_megapixel"] = benchmark::Counter(
      megapixels, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_AllFeatures2d(benchmark::State& state) {
  static const AnyArray image = load_or_make(settings.image2d_path, settings.image2d_shape, 1);
  run(state, image, settings.block2d);
}

void BM_AllFeatures3d(benchmark::State& state) {
  static const AnyArray image = load_or_make(settings.volume_path, settings.volume_shape, 2);
  run(state, image, settings.block3d);
}

}  // namespace

// Process CPU time in seconds.
double cpu_seconds() {
  timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

void measure_cpu(int repetitions) {
  const filters::PixelFeatures params;
  for (int volume = 0; volume < 2; ++volume) {
    const AnyArray image = volume ? load_or_make(settings.volume_path, settings.volume_shape, 2)
                                  : load_or_make(settings.image2d_path, settings.image2d_shape, 1);
    const ArrayInfo info = *filters::infer(params, {image.shape(), image.dtype()});
    AnyArray out = *AnyArray::allocate(DType::f32, info.shape);
    ThreadPool pool(std::max(1, settings.threads - 1));
    compute_blockwise(pool, params, image, out,
                      volume ? settings.block3d : settings.block2d);  // warm
    const double start = cpu_seconds();
    for (int i = 0; i < repetitions; ++i) {
      compute_blockwise(pool, params, image, out, volume ? settings.block3d : settings.block2d);
    }
    const double seconds = (cpu_seconds() - start) / repetitions;
    std::printf("%s: %.4f CPU s per megapixel\n", volume ? "3d" : "2d",
                seconds / (static_cast<double>(image.shape().pixels()) / 1e6));
  }
}

int main(int argc, char** argv) {
  std::vector<char*> rest;
  int cpu_repetitions = 0;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* prefix) { return arg.substr(std::strlen(prefix)); };
    if (arg.rfind("--image2d=", 0) == 0) {
      auto parts = value("--image2d=");
      const size_t comma = parts.find(',');
      settings.image2d_path = parts.substr(0, comma);
      auto n = parse_numbers(parts.substr(comma + 1));
      settings.image2d_shape = Shape5(1, 1, n.at(0), n.at(1), 1);
    } else if (arg.rfind("--volume=", 0) == 0) {
      auto parts = value("--volume=");
      const size_t comma = parts.find(',');
      settings.volume_path = parts.substr(0, comma);
      auto n = parse_numbers(parts.substr(comma + 1));
      settings.volume_shape = Shape5(1, n.at(0), n.at(1), n.at(2), 1);
    } else if (arg.rfind("--cpu_seconds=", 0) == 0) {
      cpu_repetitions = std::stoi(value("--cpu_seconds="));
    } else if (arg.rfind("--threads=", 0) == 0) {
      settings.threads = std::stoi(value("--threads="));
    } else if (arg.rfind("--block2d=", 0) == 0) {
      auto n = parse_numbers(value("--block2d="));
      settings.block2d = Shape5(1, 1, n.at(0), n.at(1), 1 << 20);
    } else if (arg.rfind("--block3d=", 0) == 0) {
      auto n = parse_numbers(value("--block3d="));
      settings.block3d = Shape5(1, n.at(0), n.at(1), n.at(2), 1 << 20);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (cpu_repetitions > 0) {
    measure_cpu(cpu_repetitions);
    return 0;
  }
  int count = static_cast<int>(rest.size());
  benchmark::RegisterBenchmark("AllFeatures2d", BM_AllFeatures2d)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("AllFeatures3d", BM_AllFeatures3d)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::Initialize(&count, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
