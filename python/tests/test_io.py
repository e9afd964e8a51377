"""grove.read / grove.write / grove.info / grove.open_image: round trips in every format, axes as
stored or as asked for, lazy reading (with dask), and agreement with independent readers."""
import h5py
import numpy as np
import pytest
import tifffile

import grove


@pytest.mark.parametrize(
    "name,axes,shape,dtype",
    [
        ("image.tif", "zyx", (3, 20, 30), np.uint16),
        ("image.tif", "yxc", (20, 30, 3), np.uint8),
        ("image.png", "yx", (20, 30), np.uint8),
        ("image.png", "yxc", (20, 30, 3), np.uint8),
        ("image.npy", "tzyxc", (2, 3, 4, 5, 2), np.float32),
        ("image.h5/data", "zyx", (4, 20, 30), np.float64),
        ("image.zarr/raw", "czyx", (2, 4, 20, 30), np.int16),
        ("image.n5/raw", "zyx", (4, 20, 30), np.uint32),
    ],
)
def test_round_trip(tmp_path, name, axes, shape, dtype):
    rng = np.random.default_rng(0)
    data = (rng.random(shape) * 200).astype(dtype)
    path = str(tmp_path / name)
    grove.write(path, data, axes=axes)
    info = grove.info(path)
    assert info["axes"] == axes and tuple(info["shape"]) == shape and info["dtype"] == dtype
    back = grove.read(path)
    assert back.dtype == dtype and back.flags.c_contiguous
    np.testing.assert_array_equal(back, data)
    # Any axis order on request; axes of extent 1 may be added or left out.
    full = grove.read(path, axes="tzyxc")
    assert full.ndim == 5
    np.testing.assert_array_equal(np.squeeze(full), np.squeeze(np.moveaxis(data, axes.index("c"), -1) if "c" in axes else data))
    with pytest.raises(FileExistsError):
        grove.write(path, data, axes=axes)
    grove.write(path, data, axes=axes, overwrite=True)


def test_files_agree_with_independent_readers(tmp_path, shared_data):
    volume = grove.read(shared_data / "ilastik_testdata" / "inputdata" / "3d.h5")
    with h5py.File(shared_data / "ilastik_testdata" / "inputdata" / "3d.h5", "r") as f:
        np.testing.assert_array_equal(volume, f["data"][()])
    path = tmp_path / "volume.tif"
    grove.write(path, volume, axes="zyx", compression="deflate", pixel_size={"z": 0.05, "y": 0.004, "x": 0.004},
                units={"z": "micrometer", "y": "micrometer", "x": "micrometer"})
    np.testing.assert_array_equal(tifffile.imread(path), volume)
    info = grove.info(path)
    assert info["compression"] == "deflate"
    assert info["pixel_size"]["x"] == pytest.approx(0.004)
    out = tmp_path / "chunked.h5"
    grove.write(f"{out}/exported_data", volume, axes="zyx", chunks=(10, 30, 55), compression="gzip")
    with h5py.File(out, "r") as f:
        assert f["exported_data"].chunks == (10, 30, 55)
        np.testing.assert_array_equal(f["exported_data"][()], volume)
    assert [d["path"] for d in grove.datasets(out)] == ["/exported_data"]
    assert grove.info(out)["chunks"] == (10, 30, 55)


def test_open_image_reads_parts_and_feeds_dask(tmp_path):
    import dask.array as da

    rng = np.random.default_rng(1)
    data = rng.integers(0, 1000, size=(5, 40, 50), dtype=np.uint16)
    path = f"{tmp_path}/volume.zarr/raw"
    grove.write(path, data, axes="zyx", chunks=(2, 16, 16))
    image = grove.open_image(path)
    assert image.shape == data.shape and image.dtype == np.uint16 and image.axes == "zyx"
    for key in [np.s_[1:3, 5:20, 7:9], np.s_[4, :, ::3], np.s_[..., -1], np.s_[2], np.s_[1:1, :, :], np.s_[:, 10:2]]:
        np.testing.assert_array_equal(image[key], data[key])
    np.testing.assert_array_equal(np.asarray(image), data)
    lazy = da.from_array(image, chunks=(2, 20, 25))
    np.testing.assert_array_equal(lazy.sum(axis=0).compute(), data.sum(axis=0))
    with pytest.raises(IndexError):
        image[5]
    with pytest.raises(IndexError):
        image[0, 0, 0, 0]


def test_io_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.tif"):
        grove.read(tmp_path / "missing.tif")
    with pytest.raises(FileNotFoundError):
        grove.info(tmp_path / "missing.h5")
    grove.write(tmp_path / "a.h5/data", np.zeros((3, 4), np.uint8), axes="yx")
    with pytest.raises(FileNotFoundError, match="nothing"):
        grove.read(f"{tmp_path}/a.h5/nothing")
    with pytest.raises(ValueError, match="leaves out"):
        grove.read(tmp_path / "a.h5/data", axes="x")
    with pytest.raises(ValueError, match="axes"):
        grove.write(tmp_path / "b.tif", np.zeros((3, 4), np.uint8), axes="zyx")
    with pytest.raises(ValueError, match="axes"):
        grove.write(tmp_path / "b.tif", np.zeros((3, 4), np.uint8), axes="qx")
    with pytest.raises(TypeError, match="dtype"):
        grove.write(tmp_path / "b.npy", np.zeros((3, 4), np.complex64), axes="yx")
    with pytest.raises(TypeError):
        grove.read(42)
    (tmp_path / "junk.tif").write_bytes(b"this is not a tiff")
    with pytest.raises((ValueError, RuntimeError, OSError)):
        grove.read(tmp_path / "junk.tif")
