// Robustness of the Zarr and N5 readers against damaged and hostile files: valid stores are
// mutated at random (bytes flipped, files cut or extended, numbers in the metadata replaced by
// absurd values) and then opened and read. Every outcome must be a value or an Error: no
// crash, no hang, no giant allocation. Run it under -DGROVE_SANITIZE=address,undefined too.
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <random>

#include "grove/io/chunk_store.h"
#include "grove/io/chunked_test_support.h"
#include "grove/io/metadata_json.h"
#include "grove/io/n5.h"
#include "grove/io/zarr.h"

namespace grove {
namespace {

using json = nlohmann::json;
using testing::pattern_array;
using testing::TemporaryDirectory;
namespace fs = std::filesystem;

std::vector<fs::path> files_under(const fs::path& root) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> read_bytes(const fs::path& file) {
  auto text = read_small_file(file, 1 << 26);
  return {text->begin(), text->end()};
}

bool is_metadata(const fs::path& file) {
  const std::string name = file.filename().string();
  return name == ".zarray" || name == ".zattrs" || name == ".zgroup" || name == "zarr.json" ||
         name == "attributes.json";
}

// Replaces one number (or other leaf) of a JSON file with something absurd.
std::vector<uint8_t> mutate_json(const std::vector<uint8_t>& bytes, std::mt19937& random) {
  json document = json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (document.is_discarded() || !document.is_object()) return bytes;
  const json flat = document.flatten();
  if (flat.empty()) return bytes;
  auto it = flat.begin();
  std::advance(it, static_cast<std::ptrdiff_t>(random() % flat.size()));
  const json replacements[] = {-1,     0,     1,   int64_t{1} << 40, INT64_MAX, 1e300,
                               -1e300, 0.5,   "x", nullptr,          true,      json::array(),
                               "NaN",  "<f2", "F", json::object(),   65536,     4294967296LL};
  document[json::json_pointer(it.key())] = replacements[random() % std::size(replacements)];
  const std::string text = document.dump();
  return {text.begin(), text.end()};
}

std::vector<uint8_t> mutate_bytes(std::vector<uint8_t> bytes, std::mt19937& random) {
  switch (random() % 4) {
    case 0:  // flip a few bytes
      for (int i = 0, n = 1 + static_cast<int>(random() % 4); i < n && !bytes.empty(); ++i) {
        bytes[random() % bytes.size()] ^= static_cast<uint8_t>(1 + random() % 255);
      }
      break;
    case 1:  // cut
      bytes.resize(bytes.empty() ? 0 : random() % bytes.size());
      break;
    case 2:  // extend with garbage
      for (int i = 0, n = 1 + static_cast<int>(random() % 64); i < n; ++i)
        bytes.push_back(static_cast<uint8_t>(random()));
      break;
    default:  // a header-sized prefix of 0xFF: huge sizes, counts and extents
      for (size_t i = 0; i < std::min<size_t>(bytes.size(), 16); ++i) bytes[i] = 0xFF;
      break;
  }
  return bytes;
}

void exercise(const ImagePath& path, bool n5) {
  auto reader = n5 ? open_n5(path) : open_zarr(path);
  if (!reader.ok()) {
    EXPECT_FALSE(reader.error().to_string().empty());
    return;
  }
  const ImageInfo& info = (*reader)->info();
  if (info.shape.size() > (int64_t{1} << 24))
    return;  // valid metadata, but too big to read whole here
  auto all = (*reader)->read_all();
  if (all.ok()) {
    EXPECT_EQ(all->shape(), info.shape);
  } else {
    EXPECT_FALSE(all.error().to_string().empty());
  }
}

TEST(ChunkedMutation, DamagedStoresGiveValuesOrErrorsNeverCrashes) {
  struct Store {
    std::string name;
    bool n5;
    int zarr_version;
    std::string compression;
  };
  const Store stores[] = {{"zarr2_blosc", false, 2, "blosc"},
                          {"zarr2_zstd", false, 2, "zstd"},
                          {"zarr2_none", false, 2, "none"},
                          {"zarr3_gzip", false, 3, "gzip"},
                          {"zarr3_blosc", false, 3, "blosc-zstd"},
                          {"n5_gzip", true, 0, "gzip"},
                          {"n5_raw", true, 0, "none"},
                          {"n5_xz", true, 0, "xz"}};
  std::mt19937 random(2024);
  // GROVE_MUTATION_ROUNDS raises the rounds per store for a longer search (e.g. under ASan).
  const char* given = std::getenv("GROVE_MUTATION_ROUNDS");
  const int rounds = given != nullptr ? std::max(1, std::atoi(given)) : 150;
  for (const Store& store : stores) {
    SCOPED_TRACE(store.name);
    TemporaryDirectory directory("mutation");
    const std::string pristine = directory / "pristine";
    WriteOptions options;
    options.compression = store.compression;
    options.zarr_version = store.zarr_version;
    options.chunk_shape = {1, 2, 8, 8, 1};
    const AnyArray image = pattern_array(DType::u16, {1, 5, 20, 20, 1}, 1);
    auto writer = store.n5
                      ? create_n5(ImagePath{pristine, ""}, image.shape(), image.dtype(), options)
                      : create_zarr(ImagePath{pristine, ""}, image.shape(), image.dtype(), options);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(Box5::of(image.shape()), image).ok());
    const std::vector<fs::path> files = files_under(pristine);
    for (int round = 0; round < rounds; ++round) {
      // Damage one file, read, then put the file back as it was.
      const fs::path target = files[random() % files.size()];
      const std::vector<uint8_t> bytes = read_bytes(target);
      const std::vector<uint8_t> mutated = is_metadata(target) && random() % 4 != 0
                                               ? mutate_json(bytes, random)
                                               : mutate_bytes(bytes, random);
      ASSERT_TRUE(write_file_atomically(target, std::span<const uint8_t>(mutated)).ok());
      exercise(ImagePath{pristine, ""}, store.n5);
      ASSERT_TRUE(write_file_atomically(target, std::span<const uint8_t>(bytes)).ok());
    }
  }
}

}  // namespace
}  // namespace grove
