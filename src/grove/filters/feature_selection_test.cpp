#include "grove/filters/feature_selection.h"

#include <gtest/gtest.h>

namespace grove::filters {
namespace {

TEST(FeatureSelection, AllGives49ChannelsIn2dAnd61In3d) {
  const FeatureSelection all = FeatureSelection::all();
  EXPECT_EQ(all.scales.size(), 7u);
  EXPECT_EQ(feature_channel_count(all, 1, false), 49);
  EXPECT_EQ(feature_channel_count(all, 1, true), 61);
  EXPECT_EQ(feature_channel_count(all, 3, false), 147);
  EXPECT_TRUE(all.is_selected(FeatureFamily::kGaussianSmoothing, 0));
  EXPECT_FALSE(all.is_selected(FeatureFamily::kLaplacianOfGaussian, 0));
}

TEST(FeatureSelection, LayoutIsFamilyThenScaleThenChannel) {
  const FeatureSelection all = FeatureSelection::all();
  const auto layout = feature_layout(all, 2, true);
  ASSERT_EQ(layout.size(), 37u);
  EXPECT_EQ(layout[0].family, FeatureFamily::kGaussianSmoothing);
  EXPECT_EQ(layout[1].first_channel, 2);  // smoothing 0.7 after 0.3 for both channels
  EXPECT_EQ(layout[7].family, FeatureFamily::kLaplacianOfGaussian);
  EXPECT_EQ(layout[7].scale_index, 1u);
  EXPECT_EQ(layout[7].first_channel, 14);
  const FeatureItem& hessian = layout.back();
  EXPECT_EQ(hessian.family, FeatureFamily::kHessianOfGaussianEigenvalues);
  EXPECT_EQ(hessian.components, 3);
  EXPECT_EQ(hessian.first_channel + 2 * 3, feature_channel_count(all, 2, true));

  const auto names = feature_channel_names(all, 2, false);
  ASSERT_EQ(names.size(), 98u);
  EXPECT_EQ(names[0], "Gaussian Smoothing (σ=0.30) [c0]");
  EXPECT_EQ(names[1], "Gaussian Smoothing (σ=0.30) [c1]");
  EXPECT_EQ(names[97], "Hessian of Gaussian Eigenvalues (σ=10.00) [c1 e1]");
}

TEST(FeatureSelection, ComputeIn2dGivesTwoEigenvaluesInVolumes) {
  auto selection = parse_feature_spec("all;ComputeIn2d:1.0,3.5");
  ASSERT_TRUE(selection.ok()) << selection.error().to_string();
  EXPECT_EQ(feature_channel_count(*selection, 1, true), 57);
  EXPECT_EQ(feature_channel_count(*selection, 1, false), 49);
  const auto names = feature_channel_names(*selection, 1, true);
  EXPECT_NE(std::find(names.begin(), names.end(), "Gaussian Smoothing (σ=1.00) in 2D [c0]"),
            names.end());
}

TEST(FeatureSelection, ParsesSpecs) {
  auto all = parse_feature_spec(" all ");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, FeatureSelection::all());

  auto some = parse_feature_spec("GaussianSmoothing:0.3,1.0;HessianOfGaussianEigenvalues: 3.5 ; ");
  ASSERT_TRUE(some.ok()) << some.error().to_string();
  EXPECT_EQ(some->scales, (std::vector<double>{0.3, 1.0, 3.5}));
  EXPECT_TRUE(some->is_selected(FeatureFamily::kGaussianSmoothing, 1));
  EXPECT_TRUE(some->is_selected(FeatureFamily::kHessianOfGaussianEigenvalues, 2));
  EXPECT_FALSE(some->is_selected(FeatureFamily::kGaussianSmoothing, 2));
  EXPECT_EQ(feature_channel_count(*some, 1, false), 4);
  EXPECT_EQ(to_feature_spec(*some), "GaussianSmoothing:0.3,1;HessianOfGaussianEigenvalues:3.5");
  EXPECT_EQ(*parse_feature_spec(to_feature_spec(*some)), *some);

  auto odd = parse_feature_spec("DifferenceOfGaussians:2.25;ComputeIn2d:all");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->compute_in_2d[0]);
  EXPECT_EQ(*parse_feature_spec(to_feature_spec(*odd)), *odd);
}

TEST(FeatureSelection, BadSpecsGiveClearErrors) {
  auto expect_error = [](std::string_view spec, std::string_view fragment) {
    auto parsed = parse_feature_spec(spec);
    ASSERT_FALSE(parsed.ok()) << spec;
    EXPECT_NE(parsed.error().to_string().find(fragment), std::string::npos)
        << spec << " -> " << parsed.error().to_string();
  };
  expect_error("", "empty feature spec");
  expect_error("GaussianBlur:1.0", "unknown feature 'GaussianBlur'");
  expect_error("GaussianSmoothing", "has no ':'");
  expect_error("GaussianSmoothing:abc", "'abc' is not a number");
  expect_error("GaussianSmoothing:1.0,", "'' is not a number");
  expect_error("GaussianSmoothing:-1", "positive");
  expect_error("GaussianSmoothing:0", "positive");
  expect_error("GaussianSmoothing:nan", "positive");
  expect_error("GaussianSmoothing:1e6", "larger than the maximum");
  expect_error("GaussianSmoothing:1;ComputeIn2d:2", "not a scale of any selected feature");
  expect_error("ComputeIn2d:all", "selects no feature");
}

TEST(FeatureSelection, JsonRoundTrip) {
  auto selection = parse_feature_spec("all;ComputeIn2d:1.6");
  ASSERT_TRUE(selection.ok());
  const nlohmann::json json = *selection;
  EXPECT_EQ(json["feature_ids"][4], "StructureTensorEigenvalues");
  EXPECT_EQ(json["selection_matrix"].size(), 6u);
  EXPECT_EQ(json.get<FeatureSelection>(), *selection);
  const nlohmann::json reparsed = nlohmann::json::parse(json.dump());
  EXPECT_EQ(reparsed.get<FeatureSelection>(), *selection);

  nlohmann::json bad = json;
  bad["feature_ids"][0] = "Nope";
  EXPECT_FALSE(feature_selection_from_json(bad).ok());
  EXPECT_THROW(bad.get<FeatureSelection>(), std::invalid_argument);
  bad = json;
  bad["scales"][0] = -2.0;
  EXPECT_FALSE(feature_selection_from_json(bad).ok());
  bad = json;
  bad.erase("scales");
  EXPECT_FALSE(feature_selection_from_json(bad).ok());
  bad = json;
  bad["selection_matrix"][2] = nlohmann::json::array({true});
  EXPECT_FALSE(feature_selection_from_json(bad).ok());
}

}  // namespace
}  // namespace grove::filters
