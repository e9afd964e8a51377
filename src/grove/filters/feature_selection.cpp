#include "grove/filters/feature_selection.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace grove::filters {

namespace {

constexpr std::string_view kFamilyIds[kFamilyCount] = {
    "GaussianSmoothing",     "LaplacianOfGaussian",        "GaussianGradientMagnitude",
    "DifferenceOfGaussians", "StructureTensorEigenvalues", "HessianOfGaussianEigenvalues"};
constexpr std::string_view kFamilyNames[kFamilyCount] = {
    "Gaussian Smoothing",      "Laplacian of Gaussian",        "Gaussian Gradient Magnitude",
    "Difference of Gaussians", "Structure Tensor Eigenvalues", "Hessian of Gaussian Eigenvalues"};
constexpr std::string_view kComputeIn2dId = "ComputeIn2d";

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

Status check_scale(double scale) {
  if (!std::isfinite(scale) || scale <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "feature scale must be a positive number, got {}", scale);
  }
  if (scale > kMaximumScale) {
    return make_error(ErrorCode::kInvalidArgument, "feature scale {} is larger than the maximum {}",
                      scale, kMaximumScale);
  }
  return ok_status();
}

Result<double> parse_scale(std::string_view text) {
  text = trim(text);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return make_error(ErrorCode::kInvalidArgument, "'{}' is not a number", text);
  }
  GROVE_RETURN_IF_ERROR(check_scale(value));
  return value;
}

// Index of scale in the selection's scales (compared to 1e-9, so 0.3 from text or JSON matches).
std::optional<size_t> find_scale(const std::vector<double>& scales, double scale) {
  for (size_t i = 0; i < scales.size(); ++i) {
    if (std::abs(scales[i] - scale) <= 1e-9 * std::max(1.0, scale)) return i;
  }
  return std::nullopt;
}

size_t insert_scale(FeatureSelection& selection, double scale) {
  if (auto found = find_scale(selection.scales, scale)) return *found;
  const auto position = std::upper_bound(selection.scales.begin(), selection.scales.end(), scale);
  const size_t index = static_cast<size_t>(position - selection.scales.begin());
  selection.scales.insert(position, scale);
  selection.selected.insert(selection.selected.begin() + static_cast<std::ptrdiff_t>(index),
                            std::array<bool, kFamilyCount>{});
  selection.compute_in_2d.insert(
      selection.compute_in_2d.begin() + static_cast<std::ptrdiff_t>(index), false);
  return index;
}

std::string format_scale(double scale) {
  // Shortest text that reads back to the same double.
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), scale);
  return std::string(buffer, result.ptr);
}

}  // namespace

std::string_view family_id(FeatureFamily family) { return kFamilyIds[static_cast<int>(family)]; }

std::string_view family_display_name(FeatureFamily family) {
  return kFamilyNames[static_cast<int>(family)];
}

std::optional<FeatureFamily> parse_family_id(std::string_view id) {
  for (int f = 0; f < kFamilyCount; ++f) {
    if (kFamilyIds[f] == id) return static_cast<FeatureFamily>(f);
  }
  return std::nullopt;
}

int family_components(FeatureFamily family, int spatial_rank) {
  return family == FeatureFamily::kStructureTensorEigenvalues ||
                 family == FeatureFamily::kHessianOfGaussianEigenvalues
             ? spatial_rank
             : 1;
}

FeatureSelection FeatureSelection::all() { return *parse_feature_spec("all"); }

Status FeatureSelection::select(FeatureFamily family, double scale) {
  GROVE_RETURN_IF_ERROR(check_scale(scale));
  const size_t index = insert_scale(*this, scale);
  selected[index][static_cast<int>(family)] = true;
  return ok_status();
}

bool FeatureSelection::scale_used(size_t scale_index) const {
  const auto& row = selected[scale_index];
  return std::any_of(row.begin(), row.end(), [](bool b) { return b; });
}

bool FeatureSelection::empty() const {
  for (size_t s = 0; s < scales.size(); ++s) {
    if (scale_used(s)) return false;
  }
  return true;
}

Status FeatureSelection::validate() const {
  if (selected.size() != scales.size() || compute_in_2d.size() != scales.size()) {
    return make_error(
        ErrorCode::kInvalidArgument,
        "feature selection has {} scales but {} selection rows and {} compute-in-2D flags",
        scales.size(), selected.size(), compute_in_2d.size());
  }
  for (size_t s = 0; s < scales.size(); ++s) {
    GROVE_RETURN_IF_ERROR(check_scale(scales[s]));
    if (s > 0 && !(scales[s] > scales[s - 1])) {
      return make_error(ErrorCode::kInvalidArgument,
                        "feature scales must be ascending and distinct ({} after {})", scales[s],
                        scales[s - 1]);
    }
  }
  return ok_status();
}

