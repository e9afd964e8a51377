"""grove.features equals the command line's `grove features` (2-D, 3-D, multi-channel), in any
axis order and memory layout, and block-wise with the halo grove.feature_halo gives."""
import h5py
import numpy as np
import pytest

import grove
from conftest import run_grove


def cli_features(tmp_path, image_path, spec="all"):
    out = tmp_path / "features.h5"
    run_grove("features", image_path, "-o", out, "--features", spec, "--overwrite")
    with h5py.File(out, "r") as f:
        return f["exported_data"][()]


def test_2d_features_equal_the_command_line(isbi, tmp_path):
    image_path = isbi / "image" / "00.png"
    expected = cli_features(tmp_path, image_path)
    result = grove.features(grove.read(image_path, axes="yx"), axes="yx")
    assert result.dtype == np.float32
    assert result.shape == (512, 512, 49)
    np.testing.assert_array_equal(result.reshape(expected.shape), expected)


def test_3d_features_equal_the_command_line(shared_data, tmp_path):
    image_path = shared_data / "ilastik_testdata" / "inputdata" / "3d.h5"
    spec = "GaussianSmoothing:0.7,3.5;HessianOfGaussianEigenvalues:1.6;ComputeIn2d:3.5"
    expected = cli_features(tmp_path, image_path, spec)
    volume = grove.read(image_path)
    assert volume.shape == (50, 60, 55)
    result = grove.features(volume, spec, axes="zyx")
    assert result.shape == (50, 60, 55, 5)
    np.testing.assert_array_equal(result.reshape(expected.shape), expected)


def test_multichannel_features_equal_the_command_line(shared_data, tmp_path):
    image_path = shared_data / "ilastik_testdata" / "inputdata" / "2d3c.h5"
    spec = "GaussianGradientMagnitude:1.0;StructureTensorEigenvalues:1.6"
    expected = cli_features(tmp_path, image_path, spec)
    image = grove.read(image_path, axes="yxc")
    result = grove.features(image, spec, axes="yxc")
    assert result.shape == image.shape[:2] + (3 + 6,)
    np.testing.assert_array_equal(result.reshape(expected.shape), expected)
    names = grove.feature_names(spec, ndim=2, channels=3)
    assert len(names) == 9
    assert names[0].startswith("Gaussian Gradient Magnitude") and "c0" in names[0]


@pytest.fixture(scope="module")
def slice0(isbi):
    return grove.read(isbi / "image" / "00.png", axes="yx")[:200, :300]


SPEC = "GaussianSmoothing:0.3;LaplacianOfGaussian:1.0;StructureTensorEigenvalues:3.5"


def test_axis_order_layout_and_dtype_do_not_change_the_result(slice0):
    expected = grove.features(slice0, SPEC, axes="yx")
    # Transposed: the result keeps the input's axis order.
    transposed = grove.features(slice0.T, SPEC, axes="xy")
    np.testing.assert_array_equal(transposed, expected.transpose(1, 0, 2))
    # A strided view, Fortran order, another dtype, big-endian, a trailing channel axis.
    wide = np.zeros((200, 600), np.uint8)
    wide[:, ::2] = slice0
    np.testing.assert_array_equal(grove.features(wide[:, ::2], SPEC, axes="yx"), expected)
    np.testing.assert_array_equal(grove.features(np.asfortranarray(slice0), SPEC, axes="yx"), expected)
    np.testing.assert_array_equal(grove.features(slice0.astype(np.float64), SPEC, axes="yx"), expected)
    np.testing.assert_array_equal(grove.features(slice0.astype(">u2"), SPEC, axes="yx"), expected)
    np.testing.assert_array_equal(grove.features(slice0[..., None], SPEC, axes="yxc"), expected)
    # Several time points: each its own image.
    series = np.stack([slice0, slice0[::-1]])
    result = grove.features(series, SPEC, axes="tyx")
    np.testing.assert_array_equal(result[0], expected)
    np.testing.assert_array_equal(result[1], grove.features(np.ascontiguousarray(slice0[::-1]), SPEC, axes="yx"))


def test_selection_forms_agree(slice0):
    as_spec = grove.features(slice0, "GaussianSmoothing:1.0,3.5;DifferenceOfGaussians:1.6", axes="yx")
    as_dict = grove.features(slice0, {"gaussian_smoothing": [1.0, 3.5], "DifferenceOfGaussians": 1.6}, axes="yx")
    as_pairs = grove.features(
        slice0, [("GaussianSmoothing", 1.0), ("GaussianSmoothing", 3.5), ("difference_of_gaussians", 1.6)], axes="yx"
    )
    np.testing.assert_array_equal(as_dict, as_spec)
    np.testing.assert_array_equal(as_pairs, as_spec)
    # Smoothing at 3.5 is a blurred image: its values stay in the image's range and vary less.
    assert slice0.min() <= as_spec[..., 1].min() and as_spec[..., 1].max() <= slice0.max()
    assert as_spec[..., 1].std() < as_spec[..., 0].std()


def test_names_and_counts():
    assert len(grove.feature_names()) == 49
    assert len(grove.feature_names(ndim=3)) == 61
    assert len(grove.feature_names(channels=2)) == 98
    assert grove.feature_names()[0] == "Gaussian Smoothing (σ=0.30) [c0]"


@pytest.mark.parametrize("spec", ["all", "GaussianSmoothing:1.0", "HessianOfGaussianEigenvalues:5.0"])
def test_halo_makes_blocks_exact(slice0, spec):
    whole = grove.features(slice0, spec, axes="yx")
    halo_y, halo_x = grove.feature_halo(spec, ndim=2)
    assert halo_y == halo_x > 0
    y0, y1, x0, x1 = 90, 130, 120, 170  # a block well inside, then one at the corner
    for (b0, b1, c0, c1) in [(y0, y1, x0, x1), (0, 40, 0, 50)]:
        e0, e1 = max(0, b0 - halo_y), min(slice0.shape[0], b1 + halo_y)
        f0, f1 = max(0, c0 - halo_x), min(slice0.shape[1], c1 + halo_x)
        block = grove.features(slice0[e0:e1, f0:f1], spec, axes="yx")
        np.testing.assert_array_equal(block[b0 - e0 : b1 - e0, c0 - f0 : c1 - f0], whole[b0:b1, c0:c1])
    # One pixel less halo is not enough (the halo is tight, not generous).
    small = grove.features(slice0[y0 - halo_y + 1 : y1 + halo_y - 1, x0 - halo_x + 1 : x1 + halo_x - 1], spec, axes="yx")
    assert not np.array_equal(small[halo_y - 1 : -(halo_y - 1), halo_x - 1 : -(halo_x - 1)], whole[y0:y1, x0:x1])


def test_3d_halo(shared_data):
    volume = grove.read(shared_data / "ilastik_testdata" / "inputdata" / "3d.h5")
    spec = "GaussianGradientMagnitude:1.0;ComputeIn2d:1.0"
    assert grove.feature_halo(spec, ndim=3)[0] == 0  # computed slice by slice: no halo in z
    spec = "GaussianGradientMagnitude:1.0"
    hz, hy, hx = grove.feature_halo(spec, ndim=3)
    whole = grove.features(volume, spec, axes="zyx")
    block = grove.features(volume[10 - hz : 30 + hz, 10 - hy : 40 + hy, :], spec, axes="zyx")
    np.testing.assert_array_equal(block[hz:-hz, hy:-hy], whole[10:30, 10:40])
