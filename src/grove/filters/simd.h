// A minimal portable float vector for the filter kernels: GCC/Clang vector extensions, 8 lanes
// (one AVX register when built with -march=native on an AVX2 machine; two SSE registers or scalar
// code elsewhere), with fused multiply-add where the target has it.
#pragma once

#include <cstring>

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace grove::filters {

inline constexpr int kFloatLanes = 8;
typedef float FloatVector __attribute__((vector_size(kFloatLanes * sizeof(float))));

inline FloatVector load(const float* p) {
  FloatVector v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store(float* p, FloatVector v) { std::memcpy(p, &v, sizeof(v)); }
inline FloatVector broadcast(float value) { return FloatVector{} + value; }

// a * b + c, fused where the processor can.
inline FloatVector multiply_add(FloatVector a, FloatVector b, FloatVector c) {
#if defined(__FMA__) && defined(__AVX__)
  return static_cast<FloatVector>(
      _mm256_fmadd_ps(static_cast<__m256>(a), static_cast<__m256>(b), static_cast<__m256>(c)));
#else
  return a * b + c;
#endif
}

// The scalar twin of multiply_add, rounding the same way, so that the scalar tails of the kernels
// give bit-identical results to their vector bodies (block-wise results then equal whole-image
// results exactly, wherever a pixel falls in a row).
inline float multiply_add(float a, float b, float c) {
#if defined(__FMA__) && defined(__AVX__)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

inline FloatVector square_root(FloatVector v) {
#if defined(__AVX__)
  return static_cast<FloatVector>(_mm256_sqrt_ps(static_cast<__m256>(v)));
#else
  FloatVector r;
  for (int i = 0; i < kFloatLanes; ++i) r[i] = __builtin_sqrtf(v[i]);
  return r;
#endif
}

// Four doubles (one AVX register), for the few steps that need double precision.
typedef double DoubleVector __attribute__((vector_size(4 * sizeof(double))));
typedef float FloatQuad __attribute__((vector_size(4 * sizeof(float))));

inline DoubleVector load_as_double(const float* p) {
  FloatQuad v;
  std::memcpy(&v, p, sizeof(v));
  return __builtin_convertvector(v, DoubleVector);
}
inline void store_as_float(float* p, DoubleVector v) {
  const FloatQuad f = __builtin_convertvector(v, FloatQuad);
  std::memcpy(p, &f, sizeof(f));
}
inline DoubleVector broadcast_double(double value) { return DoubleVector{} + value; }
inline DoubleVector square_root(DoubleVector v) {
#if defined(__AVX__)
  return static_cast<DoubleVector>(_mm256_sqrt_pd(static_cast<__m256d>(v)));
#else
  DoubleVector r;
  for (int i = 0; i < 4; ++i) r[i] = __builtin_sqrt(v[i]);
  return r;
#endif
}
inline DoubleVector multiply_add(DoubleVector a, DoubleVector b, DoubleVector c) {
#if defined(__FMA__) && defined(__AVX__)
  return static_cast<DoubleVector>(
      _mm256_fmadd_pd(static_cast<__m256d>(a), static_cast<__m256d>(b), static_cast<__m256d>(c)));
#else
  return a * b + c;
#endif
}

inline FloatVector maximum(FloatVector a, FloatVector b) { return a > b ? a : b; }
inline FloatVector minimum(FloatVector a, FloatVector b) { return a < b ? a : b; }

}  // namespace grove::filters
