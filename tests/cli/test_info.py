"""`grove info`: reads every image in ../shared/data with the shapes PROVENANCE.md states, reports
axes, pixel sizes and container datasets, and rejects bad input with status 2 and one line."""
import json
import os
import shutil
import struct

import pytest

from conftest import REPO, run_grove

IMAGE_EXTENSIONS = {".png", ".tif", ".tiff", ".h5", ".hdf5", ".ilp", ".npy", ".jpg", ".jpeg"}


def info_json(*paths, env=None):
    proc = run_grove("info", "--json", *paths, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def shape(record):
    s = record["shape"]
    return (s["t"], s["z"], s["y"], s["x"], s["c"])


def image_files(root):
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(os.path.join(folder, name))
    return sorted(found)


def test_info_reads_every_image_in_shared_data(shared_data):
    files = image_files(shared_data)
    assert len(files) > 250
    records = info_json(*files)
    assert [r["path"] for r in records] == files
    for record in records:
        assert record["format"] in ("png", "tiff", "hdf5", "npy"), record
        if record["format"] == "hdf5":
            assert record["datasets"], record["path"]
        else:
            assert all(v >= 1 for v in shape(record)), record


# (path under shared/data, stored shape, dtype, axes as stored, t,z,y,x,c, compression or None)
PROVENANCE = [
    ("ilastik_testdata/inputdata/2d.h5", [1024, 1344], "uint8", "yx", (1, 1, 1024, 1344, 1), "gzip"),
    ("ilastik_testdata/inputdata/3d.h5", [50, 60, 55], "uint8", "zyx", (1, 50, 60, 55, 1), "gzip"),
    ("ilastik_testdata/inputdata/2d3c.h5", [73, 187, 3], "uint8", "yxc", (1, 1, 73, 187, 3), "gzip"),
    ("ilastik_testdata/inputdata/5t2d1c.h5", [5, 33, 77, 1], "float32", "tyxc", (5, 1, 33, 77, 1), "gzip"),
    ("ilastik_testdata/inputdata/5t3d2c.h5", [5, 33, 77, 45, 2], "uint8", "tzyxc", (5, 33, 77, 45, 2), "gzip"),
    ("ilastik_testdata/inputdata/smallVideo.h5", [7, 408, 408, 1], "float32", "tyxc", (7, 1, 408, 408, 1), "gzip"),
    ("ilastik_testdata/inputdata/2d_Probabilities.h5", [1024, 1344, 2], "float32", "yxc", (1, 1, 1024, 1344, 2), "gzip"),
    # t,x,y,c per the axistags: x and y swap into grove's order.
    ("ilastik_testdata/inputdata/cell_tracking_challenge_15/Fluo-N2DH-SIM/01/learningRaw-2017-01-17.h5",
     [10, 495, 534, 1], "uint32", "txyc", (10, 1, 534, 495, 1), "gzip"),
    ("ilastik_testdata/inputdata/mitocheck_2d+t/mitocheck_small_2D+t.h5",
     [9, 99, 105, 1, 1], "uint16", "txyzc", (9, 1, 105, 99, 1), "gzip"),
    ("pixel_classification/stardist_nuclei/img3d.tif", [31, 61, 57], "uint16", "zyx", (1, 31, 61, 57, 1), "deflate"),
    ("pixel_classification/stardist_nuclei/img2d.tif", [512, 512], "uint16", "yx", (1, 1, 512, 512, 1), "none"),
    ("pixel_classification/isbi2012_em_membranes/image/00.png", [512, 512], "uint8", "yx", (1, 1, 512, 512, 1), None),
    ("counting/vgg_cells/001cell.png", [256, 256, 3], "uint8", "yxc", (1, 1, 256, 256, 3), None),
    ("tracking/ctc_Fluo-N2DH-SIMplus_01_t000-029/01/t000.tif", [690, 628], "uint16", "yx", (1, 1, 690, 628, 1), "lzw"),
    ("ilastik_testdata/inputdata/rgba.png", [400, 640, 4], "uint8", "yxc", (1, 1, 400, 640, 4), None),
    ("ilastik_testdata/objectCounting/0.npy", [256, 256, 3], "uint8", "yxc", (1, 1, 256, 256, 3), "none"),
    ("ilastik_testdata/notebooks/2d_cells_apoptotic_1channel.png", [1024, 1344], "uint8", "yx", (1, 1, 1024, 1344, 1), None),
]


@pytest.mark.parametrize("relative,stored,dtype,axes,tzyxc,compression", PROVENANCE,
                         ids=[p[0].rsplit("/", 1)[-1] for p in PROVENANCE])
def test_shapes_match_provenance(shared_data, relative, stored, dtype, axes, tzyxc, compression):
    (record,) = info_json(str(shared_data / relative))
    assert record["stored_shape"] == stored
    assert record["dtype"] == dtype
    assert record["axes"] == axes
    assert shape(record) == tzyxc
    if compression is not None:
        assert record["compression"] == compression


def test_pixel_sizes(shared_data):
    (imagej,) = info_json(str(shared_data / "ilastik_testdata/inputdata/2d_with_pixel_sizes.tif"))
    assert shape(imagej) == (1, 1, 16, 16, 1)
    # ImageJ: 0.2 pixels per cm along x, 0.166666 per nm along y (yunit=nm).
    assert imagej["pixel_size"]["x"] == pytest.approx(5.0)
    assert imagej["pixel_unit"]["x"] == "cm"
    assert imagej["pixel_size"]["y"] == pytest.approx(6.00002, rel=1e-5)
    assert imagej["pixel_unit"]["y"] == "nm"
    (ctc,) = info_json(str(shared_data / "tracking/ctc_Fluo-N2DH-SIMplus_01_t000-029/01/t000.tif"))
    assert ctc["pixel_unit"]["x"] == "µm"
    assert ctc["pixel_size"]["x"] == pytest.approx(0.1238, abs=1e-4)


def test_containers_list_their_datasets(shared_data):
    (project,) = info_json(str(shared_data / "ilastik_testdata/inputdata/mitocheckStructuredLearningTrackingHytraWithDivisions.ilp"))
    assert project["format"] == "hdf5"
    assert "shape" not in project  # many datasets: none is "the" image
    label_images = [d for d in project["datasets"] if "LabelImage" in d["path"]]
    assert label_images and all(d["stored_shape"] == [1, 99, 105, 1, 1] for d in label_images)
    assert all(d["dtype"] == "uint32" for d in label_images)
    # Naming a dataset inside reads it.
    inner = label_images[0]["path"]
    (image,) = info_json(str(shared_data / "ilastik_testdata/inputdata/mitocheckStructuredLearningTrackingHytraWithDivisions.ilp") + inner)
    assert image["dataset"] == inner
    assert image["dtype"] == "uint32"
    (bdv,) = info_json(str(shared_data / "ilastik_testdata/inputdata/smallVideoBdv.h5"))
    assert len(bdv["datasets"]) == 16
    text = run_grove("info", str(shared_data / "ilastik_testdata/inputdata/2d.h5"))
    assert text.returncode == 0
    assert "t=1 z=1 y=1024 x=1344 c=1" in text.stdout
    assert "gzip, chunks 128 x 168" in text.stdout


def test_sample_image():
    sample = REPO / "data" / "samples" / "nuclei.png"
    (record,) = info_json(str(sample))
    assert record["format"] == "png"
    assert record["dtype"] == "uint8"
    t, z, y, x, c = shape(record)
    assert (t, z, c) == (1, 1, 1) and 256 <= y <= 512 and 256 <= x <= 512
    assert sample.stat().st_size < 1_000_000


# ------------------------------------------------------------------------------------------------
# Bad input: status 2, one line on stderr naming the file.

def assert_bad(path, *words, env=None):
    proc = run_grove("info", str(path), env=env)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stderr.count("\n") == 1 and proc.stderr.endswith("\n"), proc.stderr
    assert str(path) in proc.stderr, proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
    return proc.stderr


def test_missing_file(tmp_path):
    assert_bad(tmp_path / "missing.tif", "no such file")
    assert_bad(tmp_path / "missing.h5/data", "no such file")


def test_directory(tmp_path):
    (tmp_path / "folder.png").mkdir()
    assert_bad(tmp_path / "folder.png", "directory")


@pytest.mark.parametrize("name", ["empty.tif", "empty.png", "empty.h5", "empty.npy", "empty.jpg", "empty"])
def test_empty_file(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    assert_bad(tmp_path / name, "empty")


@pytest.mark.parametrize("relative,keep", [
    ("pixel_classification/stardist_nuclei/img3d.tif", 5000),
    ("tracking/ctc_Fluo-N2DH-SIMplus_01_t000-029/01/t000.tif", 3000),
    ("ilastik_testdata/inputdata/2d.h5", 4000),
    ("pixel_classification/isbi2012_em_membranes/image/00.png", 2000),
    ("ilastik_testdata/objectCounting/0.npy", 1000),
])
def test_truncated_file(shared_data, tmp_path, relative, keep):
    source = shared_data / relative
    target = tmp_path / ("cut_" + source.name)
    target.write_bytes(source.read_bytes()[:keep])
    assert_bad(target)


def test_not_an_image(tmp_path):
    (tmp_path / "notes.tif").write_text("just some text, not a TIFF\n")
    assert_bad(tmp_path / "notes.tif", "not a TIFF")
    (tmp_path / "notes.xyz").write_text("what is this\n")
    assert_bad(tmp_path / "notes.xyz", "unknown image format")


def test_wrong_internal_path(shared_data):
    file = str(shared_data / "ilastik_testdata/inputdata/2d.h5")
    proc = run_grove("info", file + "/no/such/dataset")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    # Names the file, the missing dataset and the datasets there are.
    assert file in proc.stderr and "'/no/such/dataset'" in proc.stderr and "/data" in proc.stderr


def test_absurd_tiff_header(tmp_path):
    # A tiny TIFF whose header claims 10^9 x 10^9 pixels in one strip of 100 bytes.
    entries = [(256, 4, 10**9), (257, 4, 10**9), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, 200), (277, 3, 1), (278, 4, 10**9), (279, 4, 100)]
    data = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        data += struct.pack("<HHI", tag, kind, 1)
        data += struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
    data += struct.pack("<I", 0)
    data = data.ljust(300, b"\x00")
    path = tmp_path / "absurd.tif"
    path.write_bytes(data)
    assert_bad(path, "claims")


def test_unsupported_dtypes(tmp_path):
    np = pytest.importorskip("numpy")
    h5py = pytest.importorskip("h5py")
    np.save(tmp_path / "complex.npy", np.zeros((4, 4), np.complex64))
    assert_bad(tmp_path / "complex.npy", "unsupported")
    with h5py.File(tmp_path / "compound.h5", "w") as f:
        f["data"] = np.zeros(4, dtype=[("a", "i4"), ("b", "f4")])
    assert_bad(str(tmp_path / "compound.h5") + "/data", "compound")
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "half.tif", np.zeros((8, 8), np.float16))
    assert_bad(tmp_path / "half.tif", "16-bit floating point")


def test_missing_filter_plugin(tmp_path):
    np = pytest.importorskip("numpy")
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "blosc.h5"
    try:
        with h5py.File(path, "w") as f:
            f.create_dataset("data", data=np.arange(64, dtype=np.uint16).reshape(8, 8), chunks=(4, 4),
                             compression=32001, compression_opts=(0, 0, 0, 0, 5, 1, 1))
    except Exception as error:  # no blosc plugin on this machine
        pytest.skip(f"h5py cannot write blosc here: {error}")
    ok = run_grove("info", "--json", str(path))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)[0]["compression"] == "blosc"
    empty = tmp_path / "no-plugins"
    empty.mkdir()
    env = dict(os.environ, HDF5_PLUGIN_PATH=str(empty))
    assert_bad(path, "blosc", env=env)


def test_one_bad_file_among_good_ones(tmp_path):
    sample = REPO / "data" / "samples" / "nuclei.png"
    proc = run_grove("info", "--json", str(sample), str(tmp_path / "missing.png"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "missing.png" in proc.stderr
    records = json.loads(proc.stdout)
    assert [r["path"] for r in records] == [str(sample)]


def test_usage_errors():
    proc = run_grove("info")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