Result<FeatureSelection> parse_feature_spec(std::string_view spec) {
  const std::string_view whole = trim(spec);
  if (whole.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "empty feature spec (use 'all' or 'Family:scale,scale;Family:scale')");
  }
  FeatureSelection selection;
  std::vector<std::string_view> in_2d_parts;
  for (std::string_view part : split(whole, ';')) {
    part = trim(part);
    if (part.empty()) continue;
    if (part == "all") {
      for (double scale : kIlastikScales) {
        for (FeatureFamily family : kAllFamilies) {
          if (scale < 0.5 && family != FeatureFamily::kGaussianSmoothing) continue;
          GROVE_RETURN_IF_ERROR(selection.select(family, scale));
        }
      }
      continue;
    }
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        "feature spec part '{}' has no ':' (expected Family:scale,scale)", part);
    }
    const std::string_view name = trim(part.substr(0, colon));
    const std::string_view scale_list = part.substr(colon + 1);
    if (name == kComputeIn2dId) {
      in_2d_parts.push_back(scale_list);
      continue;
    }
    const auto family = parse_family_id(name);
    if (!family) {
      std::string known;
      for (std::string_view id : kFamilyIds) {
        if (!known.empty()) known += ", ";
        known += id;
      }
      return make_error(ErrorCode::kInvalidArgument, "unknown feature '{}' (known: {}, {})", name,
                        known, kComputeIn2dId);
    }
    for (std::string_view text : split(scale_list, ',')) {
      auto scale = parse_scale(text);
      if (!scale.ok()) {
        return std::move(scale).error().add_context(fmt::format("in the scales of {}", name));
      }
      GROVE_RETURN_IF_ERROR(selection.select(*family, *scale));
    }
  }
  if (selection.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "feature spec '{}' selects no feature", whole);
  }
  for (std::string_view scale_list : in_2d_parts) {
    if (trim(scale_list) == "all") {
      std::fill(selection.compute_in_2d.begin(), selection.compute_in_2d.end(), true);
      continue;
    }
    for (std::string_view text : split(scale_list, ',')) {
      auto scale = parse_scale(text);
      if (!scale.ok()) return std::move(scale).error().add_context("in the scales of ComputeIn2d");
      const auto index = find_scale(selection.scales, *scale);
      if (!index) {
        return make_error(ErrorCode::kInvalidArgument,
                          "ComputeIn2d scale {} is not a scale of any selected feature", *scale);
      }
      selection.compute_in_2d[*index] = true;
    }
  }
  return selection;
}

std::string to_feature_spec(const FeatureSelection& selection) {
  if (selection == FeatureSelection::all()) return "all";
  std::string spec;
  for (FeatureFamily family : kAllFamilies) {
    std::string scales;
    for (size_t s = 0; s < selection.scales.size(); ++s) {
      if (selection.is_selected(family, s)) {
        if (!scales.empty()) scales += ",";
        scales += format_scale(selection.scales[s]);
      }
    }
    if (scales.empty()) continue;
    if (!spec.empty()) spec += ";";
    spec += fmt::format("{}:{}", family_id(family), scales);
  }
  std::string in_2d;
  for (size_t s = 0; s < selection.scales.size(); ++s) {
    if (selection.compute_in_2d[s] && selection.scale_used(s)) {
      if (!in_2d.empty()) in_2d += ",";
      in_2d += format_scale(selection.scales[s]);
    }
  }
  if (!in_2d.empty()) spec += fmt::format(";{}:{}", kComputeIn2dId, in_2d);
  return spec;
}

void to_json(nlohmann::json& json, const FeatureSelection& selection) {
  nlohmann::json ids = nlohmann::json::array();
  nlohmann::json matrix = nlohmann::json::array();
  for (FeatureFamily family : kAllFamilies) {
    ids.push_back(std::string(family_id(family)));
    nlohmann::json row = nlohmann::json::array();
    for (size_t s = 0; s < selection.scales.size(); ++s)
      row.push_back(selection.is_selected(family, s));
    matrix.push_back(row);
  }
  nlohmann::json in_2d = nlohmann::json::array();
  for (bool b : selection.compute_in_2d) in_2d.push_back(b);
  json = {{"scales", selection.scales},
          {"feature_ids", ids},
          {"selection_matrix", matrix},
          {"compute_in_2d", in_2d}};
}

