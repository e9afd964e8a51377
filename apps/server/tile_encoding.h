// The binary form of a tile on the wire (docs/http-api.md): a 32-byte little-endian header,
// then the pixels row by row, channels interleaved. The page uploads them straight into a WebGL2
// texture and does contrast and colours on the GPU.
//
//   offset  size  field
//   0       4     magic "GRVT"
//   4       1     format version (1)
//   5       1     dtype: 1 = uint8, 2 = uint16, 3 = float32
//   6       2     channels
//   8       4     width
//   12      4     height
//   16      8     generation (of the classifier, for prediction layers)
//   24      2     level
//   26      1     layer: 0 raw, 1 labels, 2 probabilities, 3 segmentation, 4 uncertainty
//   27      5     reserved (zero)
#pragma once

#include <string>

#include "backend.h"

namespace grove::server {

inline constexpr size_t kTileHeaderBytes = 32;

// Encodes a tile for the wire. Raw tiles keep uint8, uint16 and float32 and send other dtypes as
// float32; probabilities and uncertainty are sent as uint8 (0..255 for 0..1); labels and
// segmentations as uint8. Fails when the tile's shape does not match the request.
Result<std::string> encode_tile(const Tile& tile, const TileRequest& request);

}  // namespace grove::server
