#include "grove/filters/feature_pipeline.h"

#include <algorithm>
#include <cmath>

#include "grove/filters/eigenvalues.h"
#include "grove/filters/separable_convolution.h"
#include "grove/filters/simd.h"

namespace grove::filters {

namespace {

constexpr double kDifferenceOfGaussiansRatio = 0.66;
constexpr double kStructureTensorInnerRatio = 0.5;

bool wants(const std::array<bool, kFamilyCount>& families, FeatureFamily family) {
  return families[static_cast<int>(family)];
}

Region3 grow(const Region3& region, int radius, bool three_d, const Region3& bounds) {
  return region.grown({three_d ? radius : 0, radius, radius}, bounds);
}

// Runs one fused pass of up to three kernels and returns the outputs over dst.
Status run_pass(const FloatVolume& source, int axis, const Region3& bounds, const Region3& dst,
                std::span<const Kernel1D* const> kernels, std::vector<FloatVolume>& outputs) {
  outputs.clear();
  FloatVolume* pointers[kMaximumKernelsPerPass];
  for (size_t k = 0; k < kernels.size(); ++k) {
    GROVE_ASSIGN_OR_RETURN(FloatVolume volume, FloatVolume::allocate(dst));
    outputs.push_back(std::move(volume));
  }
  for (size_t k = 0; k < kernels.size(); ++k) pointers[k] = &outputs[k];
  convolve_axis(source, axis, bounds.begin[axis], bounds.end[axis], kernels,
                std::span<FloatVolume* const>(pointers, kernels.size()));
  return ok_status();
}

void subtract_in_place(const FloatVolume& minuend, FloatVolume& subtrahend_becomes_difference) {
  float* d = subtrahend_becomes_difference.data();
  const float* a = minuend.data();
  const int64_t n = minuend.size();
  for (int64_t i = 0; i < n; ++i) d[i] = a[i] - d[i];
}

}  // namespace

double presmoothing_sigma(double scale) {
  return scale > 1.0 ? std::sqrt(scale * scale - 1.0) : scale;
}
double feature_sigma(double scale) { return scale > 1.0 ? 1.0 : scale; }

ScaleHalo scale_halo(double scale, const std::array<bool, kFamilyCount>& families) {
  const double sigma = feature_sigma(scale);
  const int feature = gaussian_kernel_radius(sigma, kFeatureWindowRatio);
  ScaleHalo halo;
  halo.presmoothing = gaussian_kernel_radius(presmoothing_sigma(scale), kPresmoothingWindowRatio);
  for (FeatureFamily family : kAllFamilies) {
    if (!wants(families, family)) continue;
    int radius = feature;
    if (family == FeatureFamily::kDifferenceOfGaussians) {
      radius = std::max(feature, gaussian_kernel_radius(kDifferenceOfGaussiansRatio * sigma,
                                                        kFeatureWindowRatio));
    }
    if (family == FeatureFamily::kStructureTensorEigenvalues) {
      radius =
          feature + gaussian_kernel_radius(kStructureTensorInnerRatio * sigma, kFeatureWindowRatio);
    }
    halo.feature = std::max(halo.feature, radius);
  }
  return halo;
}

Status gaussian_derivatives(const FloatVolume& source, const Region3& bounds, const Region3& out,
                            bool three_d, const std::array<const Kernel1D*, 3>& kernels,
                            std::span<const DerivativeOrder> orders,
                            std::vector<FloatVolume>& results) {
  for (size_t i = 0; i < orders.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (orders[i] == orders[j])
        return make_error(ErrorCode::kInternal, "repeated derivative order");
    }
    if (!three_d && orders[i].z != 0) {
      return make_error(ErrorCode::kInternal, "z derivative requested from a 2D computation");
    }
  }
  results.clear();
  results.resize(orders.size());
  const int radius = kernels[0]->radius;
  const Region3 after_x = grow(out, radius, three_d, bounds).with_axis(2, out);
  const Region3 after_y = after_x.with_axis(1, out);

  // x pass: one output per distinct x order.
  std::vector<int> x_orders;
  for (const DerivativeOrder& o : orders) {
    if (std::find(x_orders.begin(), x_orders.end(), o.x) == x_orders.end()) x_orders.push_back(o.x);
  }
  std::vector<const Kernel1D*> pass_kernels;
  for (int o : x_orders) pass_kernels.push_back(kernels[o]);
  std::vector<FloatVolume> along_x;
  GROVE_RETURN_IF_ERROR(run_pass(source, 2, bounds, after_x, pass_kernels, along_x));

