// Fuzz target (libFuzzer, fuzz/README.md) for importing ilastik .ilp projects (ilastik_import.h;
// HDF5): the input is the .ilp. Raw data named by the project is looked up beside it, in the
// scratch directory, where there is none: missing raw data is allowed, so that the label sets,
// feature selection and VIGRA forests are read too. Also the blockSlice parser.
#include "grove/io/fuzz_support.h"
#include "grove/project/ilastik_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace grove;
  (void)parse_block_slice(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string path = fuzzing::write_input("input.ilp", data, size);
  IlastikImportOptions options;
  options.allow_missing_raw_data = true;
  (void)import_ilastik_project(path, options);
  return 0;
}
