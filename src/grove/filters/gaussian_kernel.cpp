#include "grove/filters/gaussian_kernel.h"

#include <cmath>

namespace grove::filters {

namespace {
constexpr int kMaximumRadius = 100000;
}

int gaussian_kernel_radius(double sigma, double window_ratio) {
  const double radius = std::floor(window_ratio * sigma + 0.5);
  if (!(radius >= 1.0)) return 1;
  if (radius > kMaximumRadius) return kMaximumRadius + 1;
  return static_cast<int>(radius);
}

Result<Kernel1D> gaussian_kernel(double sigma, int order, double window_ratio) {
  if (!std::isfinite(sigma) || sigma <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "Gaussian sigma must be positive, got {}",
                      sigma);
  }
  if (!std::isfinite(window_ratio) || window_ratio <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "kernel window ratio must be positive, got {}",
                      window_ratio);
  }
  if (order < 0 || order > 2) {
    return make_error(ErrorCode::kInvalidArgument,
                      "Gaussian derivative order must be 0, 1 or 2, got {}", order);
  }
  const int radius = gaussian_kernel_radius(sigma, window_ratio);
  if (radius > kMaximumRadius) {
    return make_error(ErrorCode::kInvalidArgument,
                      "Gaussian sigma {} is too large (kernel radius over {} pixels)", sigma,
                      kMaximumRadius);
  }
  const size_t size = static_cast<size_t>(2 * radius + 1);
  std::vector<double> values(size);
  const double variance = sigma * sigma;
  for (int j = -radius; j <= radius; ++j) {
    const double x = j;
    const double gauss = std::exp(-x * x / (2 * variance));
    double value = gauss;
    if (order == 1) value = -x / variance * gauss;
    if (order == 2) value = (x * x / (variance * variance) - 1 / variance) * gauss;
    values[static_cast<size_t>(j + radius)] = value;
  }
  if (order == 2) {
    // Remove the sampling error's constant part, so that flat regions give exactly zero.
    double mean = 0;
    for (double v : values) mean += v;
    mean /= static_cast<double>(size);
    for (double& v : values) v -= mean;
  }
  // Normalise against the moment the derivative of that order must reproduce: sum 1 for a
  // constant, slope 1 for a ramp, 2 for x^2.
  double moment = 0;
  for (int j = -radius; j <= radius; ++j) {
    moment += values[static_cast<size_t>(j + radius)] * std::pow(static_cast<double>(j), order);
  }
  const double target = order == 0 ? 1.0 : (order == 1 ? -1.0 : 2.0);
  const double scale = target / moment;

  Kernel1D kernel;
  kernel.radius = radius;
  kernel.symmetric = order != 1;
  kernel.weights.resize(size);
  // VIGRA convolves (output at x = sum_j k[j] * input[x - j]); stored here as a correlation.
  for (int j = -radius; j <= radius; ++j) {
    kernel.weights[static_cast<size_t>(j + radius)] =
        static_cast<float>(values[static_cast<size_t>(-j + radius)] * scale);
  }
  return kernel;
}

}  // namespace grove::filters
