"""Bad input gives a Python exception with a clear message, never a crash; the GIL is released
during computation; numpy inputs are read in place when their layout allows."""
import threading
import tracemalloc

import numpy as np
import pytest

import grove

SPEC = "GaussianSmoothing:1.0"


@pytest.mark.parametrize(
    "image,axes,error,message",
    [
        (np.zeros((8, 8), np.complex64), "yx", TypeError, "complex64"),
        (np.array([["a", "b"], ["c", "d"]]), "yx", TypeError, "dtype"),
        (np.empty((8, 8), object), "yx", TypeError, "dtype object"),
        ("image.png", "yx", TypeError, "path"),
        (np.zeros(8, np.uint8), None, ValueError, "1 dimension"),
        (np.zeros((2,) * 6, np.uint8), None, ValueError, "6 dimension"),
        (np.zeros((8, 8), np.uint8), "zyx", ValueError, "3 letter"),
        (np.zeros((8, 8), np.uint8), "yy", ValueError, "tzyxc"),
        (np.zeros((8, 8), np.uint8), "qx", ValueError, "tzyxc"),
        (np.zeros((8, 8), np.uint8), 3, TypeError, "axes"),
        (np.zeros((0, 8), np.uint8), "yx", ValueError, "empty"),
    ],
)
def test_bad_images(image, axes, error, message):
    with pytest.raises(error, match=message):
        grove.features(image, SPEC, axes=axes)


@pytest.mark.parametrize(
    "spec,message",
    [
        ("GaussianSmothing:1.0", "GaussianSmothing"),
        ("GaussianSmoothing:-1", "scale"),
        ("GaussianSmoothing:1000", "scale"),
        ({}, "no feature"),
        (42, "SPEC"),
        ([("GaussianSmoothing",)], "pairs"),
    ],
)
def test_bad_feature_selections(spec, message):
    with pytest.raises((ValueError, TypeError), match=message):
        grove.features(np.zeros((8, 8), np.float32), spec, axes="yx")


def test_awkward_but_valid_inputs_work():
    rng = np.random.default_rng(0)
    image = rng.random((30, 40), dtype=np.float32)
    expected = grove.features(image, SPEC, axes="yx")
    np.testing.assert_array_equal(grove.features(image.astype(np.float16).astype(np.float32), SPEC, axes="yx"),
                                  grove.features(image.astype(np.float16), SPEC, axes="yx"))
    np.testing.assert_array_equal(grove.features(image[::-1][::-1], SPEC, axes="yx"), expected)  # negative strides
    np.testing.assert_array_equal(grove.features(image.tolist(), SPEC, axes="yx"), expected.astype(np.float32))
    flipped = grove.features(image[::-1], SPEC, axes="yx")
    np.testing.assert_allclose(flipped[::-1], expected, rtol=1e-5, atol=1e-6)
    unaligned = np.frombuffer(b"\0" + image.tobytes(), dtype=np.float32, offset=1).reshape(image.shape)
    np.testing.assert_array_equal(grove.features(unaligned, SPEC, axes="yx"), expected)
    constant = grove.features(np.broadcast_to(np.float32(3), (20, 20)), SPEC, axes="yx")
    np.testing.assert_allclose(constant, 3.0, rtol=1e-6)
    nan = image.copy()
    nan[5, 5] = np.nan
    result = grove.features(nan, SPEC, axes="yx")  # NaN spreads through the smoothing; no crash
    assert np.isnan(result[5, 5, 0]) and np.isfinite(result[25, 35, 0])
    with pytest.raises(TypeError, match="threads"):
        grove.features(image, SPEC, axes="yx", threads="many")
    with pytest.raises(ValueError, match="ndim"):
        grove.feature_names(SPEC, ndim=4)


def test_inputs_are_read_in_place():
    """numpy allocations are traced: contiguous and strided images are read in place, a
    byte-swapped one is copied (once)."""
    image = np.zeros((1500, 1500), np.float32)
    strided = np.zeros((1500, 3000), np.float32)[:, ::2]
    swapped = image.astype(">f4")
    peaks = []
    tracemalloc.start()
    try:
        for array in (image, strided, swapped):
            tracemalloc.reset_peak()
            grove.features(array, SPEC, axes="yx")
            peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert peaks[0] < image.nbytes / 10
    assert peaks[1] < image.nbytes / 10
    assert peaks[2] >= image.nbytes


def test_gil_is_released_during_computation():
    """While grove computes in one thread, Python code keeps running in another."""
    image = np.random.default_rng(0).random((1500, 1500), dtype=np.float32)
    done = threading.Event()
    result = {}

    def work():
        result["features"] = grove.features(image, "all", axes="yx", threads=1)
        done.set()

    thread = threading.Thread(target=work)
    thread.start()
    ticks = 0
    while not done.is_set():
        ticks += 1
        sum(range(100))
    thread.join()
    assert result["features"].shape == (1500, 1500, 49)
    # Holding the GIL, the compute thread would let this loop run only at its start and end.
    assert ticks > 1000


def test_error_mapping_keeps_context(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        grove.Project.open(tmp_path / "nothing.ilp")
    assert "nothing.ilp" in str(error.value)
    grove.write(tmp_path / "x.tif", np.zeros((4, 4), np.uint8), axes="yx")
    with pytest.raises(FileExistsError, match="x.tif"):
        grove.write(tmp_path / "x.tif", np.zeros((4, 4), np.uint8), axes="yx")


INTERRUPTED = """
import os, signal, threading
import numpy as np
import grove
image = np.zeros((3000, 3000), np.float32)
threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    grove.features(image, "HessianOfGaussianEigenvalues:5.0,10.0;StructureTensorEigenvalues:10.0", axes="yx", threads=1)
    print("finished")
except KeyboardInterrupt:
    print("interrupted")
"""


def test_ctrl_c_stops_a_computation():
    """Ctrl-C (SIGINT) during grove's work raises KeyboardInterrupt from the call."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", INTERRUPTED], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "interrupted"
