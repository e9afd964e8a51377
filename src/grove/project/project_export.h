// Exports of a project whatever its workflow, for the command line (`grove run`,
// `grove --headless`) and the server: checks an export source name against the workflow and
// runs the workflow's export.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grove/project/project.h"
#include "grove/workflows/pixel/export.h"

namespace grove {

// Sets request's source from name: the pixel workflow's sources ("Probabilities", "simple-
// segmentation", ...) or, for an autocontext project, ilastik's autocontext sources
// ("Probabilities Stage 1", "Probabilities All Stages", ...). An error names the valid ones.
Status set_export_source(const Project& project, std::string_view name, ExportRequest& request);

// Computes and writes one export of the project's workflow. Returns the output path.
Result<std::string> export_project_image(Engine& engine, const Project& project,
                                         const ExportRequest& request, Progress* progress = nullptr,
                                         const CancelToken& cancel = {});

// The project's images (for the labels export, which needs to know which one an input is).
const std::vector<PixelLane>& project_lanes(const Project& project);

}  // namespace grove
