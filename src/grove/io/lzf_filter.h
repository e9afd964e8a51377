// LZF compression (the format of Marc Lehmann's liblzf) as HDF5 filter 32000, the filter h5py
// writes for compression='lzf'. grove registers its own implementation because Debian 12's
// hdf5-plugin-lzf cannot be loaded (its plugin lacks the lzf symbols), which would leave such
// files unreadable. Registered by the HDF5 wrapper (hdf5_file.cpp) before the first HDF5 call.
#pragma once

#include <cstddef>
#include <cstdint>

namespace grove::io {

// Compresses input into output (capacity bytes); returns the compressed size, or 0 if the data
// does not fit (incompressible data grows).
size_t lzf_compress(const uint8_t* input, size_t size, uint8_t* output, size_t capacity);
// Decompresses into output (capacity bytes); returns the decompressed size, or 0 on corrupt input
// or when output is too small.
size_t lzf_decompress(const uint8_t* input, size_t size, uint8_t* output, size_t capacity);

// Registers filter 32000 with HDF5 (once; the caller holds the HDF5 library lock).
void register_lzf_filter();

}  // namespace grove::io
