// Label images on the command line (`grove pixel train`, `grove autocontext train`): one channel
// of integers, the image's t,z,y,x, 0 = unlabelled, k = class k.
#pragma once

#include <string>

#include "grove/workflows/pixel/pixel_classification.h"

namespace grove::cli {

// Copies the label image at path into the lane's sparse label store, block by block; fails with
// a message naming path on a wrong shape, channel count or dtype.
Status load_label_image(const std::string& path, PixelLane& lane);

}  // namespace grove::cli
