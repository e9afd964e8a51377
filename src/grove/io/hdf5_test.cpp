#include "grove/io/hdf5.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "grove/io/io_test_support.h"
#include "grove/io/npy.h"

namespace grove::io {
namespace {

using testing::arrays_equal;
using testing::numpy_pattern;
using testing::pattern;
using testing::TempDir;

TEST(Hdf5Image, AxistagsRoundTrip) {
  const std::string tags = make_axistags("txyc", {0.5, 0.25, 0.25, 0});
  const AxisTags parsed = parse_axistags(tags).value();
  EXPECT_EQ(parsed.axes, "txyc");
  EXPECT_EQ(parsed.resolution, (std::vector<double>{0.5, 0.25, 0.25, 0}));
  EXPECT_FALSE(parse_axistags("{\"axes\": [{\"key\": \"q\"}]}").ok());
  EXPECT_FALSE(parse_axistags("not json").ok());
  EXPECT_FALSE(parse_axistags("{\"axes\": [{\"key\": \"x\"}, {\"key\": \"x\"}]}").ok());
}

// ilastik's axistags in any order map to t,z,y,x,c; values checked against numpy's transpose.
TEST(Hdf5Image, ReadsIlastikAxistags) {
  GROVE_REQUIRE_PYTHON("h5py, numpy");
  TempDir dir;
  std::string output;
  ASSERT_EQ(testing::run_python(
                "import sys, json, h5py, numpy as np\n"
                "d = sys.argv[1]\n"
                "a = " + numpy_pattern("float32", "(3, 5, 4, 2)") + "\n"
                "tags = {'axes': [{'key': k, 'typeFlags': f, 'resolution': r, 'description': ''}\n"
                "        for k, f, r in [('t', 8, 2.0), ('x', 2, 0.5), ('y', 2, 0.25), ('c', 1, 0)]]}\n"
                "with h5py.File(d + '/txyc.h5', 'w') as f:\n"
                "    ds = f.create_dataset('exported_data', data=a, chunks=(1, 3, 2, 1), compression='gzip')\n"
                "    ds.attrs['axistags'] = json.dumps(tags)\n"
                "np.save(d + '/expected.npy', a.transpose(0, 2, 1, 3))  # t, y, x, c\n"
                "with h5py.File(d + '/guess.h5', 'w') as f:\n"
                "    f['volume'] = np.zeros((50, 60, 55), np.uint8)\n"
                "    f['rgb'] = np.zeros((100, 200, 3), np.uint8)\n"
                "    f['scalar'] = 5\n"
                "    f['text'] = 'hello'\n"
                "    f['six'] = np.zeros((1, 1, 1, 1, 1, 2))\n",
                {dir.path()}, &output),
            0)
      << output;
  auto reader = open_hdf5(dir.file("txyc.h5"), "");
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  const ImageInfo& info = (*reader)->info();
  EXPECT_EQ(info.axes, "txyc");
  EXPECT_EQ(info.shape, Shape5(3, 1, 4, 5, 2));
  EXPECT_EQ(info.stored_shape, (std::vector<int64_t>{3, 5, 4, 2}));
  EXPECT_EQ(info.chunk_shape, Shape5(1, 1, 2, 3, 1));
  EXPECT_EQ(info.compression, "gzip");
  EXPECT_EQ(info.internal_path, "/exported_data");
  EXPECT_TRUE(info.has_pixel_size);
  EXPECT_EQ(info.pixel_size[kT], 2.0);
  EXPECT_EQ(info.pixel_size[kX], 0.5);
  EXPECT_EQ(info.pixel_size[kY], 0.25);
  const AnyArray expected_tyxc = open_npy(dir.file("expected.npy")).value()->read_all().value();
  const AnyArray expected = AnyArray::wrap(DType::f32, expected_tyxc.raw_data(), info.shape,
                                           contiguous_strides(info.shape), expected_tyxc.buffer());
  const AnyArray whole = (*reader)->read_all().value();
  EXPECT_TRUE(arrays_equal(whole, expected));
  const Box5 box({1, 0, 1, 2, 1}, {3, 1, 4, 5, 2});
  EXPECT_TRUE(arrays_equal((*reader)->read(box).value(), expected.crop(box).copy().value()));

  auto volume = open_hdf5(dir.file("guess.h5"), "volume");
  ASSERT_TRUE(volume.ok());
  EXPECT_EQ((*volume)->info().shape, Shape5(1, 50, 60, 55, 1));
  auto rgb = open_hdf5(dir.file("guess.h5"), "/rgb");
  ASSERT_TRUE(rgb.ok());
  EXPECT_EQ((*rgb)->info().shape, Shape5(1, 1, 100, 200, 3));

  // Several datasets and no path: the error lists them.
  auto ambiguous = open_hdf5(dir.file("guess.h5"), "");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.error().message().find("/volume"), std::string::npos);
  EXPECT_NE(ambiguous.error().message().find("/rgb"), std::string::npos);
  auto wrong = open_hdf5(dir.file("guess.h5"), "nope");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(wrong.error().message().find("/volume"), std::string::npos);
  EXPECT_EQ(open_hdf5(dir.file("guess.h5"), "scalar").error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(open_hdf5(dir.file("guess.h5"), "text").error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(open_hdf5(dir.file("guess.h5"), "six").error().code(), ErrorCode::kUnsupported);
  const auto entries = list_hdf5_datasets(dir.file("guess.h5")).value();
  ASSERT_EQ(entries.size(), 2u);  // rgb, volume (not the scalar, string or 6-d ones)
  EXPECT_EQ(entries[0].path, "/rgb");
  EXPECT_EQ(entries[1].path, "/volume");
}

// The writer's files open in h5py with ilastik's axistags and the same values.
TEST(Hdf5Image, WritesIlastikStyleFiles) {
  GROVE_REQUIRE_PYTHON("h5py, numpy");
  TempDir dir;
  const Shape5 shape(2, 3, 20, 30, 2);
  const AnyArray data = pattern(DType::u16, shape);
  WriteOptions options;
  options.has_pixel_size = true;
  options.pixel_size = {1.0, 2.0, 0.5, 0.5};
  options.pixel_unit = {"s", "µm", "µm", "µm"};
  options.compression_level = 6;
  const std::string path = dir.file("out.h5");
  ASSERT_TRUE(write_image(path, data, options).ok());
  std::string output;
  EXPECT_EQ(testing::run_python(
                "import sys, json, h5py, numpy as np\n"
                "with h5py.File(sys.argv[1], 'r') as f:\n"
                "    d = f['exported_data']\n"
                "    e = " + numpy_pattern("uint16", "(2, 3, 20, 30, 2)") + "\n"
                "    assert d.shape == e.shape and d.dtype == e.dtype\n"
                "    assert (d[...] == e).all()\n"
                "    assert d.compression == 'gzip' and d.compression_opts == 6, d.compression\n"
                "    tags = json.loads(d.attrs['axistags'])\n"
                "    assert [a['key'] for a in tags['axes']] == list('tzyxc'), tags\n"
                "    assert [a['typeFlags'] for a in tags['axes']] == [8, 2, 2, 2, 1]\n"
                "    assert [a['resolution'] for a in tags['axes']] == [1, 2, 0.5, 0.5, 0]\n"
                "    assert list(d.attrs['element_size_um']) == [2, 0.5, 0.5]\n",
                {path}, &output),
            0)
      << output;
  // And grove reads back what it wrote, pixel size included.
  auto reader = open_image(path);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->info().shape, shape);
  EXPECT_EQ((*reader)->info().pixel_size[kZ], 2.0);
  EXPECT_EQ((*reader)->info().pixel_unit[kZ], "µm");
  EXPECT_TRUE(arrays_equal((*reader)->read_all().value(), data));

  // Another axis order and internal path.
  WriteOptions permuted;
  permuted.axes = "cxyzt";
  permuted.compression = "none";
  const std::string other = dir.file("other.h5");
  ASSERT_TRUE(write_image(other + "/results/probabilities", data, permuted).ok());
  auto back = open_image(other + "/results/probabilities");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)->info().stored_shape, (std::vector<int64_t>{2, 30, 20, 3, 2}));
  EXPECT_TRUE(arrays_equal((*back)->read_all().value(), data));
}

