// Fuzz target (libFuzzer, fuzz/README.md) for the N5 reader: attributes, compressions and block
// headers. One input makes a small container: its first byte chooses the layout, the rest is
// split at kPartSeparator into
//   part 0: the dataset's attributes.json,
//   part 1: the root's attributes.json (when the dataset is the group member "data"),
//   part 2: block (0, 0, ...), part 3: block (1, 0, ...) (N5 names blocks x index first).
// First byte: bits 0-2 the block paths' rank (value % 5 + 1); bit 3 the dataset is "data" in a
// root group (else the root itself).
#include "grove/io/fuzz_support.h"
#include "grove/io/n5.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace grove;
  if (size < 1) return 0;
  const int rank = (data[0] & 7) % 5 + 1;
  const bool in_group = (data[0] & 8) != 0;
  std::vector<std::string_view> parts =
      fuzzing::split_input(data + 1, size - 1, fuzzing::kPartSeparator);
  parts.resize(4);
  const std::string container = fuzzing::fresh_directory("container.n5");
  const std::string dataset = in_group ? container + "/data" : container;
  fuzzing::write_file(dataset + "/attributes.json", parts[0]);
  if (in_group) fuzzing::write_file(container + "/attributes.json", parts[1]);
  for (int first = 0; first < 2; ++first) {
    if (parts[2 + first].empty()) continue;
    std::string key = std::to_string(first);
    for (int axis = 1; axis < rank; ++axis) key += "/0";
    fuzzing::write_file(dataset + "/" + key, parts[2 + first]);
  }
  (void)list_datasets(container);
  (void)n5_is_complete(ImagePath{container, in_group ? "data" : ""});
  auto reader = open_image(in_group ? container + "/data" : container);
  if (reader.ok()) fuzzing::exercise_reader(**reader);
  return 0;
}
