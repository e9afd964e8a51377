#include "grove/io/hdf5_heap_guard.h"

#include <H5FDpublic.h>
#include <H5FDsec2.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>
#include <vector>

namespace grove::hdf5 {

namespace {

// The global heap collection format (HDF5 file format specification, "Global Heap"), as libhdf5
// 1.10's H5HGpkg.h lays it out: headers are padded to multiples of 8.
constexpr char kSignature[4] = {'G', 'C', 'O', 'L'};
constexpr uint8_t kVersion = 1;

constexpr uint64_t align8(uint64_t value) { return (value + 7) / 8 * 8; }

// "GCOL", version, 3 reserved bytes, then the collection size (length_size bytes).
uint64_t collection_header_size(unsigned length_size) { return align8(4 + 1 + 3 + length_size); }
// Heap index (2 bytes), reference count (2), reserved (4), then the object's size.
uint64_t object_header_size(unsigned length_size) { return align8(2 + 2 + 4 + length_size); }

// A little-endian length of length_size bytes. Lengths wider than 64 bits (length_size 16 or 32)
// that use their upper bytes cannot be a size in this file: they come back as UINT64_MAX, which
// every check below refuses.
uint64_t decode_length(const uint8_t* bytes, unsigned length_size) {
  uint64_t value = 0;
  for (unsigned i = 0; i < length_size; ++i) {
    if (i >= 8) {
      if (bytes[i] != 0) return UINT64_MAX;
      continue;
    }
    value |= uint64_t{bytes[i]} << (8 * i);
  }
  return value;
}

// The collection's bytes, for a walk that reads object headers in order: the part the caller
// read first, then windows of up to 64 KiB fetched as the walk goes past it (so a collection
// larger than the first read costs a few reads, never a copy of the whole collection).
class CollectionBytes {
 public:
  CollectionBytes(const uint8_t* head, size_t head_size, uint64_t collection_size,
                  const CollectionReader& read_rest)
      : head_(head), head_size_(head_size), size_(collection_size), read_rest_(read_rest) {}

  // `count` bytes at `offset` (offset + count <= the collection size), or nullptr if reading
  // them failed.
  const uint8_t* at(uint64_t offset, size_t count) {
    if (offset + count <= head_size_) return head_ + offset;
    if (offset >= window_start_ && offset + count <= window_start_ + window_.size()) {
      return window_.data() + (offset - window_start_);
    }
    const uint64_t length = std::min<uint64_t>(kWindow, size_ - offset);
    window_.resize(static_cast<size_t>(length));
    window_start_ = offset;
    if (!read_rest_(offset, window_.size(), window_.data())) {
      window_.clear();
      return nullptr;
    }
    return window_.data();
  }

