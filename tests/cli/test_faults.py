"""Faults while writing (issue 12).

`grove run` is killed (SIGKILL: no clean-up possible) at random moments while it computes and
writes its outputs; each output must then be complete and equal to an uninterrupted run's, or
absent, never half-written. A project being saved over an existing one (`grove pixel train -o P
--overwrite`) is killed the same way; P must then be the old project or the new one, and load.
A rerun after a kill must succeed and clean up what the killed run left.

The moments are random (seeded, so a failure can be replayed) over the measured length of an
uninterrupted run; each case also checks that some kills did land before the output was complete,
so it cannot pass vacuously.
"""
import os
import random
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from conftest import GROVE, run_grove

KILLS = 6
FEATURES = "GaussianSmoothing:1.0,3.5;HessianOfGaussianEigenvalues:1.0"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(12)
    small = (rng.random((64, 64)) * 200).astype(np.uint8)
    np.save(root / "small.npy", small)
    labels = np.zeros((64, 64), np.uint8)
    labels[small < 60] = 1
    labels[small > 150] = 2
    np.save(root / "labels.npy", labels)
    run_grove("pixel", "train", "--image", root / "small.npy", "--labels", root / "labels.npy",
              "--features", FEATURES, "--trees", "10", "-o", root / "project.grove", check=True)
    # Large enough that writing takes a while, small enough for a test.
    big = (rng.random((1024, 1024)) * 255).astype(np.uint8)
    np.save(root / "big.npy", big)
    return root


def read_output(path, fmt):
    """The output's pixels; raises if it cannot be read whole."""
    if fmt == "hdf5":
        with h5py.File(path, "r") as f:
            return f["exported_data"][...]
    if fmt == "tiff":
        return tifffile.imread(path)
    if fmt == "npy":
        return np.load(path)
    if fmt == "zarr":
        group = zarr.open_group(str(path), mode="r")
        array = group["exported_data"]["0"]
        assert array.attrs.get("grove", {}).get("complete", True), "marked incomplete"
        return array[...]
    raise ValueError(fmt)


EXTENSIONS = {"hdf5": ".h5", "tiff": ".tif", "npy": ".npy", "zarr": ".zarr"}


def run_command(setup, folder, fmt):
    return [GROVE, "run", str(setup / "project.grove"), str(setup / "big.npy"), "--format", fmt,
            "--threads", "2", "--output", str(folder / "{nickname}_{result_type}")]


def kill_at(command, delay):
    """Starts command, SIGKILLs it after delay seconds (if still running); its exit status."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return proc.returncode


@pytest.mark.parametrize("fmt", ["hdf5", "tiff", "npy", "zarr"])
def test_killed_run_leaves_complete_or_no_output(setup, tmp_path, fmt):
    reference_folder = tmp_path / "reference"
    reference_folder.mkdir()
    start = time.monotonic()
    proc = subprocess.run(run_command(setup, reference_folder, fmt), capture_output=True,
                          text=True)
    duration = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    name = "big_Probabilities" + EXTENSIONS[fmt]
    reference = read_output(reference_folder / name, fmt)

    rng = random.Random(f"{fmt}-kills")
    interrupted = 0
    for attempt in range(KILLS):
        folder = tmp_path / f"kill{attempt}"
        folder.mkdir()
        delay = rng.uniform(0.02, duration * 1.1)
        status = kill_at(run_command(setup, folder, fmt), delay)
        output = folder / name
        if status == -signal.SIGKILL:
            if os.path.exists(output):
                data = read_output(output, fmt)  # complete: must read whole
                np.testing.assert_array_equal(data, reference,
                                              err_msg=f"killed after {delay:.2f} s")
            else:
                interrupted += 1
            # A rerun succeeds and leaves only the output (what the killed run left is gone).
            rerun = subprocess.run(run_command(setup, folder, fmt) + ["--overwrite"],
                                   capture_output=True, text=True)
            assert rerun.returncode == 0, rerun.stderr
            np.testing.assert_array_equal(read_output(output, fmt), reference)
            assert sorted(os.listdir(folder)) == [name], os.listdir(folder)
        else:
            assert status == 0
            np.testing.assert_array_equal(read_output(output, fmt), reference)
    assert interrupted > 0, "no kill landed before the output was complete"


def project_tree_count(path):
    """The tree count of a saved project (h5py reads it whole; damage raises)."""
    import json
    with h5py.File(path, "r") as f:
        options = json.loads(f["pixel/forest_options"][()])
        assert f["pixel/classifier/node_feature"].shape[0] > 0
        return options["tree_count"]


def test_project_saved_over_an_existing_one_survives_kills(setup, tmp_path):
    project = tmp_path / "project.grove"
    train = [GROVE, "pixel", "train", "--image", str(tmp_path / "image.npy"), "--labels",
             str(tmp_path / "labels.npy"), "--features", FEATURES, "--threads", "2", "-o",
             str(project), "--overwrite"]
    image = np.load(setup / "big.npy")[:384, :384]
    labels = np.zeros(image.shape, np.uint8)
    labels[image < 30] = 1
    labels[image > 225] = 2
    np.save(tmp_path / "image.npy", image)
    np.save(tmp_path / "labels.npy", labels)
    assert subprocess.run(train + ["--trees", "3"], capture_output=True).returncode == 0
    start = time.monotonic()
    assert subprocess.run(train + ["--trees", "4"], capture_output=True).returncode == 0
    duration = time.monotonic() - start
    assert project_tree_count(project) == 4

    rng = random.Random("project-kills")
    current = 4
    interrupted = 0
    for attempt in range(KILLS):
        new = 5 + attempt
        # The save comes last: most kills go near the end of the run.
        delay = rng.uniform(duration * 0.5, duration * 1.1)
        status = kill_at(train + ["--trees", str(new)], delay)
        count = project_tree_count(project)
        assert count in (current, new), f"killed after {delay:.2f} s: a project of {count} trees"
        if status == -signal.SIGKILL and count == current:
            interrupted += 1
        current = count
        # The project loads in grove too.
        proc = run_grove("run", project, setup / "small.npy", "--output",
                         str(tmp_path / "check_{result_type}"), "--format", "npy", "--overwrite")
        assert proc.returncode == 0, proc.stderr
    assert interrupted > 0, "no kill landed before the project was saved"
    # A rerun succeeds and leaves only the project and the check output.
    assert subprocess.run(train + ["--trees", "2"], capture_output=True).returncode == 0
    assert project_tree_count(project) == 2
    leftovers = [name for name in os.listdir(tmp_path) if name.startswith(".")]
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["project.grove", "image.npy", "labels.npy", "check_Probabilities.npy"]), os.listdir(tmp_path)
    assert leftovers == [], leftovers
