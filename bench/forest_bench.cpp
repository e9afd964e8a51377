// Random forest benchmark (grove's side). bench/forest.py prepares a real problem (the 49 ilastik
// features of 2d.h5, user-like strokes), runs VIGRA and scikit-learn on it in the same run, runs
// this binary and prints the ratios. Run alone, it uses a synthetic problem of the same size.
//
// Data (GROVE_FOREST_BENCH_DATA=DIR, written by bench/forest.py):
//   meta.json           {"rows": N, "columns": F, "train": n, "test": m}
//   features.f32        N × F float32, every pixel of the image
//   train_rows.i64, train_labels.i32, test_rows.i64, test_labels.i32
//   vigra_forest.h5     (optional) VIGRA forests in ilastik's layout, for the imported-forest run
// GROVE_BENCH_THREADS (default 2): threads used, the calling thread included.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "grove/learn/forest_training.h"
#include "grove/learn/random_forest.h"
#include "grove/learn/random_generator.h"
#include "grove/learn/vigra_forest.h"

namespace grove {
namespace {

struct Problem {
  int64_t rows = 0, columns = 0;
  std::vector<float> features;  // all pixels
  std::vector<float> train_features, test_features;
  std::vector<int32_t> train_labels, test_labels;
  std::string directory;
};

template <class T>
std::vector<T> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    std::fprintf(stderr, "forest_bench: cannot read %s\n", path.c_str());
    std::exit(2);
  }
  const auto bytes = static_cast<size_t>(in.tellg());
  std::vector<T> values(bytes / sizeof(T));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(values.data()), static_cast<std::streamsize>(bytes));
  return values;
}

std::vector<float> gather_rows(const Problem& p, const std::vector<int64_t>& rows) {
  std::vector<float> out(rows.size() * p.columns);
  for (size_t i = 0; i < rows.size(); ++i)
    std::copy_n(&p.features[rows[i] * p.columns], p.columns, &out[i * p.columns]);
  return out;
}

Problem synthetic_problem() {
  // 1024 × 1344 pixels of 49 smooth-ish features, two classes by a nonlinear rule.
  Problem p;
  p.rows = 1024 * 1344;
  p.columns = 49;
  p.features.resize(p.rows * p.columns);
  RandomGenerator random(1, 1);
  auto uniform = [&] { return static_cast<float>(random.next() >> 40) / 16777216.0f; };
  for (auto& v : p.features) v = uniform();
  std::vector<int64_t> train_rows, test_rows;
  for (int i = 0; i < 30000; ++i)
    (i < 20000 ? train_rows : test_rows).push_back(random.below(p.rows));
  auto label = [&](int64_t r) {
    const float* x = &p.features[r * p.columns];
    return (x[0] + x[1] * x[2] + 0.3f * x[7] > 0.9f) ? 1 : 2;
  };
  for (int64_t r : train_rows) p.train_labels.push_back(label(r));
  for (int64_t r : test_rows) p.test_labels.push_back(label(r));
  p.train_features = gather_rows(p, train_rows);
  p.test_features = gather_rows(p, test_rows);
  return p;
}

const Problem& problem() {
  static const Problem instance = [] {
    const char* directory = std::getenv("GROVE_FOREST_BENCH_DATA");
    if (directory == nullptr) return synthetic_problem();
    Problem p;
    p.directory = directory;
    std::ifstream meta_file(p.directory + "/meta.json");
    const auto meta = nlohmann::json::parse(meta_file);
    p.rows = meta.at("rows").get<int64_t>();
    p.columns = meta.at("columns").get<int64_t>();
    p.features = read_raw<float>(p.directory + "/features.f32");
    if (static_cast<int64_t>(p.features.size()) != p.rows * p.columns) {
      std::fprintf(stderr, "forest_bench: features.f32 has the wrong size\n");
      std::exit(2);
    }
    p.train_features = gather_rows(p, read_raw<int64_t>(p.directory + "/train_rows.i64"));
    p.test_features = gather_rows(p, read_raw<int64_t>(p.directory + "/test_rows.i64"));
    p.train_labels = read_raw<int32_t>(p.directory + "/train_labels.i32");
    p.test_labels = read_raw<int32_t>(p.directory + "/test_labels.i32");
    return p;
  }();
  return instance;
}

int bench_threads() {
  const char* value = std::getenv("GROVE_BENCH_THREADS");
  return value != nullptr ? std::max(1, std::atoi(value)) : 2;
}

// The pool's workers plus the calling thread (which helps in parallel_for) make the threads.
std::unique_ptr<ThreadPool> make_pool() {
  const int threads = bench_threads();
  return threads > 1 ? std::make_unique<ThreadPool>(threads - 1) : nullptr;
}

