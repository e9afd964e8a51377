// Exporting what a trained autocontext project computes for new images (`grove run`,
// `grove --headless`): any stage's probabilities, simple segmentation, uncertainty, features,
// labels or input, every stage's probabilities at once, or an overlay of the last stage;
// streamed block by block into the output as the pixel workflow's export_image does.
#pragma once

#include "grove/workflows/autocontext/autocontext.h"
#include "grove/workflows/pixel/export.h"

namespace grove {

// What request asks of an autocontext project: request.source_name parsed with
// parse_autocontext_source, or (when it is empty) request.source for the last stage.
Result<AutocontextSource> autocontext_source_of(const ExportRequest& request, size_t stage_count);

// Computes and writes one export; {result_type} is ilastik's name of the source ("Probabilities
// Stage 2") unless request.result_type says otherwise. Returns the output path.
Result<std::string> export_autocontext_image(Engine& engine, const Autocontext& workflow,
                                             const ExportRequest& request,
                                             Progress* progress = nullptr,
                                             const CancelToken& cancel = {});

}  // namespace grove
