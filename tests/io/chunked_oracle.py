#!/usr/bin/python3
"""Interop oracle for grove's chunked stores (src/grove/io/chunked_interop_test.cpp).

  chunked_oracle.py write DIR    python writes Zarr v2 and N5 (python zarr 2.13, numcodecs) and
                                 Zarr v3 / OME-Zarr 0.5 by hand from the spec, plus for each
                                 array the expected values; grove must read them equal.
  chunked_oracle.py verify DIR   reads what grove wrote into DIR (manifest.json) with python
                                 zarr (v2, N5Store) or a spec-based v3 decoder written here,
                                 and compares with grove's expected values.

Expected values travel as raw files: little-endian, C order, in grove's t,z,y,x,c order
(bool as one byte). manifest.json lists {file, internal, format, raw, shape5, dtype, axes}
where axes are the stored axes, slowest first ("zyx", "tczyx", ...).

python zarr 2.13's own v3 support follows an old draft of the spec (meta/root/...), so v3
is written and read by hand here. Spec facts used (zarr-specs v3 core and sharding):
zarr.json holds shape, data_type, chunk_grid {regular, chunk_shape}, chunk_key_encoding
{default: "c/0/1", separator "/" | v2: "0.1"}, fill_value, codecs; chunks at the grid's edge are
stored whole; "bytes" serialises C order in the given endian; "transpose" order[i] names the
input axis that becomes axis i; crc32c appends the CRC-32C of the bytes, little-endian; a shard
holds inner chunks and an index of (offset, nbytes) uint64 pairs per inner chunk in C order,
2^64-1 twice for an empty one, encoded by index_codecs, at index_location (default end).
"""
import json
import os
import sys

import numpy as np
import numcodecs
import zarr

AXES = "tzyxc"


def to_grove_order(array, axes):
    """Moves a stored array (axes slowest first) into t,z,y,x,c with size-1 axes added."""
    present = [a for a in AXES if a in axes]
    out = np.transpose(array, [axes.index(a) for a in present])
    shape = [out.shape[present.index(a)] if a in present else 1 for a in AXES]
    return np.ascontiguousarray(out).reshape(shape)


def raw_dtype(dtype):
    return np.dtype("u1") if np.dtype(dtype) == np.bool_ else np.dtype(dtype).newbyteorder("<")


def pattern(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 200, size=shape)
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return (values % 2).astype(bool)
    if dtype.kind == "i":
        return (values - 100).astype(dtype)
    if dtype.kind == "f":
        return (values - 100).astype(dtype) + dtype.type(0.25)
    return values.astype(dtype)


class Manifest:
    def __init__(self, directory):
        self.directory = directory
        self.entries = []

    def add(self, name, file, internal, fmt, values, axes):
        raw = name + ".raw"
        grove = to_grove_order(np.asarray(values), axes)
        grove.astype(raw_dtype(grove.dtype)).tofile(os.path.join(self.directory, raw))
        self.entries.append(
            {
                "name": name,
                "file": file,
                "internal": internal,
                "format": fmt,
                "raw": raw,
                "shape5": list(grove.shape),
                "dtype": "bool" if grove.dtype == np.bool_ else np.dtype(grove.dtype).name,
                "axes": axes,
            }
        )

    def save(self):
        with open(os.path.join(self.directory, "manifest.json"), "w") as f:
            json.dump(self.entries, f, indent=1)


# ---- CRC-32C (no package in Debian's numcodecs 0.11 has it) ----

_CRC_TABLE = []
for _i in range(256):
    _v = _i
    for _ in range(8):
        _v = (_v >> 1) ^ 0x82F63B78 if _v & 1 else _v >> 1
    _CRC_TABLE.append(_v)


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---- Zarr v3 by hand ----

