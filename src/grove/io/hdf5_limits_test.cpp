// Resource limits of the HDF5 layer against damaged or hostile files: a dataset or attribute
// whose extents promise far more values than the file stores is refused before anything is
// allocated (kCorrupt), a plausible one beyond the memory budget too (kResourceExhausted), and
// the walk over a file's datasets survives hard-link cycles. Files are made with the HDF5 C API,
// since h5py refuses to write some of them.
#include <gtest/gtest.h>
#include <hdf5.h>

#include "grove/core/memory.h"
#include "grove/io/hdf5.h"
#include "grove/io/hdf5_file.h"
#include "grove/io/io_test_support.h"

namespace grove {
namespace {

using io::testing::TempDir;

// A file with /huge: a chunked dataset of 10^9 x 10^9 uint8 that was never written (it holds no
// bytes at all), /contiguous: 100 M uint8 never written, and /small: 4 values.
std::string make_sparse_file(const TempDir& dir) {
  const std::string path = dir.file("sparse.h5");
  hdf5::LibraryLock lock;
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  {
    hsize_t dims[2] = {1'000'000'000, 1'000'000'000};
    hsize_t chunks[2] = {64, 64};
    hid_t space = H5Screate_simple(2, dims, nullptr);
    hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(plist, 2, chunks);
    hid_t dataset =
        H5Dcreate2(file, "huge", H5T_NATIVE_UINT8, space, H5P_DEFAULT, plist, H5P_DEFAULT);
    H5Dclose(dataset);
    H5Pclose(plist);
    H5Sclose(space);
  }
  {
    hsize_t dims[1] = {100'000'000};
    hid_t space = H5Screate_simple(1, dims, nullptr);
    hid_t dataset = H5Dcreate2(file, "contiguous", H5T_NATIVE_UINT8, space, H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(dataset);
    H5Sclose(space);
  }
  {
    hsize_t dims[1] = {4};
    const int32_t values[4] = {1, 2, 3, 4};
    hid_t space = H5Screate_simple(1, dims, nullptr);
    hid_t dataset =
        H5Dcreate2(file, "small", H5T_NATIVE_INT32, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(dataset, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5Dclose(dataset);
    H5Sclose(space);
  }
  H5Fclose(file);
  return path;
}

TEST(Hdf5Limits, DatasetsClaimingMoreThanTheFileHoldsAreRefused) {
  TempDir dir;
  const std::string path = make_sparse_file(dir);
  auto file = hdf5::File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().to_string();
  for (const char* name : {"huge", "contiguous"}) {
    auto dataset = file->open_dataset(name);
    ASSERT_TRUE(dataset.ok()) << dataset.error().to_string();
    auto values = dataset->read_vector<uint8_t>();
    ASSERT_FALSE(values.ok()) << name;
    EXPECT_EQ(values.error().code(), ErrorCode::kCorrupt) << values.error().to_string();
    EXPECT_NE(values.error().to_string().find(name), std::string::npos)
        << values.error().to_string();
    if (std::string(name) == "huge") {
      auto array = dataset->read_array("yx");
      ASSERT_FALSE(array.ok());
      EXPECT_EQ(array.error().code(), ErrorCode::kCorrupt);
    }
  }
  auto small = file->open_dataset("small");
  ASSERT_TRUE(small.ok());
  auto values = small->read_vector<int32_t>();
  ASSERT_TRUE(values.ok()) << values.error().to_string();
  EXPECT_EQ(*values, (std::vector<int32_t>{1, 2, 3, 4}));
}

TEST(Hdf5Limits, WholeReadsBeyondTheMemoryBudgetAreRefused) {
  TempDir dir;
  const std::string path = dir.file("values.h5");
  {
    auto file = hdf5::File::create(path);
    ASSERT_TRUE(file.ok());
    std::vector<double> values(300'000, 1.5);  // 2.4 MB, stored in full
    ASSERT_TRUE(file->write_dataset("values", values).ok());
  }
  auto file = hdf5::File::open(path);
  ASSERT_TRUE(file.ok());
  auto dataset = file->open_dataset("values");
  ASSERT_TRUE(dataset.ok());
  set_file_allocation_limit(int64_t{1} << 20);
  auto refused = dataset->read_vector<double>();
  set_file_allocation_limit(0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kResourceExhausted);
  auto read = dataset->read_vector<double>();
  ASSERT_TRUE(read.ok()) << read.error().to_string();
  EXPECT_EQ(read->size(), 300'000u);
}

// libhdf5 decompresses a filtered chunk whole: an image whose compressed chunks are larger than
// the memory budget is refused when it is opened (the file itself is tiny: nothing was written).
TEST(Hdf5Limits, CompressedChunksBeyondTheMemoryBudgetAreRefused) {
  TempDir dir;
  const std::string path = dir.file("big_chunks.h5");
  {
    auto file = hdf5::File::create(path);
    ASSERT_TRUE(file.ok());
    hdf5::DatasetOptions options;
    options.chunks = {2048, 2048};  // 8 MB of uint16
    options.gzip_level = 1;
    ASSERT_TRUE(file->create_dataset("data", DType::u16, {4096, 4096}, options).ok());
  }
  ASSERT_TRUE(io::open_hdf5(path, "data").ok());
  set_file_allocation_limit(int64_t{4} << 20);
  auto refused = io::open_hdf5(path, "data");
  set_file_allocation_limit(0);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kResourceExhausted);
  const std::string message = refused.error().to_string();
  EXPECT_NE(message.find("big_chunks.h5"), std::string::npos) << message;
  EXPECT_NE(message.find("memory budget of 4 MB"), std::string::npos) << message;
}

TEST(Hdf5Limits, HardLinkCyclesEndTheWalk) {
  TempDir dir;
  const std::string path = dir.file("cycles.h5");
  {
    hdf5::LibraryLock lock;
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t group = H5Gcreate2(file, "a", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    // Two links back to the group: a naive depth-first walk visits 2^depth paths.
    H5Lcreate_hard(file, "a", group, "left", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_hard(file, "a", group, "right", H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[1] = {2};
    hid_t space = H5Screate_simple(1, dims, nullptr);
    hid_t dataset =
        H5Dcreate2(group, "data", H5T_NATIVE_UINT8, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(dataset);
    H5Sclose(space);
    H5Gclose(group);
    H5Fclose(file);
  }
  auto file = hdf5::File::open(path);
  ASSERT_TRUE(file.ok());
  auto datasets = file->all_datasets();
  ASSERT_TRUE(datasets.ok()) << datasets.error().to_string();
  EXPECT_FALSE(datasets->empty());
  EXPECT_EQ(datasets->front(), "a/data");
}

}  // namespace
}  // namespace grove
