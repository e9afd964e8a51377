"""Bad input at the command line, across every command (DESIGN.md §7, issue 12).

For info, features, pixel train, run, import-ilastik, --headless and serve: inputs that are
missing, empty, truncated, of the wrong type or of an absurd size (headers claiming 10^9 x 10^9
pixels), with wrong axes or dtype, and outputs in a read-only or a full location. Each must exit
with status 2, print one line naming the fault, and leave no output (not even a temporary file)
behind. The per-format details of each reader are tested beside the readers; this suite checks
that every command keeps the contract for every kind of fault.

Read-only and full locations are small tmpfs mounts (read-only, or filled up); they need root.
Without it the read-only location falls back to a folder without write permission, and the full
one is skipped with the reason printed.
"""
import contextlib
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

import h5py
import numpy as np
import pytest
import tifffile
from PIL import Image

from conftest import GROVE, run_grove

FEATURES = "GaussianSmoothing:1.0;LaplacianOfGaussian:1.0"


def listing(folder):
    """Everything below folder, hidden files included."""
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, dirs, files in os.walk(folder) for name in dirs + files)


def expect_fault(proc, *words):
    """Exit status 2 and exactly one line on stderr, naming each of words."""
    assert proc.returncode == 2, (
        f"exit status {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{proc.stderr}"
    assert lines[0].startswith("grove: error: "), lines[0]
    for word in words:
        assert str(word) in lines[0], f"{word!r} is not named in: {lines[0]}"


@contextlib.contextmanager
def untouched(folder):
    """Checks that nothing appears in (or vanishes from) folder."""
    before = listing(folder)
    yield
    assert listing(folder) == before, f"{folder} changed: {before} -> {listing(folder)}"


# ------------------------------------------------------------------------------------------------
# Inputs


def ramp(shape, dtype=np.uint8):
    return (np.arange(int(np.prod(shape))).reshape(shape) * 37 % 251).astype(dtype)


def absurd_tiff():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, ramp((2, 2)))
    data = bytearray(buffer.getvalue())
    offset = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, offset)[0]):
        entry = offset + 2 + 12 * i
        tag = struct.unpack_from("<H", data, entry)[0]
        if tag in (256, 257):  # ImageWidth, ImageLength
            struct.pack_into("<HHII", data, entry, tag, 4, 1, 10**9)
    return bytes(data)


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def absurd_png():
    return (b"\x89PNG\r\n\x1a\n" +
            png_chunk(b"IHDR", struct.pack(">IIBBBBB", 10**9, 10**9, 8, 0, 0, 0, 0)) +
            png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))


