#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "grove/io/image.h"
#include "grove/io/io_test_support.h"

namespace grove {
namespace {

using io::testing::arrays_equal;
using io::testing::pattern;
using io::testing::TempDir;

TEST(Registry, SplitsContainerPaths) {
  auto check = [](const std::string& path, const std::string& file, const std::string& internal) {
    const ImagePath parsed = split_image_path(path);
    EXPECT_EQ(parsed.file, file) << path;
    EXPECT_EQ(parsed.internal, internal) << path;
  };
  check("raw.h5", "raw.h5", "");
  check("raw.h5/data", "raw.h5", "data");
  check("dir/raw.H5/group/data/", "dir/raw.H5", "group/data");
  check("/abs/project.ilp/Input Data/infos/lane0000", "/abs/project.ilp",
        "Input Data/infos/lane0000");
  check("a.hdf5//x", "a.hdf5", "x");
  check("store.zarr/0/1", "store.zarr", "0/1");
  check("volume.n5/setup0/s0", "volume.n5", "setup0/s0");
  check("image.tif", "image.tif", "");
  check("dir.d/image.png", "dir.d/image.png", "");
  // The leftmost container wins.
  check("a.h5/b.h5", "a.h5", "b.h5");
}

TEST(Registry, DirectoriesNamedLikeFilesAreDirectories) {
  TempDir dir;
  std::filesystem::create_directories(dir.file("folder.h5"));
  const std::string inner = dir.file("folder.h5/image.tif");
  const ImagePath parsed = split_image_path(inner);
  EXPECT_EQ(parsed.file, inner);
  EXPECT_EQ(parsed.internal, "");
}

TEST(Registry, PicksTheFormatFromTheSignature) {
  TempDir dir;
  const AnyArray data = pattern(DType::u8, Shape5(1, 1, 10, 12, 3));
  ASSERT_TRUE(write_image(dir.file("real.png"), data).ok());
  std::filesystem::copy_file(dir.file("real.png"), dir.file("misnamed.tif"));
  std::filesystem::copy_file(dir.file("real.png"), dir.file("no_extension"));
  for (const char* name : {"misnamed.tif", "no_extension"}) {
    auto reader = open_image(dir.file(name));
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    EXPECT_EQ((*reader)->info().format, "png");
    EXPECT_EQ(image_format(dir.file(name)).value(), "png");
  }
  std::ofstream(dir.file("mystery.xyz")) << "what is this";
  auto unknown = open_image(dir.file("mystery.xyz"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(unknown.error().to_string().find("mystery.xyz"), std::string::npos);
}

TEST(Registry, ErrorsNameTheFile) {
  TempDir dir;
  const std::string missing = dir.file("missing.tif");
  auto result = open_image(missing);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(result.error().to_string().find(missing), std::string::npos);
  std::ofstream(dir.file("empty.h5")).close();
  auto empty = open_image(dir.file("empty.h5"));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().to_string().find("empty"), std::string::npos);
  ASSERT_TRUE(write_image(dir.file("a.tif"), pattern(DType::u8, Shape5(1, 1, 4, 4, 1))).ok());
  auto not_container = open_image(dir.file("a.tif") + "/data");
  EXPECT_FALSE(not_container.ok());
  // An empty directory named like a Zarr store holds no array; Zarr and N5 stores round-trip.
  std::filesystem::create_directories(dir.file("s.zarr"));
  auto empty_store = open_image(dir.file("s.zarr") + "/0");
  ASSERT_FALSE(empty_store.ok());
  EXPECT_NE(empty_store.error().to_string().find("s.zarr"), std::string::npos);
  for (const char* store : {"t.n5", "t.zarr"}) {
    auto writer = create_image(dir.file(store), Shape5(1, 1, 4, 4, 1), DType::u8);
    ASSERT_TRUE(writer.ok()) << writer.error().to_string();
    ASSERT_TRUE((*writer)
                    ->write(Box5::of({1, 1, 4, 4, 1}), pattern(DType::u8, Shape5(1, 1, 4, 4, 1)))
                    .ok());
    ASSERT_TRUE((*writer)->commit().ok());
    auto back = read_image(dir.file(store));
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_EQ(back->shape(), Shape5(1, 1, 4, 4, 1));
  }
  EXPECT_EQ(create_image(dir.file("t.xyz"), Shape5(1, 1, 4, 4, 1), DType::u8).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(create_image(dir.file("t.tif/inner"), Shape5(1, 1, 4, 4, 1), DType::u8).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(create_image(dir.file("t.out"), Shape5(1, 1, 4, 4, 1), DType::u8, {}, "npy").ok());
}

TEST(Registry, RoundTripsThroughEveryFormat) {
  TempDir dir;
  const AnyArray gray = pattern(DType::u8, Shape5(1, 1, 20, 30, 1));
  for (const char* name : {"a.png", "a.tif", "a.h5", "a.npy", "b.h5/inner/data"}) {
    const std::string path = dir.file(name);
    ASSERT_TRUE(write_image(path, gray).ok()) << name;
    auto back = read_image(path);
    ASSERT_TRUE(back.ok()) << back.error().to_string();
    EXPECT_TRUE(arrays_equal(*back, gray)) << name;
  }
  const auto entries = list_datasets(dir.file("a.tif")).value();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].shape, gray.shape());
  const auto datasets = list_datasets(dir.file("a.h5")).value();
  ASSERT_EQ(datasets.size(), 1u);
  EXPECT_EQ(datasets[0].path, "/exported_data");
  EXPECT_EQ(datasets[0].axes, "yxc");
}

// Every image in ../shared/data reads as its independent oracle (tifffile, PIL, h5py, numpy)
// reads it, with the axes mapped to t,z,y,x,c by the oracle's own reading of the metadata.
const char* const kOracle = R"(
import sys, os, json, zlib, numpy as np, h5py, tifffile
from PIL import Image
root = sys.argv[1]
def guess(shape):
    n = len(shape)
    few = n > 0 and shape[-1] <= 4
    return {1: 'x', 2: 'yx', 3: 'yxc' if few else 'zyx', 4: 'zyxc' if few else 'tzyx', 5: 'tzyxc'}[n]
def to5(a, axes):
    kept = [k for k in 'tzyxc' if k in axes]
    a = np.transpose(a, [axes.index(k) for k in kept])
    full = [a.shape[kept.index(k)] if k in axes else 1 for k in 'tzyxc']
    return np.ascontiguousarray(a.reshape(full))
def emit(path, a5):
    print(json.dumps({'path': path, 'shape': list(a5.shape), 'dtype': str(a5.dtype),
                      'crc': zlib.crc32(a5.tobytes())}))
for folder, _, names in sorted(os.walk(root)):
    for name in sorted(names):
        path = os.path.join(folder, name)
        ext = os.path.splitext(name)[1].lower()
        if ext == '.png':
            a = np.asarray(Image.open(path))
            emit(path, to5(a, 'yx' if a.ndim == 2 else 'yxc'))
        elif ext in ('.tif', '.tiff'):
            t = tifffile.TiffFile(path)
            s = t.series[0]
            try:
                a = s.asarray()
            except Exception:
                a = np.asarray(Image.open(path))  # LZW without imagecodecs
            axes = ''.join({'S': 'c', 'Q': 'z', 'I': 'z'}.get(k, k.lower()) for k in s.axes)
            emit(path, to5(a, axes))
        elif ext == '.npy':
            a = np.load(path)
            emit(path, to5(a, guess(a.shape)))
        elif ext in ('.h5', '.ilp'):
            with h5py.File(path, 'r') as f:
                found = []
                f.visititems(lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) else None)
                count = 0
                for n in sorted(found):
                    d = f[n]
                    if not (1 <= d.ndim <= 5) or d.dtype.kind not in 'uifb' or d.dtype == np.float16:
                        continue
                    count += 1
                    axes = guess(d.shape)
                    if 'axistags' in d.attrs:
                        tags = d.attrs['axistags']
                        tags = tags.decode() if isinstance(tags, bytes) else tags
                        axes = ''.join(x['key'] for x in json.loads(tags)['axes'])
                    emit(path + '/' + n, to5(d[...], axes))
                print(json.dumps({'container': path, 'count': count}))
)";

TEST(Registry, ReadsAllSharedDataLikeTheOracles) {
  if (!io::testing::shared_data_available()) {
    GTEST_SKIP() << io::testing::shared_data_dir() << " is absent";
  }
  GROVE_REQUIRE_PYTHON("numpy, h5py, tifffile, PIL");
  std::string output;
  ASSERT_EQ(io::testing::run_python(kOracle, {io::testing::shared_data_dir()}, &output), 0)
      << output;
  std::istringstream lines(output);
  std::string line;
  int images = 0, containers = 0;
  while (std::getline(lines, line)) {
    const auto record = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(record.is_discarded()) << line;
    if (record.contains("container")) {
      const std::string file = record["container"];
      auto entries = list_datasets(file);
      ASSERT_TRUE(entries.ok()) << entries.error().to_string();
      EXPECT_EQ(static_cast<int64_t>(entries->size()), record["count"].get<int64_t>()) << file;
      ++containers;
      continue;
    }
    const std::string path = record["path"];
    SCOPED_TRACE(path);
    auto reader = open_image(path);
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    const auto shape = record["shape"].get<std::vector<int64_t>>();
    EXPECT_EQ((*reader)->info().shape, Shape5(shape[0], shape[1], shape[2], shape[3], shape[4]));
    const std::string dtype = record["dtype"];
    EXPECT_EQ(std::string(dtype_name((*reader)->info().dtype)), dtype);
    auto data = (*reader)->read_all();
    ASSERT_TRUE(data.ok()) << data.error().to_string();
    EXPECT_EQ(io::testing::crc_of(*data), record["crc"].get<uint32_t>());
    ++images;
  }
  EXPECT_GT(images, 250);
  EXPECT_GT(containers, 40);
}

}  // namespace
}  // namespace grove