TEST(Hdf5Image, AllDtypesRoundTrip) {
  TempDir dir;
  const Shape5 shape(1, 2, 9, 11, 1);
  for (DType dtype : kAllDTypes) {
    const std::string path = dir.file(std::string(dtype_name(dtype)) + ".h5");
    const AnyArray data = pattern(dtype, shape);
    ASSERT_TRUE(write_image(path, data).ok()) << dtype_name(dtype);
    auto read = read_image(path);
    ASSERT_TRUE(read.ok()) << read.error().to_string();
    EXPECT_TRUE(arrays_equal(*read, data)) << dtype_name(dtype);
  }
}

// Reading a 64x512x512 box of a chunked, compressed volume decompresses only the chunks it
// touches: every other chunk is overwritten with garbage on disk, and the box still reads right.
TEST(Hdf5Image, SubBoxReadsOnlyItsChunks) {
  TempDir dir;
  const std::string path = dir.file("volume.h5");
  const Shape5 shape(1, 96, 640, 768, 1);
  const AnyArray data = pattern(DType::u8, shape);
  WriteOptions options;
  options.axes = "zyx";
  options.chunk_shape = Shape5(1, 16, 128, 128, 1);
  options.compression_level = 1;
  ASSERT_TRUE(write_image(path + "/volume", data, options).ok());

  const Box5 box({0, 16, 128, 256, 0}, {1, 80, 640, 768, 1});
  ASSERT_EQ(box.shape(), Shape5(1, 64, 512, 512, 1));
  // Find each chunk's place in the file; corrupt those outside the box.
  struct Chunk {
    int64_t z, y, x;
    uint64_t address, size;
  };
  std::vector<Chunk> chunks;
  {
    hdf5::File file = hdf5::File::open(path).value();
    hdf5::Dataset dataset = file.open_dataset("volume").value();
    hdf5::LibraryLock lock;
    hdf5::Id space(H5Dget_space(dataset.id()));
    hsize_t count = 0;
    ASSERT_GE(H5Dget_num_chunks(dataset.id(), space.get(), &count), 0);
    ASSERT_EQ(count, 6u * 5u * 6u);
    for (hsize_t i = 0; i < count; ++i) {
      hsize_t offset[3];
      unsigned mask = 0;
      haddr_t address = 0;
      hsize_t size = 0;
      ASSERT_GE(H5Dget_chunk_info(dataset.id(), space.get(), i, offset, &mask, &address, &size), 0);
      chunks.push_back({static_cast<int64_t>(offset[0]), static_cast<int64_t>(offset[1]),
                        static_cast<int64_t>(offset[2]), address, size});
    }
  }
  int corrupted = 0;
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    for (const Chunk& chunk : chunks) {
      const Box5 chunk_box({0, chunk.z, chunk.y, chunk.x, 0},
                           {1, chunk.z + 16, chunk.y + 128, chunk.x + 128, 1});
      if (!chunk_box.intersect(box).empty()) continue;
      const std::string garbage(chunk.size, '\xff');
      file.seekp(static_cast<std::streamoff>(chunk.address));
      file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
      ++corrupted;
    }
  }
  ASSERT_EQ(corrupted, 180 - 4 * 4 * 4);

  auto reader = open_image(path + "/volume");
  ASSERT_TRUE(reader.ok()) << reader.error().to_string();
  auto inside = (*reader)->read(box);
  ASSERT_TRUE(inside.ok()) << inside.error().to_string();
  EXPECT_TRUE(arrays_equal(*inside, data.crop(box).copy().value()));
  // A smaller box inside, not aligned to chunks, too.
  const Box5 unaligned({0, 20, 200, 300, 0}, {1, 70, 601, 700, 1});
  EXPECT_TRUE(arrays_equal((*reader)->read(unaligned).value(), data.crop(unaligned).copy().value()));
  // A box touching a corrupted chunk fails cleanly.
  auto touching = (*reader)->read(Box5({0, 0, 0, 0, 0}, {1, 20, 20, 20, 1}));
  ASSERT_FALSE(touching.ok());
  EXPECT_NE(touching.error().to_string().find("HDF5"), std::string::npos);
}

