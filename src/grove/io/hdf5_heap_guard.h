// A guard against corrupt global heap collections, for files grove opens read-only.
//
// HDF5 keeps variable-length data (vlen strings such as ilastik's `axistags`, grove's own string
// attributes) in "global heap collections": a "GCOL" header with the collection's size, then
// objects, each a 16-byte header (heap index, reference count, size) and its data. Debian 12's
// libhdf5 (1.10.8) walks those objects with no checks: a free-space object (index 0) of size 0
// makes it loop forever, an object whose size runs past the collection makes H5HG_read copy
// from outside it (negative-size memcpy, SEGV). Found by the hdf5 fuzz target (fuzz/README.md).
//
// grove therefore opens files for reading through a small virtual file driver that hands every
// call to an ordinary sec2 file (reads go straight to its descriptor), but looks at each read
// that starts with a collection header and walks the collection the way libhdf5 will (reading
// the rest of a collection larger than what was asked for). A collection libhdf5 would loop on or
// read outside fails the read, with an HDF5 error "corrupt global heap collection at byte N of the
// file: ..." that H5Aread/H5Dread return to grove. Reads that do not start with "GCOL" pass
// untouched, so a dataset's chunks cost no copy and no scan (about 30 instructions a read). Writing
// keeps HDF5's default driver. Data that happens to start with "GCOL", version 1, and fails the
// walk would be refused too; the read of a large collection's rest, object data, is let through.
//
// What it cannot see: a vlen descriptor (in an attribute or dataset, decoded inside libhdf5's
// type conversion) naming a heap index the collection does not hold, or its free space (index
// 0); libhdf5 1.10.8 reads those out of bounds too (fuzz/known-libhdf5/, fuzz/README.md "Known
// bugs in libhdf5").
#pragma once

#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <functional>

#include "grove/core/result.h"

namespace grove::hdf5 {

// A file access property list for read-only opens through the guarding driver (registered with
// HDF5 on first use; the list lives as long as the process). Call with the library lock held.
// H5P_DEFAULT if the driver could not be registered.
hid_t guarded_read_access();

// Reads `size` bytes at `offset` from the start of the collection into `out`; false on failure.
using CollectionReader = std::function<bool(uint64_t offset, size_t size, uint8_t* out)>;

// Checks a global heap collection as libhdf5 1.10's H5HG cache will walk it. `head` holds the
// first `head_size` bytes of the collection (starting with "GCOL", version 1); `available` is
// how many bytes the file holds from the collection's start on; `length_size` is the file's
// "size of lengths" (superblock; 8 in practice); `read_rest` fetches bytes beyond `head`.
// kCorrupt with what is wrong ("object 2 (heap index 0) has size 0, ...") if libhdf5 would loop,
// read past the collection, or read past the file.
Status check_global_heap(const uint8_t* head, size_t head_size, uint64_t available,
                         unsigned length_size, const CollectionReader& read_rest);

}  // namespace grove::hdf5
