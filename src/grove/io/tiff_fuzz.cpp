// Fuzz target (libFuzzer, fuzz/README.md) for the TIFF reader (libtiff, ImageJ/OME/tifffile
// metadata, strips, tiles, pages): the input is the file. It is opened through the format registry,
// as every command opens images, then read as the engine would (fuzz_support.h).
#include "grove/io/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = grove::fuzzing::write_input("input.tif", data, size);
  (void)grove::image_format(path);
  (void)grove::list_datasets(path);
  auto reader = grove::open_image(path);
  if (reader.ok()) grove::fuzzing::exercise_reader(**reader);
  return 0;
}
