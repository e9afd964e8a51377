#include "grove/io/hdf5_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "grove/io/io_test_support.h"

namespace grove::hdf5 {
namespace {

using io::testing::TempDir;

TEST(Hdf5File, GroupsDatasetsAndAttributesRoundTrip) {
  TempDir dir;
  const std::string path = dir.file("test.h5");
  {
    File file = File::create(path).value();
    Group group = file.create_group("a/b").value();
    ASSERT_TRUE(group.write_dataset<double>("values", {1.5, 2.5, 3.5}).ok());
    ASSERT_TRUE(group.write_dataset<int32_t>("matrix", {1, 2, 3, 4, 5, 6}, {2, 3}).ok());
    ASSERT_TRUE(file.write_string("name", "Pixel Classification").ok());
    ASSERT_TRUE(file.write_strings("a/names", {"Label 1", "Label 2"}).ok());
    ASSERT_TRUE(group.write_attribute("count", int64_t{42}).ok());
    ASSERT_TRUE(group.write_attribute("scale", 0.5).ok());
    ASSERT_TRUE(group.write_attribute("sizes", std::vector<uint16_t>{3, 4, 5}).ok());
    ASSERT_TRUE(group.write_attribute("slice", "[0:1,5:20]").ok());
    ASSERT_TRUE(group.write_attribute("words", std::vector<std::string>{"x", "yy"}).ok());
    // Rewriting an attribute replaces it.
    ASSERT_TRUE(group.write_attribute("count", int64_t{43}).ok());
    ASSERT_TRUE(file.flush().ok());
  }
  File file = File::open(path).value();
  EXPECT_TRUE(File::is_hdf5(path));
  EXPECT_TRUE(file.exists("a/b/values"));
  EXPECT_TRUE(file.exists("/a/b"));
  EXPECT_FALSE(file.exists("a/c/values"));
  EXPECT_EQ(file.children().value(), (std::vector<std::string>{"a", "name"}));
  EXPECT_EQ(file.child_groups().value(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(file.child_datasets().value(), (std::vector<std::string>{"name"}));
  EXPECT_EQ(file.all_datasets().value(),
            (std::vector<std::string>{"a/b/matrix", "a/b/values", "a/names", "name"}));
  Group group = file.open_group("a/b").value();
  EXPECT_EQ(group.path(), "/a/b");
  EXPECT_EQ(group.kind_of("values").value(), ObjectKind::kDataset);

  Dataset values = group.open_dataset("values").value();
  EXPECT_EQ(values.dims(), (std::vector<int64_t>{3}));
  EXPECT_EQ(values.dtype().value(), DType::f64);
  EXPECT_EQ(values.read_vector<double>().value(), (std::vector<double>{1.5, 2.5, 3.5}));
  // Converted on read.
  EXPECT_EQ(values.read_vector<float>().value(), (std::vector<float>{1.5f, 2.5f, 3.5f}));
  Dataset matrix = file.open_dataset("/a/b/matrix").value();
  EXPECT_EQ(matrix.dims(), (std::vector<int64_t>{2, 3}));
  std::vector<int64_t> part(2);
  ASSERT_TRUE(matrix.read(DType::i64, part.data(), {1, 1}, {1, 2}).ok());
  EXPECT_EQ(part, (std::vector<int64_t>{5, 6}));

  EXPECT_EQ(file.read_string("name").value(), "Pixel Classification");
  EXPECT_EQ(file.open_dataset("a/names").value().read_strings().value(),
            (std::vector<std::string>{"Label 1", "Label 2"}));
  EXPECT_EQ(group.read_attribute<int64_t>("count").value(), 43);
  EXPECT_EQ(group.read_attribute<double>("count").value(), 43.0);
  EXPECT_EQ(group.read_attribute<double>("scale").value(), 0.5);
  EXPECT_EQ(group.read_attribute_vector<int>("sizes").value(), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(group.read_string_attribute("slice").value(), "[0:1,5:20]");
  EXPECT_EQ(group.read_string_attribute_vector("words").value(), (std::vector<std::string>{"x", "yy"}));
  EXPECT_TRUE(group.has_attribute("scale"));
  EXPECT_FALSE(group.has_attribute("nope"));
  auto names = group.attribute_names().value();
  EXPECT_EQ(names.size(), 5u);
}

TEST(Hdf5File, ClearErrors) {
  TempDir dir;
  auto missing = File::open(dir.file("missing.h5"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(missing.error().to_string().find("missing.h5"), std::string::npos);
  std::ofstream(dir.file("text.h5")) << "not hdf5";
  auto text = File::open(dir.file("text.h5"));
  ASSERT_FALSE(text.ok());
  EXPECT_NE(text.error().message().find("not an HDF5 file"), std::string::npos);

  File file = File::create(dir.file("f.h5")).value();
  ASSERT_TRUE(file.write_dataset<float>("x", {1, 2}).ok());
  ASSERT_TRUE(file.write_string("s", "text").ok());
  auto no_dataset = file.open_dataset("y");
  ASSERT_FALSE(no_dataset.ok());
  EXPECT_EQ(no_dataset.error().code(), ErrorCode::kNotFound);
  auto group_as_dataset = file.open_dataset("/");
  EXPECT_FALSE(group_as_dataset.ok());
  Dataset x = file.open_dataset("x").value();
  EXPECT_EQ(x.read_attribute<int>("missing").error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(x.read_string().ok());
  EXPECT_FALSE(file.open_dataset("s").value().read_vector<int>().ok());
  EXPECT_EQ(file.create_group("x").error().code(), ErrorCode::kAlreadyExists);
  // An out-of-range hyperslab is refused, not read.
  float out[4];
  EXPECT_EQ(x.read(DType::f32, out, {1}, {2}).error().code(), ErrorCode::kOutOfRange);
}

// Strings as ilastik (via h5py) writes them: variable-length and fixed-length, scalar and array,
// in datasets and attributes.
TEST(Hdf5File, ReadsH5pyStrings) {
  GROVE_REQUIRE_PYTHON("h5py, numpy");
  TempDir dir;
  const std::string path = dir.file("strings.h5");
  std::string output;
  ASSERT_EQ(io::testing::run_python(
                "import sys, h5py, numpy as np\n"
                "with h5py.File(sys.argv[1], 'w') as f:\n"
                "    f['workflowName'] = 'Pixel Classification'\n"
                "    f['fixed'] = np.bytes_('abc')\n"
                "    f['LabelNames'] = np.array([b'Label 1', b'Background'])\n"
                "    f['vlen_list'] = np.array(['alpha', 'beta'], dtype=h5py.string_dtype())\n"
                "    f.create_group('Input Data/infos/lane0000/Raw Data')\n"
                "    f['Input Data/infos/lane0000/Raw Data/filePath'] = 'inputdata/2d.h5/data'\n"
                "    d = f.create_dataset('block', data=np.zeros((2, 3), np.uint8))\n"
                "    d.attrs['blockSlice'] = '[0:2,0:3]'\n"
                "    d.attrs['fixed_attr'] = np.bytes_('xyz')\n"
                "    d.attrs['numbers'] = np.array([1.5, 2.5], np.float32)\n"
                "    d.attrs['flag'] = np.bool_(True)\n"
                "    f['bools'] = np.array([True, False, True])\n"
                "    f['big'] = np.arange(6, dtype='>i4')\n",
                {path}, &output),
            0)
      << output;
  File file = File::open(path).value();
  EXPECT_EQ(file.read_string("workflowName").value(), "Pixel Classification");
  EXPECT_EQ(file.read_string("fixed").value(), "abc");
  EXPECT_EQ(file.open_dataset("LabelNames").value().read_strings().value(),
            (std::vector<std::string>{"Label 1", "Background"}));
  EXPECT_EQ(file.open_dataset("vlen_list").value().read_strings().value(),
            (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(file.read_string("Input Data/infos/lane0000/Raw Data/filePath").value(),
            "inputdata/2d.h5/data");
  Dataset block = file.open_dataset("block").value();
  EXPECT_EQ(block.read_string_attribute("blockSlice").value(), "[0:2,0:3]");
  EXPECT_EQ(block.read_string_attribute("fixed_attr").value(), "xyz");
  EXPECT_EQ(block.read_attribute_vector<double>("numbers").value(), (std::vector<double>{1.5, 2.5}));
  EXPECT_EQ(block.read_attribute<int>("flag").value(), 1);
  Dataset bools = file.open_dataset("bools").value();
  EXPECT_EQ(bools.dtype().value(), DType::boolean);
  EXPECT_EQ(bools.read_vector<uint8_t>().value(), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(file.open_dataset("big").value().read_vector<int32_t>().value(),
            (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));
}

// The files grove writes open in h5py with the same values.
TEST(Hdf5File, H5pyReadsWhatGroveWrites) {
  GROVE_REQUIRE_PYTHON("h5py, numpy");
  TempDir dir;
  const std::string path = dir.file("grove.h5");
  {
    File file = File::create(path).value();
    DatasetOptions options;
    options.chunks = {2, 2};
    options.gzip_level = 4;
    options.shuffle = true;
    Dataset d = file.create_dataset("g/data", DType::u16, {3, 4}, options).value();
    std::vector<uint16_t> values(12);
    for (int i = 0; i < 12; ++i) values[i] = static_cast<uint16_t>(i * 1000);
    ASSERT_TRUE(d.write(DType::u16, values.data()).ok());
    ASSERT_TRUE(d.write_attribute("axistags", "{\"axes\": []}").ok());
    Dataset flags = file.create_dataset("flags", DType::boolean, {2}).value();
    const bool flag_values[2] = {true, false};
    ASSERT_TRUE(flags.write(DType::boolean, flag_values).ok());
    ASSERT_TRUE(file.write_string("name", "grove").ok());
  }
  std::string output;
  EXPECT_EQ(io::testing::run_python(
                "import sys, h5py, numpy as np\n"
                "with h5py.File(sys.argv[1], 'r') as f:\n"
                "    d = f['g/data']\n"
                "    assert d.dtype == np.uint16 and d.shape == (3, 4)\n"
                "    assert (d[...] == np.arange(12).reshape(3, 4) * 1000).all()\n"
                "    assert d.chunks == (2, 2) and d.compression == 'gzip' and d.shuffle\n"
                "    assert d.attrs['axistags'] == '{\"axes\": []}'\n"
                "    assert f['flags'].dtype == np.bool_ and list(f['flags'][...]) == [True, False]\n"
                "    assert f['name'][()] in (b'grove', 'grove')\n",
                {path}, &output),
            0)
      << output;
}

// Many threads reading at once: the library lock serializes HDF5 itself.
TEST(Hdf5File, ConcurrentReads) {
  TempDir dir;
  const std::string path = dir.file("concurrent.h5");
  {
    File file = File::create(path).value();
    DatasetOptions options;
    options.chunks = {16, 16};
    options.gzip_level = 1;
    Dataset d = file.create_dataset("data", DType::i32, {64, 64}, options).value();
    std::vector<int32_t> values(64 * 64);
    for (int i = 0; i < 64 * 64; ++i) values[i] = i;
    ASSERT_TRUE(d.write(DType::i32, values.data()).ok());
  }
  Dataset d = File::open(path).value().open_dataset("data").value();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        const int64_t row = (t * 7 + round) % 60;
        std::vector<int32_t> part(4 * 64);
        if (!d.read(DType::i32, part.data(), {row, 0}, {4, 64}).ok() || part[0] != row * 64) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace grove::hdf5