  std::vector<FloatVolume> along_y, along_z;
  if (three_d && radius <= 4) {
    // y and z passes in one sweep (the y-filtered planes stay in cache).
    for (size_t xi = 0; xi < x_orders.size(); ++xi) {
      std::vector<const Kernel1D*> y_kernels, z_kernels;
      std::vector<FloatVolume*> targets;
      for (size_t i = 0; i < orders.size(); ++i) {
        if (orders[i].x != x_orders[xi]) continue;
        GROVE_ASSIGN_OR_RETURN(results[i], FloatVolume::allocate(out));
        y_kernels.push_back(kernels[orders[i].y]);
        z_kernels.push_back(kernels[orders[i].z]);
        targets.push_back(&results[i]);
      }
      convolve_y_then_z(along_x[xi], bounds, y_kernels, z_kernels, targets);
      along_x[xi] = FloatVolume();
    }
    return ok_status();
  }
  for (size_t xi = 0; xi < x_orders.size(); ++xi) {
    // y pass: one output per distinct y order among the orders with this x order.
    std::vector<int> y_orders;
    for (const DerivativeOrder& o : orders) {
      if (o.x == x_orders[xi] &&
          std::find(y_orders.begin(), y_orders.end(), o.y) == y_orders.end()) {
        y_orders.push_back(o.y);
      }
    }
    pass_kernels.clear();
    for (int o : y_orders) pass_kernels.push_back(kernels[o]);
    GROVE_RETURN_IF_ERROR(run_pass(along_x[xi], 1, bounds, after_y, pass_kernels, along_y));

    for (size_t yi = 0; yi < y_orders.size(); ++yi) {
      std::vector<size_t> targets;  // indices into orders with this x and y order
      std::vector<int> z_orders;
      for (size_t i = 0; i < orders.size(); ++i) {
        if (orders[i].x == x_orders[xi] && orders[i].y == y_orders[yi]) {
          targets.push_back(i);
          if (std::find(z_orders.begin(), z_orders.end(), orders[i].z) == z_orders.end()) {
            z_orders.push_back(orders[i].z);
          }
        }
      }
      if (!three_d) {
        // Nothing to filter along z: the y pass gives the result.
        results[targets[0]] = std::move(along_y[yi]);
        continue;
      }
      pass_kernels.clear();
      for (int o : z_orders) pass_kernels.push_back(kernels[o]);
      GROVE_RETURN_IF_ERROR(run_pass(along_y[yi], 0, bounds, out, pass_kernels, along_z));
      for (size_t t = 0; t < targets.size(); ++t) results[targets[t]] = std::move(along_z[t]);
    }
  }
  return ok_status();
}

