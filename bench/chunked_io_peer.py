#!/usr/bin/python3
"""Peer for bench/chunked_io_bench.cpp: python zarr 2.13 (numcodecs' blosc in one thread) reads
the store grove wrote and writes the same array to a new store of the same layout, and prints
the seconds each took as JSON.

  chunked_io_peer.py zarr|n5 GROVE_STORE INTERNAL PEER_STORE
"""
import json
import sys
import time

import numcodecs
import zarr

numcodecs.blosc.use_threads = False


def main():
    kind, grove_store, internal, peer_store = sys.argv[1:5]
    if kind == "n5":
        source = zarr.open(zarr.N5Store(grove_store), mode="r")
    else:
        source = zarr.open(grove_store, mode="r")
    source = source[internal] if internal else source
    start = time.perf_counter()
    data = source[...]
    read_seconds = time.perf_counter() - start

    store = zarr.N5Store(peer_store) if kind == "n5" else peer_store
    target = zarr.open(store, mode="w", shape=data.shape, chunks=source.chunks, dtype=data.dtype,
                       compressor=source.compressor, dimension_separator=None if kind == "n5" else "/")
    start = time.perf_counter()
    target[...] = data
    write_seconds = time.perf_counter() - start
    print(json.dumps({"read": read_seconds, "write": write_seconds}))


if __name__ == "__main__":
    main()