def absurd_npy():
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000, 1000000000), }"
    header += " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * 64


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Good files (an image, its labels, a trained project, an .ilp), and bad ones."""
    root = tmp_path_factory.mktemp("bad_input")
    good, bad = root / "good", root / "bad"
    good.mkdir()
    bad.mkdir()
    image = ramp((32, 32))
    np.save(good / "image.npy", image)
    labels = np.zeros((32, 32), np.uint8)
    labels[2:6, 2:8] = 1
    labels[20:26, 18:30] = 2
    np.save(good / "labels.npy", labels)
    run_grove("pixel", "train", "--image", good / "image.npy", "--labels", good / "labels.npy",
              "--trees", "2", "--features", FEATURES, "-o", good / "project.grove", check=True)
    make_ilp(good / "project.ilp", "image.npy")

    # Truncated and wrong-type files, one per format.
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image)
    (good / "image.tif").write_bytes(buffer.getvalue())
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    (good / "image.png").write_bytes(buffer.getvalue())
    with h5py.File(good / "image.h5", "w") as f:
        f.create_dataset("data", data=image)
    for name in ["image.tif", "image.png", "image.npy", "image.h5", "project.grove",
                 "project.ilp"]:
        content = (good / name).read_bytes()
        suffix = name.split(".")[1]
        (bad / f"empty.{suffix}").write_bytes(b"")
        (bad / f"truncated.{suffix}").write_bytes(content[:len(content) // 2])
        (bad / f"text.{suffix}").write_text("just some text\n")
    (bad / "folder.tif").mkdir()

    # Absurd sizes: headers claiming 10^9 x 10^9 pixels. The TIFF, PNG and npy claims are
    # impossible for their file sizes; the HDF5, Zarr and N5 ones are valid sparse arrays (chunks
    # never written read as the fill value), which no command can process in a lifetime.
    (bad / "absurd.tif").write_bytes(absurd_tiff())
    (bad / "absurd.png").write_bytes(absurd_png())
    (bad / "absurd.npy").write_bytes(absurd_npy())
    with h5py.File(bad / "absurd.h5", "w") as f:
        f.create_dataset("data", shape=(10**9, 10**9), dtype=np.uint8, chunks=(64, 64))
    (bad / "absurd.zarr").mkdir()
    (bad / "absurd.zarr" / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [10**9, 10**9], "chunks": [64, 64], "dtype": "|u1",
        "compressor": None, "fill_value": 0, "order": "C", "filters": None}))
    (bad / "absurd.n5").mkdir()
    (bad / "absurd.n5" / "attributes.json").write_text(json.dumps({
        "n5": "2.5.0", "dimensions": [10**9, 10**9], "blockSize": [64, 64],
        "dataType": "uint8", "compression": {"type": "raw"}}))

    # Wrong dtypes and shapes.
    np.save(bad / "complex.npy", np.zeros((32, 32), np.complex64))
    with h5py.File(bad / "strings.h5", "w") as f:
        f.create_dataset("data", data=np.array([b"not", b"pixels"]))
    np.save(bad / "float_labels.npy", labels.astype(np.float32))
    np.save(bad / "rgb_labels.npy", np.stack([labels] * 3, axis=-1))
    np.save(bad / "small_labels.npy", labels[:16, :16])
    np.save(bad / "image_3d.npy", ramp((4, 32, 32)))

    # Projects that are not what they claim to be.
    shutil.copy(good / "image.h5", bad / "image_as_project.grove")
    make_ilp(bad / "missing_raw.ilp", "no/such/raw.npy")
    make_ilp(bad / "absurd_labels.ilp", "image.npy", absurd_block=True)
    shutil.copy(good / "image.npy", bad / "image.npy")
    return {"good": good, "bad": bad}


def make_ilp(path, raw, absurd_block=False):
    """A small ilastik pixel-classification project (ilastik's layout, DESIGN.md §5)."""
    string = h5py.string_dtype()
    axistags = json.dumps({"axes": [{"key": k, "typeFlags": 2, "resolution": 0,
                                     "description": ""} for k in "yx"]})
    with h5py.File(path, "w") as f:
        f.create_dataset("workflowName", data=np.bytes_("Pixel Classification"))
        info = f.create_group("Input Data/infos/lane0000/Raw Data")
        info.create_dataset("filePath", data=raw, dtype=string)
        info.create_dataset("location", data="FileSystem", dtype=string)
        info.create_dataset("axistags", data=axistags, dtype=string)
        f.create_dataset("PixelClassification/LabelNames", data=np.array([b"a", b"b"]))
        if absurd_block:
            block = f.create_dataset("PixelClassification/LabelSets/labels000/block0000",
                                     shape=(10**9, 10**9, 1), dtype=np.uint8, chunks=(64, 64, 1))
            block.attrs["blockSlice"] = "[0:1000000000,0:1000000000,0:1]"
        else:
            block = f.create_dataset("PixelClassification/LabelSets/labels000/block0000",
                                     data=np.array([[[1], [2]]], np.uint8))
            block.attrs["blockSlice"] = "[0:1,0:2,0:1]"
        ids = [b"GaussianSmoothing", b"LaplacianOfGaussian", b"GaussianGradientMagnitude",
               b"DifferenceOfGaussians", b"StructureTensorEigenvalues",
               b"HessianOfGaussianEigenvalues"]
        f.create_dataset("FeatureSelections/FeatureIds", data=np.array(ids))
        f.create_dataset("FeatureSelections/Scales", data=np.array([1.0]))
        matrix = np.zeros((6, 1), bool)
        matrix[0, 0] = True
        f.create_dataset("FeatureSelections/SelectionMatrix", data=matrix)


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# ------------------------------------------------------------------------------------------------
# Output locations


def _is_root():
    return os.geteuid() == 0


def _mount_tmpfs(folder, options):
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    return proc.returncode == 0, proc.stderr.strip()


def _unmount(folder):
    # Lazily if a process still has it open, so that no test mount outlives the run.
    if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.fixture(scope="module")
def readonly_folder(tmp_path_factory):
    """A folder nobody may write to: a read-only tmpfs (as root), else a folder without write
    permission (as another user)."""
    folder = tmp_path_factory.mktemp("readonly") / "mount"
    if _is_root():
        mounted, why = _mount_tmpfs(folder, "ro,size=64k")
        if not mounted:
            pytest.skip(f"cannot mount a read-only tmpfs to test read-only outputs: {why}")
        yield folder
        _unmount(folder)
    else:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


@pytest.fixture(scope="module")
def full_folder(tmp_path_factory):
    """A folder on a file system with no space left: a small tmpfs, filled up."""
    folder = tmp_path_factory.mktemp("full") / "mount"
    if not _is_root():
        pytest.skip("a full file system needs a small tmpfs mount, which needs root")
    mounted, why = _mount_tmpfs(folder, "size=256k")
    if not mounted:
        pytest.skip(f"cannot mount a small tmpfs to test full disks: {why}")
    filler = os.open(folder / ".filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(filler, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(filler)
    yield folder
    _unmount(folder)


def written_listing(folder):
    return [name for name in listing(folder) if name != ".filler"]


# ------------------------------------------------------------------------------------------------
# Bad inputs, for every command that reads images

BAD_IMAGES = [
    ("missing.tif", "no such file"),
    ("empty.tif", "empty"), ("empty.png", "empty"), ("empty.npy", "empty"), ("empty.h5", None),
    ("truncated.tif", None), ("truncated.png", None), ("truncated.npy", "truncated"),
    ("truncated.h5", None),
    ("text.tif", None), ("text.png", None), ("text.npy", None), ("text.h5", None),
    ("folder.tif", "directory"),
    ("absurd.tif", None), ("absurd.png", None), ("absurd.npy", None),
    ("absurd.h5", None), ("absurd.zarr", None), ("absurd.n5", None),
    ("complex.npy", None), ("strings.h5", None),
]


@pytest.mark.parametrize("name,word", BAD_IMAGES)
def test_features(data, out, name, word):
    path = data["bad"] / name
    with untouched(out):
        proc = run_grove("features", path, "-o", out / "features.h5", "--features", FEATURES)
    expect_fault(proc, name, *([word] if word else []))


@pytest.mark.parametrize("name,word", BAD_IMAGES)
def test_pixel_train_image(data, out, name, word):
    with untouched(out):
        proc = run_grove("pixel", "train", "--image", data["bad"] / name, "--labels",
                         data["good"] / "labels.npy", "--features", FEATURES, "--trees", "2",
                         "-o", out / "p.grove")
    expect_fault(proc, name, *([word] if word else []))


@pytest.mark.parametrize("name,word", BAD_IMAGES + [
    ("float_labels.npy", "integers"), ("rgb_labels.npy", "channels"),
    ("small_labels.npy", "shape"), ("image_3d.npy", "shape")])
def test_pixel_train_labels(data, out, name, word):
    with untouched(out):
        proc = run_grove("pixel", "train", "--image", data["good"] / "image.npy", "--labels",
                         data["bad"] / name, "--features", FEATURES, "--trees", "2",
                         "-o", out / "p.grove")
    expect_fault(proc, name, *([word] if word else []))


def test_pixel_train_absurd_image_with_absurd_labels(data, out):
    for name in ["absurd.h5", "absurd.zarr", "absurd.n5"]:
        with untouched(out):
            proc = run_grove("pixel", "train", "--image", data["bad"] / name, "--labels",
                             data["bad"] / name, "--features", FEATURES, "--trees", "2",
                             "-o", out / "p.grove")
        expect_fault(proc, name)


@pytest.mark.parametrize("name,word", BAD_IMAGES)
def test_run_input(data, out, name, word):
    with untouched(out):
        proc = run_grove("run", data["good"] / "project.grove", data["bad"] / name,
                         "--output", str(out / "{nickname}_{result_type}"))
    expect_fault(proc, name, *([word] if word else []))


@pytest.mark.parametrize("name,word", BAD_IMAGES)
def test_headless_input(data, out, name, word):
    with untouched(out):
        proc = run_grove("--headless", f"--project={data['good'] / 'project.grove'}",
                         f"--output_filename_format={out}/{{nickname}}_{{result_type}}.h5",
                         data["bad"] / name)
    expect_fault(proc, name, *([word] if word else []))


# ------------------------------------------------------------------------------------------------
# Bad projects

BAD_PROJECTS = [
    ("missing.grove", "does not exist"), ("empty.grove", None), ("truncated.grove", None),
    ("text.grove", None), ("image_as_project.grove", None),
    ("empty.ilp", None), ("truncated.ilp", None), ("text.ilp", None),
    ("missing_raw.ilp", "raw"), ("absurd_labels.ilp", None),
]


@pytest.mark.parametrize("name,word", BAD_PROJECTS)
def test_run_project(data, out, name, word):
    with untouched(out):
        proc = run_grove("run", data["bad"] / name, data["good"] / "image.npy",
                         "--output", str(out / "{nickname}_{result_type}"))
    expect_fault(proc, name, *([word] if word else []))


@pytest.mark.parametrize("name,word", BAD_PROJECTS)
def test_headless_project(data, out, name, word):
    with untouched(out):
        proc = run_grove("--headless", f"--project={data['bad'] / name}",
                         f"--output_filename_format={out}/{{nickname}}_{{result_type}}.h5",
                         data["good"] / "image.npy")
    expect_fault(proc, name, *([word] if word else []))


@pytest.mark.parametrize("name,word", [p for p in BAD_PROJECTS if p[0].endswith(".ilp")] + [
    ("missing.ilp", "missing.ilp"), ("image.npy", None)])
def test_import_ilastik(data, out, name, word):
    with untouched(out):
        proc = run_grove("import-ilastik", data["bad"] / name, "-o", out / "p.grove")
    expect_fault(proc, name, *([word] if word else []))


@pytest.mark.parametrize("name", ["empty.grove", "truncated.grove", "text.grove",
                                  "image_as_project.grove", "truncated.ilp", "absurd_labels.ilp"])
def test_serve_refuses_a_bad_project(data, name):
    # A server that started anyway would serve until killed: give it a minute.
    proc = subprocess.run([GROVE, "serve", str(data["bad"] / name), "--no-browser", "--port", "0",
                           "--root", str(data["bad"])], capture_output=True, text=True, timeout=60)
    expect_fault(proc, name)


# ------------------------------------------------------------------------------------------------
# Wrong axes and dtypes given on the command line


def test_wrong_input_axes(data, out):
    image = data["good"] / "image.npy"
    with untouched(out):
        proc = run_grove("run", data["good"] / "project.grove", image, "--input-axes", "zyxc",
                         "--output", str(out / "{nickname}_{result_type}"))
    expect_fault(proc, "zyxc")
    with untouched(out):
        proc = run_grove("--headless", f"--project={data['good'] / 'project.grove'}",
                         "--input_axes=tzyx",
                         f"--output_filename_format={out}/{{nickname}}_{{result_type}}.h5",
                         image)
    expect_fault(proc, "tzyx")


def test_wrong_output_axes_and_dtype(data, out):
    image = data["good"] / "image.npy"
    for flags, word in [(["--output-axes", "qyx"], "qyx"), (["--dtype", "float128"], "float128"),
                        (["--format", "bmp"], "bmp"), (["--export", "colours"], "colours")]:
        with untouched(out):
            proc = run_grove("run", data["good"] / "project.grove", image, *flags,
                             "--output", str(out / "{nickname}_{result_type}"))
        expect_fault(proc, word)


def test_image_with_other_channels_than_trained(data, out):
    rgb = out.parent / "rgb.npy"
    np.save(rgb, ramp((32, 32, 3)))
    with untouched(out):
        proc = run_grove("run", data["good"] / "project.grove", rgb,
                         "--output", str(out / "{nickname}_{result_type}"))
    expect_fault(proc, "channel")


# ------------------------------------------------------------------------------------------------
# Output locations: read-only and full

RUN_FORMATS = ["hdf5", "tiff", "npy", "png", "zarr", "n5"]


def location_commands(data, folder, fmt="hdf5"):
    good = data["good"]
    extension = {"hdf5": ".h5", "tiff": ".tif", "npy": ".npy", "png": ".png", "zarr": ".zarr",
                 "n5": ".n5"}[fmt]
    return {
        "features": ["features", good / "image.npy", "-o", folder / ("features" + extension),
                     "--features", FEATURES],
        "pixel train": ["pixel", "train", "--image", good / "image.npy", "--labels",
                        good / "labels.npy", "--features", FEATURES, "--trees", "2",
                        "-o", folder / "p.grove"],
        "run": ["run", good / "project.grove", good / "image.npy", "--format", fmt,
                "--output", str(folder / "{nickname}_{result_type}")],
        "import-ilastik": ["import-ilastik", good / "project.ilp", "-o", folder / "p.grove"],
        "headless": ["--headless", f"--project={good / 'project.grove'}",
                     f"--output_format={'numpy' if fmt == 'npy' else fmt}",
                     f"--output_filename_format={folder}/{{nickname}}_{{result_type}}{extension}",
                     good / "image.npy"],
    }


@pytest.mark.parametrize("command", ["features", "pixel train", "run", "import-ilastik",
                                     "headless"])
def test_readonly_output_location(data, readonly_folder, command):
    with untouched(readonly_folder):
        proc = run_grove(*location_commands(data, readonly_folder)[command])
    expect_fault(proc, readonly_folder)


@pytest.mark.parametrize("fmt", RUN_FORMATS)
def test_readonly_output_location_of_each_format(data, readonly_folder, fmt):
    with untouched(readonly_folder):
        proc = run_grove(*location_commands(data, readonly_folder, fmt)["run"])
    expect_fault(proc, readonly_folder)


@pytest.mark.parametrize("command", ["features", "pixel train", "run", "import-ilastik",
                                     "headless"])
def test_full_output_location(data, full_folder, command):
    before = written_listing(full_folder)
    proc = run_grove(*location_commands(data, full_folder)[command])
    expect_fault(proc)
    assert "space" in proc.stderr or "full" in proc.stderr, proc.stderr
    assert written_listing(full_folder) == before


@pytest.mark.parametrize("fmt", RUN_FORMATS)
def test_full_output_location_of_each_format(data, full_folder, fmt):
    before = written_listing(full_folder)
    proc = run_grove(*location_commands(data, full_folder, fmt)["run"])
    expect_fault(proc)
    assert "space" in proc.stderr or "full" in proc.stderr, proc.stderr
    assert written_listing(full_folder) == before


def test_output_folder_missing(data, out):
    missing = out / "no" / "such" / "folder"
    for command, arguments in location_commands(data, missing).items():
        with untouched(out):
            proc = run_grove(*arguments)
        expect_fault(proc, "folder")


# ------------------------------------------------------------------------------------------------
# Valid but huge: described, never processed


def test_sparse_huge_arrays_are_described_but_not_processed(data, out):
    for name in ["absurd.h5", "absurd.zarr", "absurd.n5"]:
        proc = run_grove("info", data["bad"] / name)
        assert proc.returncode == 0, proc.stderr
        assert "1000000000" in proc.stdout


# ------------------------------------------------------------------------------------------------
# Over the memory budget: a header asking for more than --ram-mb


def over_budget_png(path, side=12000):
    """A valid PNG of side x side zeros (137 MB decoded for 12000): ~140 KB of deflate, so its
    header's claim is plausible for the file size and only the memory budget can refuse it."""
    row = b"\0" * (side + 1)  # filter byte, then the row
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" +
                     png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)) +
                     png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def over_budget(tmp_path_factory):
    path = tmp_path_factory.mktemp("over_budget") / "big.png"
    over_budget_png(path)
    return path


def test_a_header_over_the_memory_budget_is_refused(data, out, over_budget):
    # Within the default budget (half the RAM) the same file is an image like any other.
    proc = run_grove("info", over_budget)
    assert proc.returncode == 0, proc.stderr
    assert "12000" in proc.stdout
    commands = {
        "features": ["features", over_budget, "-o", out / "features.h5", "--features", FEATURES,
                     "--ram-mb", "64"],
        "pixel train": ["pixel", "train", "--image", over_budget, "--labels",
                        data["good"] / "labels.npy", "--features", FEATURES, "--trees", "2",
                        "-o", out / "p.grove", "--ram-mb", "64"],
        "run": ["run", data["good"] / "project.grove", over_budget, "--output",
                str(out / "{nickname}_{result_type}"), "--ram-mb", "64"],
        "--headless": ["--headless", f"--project={data['good'] / 'project.grove'}", "--ram_mb=64",
                       f"--output_filename_format={out}/{{nickname}}_{{result_type}}.h5",
                       over_budget],
    }
    for command, arguments in commands.items():
        with untouched(out):
            proc = run_grove(*arguments)
        expect_fault(proc, "big.png", "memory budget of 64 MB")
