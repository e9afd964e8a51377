#!/usr/bin/python3
"""Writes the seed corpus of the fuzz targets (fuzz/README.md) into fuzz/corpus/<target>/seed-*.

Every seed is generated here, from synthetic pixel values, by independent writers (numpy,
tifffile, PIL, h5py, numcodecs, hand-built bytes) or by the grove binary (project files), so the
corpus carries no third-party data. Crash reproducers (fuzz/corpus/<target>/crash-*) are not
touched. Run with Debian's python3:

    /usr/bin/python3 fuzz/make_seeds.py [--grove build/bin/grove]
"""
import argparse
import bz2
import gzip
import io
import json
import lzma
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import h5py
import numpy as np
import tifffile
from numcodecs import Blosc, Zstd
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
SEPARATOR = b"\n--grove-part--\n"  # fuzz_support.h kPartSeparator


def target_dir(target):
    path = os.path.join(CORPUS, target)
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.startswith("seed-"):
            os.remove(os.path.join(path, name))
    return path


def save(directory, name, data):
    with open(os.path.join(directory, "seed-" + name), "wb") as out:
        out.write(data)


def ramp(shape, dtype):
    values = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return ((values * 37) % 251).astype(dtype)


def tiff_seeds():
    d = target_dir("tiff")

    def write(name, data, **options):
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, data, **options)
        save(d, name + ".tif", buffer.getvalue())

    write("u8-2d", ramp((8, 8), np.uint8))
    write("u16-stack-deflate", ramp((3, 8, 8), np.uint16), compression="zlib")
    buffer = io.BytesIO()
    Image.fromarray(ramp((8, 8), np.uint8), "L").save(buffer, format="TIFF",
                                                       compression="tiff_lzw")
    save(d, "u8-lzw.tif", buffer.getvalue())
    write("f32-deflate", ramp((8, 8), np.float32) / 7, compression="zlib")
    buffer = io.BytesIO()
    Image.fromarray(ramp((8, 8), np.uint8), "L").save(buffer, format="TIFF",
                                                       compression="packbits")
    save(d, "u8-packbits.tif", buffer.getvalue())
    write("rgb-contig", ramp((8, 8, 3), np.uint8), photometric="rgb")
    write("rgb-planar", ramp((3, 8, 8), np.uint8), photometric="rgb", planarconfig="separate")
    write("u8-tiled", ramp((32, 32), np.uint8), tile=(16, 16))
    write("u8-bigtiff", ramp((4, 4), np.uint8), bigtiff=True)
    write("imagej-tzcyx", ramp((2, 3, 2, 4, 4), np.uint8), imagej=True,
          metadata={"axes": "TZCYX", "spacing": 2.5, "unit": "um", "finterval": 1.5},
          resolution=(2.0, 2.0))
    write("shaped-u32", ramp((2, 4, 4), np.uint32), metadata={"axes": "ZYX"})
    write("ome", ramp((2, 4, 4), np.uint16), ome=True, photometric="minisblack",
          metadata={"axes": "ZYX"})
    write("u16-predictor", ramp((8, 8), np.uint16), compression="zlib", predictor=True)
    write("bool", ramp((8, 8), np.uint8) > 100)
    palette = np.zeros((3, 256), dtype=np.uint16)
    palette[0] = np.arange(256) * 256
    write("palette", ramp((8, 8), np.uint8), photometric="palette", colormap=palette)
    # A header claiming 10^9 x 10^9 pixels: patch ImageWidth and ImageLength of a tiny file.
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, ramp((2, 2), np.uint8))
    data = bytearray(buffer.getvalue())
    offset = struct.unpack_from("<I", data, 4)[0]
    count = struct.unpack_from("<H", data, offset)[0]
    for i in range(count):
        entry = offset + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):
            struct.pack_into("<HHII", data, entry, tag, 4, 1, 10**9)
    save(d, "absurd-size.tif", bytes(data))
    save(d, "truncated.tif", buffer.getvalue()[:20])


