#include "grove/workflows/autocontext/autocontext.h"

#include <fmt/format.h>
#include <cctype>

#include "grove/engine/channel_stack.h"
#include "grove/engine/engine.h"
#include "grove/filters/feature_selection.h"
#include "grove/learn/forest_prediction.h"
#include "grove/learn/uncertainty.h"
#include "grove/segment/simple_segmentation.h"
#include "grove/workflows/autocontext/probabilities_as_input_type.h"
#include "grove/workflows/autocontext/shared_feature_prediction.h"

namespace grove {

namespace {

// Lower case, '-' and '_' as spaces, single spaces, no spaces at the ends.
std::string normalized(std::string_view name) {
  std::string out;
  for (char ch : name) {
    if (ch == '-' || ch == '_') ch = ' ';
    if (ch == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

Status check_stage(size_t stage, size_t stage_count) {
  if (stage >= stage_count) {
    return make_error(ErrorCode::kInvalidArgument,
                      "stage {} does not exist: the project has {} stages", stage + 1, stage_count);
  }
  return ok_status();
}

}  // namespace

Result<AutocontextSource> parse_autocontext_source(std::string_view name, size_t stage_count) {
  const std::string key = normalized(name);
  auto bad = [&]() {
    return make_error(ErrorCode::kInvalidArgument,
                      "unknown export source '{}' for an autocontext project (expected e.g. "
                      "'Probabilities Stage {}', 'Simple Segmentation Stage 1', 'Uncertainty "
                      "Stage N', 'Features Stage N', 'Labels Stage N', 'Input Stage N' with N in "
                      "1..{}, or 'Probabilities All Stages')",
                      name, stage_count, stage_count);
  };
  AutocontextSource source;
  std::string kind = key;
  constexpr std::string_view kAllStages = " all stages";
  if (key.size() > kAllStages.size() &&
      key.compare(key.size() - kAllStages.size(), kAllStages.size(), kAllStages) == 0) {
    if (key.substr(0, key.size() - kAllStages.size()) != "probabilities") return bad();
    source.all_stages = true;
    return source;
  }
  const size_t at = key.rfind(" stage ");
  if (at != std::string::npos) {
    const std::string number = key.substr(at + 7);
    if (number.empty() || number.size() > 3 ||
        number.find_first_not_of("0123456789") != std::string::npos) {
      return bad();
    }
    const int stage = std::stoi(number);
    if (stage < 1 || static_cast<size_t>(stage) > stage_count) {
      return make_error(ErrorCode::kInvalidArgument,
                        "export source '{}' names stage {}, but the project has stages 1..{}", name,
                        stage, stage_count);
    }
    source.stage = static_cast<size_t>(stage - 1);
    kind = key.substr(0, at);
  }
  if (kind == "input") {
    source.input = true;
    return source;
  }
  auto parsed = parse_export_source(kind);
  if (!parsed.ok()) return bad();
  source.source = *parsed;
  return source;
}

std::string autocontext_source_name(const AutocontextSource& source, size_t stage_count) {
  if (source.all_stages) return "Probabilities All Stages";
  const size_t stage = source.stage.value_or(stage_count == 0 ? 0 : stage_count - 1) + 1;
  const std::string_view kind =
      source.input ? std::string_view("Input") : export_source_result_type(source.source);
  return fmt::format("{} Stage {}", kind, stage);
}

Autocontext::Autocontext(size_t stage_count) : stages(std::max<size_t>(stage_count, 1)) {}

Result<size_t> Autocontext::add_lane(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(size_t index, stages.front().add_lane(path));
  for (size_t k = 1; k < stages.size(); ++k) {
    PixelLane lane = stages.front().lanes[index];
    lane.labels = std::make_shared<LabelStore>(lane.shape);
    stages[k].lanes.push_back(std::move(lane));
  }
  return index;
}

bool Autocontext::trained() const {
  for (const PixelClassification& stage : stages) {
    if (!stage.forest) return false;
  }
  return true;
}

void Autocontext::share_features_within(const Engine& engine) {
  feature_sharing_bytes = engine.cache_capacity();
}

bool Autocontext::shares_stage1_features(const NodePtr& raw, size_t stage) const {
  if (stage == 0 || stage >= stages.size() || feature_sharing_bytes <= 0) return false;
  const PixelClassification& first = stages.front();
  if (!first.forest || !(stages[stage].features == first.features)) return false;
  if (first.features.validate().ok() == false || first.features.empty()) return false;
  const ArrayInfo& info = raw->info();
  const int64_t channels =
      filters::feature_channel_count(first.features, info.shape.c(), info.shape.z() > 1) +
      first.forest->output_count();
  const int64_t pixels = info.shape.size() / std::max<int64_t>(info.shape.c(), 1);
  return pixels <= feature_sharing_bytes / static_cast<int64_t>(sizeof(float)) / channels;
}

Result<NodePtr> Autocontext::stage1_features_node(const NodePtr& raw) const {
  // Cached: every later stage reads its blocks, and stage 1's prediction too.
  return stages.front().feature_node(raw, /*cacheable=*/true).context("the features of stage 1");
}

Result<NodePtr> Autocontext::input_probability_node(const NodePtr& raw, size_t stage) const {
  if (stage == 0 && shares_stage1_features(raw, 1)) {
    // Stage 1 predicted from its cached features (blocks of the same shape), so that stage 2
    // finds them in the cache.
    GROVE_ASSIGN_OR_RETURN(NodePtr features, stage1_features_node(raw));
    const PixelClassification& first = stages.front();
    return apply_op(make_op(ForestPrediction{first.forest, first.forest_id, 0}), features,
                    /*cacheable=*/true)
        .context("predicting stage 1");
  }
  // Cached: the halos of neighbouring blocks of the next stage overlap, and each would otherwise
  // recompute them.
  return probability_node(raw, stage, /*cacheable=*/true);
}

Result<std::vector<FeaturePart>> Autocontext::stacked_feature_order(const NodePtr& raw,
                                                                    size_t stage) const {
  // ilastik's order for the stacked input: per family and scale, input channel by input channel
  // (the raw ones first), each with its components.
  const PixelClassification& classifier = stages[stage];
  const int64_t raw_channels = raw->info().shape.c();
  const int64_t previous_channels = stages[stage - 1].forest->output_count();
  const bool volume = raw->info().shape.z() > 1;
  const auto whole =
      filters::feature_layout(classifier.features, raw_channels + previous_channels, volume);
  const auto of_raw = filters::feature_layout(classifier.features, raw_channels, volume);
  const auto of_previous = filters::feature_layout(classifier.features, previous_channels, volume);
  std::vector<FeaturePart> order;
  for (size_t item = 0; item < whole.size(); ++item) {
    const int components = whole[item].components;
    for (int64_t channel = 0; channel < raw_channels + previous_channels; ++channel) {
      for (int component = 0; component < components; ++component) {
        if (channel < raw_channels) {
          order.push_back({0, of_raw[item].first_channel + channel * components + component});
        } else {
          order.push_back({1, of_previous[item].first_channel +
                                  (channel - raw_channels) * components + component});
        }
      }
    }
  }
  return order;
}

Result<NodePtr> Autocontext::previous_probabilities_as_input(const NodePtr& raw,
                                                             size_t stage) const {
  GROVE_ASSIGN_OR_RETURN(NodePtr previous, input_probability_node(raw, stage - 1));
  return apply_op(make_op(ProbabilitiesAsInputType{raw->info().dtype}), previous);
}

Result<NodePtr> Autocontext::stage_input_node(const NodePtr& raw, size_t stage) const {
  GROVE_RETURN_IF_ERROR(check_stage(stage, stages.size()));
  if (stage == 0) return raw;
  GROVE_ASSIGN_OR_RETURN(NodePtr converted, previous_probabilities_as_input(raw, stage));
  return channel_stack_node({raw, converted});
}

Result<NodePtr> Autocontext::feature_node(const NodePtr& raw, size_t stage) const {
  GROVE_RETURN_IF_ERROR(check_stage(stage, stages.size()));
  const std::string context = fmt::format("the features of stage {}", stage + 1);
  if (!shares_stage1_features(raw, stage)) {
    GROVE_ASSIGN_OR_RETURN(NodePtr input, stage_input_node(raw, stage));
    return stages[stage].feature_node(input).context(context);
  }
  // The features of [raw, previous probabilities] are those of each channel on its own: the raw
  // channels' come from stage 1's cached blocks, the probability channels' are computed, and
  // the two are interleaved in ilastik's order (per family and scale, input channel by input
  // channel, each with its components): bit for bit the features of stage_input_node.
  const PixelClassification& classifier = stages[stage];
  GROVE_ASSIGN_OR_RETURN(NodePtr raw_features, stage1_features_node(raw));
  GROVE_ASSIGN_OR_RETURN(NodePtr converted, previous_probabilities_as_input(raw, stage));
  GROVE_ASSIGN_OR_RETURN(NodePtr previous_features,
                         classifier.feature_node(converted).context(context));
  GROVE_ASSIGN_OR_RETURN(std::vector<FeaturePart> order, stacked_feature_order(raw, stage));
  std::vector<ChannelSource> sources;
  for (const FeaturePart& part : order)
    sources.push_back({static_cast<size_t>(part.part), part.channel});
  return channel_gather_node({raw_features, previous_features}, std::move(sources))
      .context(context);
}

Result<NodePtr> Autocontext::probability_node(const NodePtr& raw, size_t stage,
                                              bool cacheable) const {
  GROVE_RETURN_IF_ERROR(check_stage(stage, stages.size()));
  const PixelClassification& classifier = stages[stage];
  if (!classifier.forest) {
    return make_error(ErrorCode::kInvalidArgument,
                      "stage {} of the project has no trained classifier yet", stage + 1);
  }
  const int64_t raw_channels = stages.front().trained_channels;
  if (raw_channels > 0 && raw->info().shape.c() != raw_channels) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the project was trained on images with {} channel(s) but this image has {}",
                      raw_channels, raw->info().shape.c());
  }
  GROVE_ASSIGN_OR_RETURN(NodePtr input, stage_input_node(raw, stage));
  const int64_t channels = input->info().shape.c();
  if (classifier.trained_channels > 0 && channels != classifier.trained_channels) {
    return make_error(ErrorCode::kInvalidArgument,
                      "stage {} was trained on {} input channels (the image's and stage {}'s "
                      "probabilities), but stage {} now gives {} classes: retrain stage {}",
                      stage + 1, classifier.trained_channels, stage, stage,
                      channels - raw->info().shape.c(), stage + 1);
  }
  if (shares_stage1_features(raw, stage)) {
    GROVE_ASSIGN_OR_RETURN(NodePtr raw_features, stage1_features_node(raw));
    GROVE_ASSIGN_OR_RETURN(NodePtr converted, previous_probabilities_as_input(raw, stage));
    GROVE_ASSIGN_OR_RETURN(NodePtr previous_features,
                           classifier.feature_node(converted).context(
                               fmt::format("the features of stage {}", stage + 1)));
    GROVE_ASSIGN_OR_RETURN(std::vector<FeaturePart> order, stacked_feature_order(raw, stage));
    return shared_feature_prediction_node(raw_features, previous_features, order, classifier.forest,
                                          classifier.forest_id, cacheable)
        .context(fmt::format("predicting stage {}", stage + 1));
  }
  GROVE_ASSIGN_OR_RETURN(NodePtr features, feature_node(raw, stage));
  ForestPrediction prediction{classifier.forest, classifier.forest_id, 0};
  return apply_op(make_op(std::move(prediction)), features, cacheable)
      .context(fmt::format("predicting stage {}", stage + 1));
}

Result<NodePtr> Autocontext::all_stages_probability_node(const NodePtr& raw) const {
  std::vector<NodePtr> all;
  for (size_t k = 0; k < stages.size(); ++k) {
    // The earlier stages' as the later ones read them (cached), the last one's uncached.
    GROVE_ASSIGN_OR_RETURN(NodePtr p, k + 1 < stages.size() ? input_probability_node(raw, k)
                                                            : probability_node(raw, k));
    all.push_back(std::move(p));
  }
  return channel_stack_node(std::move(all));
}

Result<NodePtr> Autocontext::export_node(const NodePtr& raw, const AutocontextSource& source,
                                         std::optional<size_t> lane) const {
  if (source.all_stages) return all_stages_probability_node(raw);
  const size_t stage = source.stage.value_or(stages.size() - 1);
  GROVE_RETURN_IF_ERROR(check_stage(stage, stages.size()));
  if (source.input) return stage_input_node(raw, stage);
  switch (source.source) {
    case ExportSource::kProbabilities: return probability_node(raw, stage);
    case ExportSource::kSimpleSegmentation: {
      GROVE_ASSIGN_OR_RETURN(NodePtr p, probability_node(raw, stage));
      return apply_op(make_op(SimpleSegmentation{}), p);
    }
    case ExportSource::kUncertainty: {
      GROVE_ASSIGN_OR_RETURN(NodePtr p, probability_node(raw, stage));
      return apply_op(make_op(Uncertainty{}), p);
    }
    case ExportSource::kFeatures: return feature_node(raw, stage);
    case ExportSource::kLabels: return stages[stage].export_node(raw, ExportSource::kLabels, lane);
    case ExportSource::kOverlay:
      return Error(ErrorCode::kInvalidArgument,
                   "an overlay is made by export_autocontext_image, which knows the engine");
  }
  return Error(ErrorCode::kInternal, "unknown export source");
}

Result<TrainingReport> Autocontext::train_stage(Engine& engine, size_t stage,
                                                const std::vector<NodePtr>& raw_nodes,
                                                const RunOptions& options) {
  GROVE_RETURN_IF_ERROR(check_stage(stage, stages.size()));
  for (size_t k = 0; k < stage; ++k) {
    if (!stages[k].forest) {
      return make_error(ErrorCode::kInvalidArgument,
                        "train stage {} first: stage {} learns from its probabilities", k + 1,
                        stage + 1);
    }
  }
  PixelClassification& classifier = stages[stage];
  // Only the lanes with labels in this stage are read (others may even be missing).
  std::vector<NodePtr> inputs(classifier.lanes.size());
  int64_t input_channels = 0;
  for (size_t i = 0; i < classifier.lanes.size(); ++i) {
    const PixelLane& lane = classifier.lanes[i];
    if (!lane.labels || lane.labels->empty()) continue;
    NodePtr raw = i < raw_nodes.size() ? raw_nodes[i] : nullptr;
    if (!raw) {
      GROVE_ASSIGN_OR_RETURN(raw, open_input_node(lane.path));
    }
    GROVE_ASSIGN_OR_RETURN(inputs[i], stage_input_node(raw, stage));
    input_channels = inputs[i]->info().shape.c();
  }
  auto report = classifier.train(engine, inputs, options);
  if (!report.ok()) {
    return std::move(report).error().add_context(fmt::format("training stage {}", stage + 1));
  }
  classifier.trained_channels = input_channels;
  return report;
}

Result<std::vector<TrainingReport>> Autocontext::train(Engine& engine,
                                                       const std::vector<NodePtr>& raw_nodes,
                                                       const RunOptions& options) {
  std::vector<TrainingReport> reports;
  for (size_t k = 0; k < stages.size(); ++k) {
    GROVE_ASSIGN_OR_RETURN(TrainingReport report, train_stage(engine, k, raw_nodes, options));
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace grove
