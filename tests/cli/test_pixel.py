"""grove pixel train and grove run: training from label images, predicting new images, exports,
and the bad-input contract (exit status 2, one line naming the fault, no output left behind)."""
import os
import pathlib

import h5py
import numpy as np
import pytest
from PIL import Image

from conftest import run_grove

ISBI = "pixel_classification/isbi2012_em_membranes"


def stroke_labels(dense):
    """Sparse labels like a user's strokes: four horizontal lines across the dense ground truth
    (0 = membrane -> class 1, 255 = interior -> class 2)."""
    labels = np.zeros(dense.shape, np.uint8)
    for row in (60, 190, 320, 450):
        labels[row:row + 2, :] = np.where(dense[row:row + 2, :] == 0, 1, 2)
    return labels


@pytest.fixture
def isbi(shared_data, tmp_path):
    image = shared_data / ISBI / "image" / "00.png"
    dense = np.asarray(Image.open(shared_data / ISBI / "label" / "00.png"))
    labels = tmp_path / "labels00.png"
    Image.fromarray(stroke_labels(dense)).save(labels)
    return image, labels


def train(tmp_path, image, labels, *extra):
    project = tmp_path / "em.grove"
    p = run_grove("pixel", "train", "--image", image, "--labels", labels, "-o", project, "--trees", 30,
                  "--seed", 7, *extra)
    assert p.returncode == 0, p.stderr
    return project


def test_train_predict_segment_em_membranes(isbi, tmp_path, shared_data):
    image, labels = isbi
    project = train(tmp_path, image, labels)
    # The project is an HDF5 file readable with h5py.
    with h5py.File(project, "r") as f:
        assert f.attrs["grove_format"] == "grove-project"
        assert f["pixel/classifier"] is not None
    other = shared_data / ISBI / "image" / "01.png"
    out = tmp_path / "out"
    out.mkdir()
    p = run_grove("run", project, other, "--export", "simple-segmentation", "--format", "png",
                  "--output", str(out / "{nickname}_seg"))
    assert p.returncode == 0, p.stderr
    segmentation = np.asarray(Image.open(out / "01_seg.png"))
    truth = np.asarray(Image.open(shared_data / ISBI / "label" / "01.png"))
    assert segmentation.shape == truth.shape
    assert set(np.unique(segmentation)) <= {1, 2}
    accuracy = np.mean((segmentation == 2) == (truth == 255))
    assert accuracy > 0.85, accuracy

    # Probabilities in HDF5: ilastik's layout, two channels summing to one.
    p = run_grove("run", project, other, "--output", str(out / "{nickname}_{result_type}"))
    assert p.returncode == 0, p.stderr
    with h5py.File(out / "01_Probabilities.h5", "r") as f:
        probabilities = f["exported_data"][()]
        assert "axistags" in f["exported_data"].attrs
    assert probabilities.shape == (512, 512, 2)
    assert np.allclose(probabilities.sum(-1), 1.0, atol=1e-5)

    # An existing output is refused without --overwrite, and kept.
    before = (out / "01_Probabilities.h5").stat().st_mtime_ns
    p = run_grove("run", project, other, "--output", str(out / "{nickname}_{result_type}"))
    assert p.returncode == 2
    assert "exists" in p.stderr and p.stderr.count("\n") == 1
    assert (out / "01_Probabilities.h5").stat().st_mtime_ns == before

    # Uncertainty is 1 - (p1 - p2).
    p = run_grove("run", project, other, "--export", "uncertainty", "--format", "npy",
                  "--output", str(out / "{nickname}_{result_type}"))
    assert p.returncode == 0, p.stderr
    uncertainty = np.load(out / "01_Uncertainty.npy").reshape(512, 512)
    expected = 1 - np.abs(probabilities[..., 0] - probabilities[..., 1])
    assert np.allclose(uncertainty, expected, atol=1e-5)


def test_training_is_deterministic(isbi, tmp_path, shared_data):
    image, labels = isbi
    outputs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        project = train(tmp_path / name, image, labels)
        out = project.parent / "p"
        p = run_grove("run", project, image, "--format", "npy", "--output", str(out))
        assert p.returncode == 0, p.stderr
        outputs.append(np.load(str(out) + ".npy"))
    assert np.array_equal(outputs[0], outputs[1])


def test_labels_of_a_different_shape_are_refused(isbi, tmp_path):
    image, _ = isbi
    wrong = tmp_path / "wrong.png"
    Image.fromarray(np.ones((100, 100), np.uint8)).save(wrong)
    p = run_grove("pixel", "train", "--image", image, "--labels", wrong, "-o", tmp_path / "p.grove")
    assert p.returncode == 2
    assert "wrong.png" in p.stderr and p.stderr.count("\n") == 1
    assert not (tmp_path / "p.grove").exists()


def test_empty_or_single_class_labels_are_refused(isbi, tmp_path):
    image, _ = isbi
    for name, values in (("empty", 0), ("single", 1)):
        labels = tmp_path / f"{name}.png"
        Image.fromarray(np.full((512, 512), values, np.uint8)).save(labels)
        p = run_grove("pixel", "train", "--image", image, "--labels", labels, "-o", tmp_path / f"{name}.grove")
        assert p.returncode == 2, p.stderr
        assert p.stderr.count("\n") == 1
        assert "label" in p.stderr
        assert not (tmp_path / f"{name}.grove").exists()


def test_project_trained_on_one_channel_refuses_three(isbi, tmp_path, shared_data):
    image, labels = isbi
    project = train(tmp_path, image, labels, "--features", "GaussianSmoothing:1.0")
    rgb = shared_data / "counting" / "vgg_cells" / "001cell.png"
    p = run_grove("run", project, rgb, "--output", str(tmp_path / "x"))
    assert p.returncode == 2
    assert "channel" in p.stderr and p.stderr.count("\n") == 1
    assert not list(tmp_path.glob("x*"))


def test_unwritable_output_folder(isbi, tmp_path):
    image, labels = isbi
    project = train(tmp_path, image, labels, "--features", "GaussianSmoothing:1.0")
    p = run_grove("run", project, image, "--output", "/nonexistent-folder/out")
    assert p.returncode == 2
    assert p.stderr.count("\n") == 1


def test_bad_flags_and_values(isbi, tmp_path):
    image, labels = isbi
    for args in (("--trees", "0"), ("--features", "Nonsense:1.0"), ("--threads", "-3")):
        p = run_grove("pixel", "train", "--image", image, "--labels", labels, "-o", tmp_path / "p.grove", *args)
        assert p.returncode == 2, (args, p.stderr)
        assert p.stderr.count("\n") == 1, p.stderr
    p = run_grove("pixel", "train", "--image", image, "-o", tmp_path / "p.grove")
    assert p.returncode == 2
    p = run_grove("run", tmp_path / "missing.grove", image)
    assert p.returncode == 2 and "missing.grove" in p.stderr
