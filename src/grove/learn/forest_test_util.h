// Small synthetic problems shared by the random forest tests.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "grove/learn/feature_matrix.h"
#include "grove/learn/random_generator.h"

namespace grove::forest_test {

// Uniform in [0, 1).
inline double uniform(RandomGenerator& random) {
  return static_cast<double>(random.next() >> 11) * (1.0 / 9007199254740992.0);
}

inline double normal(RandomGenerator& random) {
  const double u = std::max(uniform(random), 1e-300);
  const double v = uniform(random);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
}

// Classes are Gaussian blobs (standard deviation `spread`) whose centres differ in the first
// `informative` features: in each of them the classes sit 2 apart, in a different order per
// feature. The other features are noise.
struct Blobs {
  int64_t rows = 0;
  int64_t columns = 0;
  std::vector<float> features;
  std::vector<int32_t> labels;
  FeatureMatrix matrix() const { return FeatureMatrix(features.data(), rows, columns); }
};

inline Blobs make_blobs(int64_t rows, int64_t columns, int classes, int informative, double spread,
                        uint64_t seed) {
  std::vector<std::vector<double>> centres(classes, std::vector<double>(informative));
  for (int k = 0; k < classes; ++k)
    for (int d = 0; d < informative; ++d) centres[k][d] = 2.0 * ((k + d) % classes);
  RandomGenerator random(seed, 12345);
  Blobs blobs;
  blobs.rows = rows;
  blobs.columns = columns;
  blobs.features.resize(rows * columns);
  blobs.labels.resize(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const int label = static_cast<int>(random.below(classes));
    blobs.labels[r] = label;
    for (int64_t c = 0; c < columns; ++c) {
      const double base = c < informative ? centres[label][c] : 0.0;
      blobs.features[r * columns + c] = static_cast<float>(base + spread * normal(random));
    }
  }
  return blobs;
}

inline double accuracy(const std::vector<int32_t>& predicted, const std::vector<int32_t>& truth) {
  int64_t right = 0;
  for (size_t i = 0; i < truth.size(); ++i) right += predicted[i] == truth[i];
  return truth.empty() ? 0.0 : static_cast<double>(right) / static_cast<double>(truth.size());
}

}  // namespace grove::forest_test