V3_COMPRESSORS = {
    "gzip": lambda c: numcodecs.GZip(level=c.get("level", 5)),
    "zstd": lambda c: numcodecs.Zstd(level=c.get("level", 3)),
    "blosc": lambda c: numcodecs.Blosc(
        cname=c.get("cname", "lz4"),
        clevel=c.get("clevel", 5),
        shuffle={"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[c.get("shuffle", "noshuffle")],
        blocksize=c.get("blocksize", 0),
    ),
}


def v3_chain_parts(codecs):
    """(transpose orders, endian, bytes-to-bytes codecs) of a codec list without sharding."""
    orders, endian, steps = [], "little", []
    for codec in codecs:
        name, config = codec["name"], codec.get("configuration", {})
        if name == "transpose":
            orders.append(config["order"])
        elif name == "bytes":
            endian = config.get("endian", "little")
        else:
            steps.append((name, config))
    return orders, endian, steps


def v3_encode(chunk, codecs):
    orders, endian, steps = v3_chain_parts(codecs)
    for order in orders:
        chunk = np.transpose(chunk, order)
    chunk = np.ascontiguousarray(chunk)
    if chunk.dtype != np.bool_:
        chunk = chunk.astype(chunk.dtype.newbyteorder("<" if endian == "little" else ">"))
    data = chunk.tobytes()
    for name, config in steps:
        if name == "crc32c":
            data = data + crc32c(data).to_bytes(4, "little")
        else:
            data = bytes(V3_COMPRESSORS[name](config).encode(data))
    return data


def v3_decode(data, codecs, shape, dtype):
    orders, endian, steps = v3_chain_parts(codecs)
    for name, config in reversed(steps):
        if name == "crc32c":
            body, stored = data[:-4], int.from_bytes(data[-4:], "little")
            assert crc32c(body) == stored, "crc32c mismatch"
            data = body
        else:
            data = bytes(V3_COMPRESSORS[name](config).decode(data))
    encoded_shape = list(shape)
    for order in orders:
        encoded_shape = [encoded_shape[i] for i in order]
    dt = np.dtype(dtype)
    if dt != np.bool_:
        dt = dt.newbyteorder("<" if endian == "little" else ">")
    chunk = np.frombuffer(data, dtype=dt).reshape(encoded_shape)
    for order in reversed(orders):
        chunk = np.transpose(chunk, np.argsort(order))
    return chunk.astype(np.dtype(dtype))


def v3_key(meta, index):
    encoding = meta.get("chunk_key_encoding", {"name": "default"})
    separator = encoding.get("configuration", {}).get("separator", "/" if encoding["name"] == "default" else ".")
    if encoding["name"] == "default":
        return separator.join(["c"] + [str(i) for i in index])
    return separator.join(str(i) for i in index) if index else "0"


def v3_fill(meta, dtype):
    value = meta["fill_value"]
    if value == "NaN":
        return np.nan
    return value


def write_v3(path, values, chunks, codecs, key_encoding=None, attributes=None, dimension_names=None, fill=0, skip=()):
    os.makedirs(path, exist_ok=True)
    dtype = values.dtype
    meta = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": list(values.shape),
        "data_type": "bool" if dtype == np.bool_ else dtype.name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
        "chunk_key_encoding": key_encoding or {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill,
        "codecs": codecs,
        "attributes": attributes or {},
    }
    if dimension_names:
        meta["dimension_names"] = dimension_names
    with open(os.path.join(path, "zarr.json"), "w") as f:
        json.dump(meta, f)
    sharding = codecs[0]["configuration"] if codecs[0]["name"] == "sharding_indexed" else None
    grid = [-(-s // c) for s, c in zip(values.shape, chunks)]
    expected = values.copy()
    for index in np.ndindex(*grid):
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, values.shape))
        if index in skip:
            expected[region] = fill if fill != "NaN" else np.nan
            continue
        full = np.full(chunks, 0 if fill == "NaN" else fill, dtype=dtype)
        full[tuple(slice(0, r.stop - r.start) for r in region)] = values[region]
        if sharding is None:
            data = v3_encode(full, codecs)
        else:
            inner = sharding["chunk_shape"]
            per = [c // i for c, i in zip(chunks, inner)]
            pieces, index_entries, offset = [], [], 0
            for local in np.ndindex(*per):
                part = full[tuple(slice(l * i, (l + 1) * i) for l, i in zip(local, inner))]
                encoded = v3_encode(part, sharding["codecs"])
                pieces.append(encoded)
                index_entries += [offset, len(encoded)]
                offset += len(encoded)
            shard_index = np.array(index_entries, dtype="<u8").tobytes()
            shard_index += crc32c(shard_index).to_bytes(4, "little")
            data = b"".join(pieces) + shard_index
        key_path = os.path.join(path, *v3_key(meta, list(index)).split("/"))
        os.makedirs(os.path.dirname(key_path), exist_ok=True)
        with open(key_path, "wb") as f:
            f.write(data)
    return expected


def read_v3(path):
    with open(os.path.join(path, "zarr.json")) as f:
        meta = json.load(f)
    assert meta["zarr_format"] == 3 and meta["node_type"] == "array", meta
    shape = meta["shape"]
    chunks = meta["chunk_grid"]["configuration"]["chunk_shape"]
    dtype = np.dtype(meta["data_type"])
    fill = v3_fill(meta, dtype)
    out = np.full(shape, fill, dtype=dtype)
    for index in np.ndindex(*[-(-s // c) for s, c in zip(shape, chunks)]):
        key_path = os.path.join(path, *v3_key(meta, list(index)).split("/"))
        if not os.path.exists(key_path):
            continue
        with open(key_path, "rb") as f:
            chunk = v3_decode(f.read(), meta["codecs"], chunks, dtype)
        region = tuple(slice(i * c, min((i + 1) * c, s)) for i, c, s in zip(index, chunks, shape))
        out[region] = chunk[tuple(slice(0, r.stop - r.start) for r in region)]
    return out, meta


# ---- python writes, grove reads ----


def write_all(directory):
    m = Manifest(directory)

    def v2(name, values, axes, chunks, **kwargs):
        path = os.path.join(directory, name + ".zarr")
        z = zarr.open(path, mode="w", shape=values.shape, chunks=chunks, dtype=values.dtype, **kwargs)
        z[...] = values
        m.add(name, name + ".zarr", "", "zarr", z[...], axes)

    v2("v2_blosc_dot", pattern((9, 20, 22), "u2", 1), "zyx", (4, 8, 8))
    v2("v2_zstd_slash", pattern((37, 53), "f4", 2), "yx", (16, 16), compressor=numcodecs.Zstd(level=5),
       dimension_separator="/")
    v2("v2_gzip_fortran", pattern((7, 11, 13), "i4", 3), "zyx", (3, 4, 5), compressor=numcodecs.GZip(level=4),
       order="F")
    v2("v2_zlib_bool", pattern((30, 31), "bool", 4), "yx", (8, 8), compressor=numcodecs.Zlib(level=1))
    v2("v2_blosc_zstd_bitshuffle", pattern((5, 10, 11, 3), "u1", 5), "zyxc", (2, 4, 4, 3),
       compressor=numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE))
    for cname in numcodecs.blosc.list_compressors():
        v2("v2_blosc_" + cname, pattern((20, 21), "i2", 6), "yx", (8, 8),
           compressor=numcodecs.Blosc(cname=cname, clevel=5, shuffle=numcodecs.Blosc.SHUFFLE))
    v2("v2_bigendian", pattern((12, 13), ">u2", 7), "yx", (5, 5))
    v2("v2_bz2_i8", pattern((12, 13), "i8", 8), "yx", (5, 6), compressor=numcodecs.BZ2(level=9))
    v2("v2_lzma_u8", pattern((12, 13), "u8", 9), "yx", (5, 6), compressor=numcodecs.LZMA())
    v2("v2_none_i1", pattern((12, 13), "i1", 10), "yx", (5, 6), compressor=None)
    v2("v2_u4_4d", pattern((2, 6, 7, 8), "u4", 11), "zyxc", (1, 3, 3, 3))  # 4-d guess: zyxc

    # Missing chunks read as the fill value, NaN here.
    path = os.path.join(directory, "v2_nan_fill.zarr")
    z = zarr.open(path, mode="w", shape=(20, 20), chunks=(8, 8), dtype="f8", fill_value=np.nan,
                  compressor=numcodecs.Zstd())
    z[0:8, 0:16] = pattern((8, 16), "f8", 12)
    z[16:20, 8:16] = pattern((4, 8), "f8", 13)
    m.add("v2_nan_fill", "v2_nan_fill.zarr", "", "zarr", z[...], "yx")

    # A hierarchy with xarray-style dimension names.
    path = os.path.join(directory, "v2_hierarchy.zarr")
    root = zarr.open_group(path, mode="w")
    a = root.create_dataset("images/raw", data=pattern((6, 40, 50), "u1", 14), chunks=(2, 16, 16))
    a.attrs["_ARRAY_DIMENSIONS"] = ["z", "y", "x"]
    b = root.create_dataset("labels", data=pattern((40, 50, 2), "u2", 15), chunks=(16, 16, 2))
    b.attrs["_ARRAY_DIMENSIONS"] = ["y", "x", "c"]
    m.add("v2_hierarchy_raw", "v2_hierarchy.zarr", "images/raw", "zarr", a[...], "zyx")
    m.add("v2_hierarchy_labels", "v2_hierarchy.zarr", "labels", "zarr", b[...], "yxc")

    # OME-Zarr 0.4, as ome-zarr-py lays it out: a pyramid of two levels, axes c,z,y,x.
    path = os.path.join(directory, "ome04.ome.zarr")
    root = zarr.open_group(path, mode="w")
    full = pattern((2, 5, 24, 26), "u2", 16)
    root.create_dataset("0", data=full, chunks=(1, 5, 16, 16), dimension_separator="/")
    root.create_dataset("1", data=full[:, :, ::2, ::2], chunks=(1, 5, 16, 16), dimension_separator="/")
    root.attrs["multiscales"] = [{
        "version": "0.4",
        "name": "ome04",
        "axes": [{"name": "c", "type": "channel"},
                 {"name": "z", "type": "space", "unit": "micrometer"},
                 {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 2.0, 0.5, 0.5]}]},
            {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 2.0, 1.0, 1.0]}]},
        ],
    }]
    m.add("ome04", "ome04.ome.zarr", "", "zarr", full, "czyx")
    m.entries[-1]["pixel_size"] = [1.0, 2.0, 0.5, 0.5]  # t, z, y, x
    m.add("ome04_level1", "ome04.ome.zarr", "1", "zarr", full[:, :, ::2, ::2], "czyx")
    m.entries[-1]["pixel_size"] = [1.0, 2.0, 1.0, 1.0]

    # N5 through zarr's N5Store (full-size edge blocks, big-endian, x first).
    def n5(name, internal, values, axes, chunks, compressor):
        path = os.path.join(directory, name + ".n5")
        store = zarr.N5Store(path)
        if internal:
            root = zarr.open_group(store, mode="a")
            z = root.create_dataset(internal, shape=values.shape, chunks=chunks, dtype=values.dtype,
                                    compressor=compressor)
        else:
            z = zarr.open_array(store, mode="w", shape=values.shape, chunks=chunks, dtype=values.dtype,
                                compressor=compressor)
        z[...] = values
        m.add(name, name + ".n5", internal, "n5", z[...], axes)

    n5("n5_blosc", "volume", pattern((9, 20, 22), "u2", 20), "zyx", (4, 8, 8), numcodecs.Blosc())
    n5("n5_gzip", "a/b", pattern((37, 53), "i2", 21), "yx", (16, 16), numcodecs.GZip(level=5))
    n5("n5_zlib", "data", pattern((37, 53), "f4", 22), "yx", (16, 16), numcodecs.Zlib(level=5))
    n5("n5_raw_root", "", pattern((5, 6, 7, 2), "f8", 23), "zyxc", (2, 3, 3, 2), None)
    n5("n5_bz2", "data", pattern((12, 13), "u4", 24), "yx", (5, 6), numcodecs.BZ2(level=9))
    n5("n5_xz", "data", pattern((12, 13), "i8", 25), "yx", (5, 6), numcodecs.LZMA())
    n5("n5_zstd", "data", pattern((12, 13), "u1", 26), "yx", (5, 6), numcodecs.Zstd(level=3))

    # Zarr v3 written by hand from the spec.
    def v3(name, values, axes, chunks, codecs, **kwargs):
        path = os.path.join(directory, name + ".zarr")
        expected = write_v3(path, values, chunks, codecs, **kwargs)
        m.add(name, name + ".zarr", "", "zarr", expected, axes)

    little = {"name": "bytes", "configuration": {"endian": "little"}}
    v3("v3_blosc", pattern((9, 20, 22), "u2", 30), "zyx", (4, 8, 8),
       [little, {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 5, "shuffle": "shuffle",
                                                     "typesize": 2, "blocksize": 0}}])
    v3("v3_transpose_zstd_crc_v2keys", pattern((7, 11, 13), "f4", 31), "zyx", (3, 4, 5),
       [{"name": "transpose", "configuration": {"order": [2, 0, 1]}},
        {"name": "bytes", "configuration": {"endian": "big"}},
        {"name": "zstd", "configuration": {"level": 3, "checksum": False}},
        {"name": "crc32c"}],
       key_encoding={"name": "v2", "configuration": {"separator": "."}})
    v3("v3_gzip_nan", pattern((20, 20), "f8", 32), "yx", (8, 8),
       [little, {"name": "gzip", "configuration": {"level": 5}}], fill="NaN", skip={(1, 1), (2, 0)})
    v3("v3_named_bool", pattern((3, 10, 11), "bool", 33), "cyx", (3, 4, 4), [little],
       dimension_names=["c", "y", "x"])
    v3("v3_sharded", pattern((20, 22), "i4", 34), "yx", (8, 12),
       [{"name": "sharding_indexed", "configuration": {
           "chunk_shape": [4, 4],
           "codecs": [little, {"name": "gzip", "configuration": {"level": 1}}],
           "index_codecs": [little, {"name": "crc32c"}],
           "index_location": "end"}}])

    # OME-Zarr 0.5: a v3 group whose attributes.ome holds the multiscales.
    path = os.path.join(directory, "ome05.ome.zarr")
    os.makedirs(path, exist_ok=True)
    values = pattern((3, 2, 16, 18), "u1", 35)
    with open(os.path.join(path, "zarr.json"), "w") as f:
        json.dump({"zarr_format": 3, "node_type": "group", "attributes": {"ome": {"version": "0.5", "multiscales": [{
            "axes": [{"name": "t", "type": "time", "unit": "second"}, {"name": "c", "type": "channel"},
                     {"name": "y", "type": "space", "unit": "micrometer"},
                     {"name": "x", "type": "space", "unit": "micrometer"}],
            "datasets": [{"path": "s0", "coordinateTransformations": [
                {"type": "scale", "scale": [3.0, 1.0, 0.25, 0.125]}]}]}]}}}, f)
    expected = write_v3(os.path.join(path, "s0"), values, (1, 2, 8, 8), [little, {"name": "zstd", "configuration": {}}],
                        dimension_names=["t", "c", "y", "x"])
    m.add("ome05", "ome05.ome.zarr", "", "zarr", expected, "tcyx")
    m.entries[-1]["pixel_size"] = [3.0, 1.0, 0.25, 0.125]
    m.save()


