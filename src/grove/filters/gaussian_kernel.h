// One-dimensional Gaussian and Gaussian-derivative kernels, sampled and normalised exactly the way
// VIGRA builds them (ilastik's features come from VIGRA, so parity depends on it). Used by the
// separable passes in separable_convolution.h and the pixel-feature pipeline.
//
// Behaviour learned from VIGRA by experiment (python3-vigra's Kernel1D and its filters):
// - radius = max(1, floor(window_ratio * sigma + 0.5)), the same for every derivative order;
// - order 0: samples of exp(-x^2 / 2 sigma^2), scaled to sum 1;
// - order 1: samples of the first derivative, scaled so that a unit ramp gives 1;
// - order 2: samples of the second derivative minus their mean (so a constant gives 0), scaled
//   so that x^2 gives 2.
#pragma once

#include <vector>

#include "grove/core/result.h"

namespace grove::filters {

// ilastik cuts presmoothing kernels at 3.5 sigma and feature kernels at 2 sigma.
inline constexpr double kPresmoothingWindowRatio = 3.5;
inline constexpr double kFeatureWindowRatio = 2.0;

// Radius in pixels of a kernel of standard deviation sigma cut at window_ratio * sigma.
int gaussian_kernel_radius(double sigma, double window_ratio);

struct Kernel1D {
  int radius = 0;
  // weights[radius + j] multiplies the sample at offset +j (a correlation kernel): the output at
  // x is sum_j weights[radius + j] * input[x + j].
  std::vector<float> weights;
  // True if weights[radius + j] == weights[radius - j] (even orders), false if it is the negative
  // (odd orders). The passes use this to halve the multiplications.
  bool symmetric = true;

  float at(int offset) const { return weights[static_cast<size_t>(radius + offset)]; }
};

// The Gaussian derivative kernel of the given order (0, 1 or 2). Fails on sigma <= 0, a
// non-finite sigma or window ratio, an order outside 0..2, or a radius over 100000 pixels.
Result<Kernel1D> gaussian_kernel(double sigma, int order, double window_ratio);

}  // namespace grove::filters
