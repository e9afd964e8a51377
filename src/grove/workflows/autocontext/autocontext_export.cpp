#include "grove/workflows/autocontext/autocontext_export.h"

#include <fmt/format.h>

namespace grove {

Result<AutocontextSource> autocontext_source_of(const ExportRequest& request, size_t stage_count) {
  if (!request.source_name.empty()) {
    return parse_autocontext_source(request.source_name, stage_count);
  }
  AutocontextSource source;
  source.source = request.source;
  return source;
}

Result<std::string> export_autocontext_image(Engine& engine, const Autocontext& workflow,
                                             const ExportRequest& request, Progress* progress,
                                             const CancelToken& cancel) {
  GROVE_ASSIGN_OR_RETURN(AutocontextSource source,
                         autocontext_source_of(request, workflow.stage_count()));
  const std::string name = autocontext_source_name(source, workflow.stage_count());
  auto run = [&]() -> Result<std::string> {
    GROVE_ASSIGN_OR_RETURN(ExportPlan plan, plan_autocontext_export(engine, workflow, request));
    return write_export_plan(engine, plan, progress, cancel);
  };
  return run().context(fmt::format("exporting {} of {}", name, request.input));
}

Result<ExportPlan> plan_autocontext_export(Engine& engine, const Autocontext& project_workflow,
                                           const ExportRequest& request) {
  // A copy (the stages' forests and labels are shared) that lets later stages read stage 1's
  // features from this engine's cache where they fit.
  Autocontext workflow = project_workflow;
  workflow.share_features_within(engine);
  GROVE_ASSIGN_OR_RETURN(AutocontextSource source,
                         autocontext_source_of(request, workflow.stage_count()));
  const std::string name = autocontext_source_name(source, workflow.stage_count());
  GROVE_ASSIGN_OR_RETURN(NodePtr raw, open_export_input(request));
  NodePtr node;
  if (source.source == ExportSource::kOverlay && !source.all_stages && !source.input) {
    const size_t stage = source.stage.value_or(workflow.stage_count() - 1);
    GROVE_ASSIGN_OR_RETURN(NodePtr probabilities, workflow.probability_node(raw, stage));
    GROVE_ASSIGN_OR_RETURN(
        node, overlay_export_node(engine, raw, probabilities, workflow.stages[stage].classes));
  } else {
    GROVE_ASSIGN_OR_RETURN(node, workflow.export_node(raw, source, request.lane));
  }
  ExportRequest named = request;
  if (named.result_type.empty()) named.result_type = name;
  return plan_export_node(node, named);
}

}  // namespace grove
