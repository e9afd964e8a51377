// The Backend over the pixel-classification workflow (src/grove/workflows/pixel/) and the
// autocontext workflow (src/grove/workflows/autocontext/, a row of pixel classifiers: the
// backend serves one stage at a time, a pixel project being the one-stage case): what
// `grove serve` runs. See backend.h for the contract.
#pragma once

#include <memory>
#include <string>

#include "backend.h"

namespace grove::server {

struct PixelBackendOptions {
  std::string project_path;  // opened if it exists, else a new project saved there; "" = new
  int threads = 0;           // engine threads (<= 0: all)
  int64_t memory_bytes = 0;  // engine budget (<= 0: half the RAM)
  // For a new project (project_path "" or not there yet): 0 or 1 makes a pixel-classification
  // project, 2 or more an autocontext project of that many stages. An opened project keeps its
  // workflow.
  int stages = 1;
};

Result<std::shared_ptr<Backend>> open_pixel_backend(const PixelBackendOptions& options);

}  // namespace grove::server