Status compute_scale_features(const FloatVolume& source, const Region3& bounds, const Region3& out,
                              const ScaleFeatureRequest& request, ScaleFeatureResult& result) {
  for (auto& c : result.components) c.clear();
  const auto& families = request.families;
  const bool three_d = request.three_d;
  const double sigma = feature_sigma(request.scale);
  const ScaleHalo halo = scale_halo(request.scale, families);

  // Presmoothing, shared by every family of this scale.
  GROVE_ASSIGN_OR_RETURN(Kernel1D presmoothing, gaussian_kernel(presmoothing_sigma(request.scale),
                                                                0, kPresmoothingWindowRatio));
  const Region3 presmoothed_region = grow(out, halo.feature, three_d, bounds);
  std::vector<FloatVolume> presmoothed_result;
  const DerivativeOrder zero_order{};
  GROVE_RETURN_IF_ERROR(gaussian_derivatives(source, bounds, presmoothed_region, three_d,
                                             {&presmoothing, &presmoothing, &presmoothing},
                                             std::span(&zero_order, 1), presmoothed_result));
  const FloatVolume& presmoothed = presmoothed_result[0];

  std::array<Kernel1D, 3> feature_kernels;
  for (int o = 0; o < 3; ++o) {
    GROVE_ASSIGN_OR_RETURN(feature_kernels[o], gaussian_kernel(sigma, o, kFeatureWindowRatio));
  }
  const std::array<const Kernel1D*, 3> feature_kernel_pointers = {
      &feature_kernels[0], &feature_kernels[1], &feature_kernels[2]};

  // Derivatives at sigma, in one tree of passes.
  const bool smoothing = wants(families, FeatureFamily::kGaussianSmoothing);
  const bool difference = wants(families, FeatureFamily::kDifferenceOfGaussians);
  const bool gradient = wants(families, FeatureFamily::kGaussianGradientMagnitude);
  const bool laplacian = wants(families, FeatureFamily::kLaplacianOfGaussian);
  const bool hessian = wants(families, FeatureFamily::kHessianOfGaussianEigenvalues);
  std::vector<DerivativeOrder> orders;
  auto order_index = [&orders](DerivativeOrder o) -> size_t {
    auto it = std::find(orders.begin(), orders.end(), o);
    if (it != orders.end()) return static_cast<size_t>(it - orders.begin());
    orders.push_back(o);
    return orders.size() - 1;
  };
  std::optional<size_t> smooth_index;
  std::vector<size_t> first_indices, second_indices;  // z, y, x; then zz, zy, zx, yy, yx, xx
  if (smoothing || difference) smooth_index = order_index({0, 0, 0});
  if (gradient) {
    if (three_d) first_indices.push_back(order_index({1, 0, 0}));
    first_indices.push_back(order_index({0, 1, 0}));
    first_indices.push_back(order_index({0, 0, 1}));
  }
  if (laplacian || hessian) {
    if (three_d) {
      second_indices = {order_index({2, 0, 0}),
                        hessian ? order_index({1, 1, 0}) : 0,
                        hessian ? order_index({1, 0, 1}) : 0,
                        order_index({0, 2, 0}),
                        hessian ? order_index({0, 1, 1}) : 0,
                        order_index({0, 0, 2})};
    } else {
      second_indices = {order_index({0, 2, 0}), hessian ? order_index({0, 1, 1}) : 0,
                        order_index({0, 0, 2})};
    }
  }
  std::vector<FloatVolume> derivatives;
  if (!orders.empty()) {
    GROVE_RETURN_IF_ERROR(gaussian_derivatives(presmoothed, bounds, out, three_d,
                                               feature_kernel_pointers, orders, derivatives));
  }
  const int64_t n = out.size();
  auto& components = result.components;

  if (difference) {
    GROVE_ASSIGN_OR_RETURN(Kernel1D narrow, gaussian_kernel(kDifferenceOfGaussiansRatio * sigma, 0,
                                                            kFeatureWindowRatio));
    std::vector<FloatVolume> narrow_result;
    GROVE_RETURN_IF_ERROR(gaussian_derivatives(presmoothed, bounds, out, three_d,
                                               {&narrow, &narrow, &narrow},
                                               std::span(&zero_order, 1), narrow_result));
    subtract_in_place(derivatives[*smooth_index], narrow_result[0]);
    components[static_cast<int>(FeatureFamily::kDifferenceOfGaussians)].push_back(
        std::move(narrow_result[0]));
  }
  if (gradient) {
    GROVE_ASSIGN_OR_RETURN(FloatVolume magnitude, FloatVolume::allocate(out));
    float* m = magnitude.data();
    for (int64_t i = 0; i < n; ++i) m[i] = 0;
    for (size_t index : first_indices) {
      const float* d = derivatives[index].data();
      for (int64_t i = 0; i < n; ++i) m[i] += d[i] * d[i];
    }
    int64_t i = 0;
    for (; i + kFloatLanes <= n; i += kFloatLanes) store(m + i, square_root(load(m + i)));
    for (; i < n; ++i) m[i] = std::sqrt(m[i]);
    components[static_cast<int>(FeatureFamily::kGaussianGradientMagnitude)].push_back(
        std::move(magnitude));
  }
  if (laplacian) {
    GROVE_ASSIGN_OR_RETURN(FloatVolume sum, FloatVolume::allocate(out));
    float* s = sum.data();
    const size_t last = second_indices.size() - 1;
    const float* a = derivatives[second_indices[0]].data();
    const float* b = derivatives[second_indices[three_d ? 3 : 2]].data();
    for (int64_t i = 0; i < n; ++i) s[i] = a[i] + b[i];
    if (three_d) {
      const float* c = derivatives[second_indices[last]].data();
      for (int64_t i = 0; i < n; ++i) s[i] += c[i];
    }
    components[static_cast<int>(FeatureFamily::kLaplacianOfGaussian)].push_back(std::move(sum));
  }
  auto eigenvalues = [&](std::span<FloatVolume* const> tensor, FeatureFamily family) -> Status {
    auto& target = components[static_cast<int>(family)];
    for (size_t k = 0; k < (three_d ? 3u : 2u); ++k) {
      GROVE_ASSIGN_OR_RETURN(FloatVolume v, FloatVolume::allocate(out));
      target.push_back(std::move(v));
    }
    if (three_d) {
      symmetric_eigenvalues_3x3(tensor[0]->data(), tensor[1]->data(), tensor[2]->data(),
                                tensor[3]->data(), tensor[4]->data(), tensor[5]->data(),
                                target[0].data(), target[1].data(), target[2].data(), n);
    } else {
      symmetric_eigenvalues_2x2(tensor[0]->data(), tensor[1]->data(), tensor[2]->data(),
                                target[0].data(), target[1].data(), n);
    }
    return ok_status();
  };
  if (hessian) {
    std::vector<FloatVolume*> tensor;
    for (size_t index : second_indices) tensor.push_back(&derivatives[index]);
    GROVE_RETURN_IF_ERROR(eigenvalues(tensor, FeatureFamily::kHessianOfGaussianEigenvalues));
  }
  if (wants(families, FeatureFamily::kStructureTensorEigenvalues)) {
    GROVE_ASSIGN_OR_RETURN(Kernel1D inner0, gaussian_kernel(kStructureTensorInnerRatio * sigma, 0,
                                                            kFeatureWindowRatio));
    GROVE_ASSIGN_OR_RETURN(Kernel1D inner1, gaussian_kernel(kStructureTensorInnerRatio * sigma, 1,
                                                            kFeatureWindowRatio));
    const Region3 tensor_region = grow(out, feature_kernels[0].radius, three_d, bounds);
    std::vector<DerivativeOrder> gradient_orders;
    if (three_d) gradient_orders.push_back({1, 0, 0});
    gradient_orders.push_back({0, 1, 0});
    gradient_orders.push_back({0, 0, 1});
    std::vector<FloatVolume> inner_gradient;
    GROVE_RETURN_IF_ERROR(gaussian_derivatives(presmoothed, bounds, tensor_region, three_d,
                                               {&inner0, &inner1, &inner1}, gradient_orders,
                                               inner_gradient));
    // The tensor's components (upper triangle, row by row), smoothed at sigma: the products go
    // straight into the x pass, then y and z as usual.
    const int dims = static_cast<int>(gradient_orders.size());
    std::vector<int> first, second;
    for (int a = 0; a < dims; ++a) {
      for (int b = a; b < dims; ++b) {
        first.push_back(a);
        second.push_back(b);
      }
    }
    const Region3 after_x = grow(out, feature_kernels[0].radius, three_d, bounds).with_axis(2, out);
    std::vector<FloatVolume> along_x;
    std::vector<FloatVolume*> along_x_pointers;
    for (size_t k = 0; k < first.size(); ++k) {
      GROVE_ASSIGN_OR_RETURN(FloatVolume v, FloatVolume::allocate(after_x));
      along_x.push_back(std::move(v));
    }
    for (FloatVolume& v : along_x) along_x_pointers.push_back(&v);
    std::vector<const FloatVolume*> factors;
    for (const FloatVolume& g : inner_gradient) factors.push_back(&g);
    convolve_x_of_products(factors, first, second, bounds.begin[2], bounds.end[2],
                           feature_kernels[0], along_x_pointers);
    inner_gradient.clear();
    std::vector<FloatVolume> tensor;
    const Kernel1D* smoothing_kernel = &feature_kernels[0];
    for (FloatVolume& component : along_x) {
      if (three_d) {
        GROVE_ASSIGN_OR_RETURN(FloatVolume smoothed, FloatVolume::allocate(out));
        FloatVolume* target = &smoothed;
        convolve_y_then_z(component, bounds, std::span(&smoothing_kernel, 1),
                          std::span(&smoothing_kernel, 1), std::span(&target, 1));
        component = FloatVolume();
        tensor.push_back(std::move(smoothed));
        continue;
      }
      std::vector<FloatVolume> along_y;
      GROVE_RETURN_IF_ERROR(run_pass(component, 1, bounds, after_x.with_axis(1, out),
                                     std::span(&smoothing_kernel, 1), along_y));
      component = FloatVolume();
      if (!three_d) {
        tensor.push_back(std::move(along_y[0]));
        continue;
      }
      std::vector<FloatVolume> along_z;
      GROVE_RETURN_IF_ERROR(
          run_pass(along_y[0], 0, bounds, out, std::span(&smoothing_kernel, 1), along_z));
      tensor.push_back(std::move(along_z[0]));
    }
    std::vector<FloatVolume*> pointers;
    for (FloatVolume& v : tensor) pointers.push_back(&v);
    GROVE_RETURN_IF_ERROR(eigenvalues(pointers, FeatureFamily::kStructureTensorEigenvalues));
  }
  if (smoothing) {
    components[static_cast<int>(FeatureFamily::kGaussianSmoothing)].push_back(
        std::move(derivatives[*smooth_index]));
  }
  return ok_status();
}

}  // namespace grove::filters
