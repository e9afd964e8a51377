"""grove features: ilastik's pixel features through the command line (DESIGN.md §7), checked
against VIGRA through ../shared/peers/ilastik_core.py where python3-vigra is installed."""
import math

import numpy as np
import pytest

from conftest import REPO, SHARED, run_grove

PEERS = SHARED.parent / "peers"


def features_or_skip(*args):
    return run_grove("features", *args)


def read_h5(path, dataset="exported_data"):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r") as f:
        return f[dataset][()]


def ilastik_core():
    pytest.importorskip("vigra")
    if not (PEERS / "ilastik_core.py").is_file():
        pytest.skip(f"{PEERS} is absent: no ilastik_core.py oracle on this machine")
    import sys
    sys.path.insert(0, str(PEERS))
    import ilastik_core as core
    return core


def assert_matches_vigra(actual, expected, magnitude):
    """1e-4 of each channel's range plus a few float32 steps of the input magnitude; eigenvalue
    channels also allow VIGRA's float 3x3 solver (about sqrt(eps) near repeated eigenvalues)."""
    assert actual.shape == expected.shape
    spatial = actual.ndim - 1
    eigen = []
    widths = [1] * 7 + [1] * 6 * 3 + [spatial] * 12
    for w in widths:
        eigen += [w > 1] * w
    for c in range(actual.shape[-1]):
        e = expected[..., c]
        tolerance = 1e-4 * float(np.ptp(e)) + 8 * np.finfo(np.float32).eps * magnitude
        if eigen[c]:
            tolerance += 2e-3 * float(np.abs(e).max())
        error = float(np.abs(actual[..., c] - e).max())
        assert error <= tolerance, f"channel {c}: error {error} > {tolerance}"


def test_bad_spec_is_a_clear_usage_error(tmp_path):
    proc = run_grove("features", "in.h5", "-o", tmp_path / "out.h5", "--features", "Blur:1")
    assert proc.returncode == 2
    assert "--features" in proc.stderr and "unknown feature 'Blur'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_grove("features", "in.h5", "-o", tmp_path / "out.h5", "--features",
                     "GaussianSmoothing:-1")
    assert proc.returncode == 2 and "positive" in proc.stderr


def test_missing_input_is_reported(tmp_path):
    proc = features_or_skip(tmp_path / "nope.h5/data", "-o", tmp_path / "out.h5")
    assert proc.returncode == 2
    assert "nope.h5" in proc.stderr


def test_all_features_of_a_volume_match_ilastik_core(shared_data, tmp_path):
    source = shared_data / "ilastik_testdata" / "inputdata" / "3d.h5"
    out = tmp_path / "features.h5"
    proc = features_or_skip(f"{source}/data", "-o", out, "--threads", "2")
    assert proc.returncode == 0, proc.stderr
    actual = read_h5(out)
    assert actual.dtype == np.float32
    assert actual.shape == (50, 60, 55, 61)
    core = ilastik_core()
    raw = read_h5(source, "data")
    expected = core.features_multichannel(raw[..., None])
    assert_matches_vigra(actual, expected, float(raw.max()))


def test_multichannel_image_and_a_subset(shared_data, tmp_path):
    source = shared_data / "ilastik_testdata" / "inputdata" / "2d3c.h5"
    out = tmp_path / "subset.h5"
    spec = "GaussianSmoothing:0.3,1.6;HessianOfGaussianEigenvalues:0.7"
    proc = features_or_skip(f"{source}/data", "-o", out, "--features", spec)
    assert proc.returncode == 0, proc.stderr
    actual = read_h5(out)
    # Smoothing at two scales and 2 eigenvalues at one, for each of 3 channels.
    assert actual.shape == (73, 187, 3 * (1 + 1 + 2))
    raw = read_h5(source, "data").astype(np.float32)
    # Channel order: family, scale, input channel (then eigenvalue).
    vigra = pytest.importorskip("vigra")
    for c in range(3):
        img = vigra.taggedView(np.ascontiguousarray(raw[..., c]), "yx")
        pre = vigra.filters.gaussianSmoothing(img, 0.3, window_size=3.5)
        smooth = vigra.filters.gaussianSmoothing(pre, 0.3, window_size=2.0)
        assert np.abs(actual[..., c] - smooth).max() <= 1e-4 * np.ptp(smooth) + 1e-4
        pre = vigra.filters.gaussianSmoothing(img, math.sqrt(1.6 ** 2 - 1), window_size=3.5)
        smooth = vigra.filters.gaussianSmoothing(pre, 1.0, window_size=2.0)
        assert np.abs(actual[..., 3 + c] - smooth).max() <= 1e-4 * np.ptp(smooth) + 1e-4
        pre = vigra.filters.gaussianSmoothing(img, 0.7, window_size=3.5)
        eig = np.asarray(vigra.filters.hessianOfGaussianEigenvalues(pre, 0.7, window_size=2.0))
        assert np.abs(actual[..., 6 + 2 * c:8 + 2 * c] - eig).max() <= 1e-4 * np.ptp(eig) + 1e-4


def test_existing_output_needs_overwrite(shared_data, tmp_path):
    source = shared_data / "ilastik_testdata" / "inputdata" / "2d3c.h5"
    out = tmp_path / "twice.h5"
    spec = "GaussianSmoothing:1.0"
    assert features_or_skip(f"{source}/data", "-o", out, "--features", spec).returncode == 0
    again = run_grove("features", f"{source}/data", "-o", out, "--features", spec)
    assert again.returncode == 2
    assert run_grove("features", f"{source}/data", "-o", out, "--features", spec,
                     "--overwrite").returncode == 0