def png_seeds():
    d = target_dir("png")

    def write(name, image, **options):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", **options)
        save(d, name + ".png", buffer.getvalue())

    write("gray", Image.fromarray(ramp((8, 8), np.uint8), "L"))
    write("rgb", Image.fromarray(ramp((8, 8, 3), np.uint8), "RGB"), dpi=(300, 300))
    write("rgba", Image.fromarray(ramp((8, 8, 4), np.uint8), "RGBA"))
    write("gray-alpha", Image.fromarray(ramp((8, 8, 2), np.uint8), "LA"))
    write("u16", Image.fromarray(ramp((8, 8), np.uint16) * 200, "I;16"))
    write("bits1", Image.fromarray(ramp((8, 8), np.uint8) > 100).convert("1"))
    palette = Image.fromarray(ramp((8, 8), np.uint8) % 4, "L").convert("P")
    write("palette", palette, transparency=0)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 10**9, 10**9, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * 9 * 8)
    save(d, "absurd-size.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
         chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    small = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    save(d, "short-idat.png", b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", small) +
         chunk(b"IDAT", rows[:10]) + chunk(b"IEND", b""))


def jpeg_seeds():
    d = target_dir("jpeg")
    for name, image, options in [
        ("gray", Image.fromarray(ramp((8, 8), np.uint8), "L"), {}),
        ("rgb", Image.fromarray(ramp((16, 16, 3), np.uint8), "RGB"), {"quality": 90}),
        ("progressive", Image.fromarray(ramp((16, 16, 3), np.uint8), "RGB"),
         {"progressive": True}),
        ("cmyk", Image.fromarray(ramp((8, 8, 4), np.uint8), "CMYK"), {}),
    ]:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", **options)
        save(d, name + ".jpg", buffer.getvalue())
        if name == "rgb":
            save(d, "truncated.jpg", buffer.getvalue()[: len(buffer.getvalue()) // 2])


def npy_seeds():
    d = target_dir("npy")

    def write(name, array, version=None):
        buffer = io.BytesIO()
        if version is None:
            np.save(buffer, array)
        else:
            np.lib.format.write_array(buffer, array, version=version)
        save(d, name + ".npy", buffer.getvalue())

    write("u8-2d", ramp((8, 8), np.uint8))
    write("i16-big-endian", ramp((4, 4), np.dtype(">i2")))
    write("f32-fortran", np.asfortranarray(ramp((4, 6), np.float32)))
    write("u16-3d", ramp((2, 4, 4), np.uint16))
    write("f64-5d", ramp((1, 2, 3, 4, 2), np.float64))
    write("bool", ramp((4, 4), np.uint8) > 100)
    write("i64-1d", ramp((5,), np.int64))
    write("u8-v2", ramp((4, 4), np.uint8), version=(2, 0))
    write("u8-v3", ramp((4, 4), np.uint8), version=(3, 0))
    write("complex", np.zeros((2, 2), np.complex64))
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000, 1000000000), }"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    save(d, "absurd-size.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) +
         header.encode() + b"\0" * 16)


def h5_bytes(build, **options):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.h5")
        with h5py.File(path, "w", **options) as f:
            build(f)
        with open(path, "rb") as data:
            return data.read()


def axistags(axes):
    return json.dumps({"axes": [{"key": k, "typeFlags": 8 if k == "c" else 2,
                                 "resolution": 0.5 if k in "yx" else 0, "description": ""}
                                for k in axes]})


