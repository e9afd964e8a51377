// The Backend over the pixel-classification workflow. The workflow (issue 6) is not in this
// build yet: until it is, `grove serve` says so instead of serving a page that cannot train.
#include "pixel_backend.h"

namespace grove::server {

Result<std::shared_ptr<Backend>> open_pixel_backend(const PixelBackendOptions& options) {
  return make_error(ErrorCode::kUnsupported,
                    "grove serve needs the pixel-classification workflow, which is not in this "
                    "build yet");
}

}  // namespace grove::server
