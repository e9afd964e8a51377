// Fuzz target (libFuzzer, fuzz/README.md) for the HDF5 layer: the input is an HDF5 file. Every
// object's attributes are read as numbers and as strings (what the project, .ilp and axistags
// readers do), and every image dataset is opened and read through the format registry as the
// engine would (fuzz_support.h). Bugs inside libhdf5 itself are reported to Debian, not fixed
// here (fuzz/README.md lists the known ones).
#include <functional>

#include "grove/io/fuzz_support.h"
#include "grove/io/hdf5.h"
#include "grove/io/hdf5_file.h"

namespace {

using namespace grove;

void read_attributes(const hdf5::Object& object) {
  auto names = object.attribute_names();
  if (!names.ok()) return;
  for (size_t i = 0; i < names->size() && i < 16; ++i) {
    const std::string& name = (*names)[i];
    (void)object.attribute_dims(name);
    (void)object.read_attribute_vector<double>(name);
    (void)object.read_attribute_vector<int64_t>(name);
    auto text = object.read_string_attribute_vector(name);
    if (text.ok() && name == "axistags" && text->size() == 1) (void)io::parse_axistags((*text)[0]);
  }
}

void visit(const hdf5::Group& group, int depth, int& budget) {
  read_attributes(group);
  if (depth > 8) return;
  auto children = group.children();
  if (!children.ok()) return;
  for (const std::string& name : *children) {
    if (--budget < 0) return;
    auto kind = group.kind_of(name);
    if (!kind.ok()) continue;
    if (*kind == hdf5::ObjectKind::kGroup) {
      auto child = group.open_group(name);
      if (child.ok()) visit(*child, depth + 1, budget);
    } else if (*kind == hdf5::ObjectKind::kDataset) {
      auto dataset = group.open_dataset(name);
      if (!dataset.ok()) continue;
      read_attributes(*dataset);
      (void)dataset->chunks();
      (void)dataset->compression();
      if (dataset->is_string()) {
        (void)dataset->read_strings();
      } else if (dataset->element_count() <= 4096) {
        (void)dataset->read_vector<double>();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzzing::write_input("input.h5", data, size);
  {
    auto file = hdf5::File::open(path);
    if (file.ok()) {
      int budget = 64;
      visit(*file, 0, budget);
      (void)file->all_datasets();
    }
  }
  auto datasets = list_datasets(path);
  if (!datasets.ok()) return 0;
  for (size_t i = 0; i < datasets->size() && i < 4; ++i) {
    std::string internal = (*datasets)[i].path;
    while (!internal.empty() && internal.front() == '/') internal.erase(0, 1);
    auto reader = open_image(path + "/" + internal);
    if (reader.ok()) fuzzing::exercise_reader(**reader);
  }
  return 0;
}