// Compression filters from Debian's plugins (lzf, blosc), written by h5py.
TEST(Hdf5Image, ReadsPluginFilters) {
  GROVE_REQUIRE_PYTHON("h5py, numpy");
  TempDir dir;
  std::string output;
  ASSERT_EQ(testing::run_python(
                "import sys, h5py, numpy as np\n"
                "a = " + numpy_pattern("int16", "(40, 50)") + "\n"
                "with h5py.File(sys.argv[1] + '/lzf.h5', 'w') as f:\n"
                "    f.create_dataset('data', data=a, chunks=(8, 8), compression='lzf')\n"
                "try:\n"
                "    with h5py.File(sys.argv[1] + '/blosc.h5', 'w') as f:\n"
                "        f.create_dataset('data', data=a, chunks=(8, 8), compression=32001,\n"
                "                         compression_opts=(0, 0, 0, 0, 5, 1, 1))\n"
                "except Exception as e:\n"
                "    print('no blosc:', e)\n",
                {dir.path()}, &output),
            0)
      << output;
  const AnyArray expected = pattern(DType::i16, Shape5(1, 1, 40, 50, 1));
  for (const char* name : {"lzf.h5", "blosc.h5"}) {
    if (!std::filesystem::exists(dir.file(name))) continue;
    auto reader = open_image(dir.file(name));
    ASSERT_TRUE(reader.ok()) << reader.error().to_string();
    EXPECT_NE((*reader)->info().compression.find(name[0] == 'l' ? "lzf" : "blosc"), std::string::npos);
    auto data = (*reader)->read_all();
    ASSERT_TRUE(data.ok()) << name << ": " << data.error().to_string()
                           << " (are hdf5-plugin-lzf and hdf5-filter-plugin-blosc-serial installed?)";
    EXPECT_TRUE(arrays_equal(*data, expected)) << name;
  }
  // grove writes them too.
  for (const char* compression : {"lzf", "blosc"}) {
    WriteOptions options;
    options.compression = compression;
    const std::string path = dir.file(std::string("grove-") + compression + ".h5");
    Status written = write_image(path, expected, options);
    if (!written.ok()) {
      EXPECT_EQ(written.error().code(), ErrorCode::kUnsupported) << written.error().to_string();
      continue;
    }
    EXPECT_TRUE(arrays_equal(read_image(path).value(), expected)) << compression;
    // h5py decodes grove's LZF with its own filter.
    if (std::string(compression) == "lzf") {
      std::string check;
      EXPECT_EQ(testing::run_python(
                    "import sys, h5py, numpy as np\n"
                    "with h5py.File(sys.argv[1], 'r') as f:\n"
                    "    d = f['exported_data']\n"
                    "    assert d.compression == 'lzf', d.compression\n"
                    "    assert (d[..., 0] == " + numpy_pattern("int16", "(40, 50)") + ").all()\n",
                    {path}, &check),
                0)
          << check;
    }
  }
}