# ---- grove writes, python reads ----


def open_grove_array(directory, entry):
    path = os.path.join(directory, entry["file"])
    internal = entry["internal"]
    if entry["format"] == "zarr2":
        group = zarr.open(path, mode="r")
        return group[internal] if internal else group
    if entry["format"] == "n5":
        store = zarr.N5Store(path)
        node = zarr.open(store, mode="r")
        return node[internal] if internal else node
    values, _ = read_v3(os.path.join(path, internal))
    return values


def check_ome(directory, entry, problems):
    """The OME-Zarr metadata grove wrote for the image group holding entry's array."""
    group_path = os.path.join(directory, entry["file"], os.path.dirname(entry["internal"]))
    if entry["format"] == "zarr2":
        with open(os.path.join(group_path, ".zattrs")) as f:
            multiscales = json.load(f)["multiscales"]
        if multiscales[0].get("version") != "0.4":
            problems.append(f"{entry['name']}: multiscales version {multiscales[0].get('version')}")
        with open(os.path.join(group_path, ".zgroup")) as f:
            if json.load(f) != {"zarr_format": 2}:
                problems.append(f"{entry['name']}: .zgroup")
    else:
        with open(os.path.join(group_path, "zarr.json")) as f:
            group = json.load(f)
        if group.get("node_type") != "group" or group["attributes"]["ome"]["version"] != "0.5":
            problems.append(f"{entry['name']}: not an OME-Zarr 0.5 group")
        multiscales = group["attributes"]["ome"]["multiscales"]
    multiscale = multiscales[0]
    names = "".join(axis["name"] for axis in multiscale["axes"])
    if names != entry["axes"]:
        problems.append(f"{entry['name']}: OME axes {names}, expected {entry['axes']}")
    kinds = {"t": "time", "c": "channel"}
    for axis in multiscale["axes"]:
        if axis["type"] != kinds.get(axis["name"], "space"):
            problems.append(f"{entry['name']}: axis {axis}")
    dataset = multiscale["datasets"][0]
    if dataset["path"] != os.path.basename(entry["internal"]):
        problems.append(f"{entry['name']}: datasets[0].path {dataset['path']}")
    scale = dataset["coordinateTransformations"][0]["scale"]
    expected = [1.0 if a == "c" else entry["pixel_size"]["tzyx".index(a)] for a in entry["axes"]]
    if scale != expected:
        problems.append(f"{entry['name']}: scale {scale}, expected {expected}")


