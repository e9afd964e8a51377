// The computation of ilastik's six feature families at one scale, on one single-channel float
// volume, over one output region: the heart of the PixelFeatures op (pixel_features.h), kept free
// of dtypes, channels and time so it can be tested and benchmarked on its own.
//
// ilastik's rules (DESIGN.md §5): at scale s the image is first presmoothed with
// sigma_p = sqrt(s^2 - 1) for s > 1 (else s), kernel cut at 3.5 sigma; the feature is then taken at
// sigma_f = 1 for s > 1 (else s), kernels cut at 2 sigma. DoG is G(sigma_f) - G(0.66 sigma_f); the
// structure tensor takes the gradient at 0.5 sigma_f and smooths the tensor at sigma_f.
//
// Work is shared: one presmoothing per scale for all families; smoothing, gradient and Hessian
// come from one tree of separable passes (x pass with the Gaussian and its two derivatives at once,
// then y, then z), so e.g. the smoothed image serves smoothing and DoG and the second derivatives
// serve both the Laplacian and the Hessian.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "grove/filters/feature_selection.h"
#include "grove/filters/float_volume.h"
#include "grove/filters/gaussian_kernel.h"

namespace grove::filters {

// Presmoothing and feature sigmas of an ilastik scale.
double presmoothing_sigma(double scale);
double feature_sigma(double scale);

// Radii in pixels around an output pixel that the features of one scale read, per computed axis.
struct ScaleHalo {
  int presmoothing = 0;  // of the presmoothing kernel
  int feature = 0;       // of the widest chain of feature kernels after presmoothing
  int total() const { return presmoothing + feature; }
};
ScaleHalo scale_halo(double scale, const std::array<bool, kFamilyCount>& families);

struct ScaleFeatureRequest {
  double scale = 1.0;
  bool three_d = false;  // also filter along z (else every z slice is independent)
  std::array<bool, kFamilyCount> families{};
};

// components[f][k]: component k of family f over the output region (eigenvalues descending);
// empty for families not requested.
struct ScaleFeatureResult {
  std::array<std::vector<FloatVolume>, kFamilyCount> components;
};

// Computes the requested families at one scale over `out`. `source` must cover out grown by
// scale_halo(...).total() on the filtered axes, clipped to bounds; samples outside bounds are
// reflected at its edges (the image borders, where the halo was clipped).
Status compute_scale_features(const FloatVolume& source, const Region3& bounds, const Region3& out,
                              const ScaleFeatureRequest& request, ScaleFeatureResult& result);

// A derivative order along each axis (z, y, x).
struct DerivativeOrder {
  int z = 0, y = 0, x = 0;
  friend bool operator==(const DerivativeOrder&, const DerivativeOrder&) = default;
};

// Gaussian derivatives of source over `out`, one per order, sharing the passes they have in
// common. kernels[o] is the kernel of order o (all of one radius); without three_d every order's
// z must be 0 and nothing is filtered along z. results[i] receives orders[i].
Status gaussian_derivatives(const FloatVolume& source, const Region3& bounds, const Region3& out,
                            bool three_d, const std::array<const Kernel1D*, 3>& kernels,
                            std::span<const DerivativeOrder> orders,
                            std::vector<FloatVolume>& results);

}  // namespace grove::filters