double held_out_accuracy(const RandomForest& forest, ThreadPool* pool) {
  const Problem& p = problem();
  const FeatureMatrix test(p.test_features.data(), static_cast<int64_t>(p.test_labels.size()),
                           p.columns);
  auto predicted = forest.predict_labels(test, pool);
  if (!predicted.ok()) return std::nan("");
  int64_t right = 0;
  for (size_t i = 0; i < p.test_labels.size(); ++i) right += (*predicted)[i] == p.test_labels[i];
  return static_cast<double>(right) / static_cast<double>(p.test_labels.size());
}

ForestOptions options_for(SplitSearch search) {
  ForestOptions options;
  options.tree_count = 100;
  options.split_search = search;
  return options;
}

void train(benchmark::State& state, SplitSearch search) {
  const Problem& p = problem();
  auto pool = make_pool();
  const FeatureMatrix train(p.train_features.data(), static_cast<int64_t>(p.train_labels.size()),
                            p.columns);
  RandomForest forest;
  for (auto _ : state) {
    auto trained =
        train_classification_forest(train, p.train_labels, {}, options_for(search), pool.get());
    if (!trained.ok()) {
      state.SkipWithError(trained.error().to_string().c_str());
      return;
    }
    forest = std::move(trained).value();
  }
  state.counters["accuracy"] = held_out_accuracy(forest, pool.get());
  state.counters["nodes"] = static_cast<double>(forest.node_count());
  state.counters["max_depth"] = forest.max_depth();
  state.counters["threads"] = bench_threads();
}

void BM_ForestTrainHistogram(benchmark::State& state) { train(state, SplitSearch::kHistogram); }
void BM_ForestTrainExact(benchmark::State& state) { train(state, SplitSearch::kExact); }

const RandomForest& trained_forest() {
  static const RandomForest forest = [] {
    const Problem& p = problem();
    auto pool = make_pool();
    const FeatureMatrix train(p.train_features.data(), static_cast<int64_t>(p.train_labels.size()),
                              p.columns);
    return train_classification_forest(train, p.train_labels, {},
                                       options_for(SplitSearch::kHistogram), pool.get())
        .value();
  }();
  return forest;
}

// Mean number of splits a sample passes per tree (over the first pixels): what a walk costs.
double mean_walk_length(const RandomForest& forest, const Problem& p) {
  const int64_t samples = std::min<int64_t>(p.rows, 100000);
  int64_t steps = 0;
  for (int64_t t = 0; t < forest.tree_count(); ++t) {
    const auto nodes = forest.tree_nodes(t);
    for (int64_t r = 0; r < samples; ++r) {
      const float* x = &p.features[r * p.columns];
      int32_t at = 0;
      do {
        at = nodes[at].next(x[nodes[at].feature]);
        ++steps;
      } while (at >= 0);
    }
  }
  return static_cast<double>(steps) / static_cast<double>(samples * forest.tree_count());
}

void predict_image(benchmark::State& state, const RandomForest& forest, int max_depth) {
  const Problem& p = problem();
  auto pool = make_pool();
  std::vector<float> out(p.rows * forest.output_count());
  PredictOptions options;
  options.max_depth = max_depth;
  for (auto _ : state) {
    auto status = forest.predict(FeatureMatrix(p.features.data(), p.rows, p.columns),
                                 MatrixView<float>(out.data(), p.rows, forest.output_count()),
                                 pool.get(), options);
    if (!status.ok()) {
      state.SkipWithError(status.error().to_string().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["megapixels"] = static_cast<double>(p.rows) / 1e6;
  state.counters["trees"] = static_cast<double>(forest.tree_count());
  state.counters["threads"] = bench_threads();
  if (max_depth == 0) state.counters["walk_length"] = mean_walk_length(forest, p);
}

void BM_ForestPredict(benchmark::State& state) { predict_image(state, trained_forest(), 0); }

// VIGRA's own forest (written by bench/forest.py), read into grove.
void BM_ForestPredictImported(benchmark::State& state) {
  const Problem& p = problem();
  const std::string path = p.directory + "/vigra_forest.h5";
  if (p.directory.empty() || !std::ifstream(path)) {
    state.SkipWithError("no VIGRA forest (run bench/forest.py)");
    return;
  }
  auto file = hdf5::File::open(path);
  if (!file.ok()) {
    state.SkipWithError(file.error().to_string().c_str());
    return;
  }
  auto group = file->open_group("PixelClassification/ClassifierForests");
  auto forest = group.ok() ? read_ilastik_forests(*group) : Result<RandomForest>(group.error());
  if (!forest.ok()) {
    state.SkipWithError(forest.error().to_string().c_str());
    return;
  }
  predict_image(state, *forest, 0);
  auto pool = make_pool();
  state.counters["accuracy"] = held_out_accuracy(*forest, pool.get());
}
void BM_ForestPredictDepth8(benchmark::State& state) { predict_image(state, trained_forest(), 8); }

BENCHMARK(BM_ForestTrainHistogram)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ForestTrainExact)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(BM_ForestPredict)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ForestPredictDepth8)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_ForestPredictImported)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace grove

BENCHMARK_MAIN();
