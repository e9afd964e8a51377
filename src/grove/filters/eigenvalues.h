// Closed-form eigenvalues of symmetric 2x2 and 3x3 matrices, one matrix per pixel, in descending
// order: the Hessian-of-Gaussian and structure-tensor eigenvalue features. Vectorised (8 pixels
// per step); the 3x3 case uses the trigonometric solution of the characteristic cubic with
// polynomial arccos/cos/sin good to about 1e-7, so it needs no scalar library calls.
#pragma once

#include <cstdint>

namespace grove::filters {

// For each i < count: the eigenvalues of [[a00, a01], [a01, a11]], largest in first[i].
void symmetric_eigenvalues_2x2(const float* a00, const float* a01, const float* a11, float* first,
                               float* second, int64_t count);

// For each i < count: the eigenvalues of the symmetric matrix with diagonal a00, a11, a22 and
// off-diagonal a01, a02, a12, in descending order.
void symmetric_eigenvalues_3x3(const float* a00, const float* a01, const float* a02,
                               const float* a11, const float* a12, const float* a22, float* first,
                               float* second, float* third, int64_t count);

}  // namespace grove::filters