def hdf5_seeds():
    d = target_dir("hdf5")

    def image_2d(f):
        data = f.create_dataset("data", data=ramp((8, 8), np.uint8))
        data.attrs["axistags"] = axistags("yx")

    def chunked_3d(f):
        f.create_dataset("volume/raw", data=ramp((4, 8, 8), np.float32), chunks=(2, 4, 4),
                         compression="gzip", shuffle=True)
        f["volume/raw"].attrs["element_size_um"] = np.array([2.0, 0.5, 0.5])

    def five_d(f):
        data = f.create_dataset("exported_data", data=ramp((2, 1, 4, 4, 2), np.uint16),
                                chunks=(1, 1, 4, 4, 2))
        data.attrs["axistags"] = axistags("tzyxc")

    def attributes(f):
        f.attrs["fixed"] = np.bytes_("fixed string")
        f.attrs["variable"] = "variable string"
        f.attrs["numbers"] = np.arange(5, dtype=np.int32)
        f.attrs["scalar"] = 2.5
        f.attrs["strings"] = [b"a", b"bc"]
        f.create_dataset("names", data=np.array([b"x", b"yz"]))
        f.create_dataset("flag", data=np.array([True, False]))
        f.create_dataset("sparse", shape=(1000, 1000), dtype=np.uint8, chunks=(100, 100),
                         fillvalue=7)

    save(d, "image-2d.h5", h5_bytes(image_2d))
    save(d, "image-2d-latest.h5", h5_bytes(image_2d, libver="latest"))
    save(d, "chunked-3d.h5", h5_bytes(chunked_3d))
    save(d, "five-d.h5", h5_bytes(five_d, libver="latest"))
    save(d, "attributes.h5", h5_bytes(attributes, libver="latest"))


