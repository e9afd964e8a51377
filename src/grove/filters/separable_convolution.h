// Separable convolution passes over FloatVolumes: one axis at a time, float32, with reflective
// borders ("mirror without repeating the edge sample", VIGRA's BORDER_TREATMENT_REFLECT, numpy's
// mode="reflect"). The pixel-feature pipeline chains them; Gaussian smoothing, derivatives and
// their sums are built from them.
//
// Speed: every pass is vectorised over x (8 floats per instruction with AVX2). Passes along z and
// y combine whole rows (each output row is a weighted sum of 2r+1 input rows), so they stream
// through memory instead of walking columns; passes along x read each row once. Symmetric and
// antisymmetric kernels use half the multiplications, and a pass may apply up to three kernels of
// one radius to the same input at once (e.g. a Gaussian and its two derivatives), sharing loads.
#pragma once

#include <span>

#include "grove/filters/float_volume.h"
#include "grove/filters/gaussian_kernel.h"

namespace grove::filters {

inline constexpr int kMaximumKernelsPerPass = 3;

// Folds a sample position into [begin, end) by reflecting at the ends (repeatedly if the kernel
// is wider than the data): begin - 1 -> begin + 1, end -> end - 2.
inline int64_t reflect_index(int64_t position, int64_t begin, int64_t end) {
  const int64_t n = end - begin;
  if (n <= 1) return begin;
  if (position >= begin && position < end) return position;
  const int64_t period = 2 * (n - 1);
  int64_t q = (position - begin) % period;
  if (q < 0) q += period;
  if (q >= n) q = period - q;
  return begin + q;
}

// Convolves src along axis (0 = z, 1 = y, 2 = x) with each kernel, writing outputs[k] for
// kernels[k]. Every output must already cover the same region `dst`, whose extent on the other
// two axes lies inside src's. Along axis, samples outside [bound_begin, bound_end) are
// reflected into it, and src must hold every sample the dst positions need (after reflection).
// All kernels must have the same radius; at most kMaximumKernelsPerPass of them.
void convolve_axis(const FloatVolume& src, int axis, int64_t bound_begin, int64_t bound_end,
                   std::span<const Kernel1D* const> kernels, std::span<FloatVolume* const> outputs);

// A y pass followed by a z pass in one sweep over z: outputs[i] = z_kernels[i] applied along z
// to (y_kernels[i] applied along y to src). The y-filtered planes live in a small ring of 2r+1
// planes per distinct y kernel instead of whole volumes, so they stay in cache. src must cover
// dst grown by r along y and z (clipped to bounds); bounds are the reflection limits. All
// kernels must share one radius. Falls back to two plain passes where the ring would not help
// (wide kernels) or reflection could fold more than once (data thinner than the kernel).
void convolve_y_then_z(const FloatVolume& src, const Region3& bounds,
                       std::span<const Kernel1D* const> y_kernels,
                       std::span<const Kernel1D* const> z_kernels,
                       std::span<FloatVolume* const> outputs);

// The x pass of pointwise products: outputs[i] = (factors[first[i]] * factors[second[i]])
// convolved along x with kernel, without storing the products (the structure tensor's
// first smoothing pass). All factors cover one region; outputs cover dst as in convolve_axis.
void convolve_x_of_products(std::span<const FloatVolume* const> factors, std::span<const int> first,
                            std::span<const int> second, int64_t bound_begin, int64_t bound_end,
                            const Kernel1D& kernel, std::span<FloatVolume* const> outputs);

// The region of src a pass along axis needs for dst with kernels of radius r, inside bounds.
Region3 convolution_source_region(const Region3& dst, int axis, int radius, const Region3& bounds);

}  // namespace grove::filters