def verify_all(directory):
    with open(os.path.join(directory, "manifest.json")) as f:
        entries = json.load(f)
    problems = []
    for entry in entries:
        try:
            stored = np.asarray(open_grove_array(directory, entry)[...])
        except Exception as error:  # report every entry, not just the first failure
            problems.append(f"{entry['name']}: python cannot read it: {error!r}")
            continue
        grove_dtype = np.dtype(entry["dtype"])
        expected = np.fromfile(os.path.join(directory, entry["raw"]), dtype=raw_dtype(grove_dtype))
        expected = expected.reshape(entry["shape5"])
        got = to_grove_order(stored, entry["axes"])
        if got.shape != expected.shape:
            problems.append(f"{entry['name']}: shape {got.shape}, expected {expected.shape}")
            continue
        if got.dtype != grove_dtype:
            problems.append(f"{entry['name']}: dtype {got.dtype}, expected {grove_dtype}")
        if not np.array_equal(got.astype(raw_dtype(grove_dtype)), expected, equal_nan=got.dtype.kind == "f"):
            problems.append(f"{entry['name']}: values differ ({np.sum(got != expected)} elements)")
        if entry.get("ome"):
            try:
                check_ome(directory, entry, problems)
            except Exception as error:
                problems.append(f"{entry['name']}: OME metadata unreadable: {error!r}")
        print(f"checked {entry['name']}")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "verify"):
        print(__doc__)
        return 2
    if sys.argv[1] == "write":
        write_all(sys.argv[2])
        return 0
    return verify_all(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
