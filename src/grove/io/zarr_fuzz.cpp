// Fuzz target (libFuzzer, fuzz/README.md) for the Zarr v2/v3 reader: metadata, OME-Zarr
// attributes, codecs and chunks. One input makes a small store: its first byte chooses the
// layout, the rest is split at kPartSeparator into
//   part 0: the array's metadata (.zarray or zarr.json),
//   part 1: attributes (v2: .zattrs; in the OME layout: the root group's .zattrs or zarr.json),
//   part 2: the bytes of the first chunk, part 3: those of its neighbour along the last axis,
// written under every chunk key spelling grove reads (v2 "." and "/", v3 "c/" and "c.").
// First byte: bit 0 v3 (else v2); bit 1 OME layout (a group at the root with the array at "0",
// else the array at the root); bits 2-4 the chunk keys' rank (value % 5 + 1).
#include "grove/io/fuzz_support.h"
#include "grove/io/zarr.h"

namespace {

std::string chunk_key(int rank, int last, const std::string& prefix, char separator) {
  std::string key = prefix;
  for (int axis = 0; axis < rank; ++axis) {
    if (axis > 0) key += separator;
    key += axis == rank - 1 ? std::to_string(last) : "0";
  }
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace grove;
  if (size < 1) return 0;
  const bool version3 = (data[0] & 1) != 0;
  const bool ome_layout = (data[0] & 2) != 0;
  const int rank = ((data[0] >> 2) & 7) % 5 + 1;
  std::vector<std::string_view> parts =
      fuzzing::split_input(data + 1, size - 1, fuzzing::kPartSeparator);
  parts.resize(4);
  const std::string store = fuzzing::fresh_directory("store.zarr");
  const std::string array = ome_layout ? store + "/0" : store;
  if (version3) {
    fuzzing::write_file(array + "/zarr.json", parts[0]);
    if (ome_layout) fuzzing::write_file(store + "/zarr.json", parts[1]);
  } else {
    fuzzing::write_file(array + "/.zarray", parts[0]);
    fuzzing::write_file(store + "/.zattrs", parts[1]);
    if (ome_layout) fuzzing::write_file(store + "/.zgroup", "{\"zarr_format\": 2}");
  }
  for (int last = 0; last < 2; ++last) {
    const std::string_view bytes = parts[2 + last];
    if (bytes.empty()) continue;
    for (const auto& [prefix, separator] :
         {std::pair<std::string, char>{"", '.'}, {"", '/'}, {"c/", '/'}, {"c.", '.'}}) {
      fuzzing::write_file(array + "/" + chunk_key(rank, last, prefix, separator), bytes);
    }
  }
  (void)list_datasets(store);
  (void)zarr_is_complete(ImagePath{store, ome_layout ? "0" : ""});
  auto reader = open_image(store);
  if (reader.ok()) fuzzing::exercise_reader(**reader);
  return 0;
}
