// FeatureSelection: which of ilastik's six pixel-feature families to compute at which scales,
// and which scales to compute slice by slice in 3D volumes (ilastik's SelectionMatrix, Scales,
// FeatureIds and ComputeIn2d). Also the channel layout of the result (ilastik's order: family,
// then scale, then input channel, then the components of a family, e.g. eigenvalues in
// descending order), channel names, the command-line SPEC syntax and JSON.
//
// SPEC (DESIGN.md §7): "all", or "Family:scale,scale;Family:scale" with ilastik's family names,
// e.g. "GaussianSmoothing:0.3,1.0;HessianOfGaussianEigenvalues:3.5". grove also accepts
// "ComputeIn2d:1.6,3.5" (or "ComputeIn2d:all") in the list, for the scales to compute in 2D, and
// "all" as one part of a list (e.g. "all;ComputeIn2d:3.5").
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grove/core/result.h"

namespace grove::filters {

enum class FeatureFamily : int {
  kGaussianSmoothing = 0,
  kLaplacianOfGaussian,
  kGaussianGradientMagnitude,
  kDifferenceOfGaussians,
  kStructureTensorEigenvalues,
  kHessianOfGaussianEigenvalues,
};
inline constexpr int kFamilyCount = 6;
inline constexpr FeatureFamily kAllFamilies[kFamilyCount] = {
    FeatureFamily::kGaussianSmoothing,          FeatureFamily::kLaplacianOfGaussian,
    FeatureFamily::kGaussianGradientMagnitude,  FeatureFamily::kDifferenceOfGaussians,
    FeatureFamily::kStructureTensorEigenvalues, FeatureFamily::kHessianOfGaussianEigenvalues};

// ilastik's scales (its feature dialog's columns).
inline constexpr double kIlastikScales[] = {0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0};
// Scales above this are refused (their kernels would be thousands of pixels wide).
inline constexpr double kMaximumScale = 500.0;

// "GaussianSmoothing", ... (ilastik's FeatureIds).
std::string_view family_id(FeatureFamily family);
// "Gaussian Smoothing", ... (ilastik's display names).
std::string_view family_display_name(FeatureFamily family);
std::optional<FeatureFamily> parse_family_id(std::string_view id);
// Channels per input channel: 1, or the spatial rank for the eigenvalue families.
int family_components(FeatureFamily family, int spatial_rank);

struct FeatureSelection {
  // Columns, ascending and distinct.
  std::vector<double> scales;
  // selected[s][f]: family f at scales[s].
  std::vector<std::array<bool, kFamilyCount>> selected;
  // Per scale: compute slice by slice (z independent) in 3D volumes.
  std::vector<bool> compute_in_2d;

  // All six families at ilastik's seven scales (at 0.3 only smoothing): 49 channels on a 2D
  // single-channel image, 61 on 3D.
  static FeatureSelection all();

  // Selects family at scale, adding the scale column if it is new. Fails on a bad scale.
  Status select(FeatureFamily family, double scale);
  bool is_selected(FeatureFamily family, size_t scale_index) const {
    return selected[scale_index][static_cast<int>(family)];
  }
  bool scale_used(size_t scale_index) const;
  // True if nothing is selected.
  bool empty() const;
  // Checks shapes and scales (for selections built by hand or read from JSON).
  Status validate() const;

  friend bool operator==(const FeatureSelection&, const FeatureSelection&) = default;
};

// Parses SPEC (see the top of this file). Errors name the offending part.
Result<FeatureSelection> parse_feature_spec(std::string_view spec);
// The SPEC that parses back to the selection ("all" for all()).
std::string to_feature_spec(const FeatureSelection& selection);

// JSON: {"scales": [...], "feature_ids": [six names], "selection_matrix": [[bool per scale] per
// family], "compute_in_2d": [bool per scale]} (ilastik's layout). from_json throws
// std::invalid_argument (or nlohmann's exceptions) on bad input, as nlohmann expects;
// feature_selection_from_json returns the error as a value instead.
void to_json(nlohmann::json& json, const FeatureSelection& selection);
void from_json(const nlohmann::json& json, FeatureSelection& selection);
Result<FeatureSelection> feature_selection_from_json(const nlohmann::json& json);

// One block of output channels: family at scales[scale_index] for every input channel.
struct FeatureItem {
  FeatureFamily family;
  size_t scale_index;
  int spatial_rank;       // 2 or 3: how the feature is computed
  int components;         // channels per input channel
  int64_t first_channel;  // of the block; input channel c starts at first_channel + c * components
};

// The 3D rank a scale is computed in: 3 for a volume (z > 1) unless computed in 2D.
int scale_spatial_rank(const FeatureSelection& selection, size_t scale_index, bool volume_is_3d);
// The output channel blocks in ilastik's order.
std::vector<FeatureItem> feature_layout(const FeatureSelection& selection, int64_t input_channels,
                                        bool volume_is_3d);
int64_t feature_channel_count(const FeatureSelection& selection, int64_t input_channels,
                              bool volume_is_3d);
// "Gaussian Smoothing (σ=0.30) [c0]", "Hessian of Gaussian Eigenvalues (σ=1.60) in 2D [c1 e0]".
std::vector<std::string> feature_channel_names(const FeatureSelection& selection,
                                               int64_t input_channels, bool volume_is_3d);

}  // namespace grove::filters
