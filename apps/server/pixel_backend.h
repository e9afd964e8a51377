// The Backend over the pixel-classification workflow (src/grove/workflows/pixel/): what
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
};

Result<std::shared_ptr<Backend>> open_pixel_backend(const PixelBackendOptions& options);

}  // namespace grove::server