TEST(Hdf5Image, WriterIsAtomicAndThreadSafe) {
  TempDir dir;
  const std::string path = dir.file("blocks.h5");
  const Shape5 shape(1, 1, 256, 256, 3);
  const AnyArray data = pattern(DType::f32, shape);
  {
    auto writer = create_image(path, shape, DType::f32);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->write(Box5::of(shape), data).ok());
    EXPECT_FALSE(std::filesystem::exists(path));
  }
  EXPECT_TRUE(dir.entries().empty()) << "an uncommitted writer left files behind";

  WriteOptions options;
  options.chunk_shape = Shape5(1, 1, 64, 64, 3);
  auto writer = create_image(path, shape, DType::f32, options);
  ASSERT_TRUE(writer.ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int by = 0; by < 4; ++by) {
    threads.emplace_back([&, by] {
      for (int bx = 0; bx < 4; ++bx) {
        const Box5 box({0, 0, by * 64, bx * 64, 0}, {1, 1, by * 64 + 64, bx * 64 + 64, 3});
        if (!(*writer)->write(box, data.crop(box)).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_FALSE(std::filesystem::exists(path));
  ASSERT_TRUE((*writer)->commit().ok());
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"blocks.h5"}));
  EXPECT_TRUE(arrays_equal(read_image(path).value(), data));
  // Existing files are kept unless overwrite.
  EXPECT_EQ(create_image(path, shape, DType::f32).error().code(), ErrorCode::kAlreadyExists);
  options.overwrite = true;
  EXPECT_TRUE(create_image(path, shape, DType::f32, options).ok());
}

TEST(Hdf5Image, DefaultChunks) {
  EXPECT_EQ(default_hdf5_chunks({1024, 1344, 1}, "yxc", DType::u8), (std::vector<int64_t>{256, 256, 1}));
  EXPECT_EQ(default_hdf5_chunks({100, 1000, 1000}, "zyx", DType::f32), (std::vector<int64_t>{64, 64, 64}));
  EXPECT_EQ(default_hdf5_chunks({10, 500, 500, 2}, "tyxc", DType::f32), (std::vector<int64_t>{1, 256, 256, 2}));
  // Never above 4 MiB.
  const auto big = default_hdf5_chunks({100, 1000, 1000, 61}, "zyxc", DType::f64);
  int64_t bytes = 8;
  for (int64_t c : big) bytes *= c;
  EXPECT_LE(bytes, int64_t{4} << 20);
}

}  // namespace
}  // namespace grove::io
