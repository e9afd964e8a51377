// Fuzz target (libFuzzer, fuzz/README.md) for opening a grove project file (project.h; HDF5 with
// grove's layout): the input is the file. Whatever opens must be usable: its label stores are
// read back and the forest's shape is consistent with the classes.
#include "grove/io/fuzz_support.h"
#include "grove/project/project.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace grove;
  const std::string path = fuzzing::write_input("input.grove", data, size);
  (void)is_grove_project(path);
  auto project = load_project(path);
  if (!project.ok()) return 0;
  for (const PixelLane& lane : project->pixel.lanes) {
    if (!lane.labels) continue;
    for (const Box5& box : lane.labels->labelled_blocks()) {
      auto labels = lane.labels->read(box);
      if (labels.ok() && labels->shape() != box.shape()) {
        fuzzing::broken_promise("label block of another shape than its box");
      }
    }
  }
  return 0;
}