def zarr_seeds():
    d = target_dir("zarr")

    def v2(selector, name, zarray, chunk0=b"", chunk1=b"", zattrs=b"{}"):
        parts = [json.dumps(zarray).encode(), zattrs, chunk0, chunk1]
        save(d, name, bytes([selector]) + SEPARATOR.join(parts))

    def meta2(shape, chunks, dtype, compressor=None, order="C", separator=".", fill=0):
        meta = {"zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": dtype,
                "compressor": compressor, "fill_value": fill, "order": order, "filters": None}
        if separator != ".":
            meta["dimension_separator"] = separator
        return meta

    raw = ramp((4, 4), np.uint8).tobytes()
    rank2 = 1 << 2  # bits 2-4: rank - 1
    v2(rank2, "v2-raw", meta2([4, 8], [4, 4], "|u1"), raw, raw[::-1])
    v2(rank2, "v2-zlib", meta2([4, 4], [4, 4], "<u2", {"id": "zlib", "level": 1}),
       zlib.compress(ramp((4, 4), np.uint16).tobytes()))
    v2(rank2, "v2-gzip", meta2([4, 4], [4, 4], "<f4", {"id": "gzip", "level": 1}),
       gzip.compress(ramp((4, 4), np.float32).tobytes()))
    v2(rank2, "v2-blosc", meta2([4, 4], [4, 4], "<i4", {"id": "blosc", "cname": "lz4",
                                                       "clevel": 5, "shuffle": 1}),
       Blosc("lz4", 5, Blosc.SHUFFLE).encode(ramp((4, 4), np.int32).tobytes()))
    v2(rank2, "v2-zstd-fortran", meta2([4, 4], [4, 4], ">u2", {"id": "zstd", "level": 3},
                                       order="F"),
       Zstd(3).encode(ramp((4, 4), np.dtype(">u2")).tobytes()))
    v2(rank2, "v2-bz2", meta2([4, 4], [4, 4], "|u1", {"id": "bz2", "level": 9}), bz2.compress(raw))
    v2(rank2, "v2-lzma", meta2([4, 4], [4, 4], "|u1", {"id": "lzma"}), lzma.compress(raw))
    v2(rank2, "v2-slash", meta2([4, 4], [4, 4], "|u1", separator="/"), raw)
    v2(2 << 2, "v2-3d-nan", meta2([2, 4, 4], [2, 4, 4], "<f8", fill="NaN"),
       ramp((2, 4, 4), np.float64).tobytes())
    v2(rank2, "v2-bool", meta2([4, 4], [4, 4], "|b1"), bytes(ramp((4, 4), np.uint8) % 2))
    ome = {"multiscales": [{"version": "0.4", "axes": [
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [0.5, 0.25]}]}]}]}
    v2(rank2 | 2, "v2-ome", meta2([4, 4], [4, 4], "|u1"), raw, b"",
       json.dumps(ome).encode())
    v2(rank2, "v2-absurd", meta2([10**9, 10**9], [4, 4], "|u1"), raw)

    def v3(selector, name, meta, chunk0=b"", group=b"{}"):
        save(d, name, bytes([selector | 1]) + SEPARATOR.join(
            [json.dumps(meta).encode(), group, chunk0, b""]))

    def meta3(shape, chunks, dtype, codecs, encoding=None, names=None):
        meta = {"zarr_format": 3, "node_type": "array", "shape": shape, "data_type": dtype,
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
                "chunk_key_encoding": encoding or {"name": "default",
                                                   "configuration": {"separator": "/"}},
                "fill_value": 0, "codecs": codecs}
        if names:
            meta["dimension_names"] = names
        return meta

    little = [{"name": "bytes", "configuration": {"endian": "little"}}]
    v3(rank2, "v3-raw", meta3([4, 4], [4, 4], "uint16", little, names=["y", "x"]),
       ramp((4, 4), np.uint16).tobytes())
    v3(rank2, "v3-gzip", meta3([4, 4], [4, 4], "uint8", little + [
        {"name": "gzip", "configuration": {"level": 1}}]), gzip.compress(raw))
    v3(rank2, "v3-transpose-crc", meta3([4, 4], [4, 4], "float32", [
        {"name": "transpose", "configuration": {"order": [1, 0]}}] + little + [
        {"name": "crc32c"}]), ramp((4, 4), np.float32).T.tobytes() + b"\0\0\0\0")
    v3(rank2, "v3-v2-keys", meta3([4, 4], [4, 4], "int8", little,
                                  {"name": "v2", "configuration": {"separator": "."}}),
       raw)
    inner = ramp((2, 2), np.uint8).tobytes()
    shard = inner * 4
    index = b"".join(struct.pack("<QQ", i * 4, 4) for i in range(4))
    v3(rank2, "v3-sharded", meta3([4, 4], [4, 4], "uint8", [
        {"name": "sharding_indexed", "configuration": {
            "chunk_shape": [2, 2], "codecs": little,
            "index_codecs": little, "index_location": "end"}}]), shard + index)
    group = {"zarr_format": 3, "node_type": "group", "attributes": {"ome": {
        "version": "0.5", "multiscales": [{"axes": [
            {"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
            "datasets": [{"path": "0", "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 1.0]}]}]}]}}}
    v3(rank2 | 2, "v3-ome", meta3([4, 4], [4, 4], "uint8", little), raw,
       json.dumps(group).encode())


def n5_seeds():
    d = target_dir("n5")

    def block(shape_xfirst, data, mode=0):
        header = struct.pack(">HH", mode, len(shape_xfirst))
        header += b"".join(struct.pack(">I", n) for n in shape_xfirst)
        if mode == 1:
            header += struct.pack(">I", len(data))
        return header

    def seed(selector, name, attributes, block0=b"", root=b"{}"):
        save(d, name, bytes([selector]) + SEPARATOR.join(
            [json.dumps(attributes).encode(), root, block0, b""]))

    values = ramp((4, 4), np.dtype(">u2"))
    raw_block = block([4, 4], values) + values.tobytes()
    rank2 = 1  # bits 0-2: rank - 1
    seed(rank2, "raw-u16", {"dimensions": [4, 4], "blockSize": [4, 4], "dataType": "uint16",
                            "compression": {"type": "raw"}}, raw_block)
    seed(rank2, "gzip-u16", {"dimensions": [4, 4], "blockSize": [4, 4], "dataType": "uint16",
                             "compression": {"type": "gzip", "level": 1}},
         block([4, 4], values) + gzip.compress(values.tobytes()))
    seed(rank2, "zlib-u16", {"dimensions": [4, 4], "blockSize": [4, 4], "dataType": "uint16",
                             "compression": {"type": "gzip", "useZlib": True}},
         block([4, 4], values) + zlib.compress(values.tobytes()))
    floats = ramp((3, 4), np.dtype(">f4"))
    seed(rank2, "edge-f32", {"dimensions": [4, 3], "blockSize": [8, 8], "dataType": "float32",
                             "compression": {"type": "raw"}, "axes": ["x", "y"],
                             "resolution": [0.5, 0.5], "units": ["um", "um"]},
         block([4, 3], floats) + floats.tobytes())
    seed(rank2, "varlength", {"dimensions": [4, 4], "blockSize": [4, 4], "dataType": "uint16",
                              "compression": {"type": "raw"}},
         block([4, 4], values, mode=1)[:-4] + struct.pack(">I", 16) + values.tobytes())
    seed(rank2, "old-compression-type", {"dimensions": [4, 4], "blockSize": [4, 4],
                                         "dataType": "uint8", "compressionType": "bzip2"},
         block([4, 4], b"") + bz2.compress(ramp((4, 4), np.uint8).tobytes()))
    seed(rank2, "xz-i8", {"dimensions": [4, 4], "blockSize": [4, 4], "dataType": "int8",
                          "compression": {"type": "xz"}},
         block([4, 4], b"") + lzma.compress(ramp((4, 4), np.int8).tobytes()))
    seed(2 | 8, "in-group-3d", {"dimensions": [4, 4, 2], "blockSize": [4, 4, 2],
                                "dataType": "uint8", "compression": {"type": "raw"},
                                "axistags": axistags("zyx")},
         block([4, 4, 2], b"") + ramp((2, 4, 4), np.uint8).tobytes(),
         json.dumps({"n5": "2.5.0"}).encode())
    seed(rank2, "absurd", {"dimensions": [10**9, 10**9], "blockSize": [4, 4],
                           "dataType": "uint8", "compression": {"type": "raw"}},
         raw_block)


def codec_seeds():
    d = target_dir("codec")
    data = ramp((64,), np.uint16).tobytes()
    size = struct.pack("<I", len(data))[:3]
    for index, name, packed in [
        (0, "none", data), (1, "gzip", gzip.compress(data)), (2, "zlib", zlib.compress(data)),
        (3, "zstd", Zstd(3).encode(data)),
        (4, "blosc-lz4", Blosc("lz4", 5, Blosc.SHUFFLE).encode(np.frombuffer(data, np.uint16))),
        (4, "blosc-zstd-bit", Blosc("zstd", 5, Blosc.BITSHUFFLE).encode(data)),
        (5, "bzip2", bz2.compress(data)), (6, "xz", lzma.compress(data))]:
        save(d, name, bytes([index]) + size + packed)


def feature_selection_seeds():
    d = target_dir("feature_selection")
    for name, spec in [
        ("all", "all"),
        ("two-families", "GaussianSmoothing:0.3,1.0;HessianOfGaussianEigenvalues:3.5"),
        ("every-family", "GaussianSmoothing:0.7;LaplacianOfGaussian:1.6;"
                         "GaussianGradientMagnitude:5;DifferenceOfGaussians:10;"
                         "StructureTensorEigenvalues:1.0;HessianOfGaussianEigenvalues:0.7"),
        ("in-2d", "all;ComputeIn2d:3.5"),
        ("in-2d-all", "GaussianSmoothing:1.0,2.5;ComputeIn2d:all"),
        ("odd-scale", "LaplacianOfGaussian:499.9"),
        ("json", json.dumps({"scales": [1.0], "feature_ids": [
            "GaussianSmoothing", "LaplacianOfGaussian", "GaussianGradientMagnitude",
            "DifferenceOfGaussians", "StructureTensorEigenvalues",
            "HessianOfGaussianEigenvalues"], "selection_matrix": [[True]] * 6,
            "compute_in_2d": [False]})),
    ]:
        save(d, name, spec.encode())


def http_api_seeds():
    d = target_dir("http_api")
    selected = [[True] * 7] + [[False] + [True] * 6 for _ in range(5)]
    for name, line, body in [
        ("project", "GET /api/project", None),
        ("stroke", "POST /api/labels/stroke",
         {"image": 0, "plane": "xy", "label": 1, "radius": 3,
          "points": [[4, 4], [20, 30], [40.5, 10]]}),
        ("stroke-erase", "POST /api/labels/stroke",
         {"image": 0, "label": 0, "radius": 100, "points": [[-5, 1e9]]}),
        ("undo", "POST /api/labels/undo", None),
        ("redo", "POST /api/labels/redo", {}),
        ("clear", "POST /api/labels/clear", {"image": 0, "label": 2}),
        ("tile-raw", "GET /api/tile?image=0&layer=raw&plane=xy&level=0&u=0&v=0&w=64&h=64",
         None),
        ("tile-probabilities", "GET /api/tile?image=0&layer=probabilities&level=1&channel=1",
         None),
        ("tiles-cancel", "POST /api/tiles/cancel", {"ids": ["a", "b"]}),
        ("features", "PUT /api/features", {"selected": selected, "in_2d": [False] * 7}),
        ("features-get", "GET /api/features", None),
        ("train", "POST /api/train", None),
        ("importance", "GET /api/feature-importance", None),
        ("live-update", "POST /api/live-update", {"on": True}),
        ("class-add", "POST /api/classes", {"name": "third", "color": "#00ff00"}),
        ("class-patch", "PATCH /api/classes/1", {"name": "renamed", "color": "#123456"}),
        ("class-delete", "DELETE /api/classes/2", None),
        ("image-add", "POST /api/images", {"path": "image.npy"}),
        ("image-delete", "DELETE /api/images/0", None),
        ("range", "GET /api/images/0/range?channel=0", None),
        ("files", "GET /api/files?dir=.", None),
        ("export", "POST /api/export",
         {"images": [0], "source": "simple-segmentation", "format": "npy",
          "output": "{dataset_dir}/{nickname}_{result_type}", "overwrite": True}),
        ("save", "POST /api/save", {"path": "saved.grove"}),
        ("jobs", "GET /api/jobs", None),
        ("static", "GET /index.html", None),
    ]:
        text = line + "\n" + ("" if body is None else json.dumps(body))
        save(d, name, text.encode())


def run(command):
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def project_seeds(grove):
    d = target_dir("project")
    with tempfile.TemporaryDirectory() as tmp:
        image = os.path.join(tmp, "image.npy")
        labels = os.path.join(tmp, "labels.npy")
        np.save(image, ramp((12, 12), np.uint8))
        marks = np.zeros((12, 12), np.uint8)
        marks[1:3, 1:4] = 1
        marks[8:10, 7:11] = 2
        np.save(labels, marks)
        project = os.path.join(tmp, "p.grove")
        run([grove, "pixel", "train", "--image", image, "--labels", labels, "--trees", "2",
             "--features", "GaussianSmoothing:1.0", "-o", project])
        with open(project, "rb") as data:
            save(d, "trained.grove", data.read())
        with h5py.File(project, "a") as f:
            del f["pixel/classifier"]
        with open(project, "rb") as data:
            save(d, "untrained.grove", data.read())


def ilastik_seeds():
    d = target_dir("ilastik_import")
    string = h5py.string_dtype()

    def build(f, with_forest=True, internal=False):
        f.create_dataset("workflowName", data=np.bytes_("Pixel Classification"))
        f.create_dataset("ilastikVersion", data=np.bytes_("1.4.0"))
        raw = f.create_group("Input Data/infos/lane0000/Raw Data")
        if internal:
            f.create_dataset("Input Data/local_data/raw", data=ramp((6, 8), np.uint8))
            raw.create_dataset("filePath", data="Input Data/local_data/raw", dtype=string)
            raw.create_dataset("location", data="ProjectInternal", dtype=string)
        else:
            raw.create_dataset("filePath", data="missing/raw.h5/data", dtype=string)
            raw.create_dataset("location", data="FileSystem", dtype=string)
        raw.create_dataset("axistags", data=axistags("yx"), dtype=string)
        raw.create_dataset("nickname", data="raw", dtype=string)
        f.create_dataset("PixelClassification/LabelNames",
                         data=np.array([b"Label 1", b"Label 2"]))
        f.create_dataset("PixelClassification/LabelColors",
                         data=np.array([[255, 0, 0], [0, 255, 0]], np.int64))
        block = f.create_dataset("PixelClassification/LabelSets/labels000/block0000",
                                 data=np.array([[[1], [1]], [[2], [0]]], np.uint8))
        block.attrs["blockSlice"] = "[1:3,2:4,0:1]"
        ids = np.array([b"GaussianSmoothing", b"LaplacianOfGaussian",
                        b"GaussianGradientMagnitude", b"DifferenceOfGaussians",
                        b"StructureTensorEigenvalues", b"HessianOfGaussianEigenvalues"])
        f.create_dataset("FeatureSelections/FeatureIds", data=ids)
        f.create_dataset("FeatureSelections/Scales", data=np.array([0.3, 1.0]))
        matrix = np.zeros((6, 2), bool)
        matrix[0, 0] = True
        f.create_dataset("FeatureSelections/SelectionMatrix", data=matrix)
        f.create_dataset("FeatureSelections/ComputeIn2d", data=np.array([False, True]))
        if with_forest:
            forest = f.create_group("PixelClassification/ClassifierForests/Forest0000")
            forest.create_dataset("_ext_param/column_count_", data=np.array([1.0]))
            forest.create_dataset("_ext_param/class_count_", data=np.array([2.0]))
            forest.create_dataset("_ext_param/labels", data=np.array([1, 2], np.uint32))
            forest.create_dataset("_options/predict_weighted_", data=np.array([0.0]))
            forest.create_dataset("_options/tree_count_", data=np.array([1.0]))
            leaf = 0x40000000
            forest.create_dataset("Tree_0/topology", data=np.array(
                [1, 2, 0, 0, 7, 9, 0, leaf, 2, leaf, 5], np.int32))
            forest.create_dataset("Tree_0/parameters", data=np.array(
                [1.0, 0.5, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
        f.create_dataset("Prediction Export/OutputFilenameFormat",
                         data="{dataset_dir}/{nickname}_{result_type}", dtype=string)
        f.create_dataset("Prediction Export/OutputInternalPath", data="exported_data",
                         dtype=string)

    save(d, "project.ilp", h5_bytes(lambda f: build(f)))
    save(d, "internal-raw.ilp", h5_bytes(lambda f: build(f, internal=True), libver="latest"))
    save(d, "no-forest.ilp", h5_bytes(lambda f: build(f, with_forest=False), libver="latest"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grove", default=os.path.join(HERE, "..", "build", "bin", "grove"),
                        help="the grove binary (writes the project seeds)")
    arguments = parser.parse_args()
    tiff_seeds()
    png_seeds()
    jpeg_seeds()
    npy_seeds()
    hdf5_seeds()
    zarr_seeds()
    n5_seeds()
    codec_seeds()
    feature_selection_seeds()
    http_api_seeds()
    ilastik_seeds()
    if os.path.exists(arguments.grove):
        project_seeds(arguments.grove)
    else:
        print("make_seeds: no grove binary at %s: project seeds not written" % arguments.grove,
              file=sys.stderr)


if __name__ == "__main__":
    main()
