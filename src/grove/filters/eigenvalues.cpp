#include "grove/filters/eigenvalues.h"

#include <algorithm>

#include "grove/filters/simd.h"

namespace grove::filters {

namespace {

// The 3x3 case runs in double precision: near repeated eigenvalues the arccos argument is close
// to +-1, where arccos turns an error e of its argument into sqrt(2e), far too much in float.

// arccos on [-1, 1]: Abramowitz & Stegun 4.4.46 (sqrt(1 - x) times a degree-7 polynomial,
// absolute error below 2e-8 on [0, 1], plenty for float results), mirrored for negative x.
DoubleVector arccos(DoubleVector x) {
  const DoubleVector zero{};
  const DoubleVector ax = x < zero ? -x : x;
  DoubleVector p = broadcast_double(-0.0012624911);
  p = multiply_add(p, ax, broadcast_double(0.0066700901));
  p = multiply_add(p, ax, broadcast_double(-0.0170881256));
  p = multiply_add(p, ax, broadcast_double(0.0308918810));
  p = multiply_add(p, ax, broadcast_double(-0.0501743046));
  p = multiply_add(p, ax, broadcast_double(0.0889789874));
  p = multiply_add(p, ax, broadcast_double(-0.2145988016));
  p = multiply_add(p, ax, broadcast_double(1.5707963050));
  const DoubleVector one_minus = broadcast_double(1.0) - ax;
  const DoubleVector value = square_root(one_minus > zero ? one_minus : zero) * p;
  return x < zero ? broadcast_double(3.14159265358979323846) - value : value;
}

// cos and sin on [0, pi/3] by their Taylor series (truncation error below 4e-9 there).
DoubleVector cosine_small(DoubleVector a) {
  const DoubleVector a2 = a * a;
  DoubleVector p = broadcast_double(-1.0 / 3628800.0);
  p = multiply_add(p, a2, broadcast_double(1.0 / 40320.0));
  p = multiply_add(p, a2, broadcast_double(-1.0 / 720.0));
  p = multiply_add(p, a2, broadcast_double(1.0 / 24.0));
  p = multiply_add(p, a2, broadcast_double(-0.5));
  return multiply_add(p, a2, broadcast_double(1.0));
}

DoubleVector sine_small(DoubleVector a) {
  const DoubleVector a2 = a * a;
  DoubleVector p = broadcast_double(-1.0 / 39916800.0);
  p = multiply_add(p, a2, broadcast_double(1.0 / 362880.0));
  p = multiply_add(p, a2, broadcast_double(-1.0 / 5040.0));
  p = multiply_add(p, a2, broadcast_double(1.0 / 120.0));
  p = multiply_add(p, a2, broadcast_double(-1.0 / 6.0));
  return a * multiply_add(p, a2, broadcast_double(1.0));
}

void eigen2(const float* a00, const float* a01, const float* a11, float* first, float* second) {
  const FloatVector a = load(a00), b = load(a01), c = load(a11);
  const FloatVector half = broadcast(0.5f);
  const FloatVector mean = (a + c) * half;
  const FloatVector difference = (a - c) * half;
  const FloatVector root = square_root(difference * difference + b * b);
  store(first, mean + root);
  store(second, mean - root);
}

// Four pixels.
void eigen3(const float* a00, const float* a01, const float* a02, const float* a11,
            const float* a12, const float* a22, float* first, float* second, float* third) {
  const DoubleVector m00 = load_as_double(a00), m01 = load_as_double(a01),
                     m02 = load_as_double(a02);
  const DoubleVector m11 = load_as_double(a11), m12 = load_as_double(a12),
                     m22 = load_as_double(a22);
  const DoubleVector zero{};
  const DoubleVector one = broadcast_double(1.0);
  // Shift by the mean eigenvalue and scale to unit size, so that the cubic is well conditioned.
  const DoubleVector mean = (m00 + m11 + m22) * broadcast_double(1.0 / 3.0);
  const DoubleVector b00 = m00 - mean, b11 = m11 - mean, b22 = m22 - mean;
  const DoubleVector off = m01 * m01 + m02 * m02 + m12 * m12;
  const DoubleVector p2 = b00 * b00 + b11 * b11 + b22 * b22 + broadcast_double(2.0) * off;
  const DoubleVector p = square_root(p2 * broadcast_double(1.0 / 6.0));
  const DoubleVector inverse = p > broadcast_double(1e-300) ? one / p : zero;
  const DoubleVector c00 = b00 * inverse, c11 = b11 * inverse, c22 = b22 * inverse;
  const DoubleVector c01 = m01 * inverse, c02 = m02 * inverse, c12 = m12 * inverse;
  const DoubleVector determinant =
      c00 * (c11 * c22 - c12 * c12) - c01 * (c01 * c22 - c12 * c02) + c02 * (c01 * c12 - c11 * c02);
  DoubleVector r = determinant * broadcast_double(0.5);
  r = r < -one ? -one : r;
  r = r > one ? one : r;
  const DoubleVector angle = arccos(r) * broadcast_double(1.0 / 3.0);  // in [0, pi/3]
  const DoubleVector cos_part = p * cosine_small(angle);
  const DoubleVector sin_part = p * sine_small(angle) * broadcast_double(1.7320508075688772);
  store_as_float(first, mean + broadcast_double(2.0) * cos_part);
  store_as_float(second, mean - cos_part + sin_part);
  store_as_float(third, mean - cos_part - sin_part);
}

}  // namespace

void symmetric_eigenvalues_2x2(const float* a00, const float* a01, const float* a11, float* first,
                               float* second, int64_t count) {
  int64_t i = 0;
  for (; i + kFloatLanes <= count; i += kFloatLanes) {
    eigen2(a00 + i, a01 + i, a11 + i, first + i, second + i);
  }
  if (i < count) {
    // The tail goes through a zero-padded copy so that every pixel takes the same path.
    float in[3][kFloatLanes] = {}, out[2][kFloatLanes];
    const int64_t n = count - i;
    std::copy(a00 + i, a00 + count, in[0]);
    std::copy(a01 + i, a01 + count, in[1]);
    std::copy(a11 + i, a11 + count, in[2]);
    eigen2(in[0], in[1], in[2], out[0], out[1]);
    std::copy(out[0], out[0] + n, first + i);
    std::copy(out[1], out[1] + n, second + i);
  }
}

void symmetric_eigenvalues_3x3(const float* a00, const float* a01, const float* a02,
                               const float* a11, const float* a12, const float* a22, float* first,
                               float* second, float* third, int64_t count) {
  int64_t i = 0;
  constexpr int kLanes = 4;
  for (; i + kLanes <= count; i += kLanes) {
    eigen3(a00 + i, a01 + i, a02 + i, a11 + i, a12 + i, a22 + i, first + i, second + i, third + i);
  }
  if (i < count) {
    float in[6][kLanes] = {}, out[3][kLanes];
    const int64_t n = count - i;
    const float* sources[6] = {a00, a01, a02, a11, a12, a22};
    for (int k = 0; k < 6; ++k) std::copy(sources[k] + i, sources[k] + count, in[k]);
    eigen3(in[0], in[1], in[2], in[3], in[4], in[5], out[0], out[1], out[2]);
    std::copy(out[0], out[0] + n, first + i);
    std::copy(out[1], out[1] + n, second + i);
    std::copy(out[2], out[2] + n, third + i);
  }
}

}  // namespace grove::filters
