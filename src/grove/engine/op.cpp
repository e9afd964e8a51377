#include "grove/engine/op.h"

namespace grove {

uint64_t Op::params_hash() const {
  // FNV-1a over the name and the canonical JSON dump (nlohmann sorts object keys).
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&hash](std::string_view bytes) {
    for (unsigned char ch : bytes) {
      hash ^= ch;
      hash *= 1099511628211ull;
    }
  };
  mix(name());
  mix("\n");
  mix(params().dump());
  return hash;
}

}  // namespace grove
