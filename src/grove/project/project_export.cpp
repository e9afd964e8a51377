#include "grove/project/project_export.h"

#include "grove/workflows/autocontext/autocontext_export.h"

namespace grove {

namespace {

bool is_autocontext(const Project& project) { return project.workflow == kAutocontextWorkflow; }

}  // namespace

Status set_export_source(const Project& project, std::string_view name, ExportRequest& request) {
  if (is_autocontext(project)) {
    GROVE_ASSIGN_OR_RETURN(AutocontextSource source,
                           parse_autocontext_source(name, project.autocontext.stage_count()));
    request.source = source.source;
    request.source_name = std::string(name);
    return ok_status();
  }
  GROVE_ASSIGN_OR_RETURN(request.source, parse_export_source(name));
  request.source_name.clear();
  return ok_status();
}

Result<std::string> export_project_image(Engine& engine, const Project& project,
                                         const ExportRequest& request, Progress* progress,
                                         const CancelToken& cancel) {
  if (is_autocontext(project)) {
    return export_autocontext_image(engine, project.autocontext, request, progress, cancel);
  }
  return export_image(engine, project.pixel, request, progress, cancel);
}

const std::vector<PixelLane>& project_lanes(const Project& project) {
  return is_autocontext(project) ? project.autocontext.lanes() : project.pixel.lanes;
}

}  // namespace grove