 private:
  static constexpr uint64_t kWindow = 64 * 1024;
  const uint8_t* head_;
  size_t head_size_;
  uint64_t size_;
  const CollectionReader& read_rest_;
  uint64_t window_start_ = 0;
  std::vector<uint8_t> window_;
};

// ---------------------------------------------------------------------------------------------
// The driver: every call goes to an inner sec2 file through HDF5's public H5FD API (the way
// libhdf5's own splitter driver delegates), except reads: they go straight to the descriptor
// sec2 opened, with pread as sec2 reads (an H5FDread costs an API entry per read, a few percent
// of reading a file of small chunks), and are looked at as described in the header.

struct GuardFile {
  H5FD_t pub;  // filled in by libhdf5; must come first
  H5FD_t* inner = nullptr;
  int fd = -1;  // the inner file's descriptor (sec2's handle), for reads
  // The end of the address space libhdf5 set, kept here as well: libhdf5 asks for it before every
  // read, and an H5FDget_eoa each time cost 5% of reading a file of small chunks.
  haddr_t eoa = 0;
  // The file's "size of lengths", from the superblock as libhdf5 reads it (8 until then).
  unsigned length_size = 8;
  bool superblock_seen = false;
  // After a collection larger than its first read was checked whole, the read of its rest that
  // libhdf5's metadata cache makes next (H5C__load_entry) is let through unchecked: its bytes
  // are object data, which may start with "GCOL" by chance.
  haddr_t checked_rest_begin = HADDR_UNDEF;
  haddr_t checked_rest_end = HADDR_UNDEF;
};

GuardFile* guard_of(H5FD_t* file) { return reinterpret_cast<GuardFile*>(file); }
const GuardFile* guard_of(const H5FD_t* file) { return reinterpret_cast<const GuardFile*>(file); }

hid_t sec2_access() {
  static hid_t fapl = [] {
    hid_t list = H5Pcreate(H5P_FILE_ACCESS);
    if (list >= 0 && H5Pset_fapl_sec2(list) < 0) {
      H5Pclose(list);
      list = H5I_INVALID_HID;
    }
    return list;
  }();
  return fapl;
}

void push_error(const std::string& message) {
  H5Epush2(H5E_DEFAULT, __FILE__, "grove heap guard", __LINE__, H5E_ERR_CLS, H5E_VFL, H5E_READERROR,
           "%s", message.c_str());
}

H5FD_t* guard_open(const char* name, unsigned flags, hid_t, haddr_t) {
  if ((flags & (H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC)) != 0) {
    push_error("grove's guarding HDF5 driver opens files read-only");
    return nullptr;
  }
  const hid_t inner_access = sec2_access();
  if (inner_access < 0) return nullptr;
  H5FD_t* inner = H5FDopen(name, flags, inner_access, HADDR_UNDEF);
  if (inner == nullptr) return nullptr;
  void* handle = nullptr;
  auto* guard = new (std::nothrow) GuardFile();
  if (guard == nullptr || H5FDget_vfd_handle(inner, inner_access, &handle) < 0 ||
      handle == nullptr) {
    delete guard;
    H5FDclose(inner);
    return nullptr;
  }
  guard->inner = inner;  // pub is zeroed (value-initialized); libhdf5 fills it in
  guard->fd = *static_cast<int*>(handle);
  guard->eoa = H5FDget_eoa(inner, H5FD_MEM_DEFAULT);
  return &guard->pub;
}

herr_t guard_close(H5FD_t* file) {
  GuardFile* guard = guard_of(file);
  const herr_t status = H5FDclose(guard->inner);
  delete guard;
  return status;
}

int guard_cmp(const H5FD_t* a, const H5FD_t* b) {
  return H5FDcmp(guard_of(a)->inner, guard_of(b)->inner);
}

herr_t guard_query(const H5FD_t* file, unsigned long* flags) {
  if (flags == nullptr) return 0;
  // sec2's features (metadata accumulation, data sieving...): global heap reads bypass the
  // metadata accumulator (libhdf5 reads them as raw data), so every one reaches guard_read.
  // libhdf5 also asks with no file, before opening one.
  if (file == nullptr) return H5FDdriver_query(H5FD_SEC2, flags);
  return H5FDquery(guard_of(file)->inner, flags) < 0 ? -1 : 0;
}

haddr_t guard_get_eoa(const H5FD_t* file, H5FD_mem_t) { return guard_of(file)->eoa; }

herr_t guard_set_eoa(H5FD_t* file, H5FD_mem_t type, haddr_t address) {
  GuardFile* guard = guard_of(file);
  if (H5FDset_eoa(guard->inner, type, address) < 0) return -1;
  guard->eoa = address;
  return 0;
}

haddr_t guard_get_eof(const H5FD_t* file, H5FD_mem_t type) {
  return H5FDget_eof(guard_of(file)->inner, type);
}

herr_t guard_get_handle(H5FD_t* file, hid_t access, void** handle) {
  return H5FDget_vfd_handle(guard_of(file)->inner, access, handle);
}

herr_t guard_write(H5FD_t*, H5FD_mem_t, hid_t, haddr_t, size_t, const void*) {
  push_error("grove's guarding HDF5 driver does not write");
  return -1;
}

herr_t guard_flush(H5FD_t* file, hid_t, hbool_t closing) {
  return H5FDflush(guard_of(file)->inner, H5P_DEFAULT, closing);
}

herr_t guard_truncate(H5FD_t* file, hid_t, hbool_t closing) {
  return H5FDtruncate(guard_of(file)->inner, H5P_DEFAULT, closing);
}

herr_t guard_lock(H5FD_t* file, hbool_t read_write) {
  return H5FDlock(guard_of(file)->inner, read_write);
}

herr_t guard_unlock(H5FD_t* file) { return H5FDunlock(guard_of(file)->inner); }

// The superblock (signature, version; "size of lengths" at byte 14 in versions 0 and 1, at byte
// 10 in versions 2 and 3) is the first thing libhdf5 reads, at 0 or after a user block.
void note_superblock(GuardFile& guard, haddr_t address, const uint8_t* bytes, size_t size) {
  static constexpr uint8_t kHdf5Signature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (guard.superblock_seen || size < 16 || std::memcmp(bytes, kHdf5Signature, 8) != 0) return;
  if (address != 0 && (address < 512 || (address & (address - 1)) != 0)) return;
  const unsigned length_size = bytes[8] < 2 ? bytes[14] : bytes[10];
  // libhdf5 opens only files whose lengths take 2, 4, 8, 16 or 32 bytes.
  if (length_size == 2 || length_size == 4 || length_size == 8 || length_size == 16 ||
      length_size == 32) {
    guard.length_size = length_size;
  }
  guard.superblock_seen = true;
}

// Reads as sec2 does: retries interrupted and partial reads, and reads zeros past the end of the
// file (libhdf5 has checked the range against the end of its address space). A failed read
// pushes an HDF5 error naming it.
bool read_at(int fd, haddr_t address, size_t size, void* buffer) {
  auto* out = static_cast<uint8_t*>(buffer);
  while (size > 0) {
    const size_t count = std::min<size_t>(size, size_t{1} << 30);
    const ssize_t got = ::pread(fd, out, count, static_cast<off_t>(address));
    if (got < 0) {
      if (errno == EINTR) continue;
      push_error(fmt::format("reading {} bytes at byte {} of the file: {}", count, address,
                             std::strerror(errno)));
      return false;
    }
    if (got == 0) {
      std::memset(out, 0, size);
      break;
    }
    size -= static_cast<size_t>(got);
    address += static_cast<haddr_t>(got);
    out += got;
  }
  return true;
}

herr_t guard_read(H5FD_t* file, H5FD_mem_t type, hid_t, haddr_t address, size_t size,
                  void* buffer) {
  GuardFile& guard = *guard_of(file);
  if (!read_at(guard.fd, address, size, buffer)) return -1;
  const auto* bytes = static_cast<const uint8_t*>(buffer);
  note_superblock(guard, address, bytes, size);

  const bool rest_of_checked =
      address == guard.checked_rest_begin && address + size <= guard.checked_rest_end;
  guard.checked_rest_begin = guard.checked_rest_end = HADDR_UNDEF;
  if (size < 5 || std::memcmp(bytes, kSignature, 4) != 0 || bytes[4] != kVersion ||
      rest_of_checked) {
    return 0;
  }
  try {
    // What the file holds from the collection on: libhdf5 reads no further than the end of its
    // address space (EOA), and the operating system holds no more than the file's size (EOF).
    const haddr_t eoa = guard.eoa;
    const haddr_t eof = H5FDget_eof(guard.inner, type);
    const haddr_t end = std::min(eoa == HADDR_UNDEF ? eof : eoa, eof == HADDR_UNDEF ? eoa : eof);
    const uint64_t available = end == HADDR_UNDEF || end < address ? 0 : end - address;
    const CollectionReader read_rest = [&](uint64_t offset, size_t count, uint8_t* out) {
      return read_at(guard.fd, address + offset, count, out);
    };
    Status status = check_global_heap(bytes, size, available, guard.length_size, read_rest);
    if (!status.ok()) {
      push_error(fmt::format("corrupt global heap collection at byte {} of the file: {}", address,
                             status.error().message()));
      return -1;
    }
    const uint64_t collection_size =
        size >= 8 + guard.length_size ? decode_length(bytes + 8, guard.length_size) : 0;
    if (collection_size > size) {
      guard.checked_rest_begin = address + size;
      guard.checked_rest_end = address + collection_size;
    }
  } catch (...) {
    // Nothing may unwind through libhdf5's C frames (the walk allocates its window).
    return -1;
  }
  return 0;
}

hid_t register_driver() {
  static const H5FD_class_t guard_class = {
      .name = "grove_heap_guard",
      // sec2's limit: the largest off_t.
      .maxaddr = (haddr_t{1} << (8 * sizeof(off_t) - 1)) - 1,
      .fc_degree = H5F_CLOSE_WEAK,
      .terminate = nullptr,
      .sb_size = nullptr,
      .sb_encode = nullptr,
      .sb_decode = nullptr,
      .fapl_size = 0,
      .fapl_get = nullptr,
      .fapl_copy = nullptr,
      .fapl_free = nullptr,
      .dxpl_size = 0,
      .dxpl_copy = nullptr,
      .dxpl_free = nullptr,
      .open = guard_open,
      .close = guard_close,
      .cmp = guard_cmp,
      .query = guard_query,
      .get_type_map = nullptr,
      .alloc = nullptr,
      .free = nullptr,
      .get_eoa = guard_get_eoa,
      .set_eoa = guard_set_eoa,
      .get_eof = guard_get_eof,
      .get_handle = guard_get_handle,
      .read = guard_read,
      .write = guard_write,
      .flush = guard_flush,
      .truncate = guard_truncate,
      .lock = guard_lock,
      .unlock = guard_unlock,
      .fl_map = H5FD_FLMAP_DICHOTOMY,
  };
  return H5FDregister(&guard_class);
}

}  // namespace

Status check_global_heap(const uint8_t* head, size_t head_size, uint64_t available,
                         unsigned length_size, const CollectionReader& read_rest) {
  const uint64_t header = collection_header_size(length_size);
  const uint64_t object_header = object_header_size(length_size);
  if (head_size < 8 + length_size) {
    return make_error(ErrorCode::kCorrupt, "its header is cut short ({} of {} bytes)", head_size,
                      8 + length_size);
  }
  const uint64_t size = decode_length(head + 8, length_size);
  if (size < header) {
    return make_error(ErrorCode::kCorrupt, "it declares {} bytes, less than its {}-byte header",
                      size, header);
  }
  if (size > available) {
    return make_error(ErrorCode::kCorrupt,
                      "it declares {} bytes, but the file holds only {} bytes from there on", size,
                      available);
  }
  // libhdf5 (H5HG__cache_heap_deserialize) goes from object to object by the size each one
  // declares: by 16 bytes plus the data padded to 8 for a heap object, by exactly the declared
  // size for free space (heap index 0), whose size includes its own header. A tail too short for
  // an object header is free space.
  CollectionBytes bytes(head, head_size, size, read_rest);
  uint64_t offset = header;
  for (uint64_t number = 1; offset < size; ++number) {
    const uint64_t room = size - offset;  // from this object's header to the collection's end
    if (room < object_header) break;
    const uint8_t* object = bytes.at(offset, static_cast<size_t>(object_header));
    if (object == nullptr) {
      return make_error(ErrorCode::kIo, "reading its object at offset {} failed", offset);
    }
    const unsigned index = object[0] | (unsigned{object[1]} << 8);
    const uint64_t object_size = decode_length(object + 8, length_size);
    if (index == 0) {
      // Free space: libhdf5 steps by its size, so a size of 0 never moves on.
      if (object_size == 0) {
        return make_error(ErrorCode::kCorrupt,
                          "object {} (free space) at offset {} has size 0, on which libhdf5 "
                          "would loop forever",
                          number, offset);
      }
      if (object_size > room) {
        return make_error(ErrorCode::kCorrupt,
                          "object {} (free space) at offset {} declares {} bytes, past the "
                          "collection's end ({} bytes)",
                          number, offset, object_size, size);
      }
      offset += object_size;
    } else {
      // H5HG_read copies object_size bytes from after the object's header.
      if (object_size > room - object_header) {
        return make_error(ErrorCode::kCorrupt,
                          "object {} (heap index {}) at offset {} declares {} bytes, past the "
                          "collection's end ({} bytes)",
                          number, index, offset, object_size, size);
      }
      // The padding may reach past an unaligned collection's end; that ends the walk, as in
      // libhdf5.
      offset += object_header + align8(object_size);
    }
  }
  return ok_status();
}

hid_t guarded_read_access() {
  static hid_t access = [] {
    const hid_t driver = register_driver();
    if (driver < 0) {
      H5Eclear2(H5E_DEFAULT);
      return hid_t{H5P_DEFAULT};
    }
    hid_t list = H5Pcreate(H5P_FILE_ACCESS);
    if (list < 0) return hid_t{H5P_DEFAULT};
    if (H5Pset_driver(list, driver, nullptr) < 0) {
      H5Pclose(list);
      return hid_t{H5P_DEFAULT};
    }
    return list;
  }();
  return access;
}

}  // namespace grove::hdf5
