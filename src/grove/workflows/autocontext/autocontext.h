// The autocontext workflow (ilastik's "Autocontext (2-stage)"): pixel classifiers in a row.
// Stage 1 classifies the raw image; stage k > 1 classifies the raw channels stacked with stage
// k−1's class probabilities, so it learns from the context the earlier stage saw (e.g. "next to
// a membrane"), which often fixes hard boundaries. Each stage has its own labels, feature
// selection, classes and forest: each is a PixelClassification whose lanes are the project's
// images with that stage's labels.
//
// ilastik's facts reproduced here (checked against api_projects.zip's Autocontext_2D/3D.ilp):
// stage k's input is [raw channels, stage k−1's probabilities] in that channel order, the
// probabilities converted to the raw image's dtype first (ProbabilitiesAsInputType: uint8 raw
// gets ⌊255·p⌋), so stage k's forest expects feature_count(selection_k, raw channels + classes
// of stage k−1) features.
//
// Prediction is one lazy graph through every stage, computed block by block on the engine: a
// block of stage k asks for its halo of stage k's input, which asks stage k−1 for that box, and
// so on; no stage's whole output is ever held. The earlier stages' probabilities are cacheable
// nodes, so neighbouring blocks of a later stage, whose halos overlap, reuse them from the block
// cache instead of recomputing them. When a later stage selects stage 1's features and the
// image's features fit in the engine's cache (share_features_within), stage 1's features are
// cached too and the later stage reads its raw channels' features from there
// (shared_feature_prediction.h) instead of computing them again: same bits, and stage 2 then
// costs about its probability channels' features and its forest.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grove/engine/engine.h"
#include "grove/workflows/autocontext/shared_feature_prediction.h"
#include "grove/workflows/pixel/pixel_classification.h"

namespace grove {

inline constexpr std::string_view kAutocontextWorkflow = "autocontext";
inline constexpr size_t kDefaultAutocontextStages = 2;
// More stages than this is a typo, not a workflow (ilastik offers 2 to 4).
inline constexpr size_t kMaximumAutocontextStages = 16;

// What an autocontext project exports (ilastik's export sources for autocontext).
struct AutocontextSource {
  ExportSource source = ExportSource::kProbabilities;
  std::optional<size_t> stage;  // 0-based; unset: the last stage
  bool all_stages = false;      // every stage's probabilities, stage 1's channels first
  bool input = false;           // the stage's input image (ilastik's "Input Stage k")
};

// Accepts ilastik's names, case-insensitive ("Probabilities Stage 2", "Simple Segmentation Stage
// 1", "Uncertainty Stage 2", "Features Stage 1", "Labels Stage 2", "Input Stage 2",
// "Probabilities All Stages"), grove's ("probabilities-stage-2", "probabilities-all-stages"),
// and the plain pixel-classification names for the last stage ("probabilities", "overlay", ...).
Result<AutocontextSource> parse_autocontext_source(std::string_view name, size_t stage_count);
// ilastik's name of a source ("Probabilities Stage 2", "Probabilities All Stages"): its
// {result_type}.
std::string autocontext_source_name(const AutocontextSource& source, size_t stage_count);

class Autocontext {
 public:
  // Stage k's lanes are the project's images with stage k's labels (the same paths in every
  // stage). stages[k].trained_channels is stage k's input channel count (raw channels, plus
  // stage k−1's classes for k > 0).
  std::vector<PixelClassification> stages;

  explicit Autocontext(size_t stage_count = kDefaultAutocontextStages);

  size_t stage_count() const { return stages.size(); }
  // The project's images (stage 1's lanes; every stage has the same paths).
  const std::vector<PixelLane>& lanes() const { return stages.front().lanes; }
  // Adds an image to every stage, each with its own empty labels.
  Result<size_t> add_lane(const std::string& path);
  // True when every stage has a forest.
  bool trained() const;

  // Later stages need the features of the raw channels that stage 1 computes (when their
  // feature selection is stage 1's): stage 1's features are then cached with its probabilities
  // and read from there, instead of computed again, if the whole image's features fit in this
  // many bytes (the engine's block cache, which has to hold them until the later stage's blocks
  // and their halos are done). 0: never; callers that know the engine set it
  // (share_features_within).
  int64_t feature_sharing_bytes = 0;
  void share_features_within(const Engine& engine);
  // Whether stage's features read stage 1's cached raw-channel features for this image.
  bool shares_stage1_features(const NodePtr& raw, size_t stage) const;

  // raw -> stage's input: raw itself for stage 0, else raw stacked with stage−1's probabilities
  // (in raw's dtype).
  Result<NodePtr> stage_input_node(const NodePtr& raw, size_t stage) const;
  // raw -> stage's features.
  Result<NodePtr> feature_node(const NodePtr& raw, size_t stage) const;
  // raw -> stage's class probabilities (float32, one channel per class of the stage).
  Result<NodePtr> probability_node(const NodePtr& raw, size_t stage, bool cacheable = false) const;
  // raw -> every stage's probabilities stacked (ilastik's "Probabilities All Stages").
  Result<NodePtr> all_stages_probability_node(const NodePtr& raw) const;

 private:
  // Stage 1's features of raw, cached (the blocks later stages read when they share them).
  Result<NodePtr> stage1_features_node(const NodePtr& raw) const;
  // Stage's probabilities as the next stage reads them (cached; predicted from the cached
  // features when the next stage shares them).
  Result<NodePtr> input_probability_node(const NodePtr& raw, size_t stage) const;
  // Where each feature of stage's stacked input comes from (stage > 0): {0, c} is feature c of
  // the raw channels, {1, c} feature c of the previous stage's probabilities (ilastik's order).
  Result<std::vector<FeaturePart>> stacked_feature_order(const NodePtr& raw, size_t stage) const;
  // Stage−1's probabilities in raw's dtype (stage > 0), the part of stage's input after raw.
  Result<NodePtr> previous_probabilities_as_input(const NodePtr& raw, size_t stage) const;

 public:
  // raw -> what source exports. Labels need lane (the project image raw is). kOverlay is made
  // by export_autocontext_image, which knows the engine.
  Result<NodePtr> export_node(const NodePtr& raw, const AutocontextSource& source,
                              std::optional<size_t> lane = std::nullopt) const;

  // Trains one stage from its labels (the earlier stages must be trained: their probabilities
  // are its input). raw_nodes[i] is lane i's raw data (nullptr or missing: opened from the
  // lane's path). Later stages keep their forests, which were trained on the old probabilities:
  // retrain them too (train does).
  Result<TrainingReport> train_stage(Engine& engine, size_t stage,
                                     const std::vector<NodePtr>& raw_nodes = {},
                                     const RunOptions& options = {});
  // Trains every stage in order.
  Result<std::vector<TrainingReport>> train(Engine& engine,
                                            const std::vector<NodePtr>& raw_nodes = {},
                                            const RunOptions& options = {});
};

}  // namespace grove
