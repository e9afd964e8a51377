// Tile encoding for the wire (see tile_encoding.h).
#include "tile_encoding.h"

#include <cmath>
#include <cstring>

namespace grove::server {
namespace {

template <class T>
void put(std::string& out, size_t offset, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff);
  }
}

uint8_t layer_code(Layer layer) {
  switch (layer) {
    case Layer::raw: return 0;
    case Layer::labels: return 1;
    case Layer::probabilities: return 2;
    case Layer::segmentation: return 3;
    case Layer::uncertainty: return 4;
  }
  return 0;
}

}  // namespace

Result<std::string> encode_tile(const Tile& tile, const TileRequest& request) {
  const AnyArray& data = tile.data;
  const Shape5& shape = data.shape();
  if (shape.t() != 1 || shape.z() != 1 || shape.y() != request.height ||
      shape.x() != request.width || shape.c() < 1 || shape.c() > 65535) {
    return make_error(ErrorCode::kInternal, "the backend answered a {}×{} {} tile with shape {}",
                      request.width, request.height, layer_name(request.layer), shape.to_string());
  }
  // What goes on the wire.
  DType wire = DType::u8;
  bool scale_unit_interval = false;  // probabilities and uncertainty: [0, 1] → 0..255
  if (request.layer == Layer::raw) {
    wire = (data.dtype() == DType::u8 || data.dtype() == DType::u16) ? data.dtype() : DType::f32;
  } else if (request.layer == Layer::probabilities || request.layer == Layer::uncertainty) {
    scale_unit_interval = dtype_is_float(data.dtype());
  }
  std::string out(kTileHeaderBytes + static_cast<size_t>(shape.size()) * dtype_size(wire), '\0');
  std::memcpy(out.data(), "GRVT", 4);
  put<uint8_t>(out, 4, 1);
  put<uint8_t>(out, 5, wire == DType::u8 ? 1 : wire == DType::u16 ? 2 : 3);
  put<uint16_t>(out, 6, static_cast<uint16_t>(shape.c()));
  put<uint32_t>(out, 8, static_cast<uint32_t>(shape.x()));
  put<uint32_t>(out, 12, static_cast<uint32_t>(shape.y()));
  put<uint64_t>(out, 16, tile.generation);
  put<uint16_t>(out, 24, static_cast<uint16_t>(request.level));
  put<uint8_t>(out, 26, layer_code(request.layer));
  char* pixels = out.data() + kTileHeaderBytes;
  if (scale_unit_interval) {
    GROVE_ASSIGN_OR_RETURN(AnyArray as_float, data.convert(DType::f32));
    const float* in = static_cast<const float*>(as_float.raw_data());
    uint8_t* target = reinterpret_cast<uint8_t*>(pixels);
    for (int64_t i = 0; i < shape.size(); ++i) {
      const float value = in[i];
      target[i] = !(value > 0) ? 0 : value >= 1 ? 255 : static_cast<uint8_t>(value * 255.0f + 0.5f);
    }
    return out;
  }
  // The host is little-endian (x86-64, arm64), like the wire.
  AnyArray target = AnyArray::wrap(wire, pixels, shape, contiguous_strides(shape), nullptr);
  GROVE_RETURN_IF_ERROR(data.copy_into(target));
  return out;
}

}  // namespace grove::server
