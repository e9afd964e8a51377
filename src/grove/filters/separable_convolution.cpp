#include "grove/filters/separable_convolution.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <vector>

#include "grove/filters/simd.h"

namespace grove::filters {

namespace {

// Weights of one kernel by distance from the centre: w[0] the centre, w[j] the weight at +j.
struct KernelTaps {
  const float* weights;  // points at the centre weight
  bool symmetric;
};

// out_k[x] = sum_j w_k[j] * rows[j][x] for x in [0, width), where rows points at the centre row
// (rows[-j] .. rows[+j] valid) and w_k is symmetric or antisymmetric. The hot loop of all passes.
template <int K>
void combine_rows(const float* const* rows, int radius, const KernelTaps* taps, float* const* out,
                  int64_t width) {
  int64_t x = 0;
  for (; x + 2 * kFloatLanes <= width; x += 2 * kFloatLanes) {
    FloatVector acc[K][2];
    const FloatVector c0 = load(rows[0] + x);
    const FloatVector c1 = load(rows[0] + x + kFloatLanes);
    for (int k = 0; k < K; ++k) {
      const FloatVector w = broadcast(taps[k].symmetric ? taps[k].weights[0] : 0.0f);
      acc[k][0] = w * c0;
      acc[k][1] = w * c1;
    }
    for (int j = 1; j <= radius; ++j) {
      const float* plus = rows[j] + x;
      const float* minus = rows[-j] + x;
      const FloatVector p0 = load(plus), p1 = load(plus + kFloatLanes);
      const FloatVector m0 = load(minus), m1 = load(minus + kFloatLanes);
      const FloatVector s0 = p0 + m0, s1 = p1 + m1;
      const FloatVector d0 = p0 - m0, d1 = p1 - m1;
      for (int k = 0; k < K; ++k) {
        const FloatVector w = broadcast(taps[k].weights[j]);
        if (taps[k].symmetric) {
          acc[k][0] = multiply_add(w, s0, acc[k][0]);
          acc[k][1] = multiply_add(w, s1, acc[k][1]);
        } else {
          acc[k][0] = multiply_add(w, d0, acc[k][0]);
          acc[k][1] = multiply_add(w, d1, acc[k][1]);
        }
      }
    }
    for (int k = 0; k < K; ++k) {
      store(out[k] + x, acc[k][0]);
      store(out[k] + x + kFloatLanes, acc[k][1]);
    }
  }
  for (; x < width; ++x) {
    for (int k = 0; k < K; ++k) {
      float acc = taps[k].symmetric ? taps[k].weights[0] * rows[0][x] : 0.0f;
      for (int j = 1; j <= radius; ++j) {
        const float p = rows[j][x], m = rows[-j][x];
        acc = multiply_add(taps[k].weights[j], taps[k].symmetric ? p + m : p - m, acc);
      }
      out[k][x] = acc;
    }
  }
}

void combine_rows_any(int count, const float* const* rows, int radius, const KernelTaps* taps,
                      float* const* out, int64_t width) {
  switch (count) {
    case 1: combine_rows<1>(rows, radius, taps, out, width); break;
    case 2: combine_rows<2>(rows, radius, taps, out, width); break;
    default: combine_rows<3>(rows, radius, taps, out, width); break;
  }
}

// Scratch per thread: row pointers and a padded row for the x pass.
struct PassScratch {
  std::vector<const float*> row_pointers;
  std::vector<float> padded_row;
};

PassScratch& pass_scratch() {
  thread_local PassScratch scratch;
  return scratch;
}

}  // namespace

Region3 convolution_source_region(const Region3& dst, int axis, int radius, const Region3& bounds) {
  Region3 r = dst;
  r.begin[axis] = std::max(dst.begin[axis] - radius, bounds.begin[axis]);
  r.end[axis] = std::min(dst.end[axis] + radius, bounds.end[axis]);
  return r;
}

void convolve_axis(const FloatVolume& src, int axis, int64_t bound_begin, int64_t bound_end,
                   std::span<const Kernel1D* const> kernels,
                   std::span<FloatVolume* const> outputs) {
  const int count = static_cast<int>(kernels.size());
  assert(count >= 1 && count <= kMaximumKernelsPerPass && outputs.size() == kernels.size());
  const Region3& dst = outputs[0]->region();
  if (dst.empty()) return;
  const int radius = kernels[0]->radius;
  KernelTaps taps[kMaximumKernelsPerPass];
  for (int k = 0; k < count; ++k) {
    assert(kernels[k]->radius == radius);
    taps[k] = {kernels[k]->weights.data() + radius, kernels[k]->symmetric};
  }
  const Region3& sr = src.region();
  PassScratch& scratch = pass_scratch();
  scratch.row_pointers.resize(static_cast<size_t>(2 * radius + 1));
  const float** rows = scratch.row_pointers.data() + radius;  // rows[-radius .. radius]
  float* out_rows[kMaximumKernelsPerPass];
  const int64_t width = dst.extent(2);
  const int64_t x_offset = dst.begin[2] - sr.begin[2];

  if (axis == 2) {
    // Along x: each row once; reflected samples go through a padded copy of the row.
    const bool needs_padding =
        dst.begin[2] - radius < sr.begin[2] || dst.end[2] + radius > sr.end[2];
    if (needs_padding) scratch.padded_row.resize(static_cast<size_t>(width + 2 * radius));
    for (int64_t z = dst.begin[0]; z < dst.end[0]; ++z) {
      for (int64_t y = dst.begin[1]; y < dst.end[1]; ++y) {
        const float* source_row = src.row(z, y);
        const float* centre;
        if (needs_padding) {
          // Samples inside the bounds are one contiguous copy; only the reflected ends need
          // index arithmetic.
          float* padded = scratch.padded_row.data();
          const int64_t first = dst.begin[2] - radius, last = dst.end[2] + radius;  // [first, last)
          const int64_t inside_begin = std::max(first, bound_begin);
          const int64_t inside_end = std::min(last, bound_end);
          for (int64_t position = first; position < std::min(inside_begin, last); ++position) {
            padded[position - first] =
                source_row[reflect_index(position, bound_begin, bound_end) - sr.begin[2]];
          }
          if (inside_end > inside_begin) {
            std::memcpy(padded + (inside_begin - first), source_row + (inside_begin - sr.begin[2]),
                        static_cast<size_t>(inside_end - inside_begin) * sizeof(float));
          }
          for (int64_t position = std::max(inside_end, first); position < last; ++position) {
            padded[position - first] =
                source_row[reflect_index(position, bound_begin, bound_end) - sr.begin[2]];
          }
          centre = padded + radius;
        } else {
          centre = source_row + x_offset;
        }
        for (int j = -radius; j <= radius; ++j) rows[j] = centre + j;
        for (int k = 0; k < count; ++k) out_rows[k] = outputs[k]->row(z, y);
        combine_rows_any(count, rows, radius, taps, out_rows, width);
      }
    }
    return;
  }

  // Along z or y: every output row is a weighted sum of whole input rows. Output rows are visited
  // in memory order (plane by plane, row by row), so each of the 2r+1 input planes or rows is
  // read as a sequential stream.
  for (int64_t z = dst.begin[0]; z < dst.end[0]; ++z) {
    for (int64_t y = dst.begin[1]; y < dst.end[1]; ++y) {
      const int64_t i = axis == 0 ? z : y;
      for (int j = -radius; j <= radius; ++j) {
        const int64_t position = reflect_index(i + j, bound_begin, bound_end);
        assert(position >= sr.begin[axis] && position < sr.end[axis]);
        rows[j] = (axis == 0 ? src.row(position, y) : src.row(z, position)) + x_offset;
      }
      for (int k = 0; k < count; ++k) out_rows[k] = outputs[k]->row(z, y);
      combine_rows_any(count, rows, radius, taps, out_rows, width);
    }
  }
}

void convolve_y_then_z(const FloatVolume& src, const Region3& bounds,
                       std::span<const Kernel1D* const> y_kernels,
                       std::span<const Kernel1D* const> z_kernels,
                       std::span<FloatVolume* const> outputs) {
  assert(y_kernels.size() == outputs.size() && z_kernels.size() == outputs.size());
  if (outputs.empty() || outputs[0]->region().empty()) return;
  const Region3& dst = outputs[0]->region();
  const int radius = y_kernels[0]->radius;
  constexpr int kMaximumRingRadius = 4;
  // Distinct y kernels, each with the outputs that use it (at most three per fused z pass).
  std::vector<const Kernel1D*> distinct;
  std::vector<int> kernel_of(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto it = std::find(distinct.begin(), distinct.end(), y_kernels[i]);
    if (it == distinct.end()) {
      distinct.push_back(y_kernels[i]);
      it = distinct.end() - 1;
    }
    kernel_of[i] = static_cast<int>(it - distinct.begin());
  }
  const Region3 after_y = convolution_source_region(dst, 0, radius, bounds);
  const bool ring_fits =
      radius <= kMaximumRingRadius && bounds.extent(0) > 2 * radius + 1 && distinct.size() <= 3;
  if (!ring_fits) {
    for (size_t d = 0; d < distinct.size(); ++d) {
      auto along_y = FloatVolume::allocate(after_y);
      if (!along_y.ok()) return;
      FloatVolume* y_output = &*along_y;
      const Kernel1D* y_kernel = distinct[d];
      convolve_axis(src, 1, bounds.begin[1], bounds.end[1], std::span(&y_kernel, 1),
                    std::span(&y_output, 1));
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (kernel_of[i] != static_cast<int>(d)) continue;
        FloatVolume* z_output = outputs[i];
        const Kernel1D* z_kernel = z_kernels[i];
        convolve_axis(*along_y, 0, bounds.begin[0], bounds.end[0], std::span(&z_kernel, 1),
                      std::span(&z_output, 1));
      }
    }
    return;
  }
  const int ring_size = 2 * radius + 1;
  const int64_t plane = dst.extent(1) * dst.extent(2);
  const int64_t width = dst.extent(2);
  thread_local std::vector<float> ring_storage;
  ring_storage.resize(static_cast<size_t>(plane * ring_size) * distinct.size());
  auto ring_plane = [&](size_t d, int64_t z) {
    const int64_t slot = ((z % ring_size) + ring_size) % ring_size;
    return ring_storage.data() + (static_cast<int64_t>(d) * ring_size + slot) * plane;
  };
  const Region3& sr = src.region();
  PassScratch& scratch = pass_scratch();
  scratch.row_pointers.resize(static_cast<size_t>(2 * radius + 1));
  const float** rows = scratch.row_pointers.data() + radius;
  KernelTaps y_taps[kMaximumKernelsPerPass];
  for (size_t d = 0; d < distinct.size(); ++d) {
    y_taps[d] = {distinct[d]->weights.data() + radius, distinct[d]->symmetric};
  }
  const int64_t x_offset = dst.begin[2] - sr.begin[2];
  // The y-filtered planes are made in z order, each as soon as an output plane needs it.
  int64_t next_plane = after_y.begin[0];
  for (int64_t z = dst.begin[0]; z < dst.end[0]; ++z) {
    const int64_t last_needed = std::min(z + radius, after_y.end[0] - 1);
    for (; next_plane <= last_needed; ++next_plane) {
      float* y_rows[kMaximumKernelsPerPass];
      for (int64_t y = dst.begin[1]; y < dst.end[1]; ++y) {
        for (int j = -radius; j <= radius; ++j) {
          const int64_t position = reflect_index(y + j, bounds.begin[1], bounds.end[1]);
          rows[j] = src.row(next_plane, position) + x_offset;
        }
        for (size_t d = 0; d < distinct.size(); ++d) {
          y_rows[d] = ring_plane(d, next_plane) + (y - dst.begin[1]) * width;
        }
        combine_rows_any(static_cast<int>(distinct.size()), rows, radius, y_taps, y_rows, width);
      }
    }
    // z pass of this plane, fused per y kernel.
    for (size_t d = 0; d < distinct.size(); ++d) {
      KernelTaps z_taps[kMaximumKernelsPerPass];
      FloatVolume* targets[kMaximumKernelsPerPass];
      int count = 0;
      for (size_t i = 0; i < outputs.size(); ++i) {
        if (kernel_of[i] != static_cast<int>(d)) continue;
        z_taps[count] = {z_kernels[i]->weights.data() + radius, z_kernels[i]->symmetric};
        targets[count] = outputs[i];
        ++count;
        if (count == kMaximumKernelsPerPass || i + 1 == outputs.size()) {
          for (int64_t y = dst.begin[1]; y < dst.end[1]; ++y) {
            for (int j = -radius; j <= radius; ++j) {
              const int64_t position = reflect_index(z + j, bounds.begin[0], bounds.end[0]);
              rows[j] = ring_plane(d, position) + (y - dst.begin[1]) * width;
            }
            float* out_rows[kMaximumKernelsPerPass];
            for (int k = 0; k < count; ++k) out_rows[k] = targets[k]->row(z, y);
            combine_rows_any(count, rows, radius, z_taps, out_rows, width);
          }
          count = 0;
        }
      }
      if (count > 0) {
        for (int64_t y = dst.begin[1]; y < dst.end[1]; ++y) {
          for (int j = -radius; j <= radius; ++j) {
            const int64_t position = reflect_index(z + j, bounds.begin[0], bounds.end[0]);
            rows[j] = ring_plane(d, position) + (y - dst.begin[1]) * width;
          }
          float* out_rows[kMaximumKernelsPerPass];
          for (int k = 0; k < count; ++k) out_rows[k] = targets[k]->row(z, y);
          combine_rows_any(count, rows, radius, z_taps, out_rows, width);
        }
      }
    }
  }
}

