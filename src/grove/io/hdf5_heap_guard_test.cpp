// The global heap guard (hdf5_heap_guard.h): files whose global heap collection would make
// libhdf5 1.10.8 loop forever or read out of bounds are refused with an error naming the corrupt
// collection, and valid ones read as before. The files are written with the HDF5 C API and then
// patched byte by byte; the collection checks are also tested on hand-made collections.
#include "grove/io/hdf5_heap_guard.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "grove/io/hdf5_file.h"
#include "grove/io/io_test_support.h"

namespace grove::hdf5 {
namespace {

using io::testing::TempDir;

const std::string kAxistags = R"({"axes": [{"key": "y", "typeFlags": 2}, {"key": "x"}]})";

// A file with the scalar variable-length string attribute /axistags (as ilastik and h5py write
// it) and the dataset /names of two variable-length strings, all in one global heap collection.
void write_string_file(const std::string& path, const std::string& axistags) {
  LibraryLock lock;
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  hid_t scalar = H5Screate(H5S_SCALAR);
  hid_t attribute = H5Acreate2(file, "axistags", type, scalar, H5P_DEFAULT, H5P_DEFAULT);
  const char* text = axistags.c_str();
  H5Awrite(attribute, type, &text);
  H5Aclose(attribute);
  const hsize_t count = 2;
  hid_t space = H5Screate_simple(1, &count, nullptr);
  hid_t dataset = H5Dcreate2(file, "names", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const char* names[2] = {"Label 1", "Label 2"};
  H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, names);
  H5Dclose(dataset);
  H5Sclose(space);
  H5Sclose(scalar);
  H5Tclose(type);
  H5Fclose(file);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

uint64_t get_u64(const std::vector<uint8_t>& bytes, size_t at) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value |= uint64_t{bytes.at(at + i)} << (8 * i);
  return value;
}

void put_u64(std::vector<uint8_t>& bytes, size_t at, uint64_t value) {
  for (size_t i = 0; i < 8; ++i) bytes.at(at + i) = static_cast<uint8_t>(value >> (8 * i));
}

// Where the objects of the file's one global heap collection start (each: 2-byte heap index,
// 2-byte reference count, 4 reserved bytes, 8-byte size, data padded to 8).
struct HeapLayout {
  size_t collection = 0;          // the "GCOL" signature
  std::vector<size_t> objects;    // each object's header, in order
  std::vector<unsigned> indices;  // each object's heap index (0: free space)
};

HeapLayout heap_layout(const std::vector<uint8_t>& bytes) {
  HeapLayout layout;
  const std::string signature = "GCOL\x01";
  auto found = std::search(bytes.begin(), bytes.end(), signature.begin(), signature.end());
  if (found == bytes.end()) return layout;
  layout.collection = static_cast<size_t>(found - bytes.begin());
  const size_t end = layout.collection + get_u64(bytes, layout.collection + 8);
  size_t at = layout.collection + 16;
  while (at + 16 <= end && at + 16 <= bytes.size()) {
    const unsigned index = bytes[at] | (unsigned{bytes[at + 1]} << 8);
    layout.objects.push_back(at);
    layout.indices.push_back(index);
    const uint64_t size = get_u64(bytes, at + 8);
    at += index == 0 ? size : 16 + (size + 7) / 8 * 8;
  }
  return layout;
}

Result<std::string> read_axistags(const std::string& path) {
  GROVE_ASSIGN_OR_RETURN(File file, File::open(path));
  return file.read_string_attribute("axistags");
}

// The value, or the error's message (so that a failed read shows why).
std::string text_or_error(const Result<std::string>& text) {
  return text.ok() ? *text : "error: " + text.error().message();
}

TEST(Hdf5HeapGuard, ValidVariableLengthStringsRead) {
  TempDir dir;
  const std::string path = dir.file("valid.h5");
  write_string_file(path, kAxistags);
  EXPECT_EQ(text_or_error(read_axistags(path)), kAxistags);
  File file = File::open(path).value();
  EXPECT_EQ(file.open_dataset("names").value().read_strings().value(),
            (std::vector<std::string>{"Label 1", "Label 2"}));
  // The heap is what the corruption tests below expect: three strings, then free space.
  const HeapLayout layout = heap_layout(read_bytes(path));
  EXPECT_EQ(layout.indices, (std::vector<unsigned>{1, 2, 3, 0}));
}

// A collection larger than libhdf5's first 4096-byte read, whose rest happens to start with
// "GCOL" and version 1 (string data): the guard checks the collection whole on its first read
// and lets the read of its rest through.
TEST(Hdf5HeapGuard, CollectionsLargerThanTheFirstReadRead) {
  TempDir dir;
  const std::string path = dir.file("large.h5");
  std::string text(10000, 'x');
  // Object 1's data starts 32 bytes into the collection; libhdf5 reads the rest from 4096 on.
  text.replace(4096 - 32, 5, std::string("GCOL\x01", 5));
  write_string_file(path, text);
  const std::vector<uint8_t> bytes = read_bytes(path);
  const HeapLayout layout = heap_layout(bytes);
  ASSERT_FALSE(layout.objects.empty());
  EXPECT_GT(get_u64(bytes, layout.collection + 8), 4096u);
  EXPECT_EQ(std::memcmp(bytes.data() + layout.collection + 4096, "GCOL\x01", 5), 0);
  EXPECT_EQ(text_or_error(read_axistags(path)), text);
}

// The read of a corrupt collection runs in a child process with an alarm: without the guard
// libhdf5 1.10.8 loops forever or crashes, which fails the test instead of hanging the suite.
// The child prints the error and exits 0 only if the read was refused as corrupt.
void expect_refused(const std::string& path, const std::string& message_pattern) {
  EXPECT_EXIT(
      {
        alarm(20);
        auto text = read_axistags(path);
        const bool refused = !text.ok() && text.error().code() == ErrorCode::kCorrupt;
        std::fprintf(stderr, "%s\n",
                     text.ok() ? "read without an error" : text.error().message().c_str());
        std::_Exit(refused ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), message_pattern);
}

TEST(Hdf5HeapGuard, FreeSpaceOfSizeZeroIsRefusedInsteadOfLooping) {
  TempDir dir;
  const std::string valid = dir.file("valid.h5");
  write_string_file(valid, kAxistags);
  std::vector<uint8_t> bytes = read_bytes(valid);
  const HeapLayout layout = heap_layout(bytes);
  ASSERT_EQ(layout.indices.size(), 4u);
  ASSERT_EQ(layout.indices[3], 0u);
  put_u64(bytes, layout.objects[3] + 8, 0);  // the free space's size
  const std::string corrupt = dir.file("corrupt.h5");
  write_bytes(corrupt, bytes);
  expect_refused(corrupt, "reading strings of .*axistags.*corrupt global heap collection at byte " +
                              std::to_string(layout.collection) +
                              " of the file: object 4 \\(free space\\) at offset [0-9]+ has "
                              "size 0");
  // The file's other objects still read.
  File file = File::open(corrupt).value();
  EXPECT_EQ(file.children().value(), (std::vector<std::string>{"names"}));
}

TEST(Hdf5HeapGuard, ObjectsReachingPastTheCollectionAreRefused) {
  TempDir dir;
  const std::string valid = dir.file("valid.h5");
  write_string_file(valid, kAxistags);
  const std::vector<uint8_t> original = read_bytes(valid);
  const HeapLayout layout = heap_layout(original);
  ASSERT_EQ(layout.indices.size(), 4u);
  const uint64_t collection_size = get_u64(original, layout.collection + 8);
  {
    // The axistags string claiming 2^64 - 1 bytes: libhdf5 steps over it by 16 bytes (the padded
    // size wraps to 0) and H5HG_read then copies 2^64 - 1 bytes.
    std::vector<uint8_t> bytes = original;
    put_u64(bytes, layout.objects[0] + 8, UINT64_MAX);
    write_bytes(dir.file("huge-object.h5"), bytes);
    expect_refused(dir.file("huge-object.h5"),
                   "object 1 \\(heap index 1\\) at offset 16 declares 18446744073709551615 "
                   "bytes, past the collection's end");
  }
  {
    // Free space reaching past the collection.
    std::vector<uint8_t> bytes = original;
    put_u64(bytes, layout.objects[3] + 8, collection_size);
    write_bytes(dir.file("free-space-past-end.h5"), bytes);
    expect_refused(dir.file("free-space-past-end.h5"), "object 4 \\(free space\\).*past the");
  }
  {
    // A collection larger than the file.
    std::vector<uint8_t> bytes = original;
    put_u64(bytes, layout.collection + 8, uint64_t{1} << 40);
    write_bytes(dir.file("collection-past-eof.h5"), bytes);
    expect_refused(dir.file("collection-past-eof.h5"),
                   "declares 1099511627776 bytes, but the file holds only");
  }
}

// ---------------------------------------------------------------------------------------------
// The walk itself, on hand-made collections (8-byte lengths).

class Collection {
 public:
  explicit Collection(uint64_t size) {
    bytes_ = {'G', 'C', 'O', 'L', 1, 0, 0, 0};
    append_u64(size);
  }
  Collection& object(unsigned index, uint64_t size, size_t data_bytes) {
    bytes_.push_back(static_cast<uint8_t>(index));
    bytes_.push_back(static_cast<uint8_t>(index >> 8));
    bytes_.insert(bytes_.end(), 6, 0);
    append_u64(size);
    bytes_.insert(bytes_.end(), data_bytes, 'd');
    return *this;
  }
  Collection& pad(size_t count) {
    bytes_.insert(bytes_.end(), count, 0);
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  void append_u64(uint64_t value) {
    for (int i = 0; i < 8; ++i) bytes_.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
};

Status check(const std::vector<uint8_t>& bytes, size_t first_read, uint64_t available) {
  const CollectionReader rest = [&](uint64_t offset, size_t size, uint8_t* out) {
    if (offset + size > bytes.size()) return false;
    std::memcpy(out, bytes.data() + offset, size);
    return true;
  };
  return check_global_heap(bytes.data(), first_read, available, 8, rest);
}

Status check(const std::vector<uint8_t>& bytes) { return check(bytes, bytes.size(), bytes.size()); }

std::string message(const Status& status) { return status.ok() ? "ok" : status.error().message(); }

TEST(Hdf5HeapGuard, WalksCollectionsAsLibhdf5Does) {
  // Two objects (5 bytes padded to 8, 16 bytes), then free space of 24 bytes.
  Collection valid(16 + 24 + 32 + 24);
  valid.object(1, 5, 8).object(2, 16, 16).object(0, 24, 8);
  EXPECT_EQ(message(check(valid.bytes())), "ok");
  // Read in parts: the first 20 bytes, the rest on demand.
  EXPECT_EQ(message(check(valid.bytes(), 20, valid.bytes().size())), "ok");
  // A tail too short for an object header is free space, whatever it holds.
  Collection tail(16 + 24 + 8);
  tail.object(1, 8, 8).pad(8);
  EXPECT_EQ(message(check(tail.bytes())), "ok");
  // An object of index > 0 and size 0 moves on by its header.
  Collection empty_object(16 + 16 + 16);
  empty_object.object(3, 0, 0).object(0, 16, 0);
  EXPECT_EQ(message(check(empty_object.bytes())), "ok");
  // Only the header: no objects.
  EXPECT_EQ(message(check(Collection(16).bytes())), "ok");
}

TEST(Hdf5HeapGuard, RefusesCollectionsLibhdf5WouldLoopOnOrReadOutside) {
  EXPECT_EQ(message(check(Collection(8).bytes())),
            "it declares 8 bytes, less than its 16-byte header");
  EXPECT_EQ(message(check(Collection(4096).bytes(), 16, 100)),
            "it declares 4096 bytes, but the file holds only 100 bytes from there on");
  const std::vector<uint8_t> header = Collection(16).bytes();
  EXPECT_EQ(message(check(std::vector<uint8_t>(header.begin(), header.begin() + 12))),
            "its header is cut short (12 of 16 bytes)");

  Collection zero_free(16 + 24 + 16);
  zero_free.object(1, 8, 8).object(0, 0, 0);
  const std::string looping =
      "object 2 (free space) at offset 40 has size 0, on which libhdf5 would loop forever";
  EXPECT_EQ(message(check(zero_free.bytes())), looping);
  // Also when the object lies beyond the first read.
  EXPECT_EQ(message(check(zero_free.bytes(), 16, zero_free.bytes().size())), looping);

  Collection long_free(16 + 16);
  long_free.object(0, 17, 0);
  EXPECT_EQ(message(check(long_free.bytes())),
            "object 1 (free space) at offset 16 declares 17 bytes, past the collection's end (32 "
            "bytes)");
  Collection long_object(16 + 24);
  long_object.object(7, 9, 8);
  EXPECT_EQ(message(check(long_object.bytes())),
            "object 1 (heap index 7) at offset 16 declares 9 bytes, past the collection's end (40 "
            "bytes)");
  // A size whose padding wraps around to a small step.
  Collection wrapping(16 + 24);
  wrapping.object(1, UINT64_MAX - 6, 8);
  EXPECT_EQ(check(wrapping.bytes()).error().code(), ErrorCode::kCorrupt);

  // The rest of the collection cannot be read.
  const std::vector<uint8_t> cut(zero_free.bytes().begin(), zero_free.bytes().begin() + 30);
  EXPECT_EQ(message(check(cut, 30, zero_free.bytes().size())),
            "reading its object at offset 16 failed");
}

}  // namespace
}  // namespace grove::hdf5