Result<FeatureSelection> feature_selection_from_json(const nlohmann::json& json) {
  try {
    FeatureSelection selection;
    if (!json.is_object()) {
      return make_error(ErrorCode::kInvalidArgument, "feature selection JSON must be an object");
    }
    const auto scales = json.at("scales").get<std::vector<double>>();
    const auto ids = json.at("feature_ids").get<std::vector<std::string>>();
    const auto matrix = json.at("selection_matrix").get<std::vector<std::vector<bool>>>();
    std::vector<bool> in_2d(scales.size(), false);
    if (json.contains("compute_in_2d")) in_2d = json.at("compute_in_2d").get<std::vector<bool>>();
    if (matrix.size() != ids.size()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "selection_matrix has {} rows but feature_ids names {} features",
                        matrix.size(), ids.size());
    }
    if (in_2d.size() != scales.size()) {
      return make_error(ErrorCode::kInvalidArgument, "compute_in_2d has {} entries for {} scales",
                        in_2d.size(), scales.size());
    }
    for (size_t f = 0; f < ids.size(); ++f) {
      const auto family = parse_family_id(ids[f]);
      if (!family)
        return make_error(ErrorCode::kInvalidArgument, "unknown feature id '{}'", ids[f]);
      if (matrix[f].size() != scales.size()) {
        return make_error(ErrorCode::kInvalidArgument,
                          "selection_matrix row of {} has {} entries for {} scales", ids[f],
                          matrix[f].size(), scales.size());
      }
      for (size_t s = 0; s < scales.size(); ++s) {
        GROVE_RETURN_IF_ERROR(check_scale(scales[s]));
        const size_t index = insert_scale(selection, scales[s]);
        if (matrix[f][s]) selection.selected[index][static_cast<int>(*family)] = true;
      }
    }
    for (size_t s = 0; s < scales.size(); ++s) {
      const size_t index = insert_scale(selection, scales[s]);
      if (in_2d[s]) selection.compute_in_2d[index] = true;
    }
    GROVE_RETURN_IF_ERROR(selection.validate());
    return selection;
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kInvalidArgument, "bad feature selection JSON: {}", e.what());
  }
}

void from_json(const nlohmann::json& json, FeatureSelection& selection) {
  auto parsed = feature_selection_from_json(json);
  if (!parsed.ok()) throw std::invalid_argument(parsed.error().to_string());
  selection = std::move(parsed).value();
}

int scale_spatial_rank(const FeatureSelection& selection, size_t scale_index, bool volume_is_3d) {
  return volume_is_3d && !selection.compute_in_2d[scale_index] ? 3 : 2;
}

std::vector<FeatureItem> feature_layout(const FeatureSelection& selection, int64_t input_channels,
                                        bool volume_is_3d) {
  std::vector<FeatureItem> items;
  int64_t channel = 0;
  for (FeatureFamily family : kAllFamilies) {
    for (size_t s = 0; s < selection.scales.size(); ++s) {
      if (!selection.is_selected(family, s)) continue;
      const int rank = scale_spatial_rank(selection, s, volume_is_3d);
      const int components = family_components(family, rank);
      items.push_back({family, s, rank, components, channel});
      channel += components * input_channels;
    }
  }
  return items;
}

int64_t feature_channel_count(const FeatureSelection& selection, int64_t input_channels,
                              bool volume_is_3d) {
  int64_t count = 0;
  for (const FeatureItem& item : feature_layout(selection, input_channels, volume_is_3d)) {
    count += item.components * input_channels;
  }
  return count;
}

std::vector<std::string> feature_channel_names(const FeatureSelection& selection,
                                               int64_t input_channels, bool volume_is_3d) {
  std::vector<std::string> names;
  for (const FeatureItem& item : feature_layout(selection, input_channels, volume_is_3d)) {
    const std::string base = fmt::format(
        "{} (σ={:.2f}){}", family_display_name(item.family), selection.scales[item.scale_index],
        volume_is_3d && selection.compute_in_2d[item.scale_index] ? " in 2D" : "");
    for (int64_t c = 0; c < input_channels; ++c) {
      for (int k = 0; k < item.components; ++k) {
        names.push_back(item.components == 1 ? fmt::format("{} [c{}]", base, c)
                                             : fmt::format("{} [c{} e{}]", base, c, k));
      }
    }
  }
  return names;
}

}  // namespace grove::filters