void convolve_x_of_products(std::span<const FloatVolume* const> factors, std::span<const int> first,
                            std::span<const int> second, int64_t bound_begin, int64_t bound_end,
                            const Kernel1D& kernel, std::span<FloatVolume* const> outputs) {
  assert(first.size() == outputs.size() && second.size() == outputs.size());
  if (outputs.empty() || outputs[0]->region().empty()) return;
  const Region3& dst = outputs[0]->region();
  const Region3& sr = factors[0]->region();
  const int radius = kernel.radius;
  const KernelTaps taps = {kernel.weights.data() + radius, kernel.symmetric};
  const int64_t width = dst.extent(2);
  const int64_t first_position = dst.begin[2] - radius;
  const int64_t padded_width = width + 2 * radius;
  PassScratch& scratch = pass_scratch();
  scratch.row_pointers.resize(static_cast<size_t>(2 * radius + 1));
  const float** rows = scratch.row_pointers.data() + radius;
  // One padded row per output, plus the source offsets of the padded samples (reflected once).
  scratch.padded_row.resize(static_cast<size_t>(padded_width) * (outputs.size() + 1));
  float* products = scratch.padded_row.data();
  std::vector<int64_t> offsets(static_cast<size_t>(padded_width));
  for (int64_t i = 0; i < padded_width; ++i) {
    offsets[static_cast<size_t>(i)] =
        reflect_index(first_position + i, bound_begin, bound_end) - sr.begin[2];
  }
  const bool contiguous = offsets.front() + padded_width - 1 == offsets.back() &&
                          first_position >= bound_begin &&
                          first_position + padded_width <= bound_end;
  std::vector<const float*> factor_rows(factors.size());
  for (int64_t z = dst.begin[0]; z < dst.end[0]; ++z) {
    for (int64_t y = dst.begin[1]; y < dst.end[1]; ++y) {
      for (size_t f = 0; f < factors.size(); ++f) factor_rows[f] = factors[f]->row(z, y);
      for (size_t k = 0; k < outputs.size(); ++k) {
        const float* a = factor_rows[static_cast<size_t>(first[k])];
        const float* b = factor_rows[static_cast<size_t>(second[k])];
        float* product = products + static_cast<int64_t>(k) * padded_width;
        if (contiguous) {
          const int64_t o = offsets.front();
          for (int64_t i = 0; i < padded_width; ++i) product[i] = a[o + i] * b[o + i];
        } else {
          for (int64_t i = 0; i < padded_width; ++i) {
            const int64_t o = offsets[static_cast<size_t>(i)];
            product[i] = a[o] * b[o];
          }
        }
        for (int j = -radius; j <= radius; ++j) rows[j] = product + radius + j;
        float* out = outputs[k]->row(z, y);
        combine_rows_any(1, rows, radius, &taps, &out, width);
      }
    }
  }
}

}  // namespace grove::filters
