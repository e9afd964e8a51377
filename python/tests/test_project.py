"""grove.Project: trained in Python it predicts what the command line predicts (from the saved
project, and from the same labels trained with `grove pixel train`); ilastik projects open and
predict like `grove run` and ilastik; labels, images, outputs, saving and errors."""
import zipfile

import numpy as np
import pytest

import grove
from conftest import run_grove

SPEC = "GaussianSmoothing:0.7,3.5;LaplacianOfGaussian:1.6;HessianOfGaussianEigenvalues:1.0"


def sparse_labels(truth, step=97):
    """A few hundred labels of each class from dense membrane (0) / cell (255) ground truth."""
    labels = np.zeros(truth.shape, np.uint8)
    flat = labels.reshape(-1)
    membrane = np.flatnonzero(truth.reshape(-1) == 0)
    cell = np.flatnonzero(truth.reshape(-1) == 255)
    flat[membrane[:: step // 4]] = 1
    flat[cell[::step]] = 2
    return labels


@pytest.fixture(scope="module")
def slices(isbi):
    image = isbi / "image" / "00.png"
    truth = grove.read(isbi / "label" / "00.png", axes="yx")
    return image, sparse_labels(truth), isbi / "image" / "01.png"


def cli_run(project_path, image_path, tmp_path, name):
    out = tmp_path / name
    run_grove("run", project_path, image_path, "--format", "npy", "--output", out)
    return np.load(f"{out}.npy")


def test_python_training_predicts_like_the_command_line(slices, tmp_path):
    image_path, labels, test_path = slices
    project = grove.Project.create(features=SPEC, n_trees=20, seed=1, classes=["membrane", "cell"])
    assert project.add_image(image_path, labels=labels) == 0
    report = project.train()
    assert report["labelled_pixels"] == np.count_nonzero(labels)
    assert report["pixels_per_class"] == [np.sum(labels == 1), np.sum(labels == 2)]
    probabilities = project.predict(test_path)
    assert probabilities.shape == (512, 512, 2) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-5)

    # The saved project, run by the command line.
    project.save(tmp_path / "python.grove")
    np.testing.assert_array_equal(cli_run(tmp_path / "python.grove", test_path, tmp_path, "saved").reshape(probabilities.shape), probabilities)

    # The same labels trained by the command line give the same forest, hence the same result.
    grove.write(tmp_path / "labels.tif", labels, axes="yx")
    run_grove("pixel", "train", "--image", image_path, "--labels", tmp_path / "labels.tif", "--features", SPEC,
              "--trees", 20, "--seed", 1, "-o", tmp_path / "cli.grove")
    np.testing.assert_array_equal(cli_run(tmp_path / "cli.grove", test_path, tmp_path, "cli").reshape(probabilities.shape), probabilities)

    # Reopened in Python: the same prediction, classes, features, images and labels.
    reopened = grove.Project.open(tmp_path / "python.grove")
    assert reopened.classes == ["membrane", "cell"]
    assert reopened.features == project.features
    assert reopened.images[0]["path"] == str(image_path)
    np.testing.assert_array_equal(reopened.labels(0), labels)
    np.testing.assert_array_equal(reopened.predict(grove.read(test_path), axes="yx"), probabilities)


def test_array_images_predict_like_the_command_line(slices, tmp_path):
    image_path, labels, test_path = slices
    image = grove.read(image_path)
    project = grove.Project.create(features=SPEC, n_trees=10, seed=2)
    project.add_labels(image, labels, axes="yx")  # adds the array, then its labels
    assert project.images[0]["path"] is None and project.images[0]["in_memory"]
    project.train()
    test = grove.read(test_path)
    probabilities = project.predict(test, axes="yx")
    path = tmp_path / "arrays.grove"
    project.save(path)
    np.testing.assert_array_equal(cli_run(path, test_path, tmp_path, "arrays").reshape(probabilities.shape), probabilities)
    # A saved project keeps the labels of array images, not their pixels: retraining needs them.
    reopened = grove.Project.open(path)
    assert not reopened.images[0]["in_memory"]
    np.testing.assert_array_equal(reopened.labels(0), labels)
    with pytest.raises(ValueError, match="set_image"):
        reopened.train()
    reopened.set_image(0, image)
    reopened.train()
    np.testing.assert_array_equal(reopened.predict(test, axes="yx"), probabilities)


def test_outputs_labels_and_properties(slices):
    image_path, labels, test_path = slices
    image = grove.read(image_path)[:256, :256]
    strokes = labels[:256, :256]
    project = grove.Project.create(features="GaussianSmoothing:1.0;GaussianGradientMagnitude:1.6", n_trees=10)
    assert not project.trained and project.path is None
    index = project.add_image(image, axes="yx", name="crop")
    half = strokes.copy()
    half[:, 128:] = 0
    project.add_labels(index, half)
    project.add_labels(image, np.where(np.arange(256) >= 128, strokes, 0))  # the same array object
    assert len(project.images) == 1
    np.testing.assert_array_equal(project.labels(image), strokes)
    assert project.images[0]["labels"] == {1: int(np.sum(strokes == 1)), 2: int(np.sum(strokes == 2))}
    project.train()
    assert project.trained and project.n_classes == 2
    assert project.feature_names == grove.feature_names(project.features)
    assert project.feature_importances_.shape == (2,)
    assert project.halo == grove.feature_halo(project.features, 2)
    probabilities = project.predict(image, axes="yx")
    segmentation = project.predict(image, axes="yx", output="simple-segmentation")
    assert segmentation.shape == (256, 256) and segmentation.dtype == np.uint8
    np.testing.assert_array_equal(segmentation, np.argmax(probabilities, axis=-1) + 1)
    uncertainty = project.predict(index, output="uncertainty")
    assert uncertainty.shape == (256, 256)
    top = np.sort(probabilities, axis=-1)
    np.testing.assert_allclose(uncertainty, 1 - (top[..., -1] - top[..., -2]), atol=1e-6)
    features = project.predict(image, axes="yx", output="features")
    np.testing.assert_array_equal(features, grove.features(image, project.features, axes="yx"))
    # New features discard the forest.
    project.features = {"gaussian_smoothing": 3.5}
    assert project.features == "GaussianSmoothing:3.5" and not project.trained
    project.clear_labels(0)
    assert not project.labels(0).any()


@pytest.fixture(scope="module")
def api_projects(tmp_path_factory, shared_data):
    root = tmp_path_factory.mktemp("api")
    with zipfile.ZipFile(shared_data / "ilastik_testdata" / "api_projects.zip") as z:
        z.extractall(root)
    return root


def test_ilastik_project_predicts_like_grove_run_and_ilastik(api_projects, tmp_path):
    ilp = api_projects / "PixelClass.ilp"
    image = api_projects / "Data_1channel.png"
    project = grove.Project.open(ilp)
    assert project.trained and len(project.classes) == project.n_classes == 2
    assert project.feature_importances_ is None  # ilastik's forests carry none
    probabilities = project.predict(image)
    np.testing.assert_array_equal(cli_run(ilp, image, tmp_path, "ilp").reshape(probabilities.shape), probabilities)
    reference = np.load(api_projects / "res-Data_1channel_pc1xyc.npy")
    within = np.mean(np.abs(probabilities.reshape(reference.shape) - reference) <= 0.02)
    print(f"PixelClass.ilp: {within:.4%} of values within 0.02 of ilastik's")
    assert within >= 0.999
    with pytest.raises(ValueError, match=".ilp"):
        project.save(tmp_path / "copy.ilp")


def test_3d_ilastik_project_predicts_arrays(api_projects):
    project = grove.Project.open(api_projects / "PixelClass3D.ilp")
    volume = np.load(api_projects / "Data_3D.npy")
    reference = np.load(api_projects / "res-Data_3D_pc3d.npy")
    axes = "zyxc"[: volume.ndim] if volume.ndim == 4 else "zyx"
    probabilities = project.predict(volume, axes=axes)
    within = np.mean(np.abs(probabilities.reshape(reference.shape) - reference) <= 0.02)
    assert within >= 0.999


def test_project_errors(slices, tmp_path):
    image_path, labels, _ = slices
    with pytest.raises(FileNotFoundError):
        grove.Project.open(tmp_path / "missing.grove")
    (tmp_path / "text.grove").write_text("not a project")
    with pytest.raises((ValueError, RuntimeError)):
        grove.Project.open(tmp_path / "text.grove")
    project = grove.Project.create(features="GaussianSmoothing:1.0", n_trees=5)
    with pytest.raises(ValueError, match="no trained classifier"):
        project.predict(np.zeros((10, 10), np.uint8), axes="yx")
    image = grove.read(image_path)
    index = project.add_image(image)
    with pytest.raises(ValueError, match="labels"):
        project.train()  # no labels yet
    with pytest.raises(TypeError, match="integer"):
        project.set_labels(index, labels.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        project.set_labels(index, labels[:100])
    with pytest.raises(ValueError, match="0..255"):
        project.set_labels(index, labels.astype(np.int32) * 200)
    one_class = np.where(labels == 2, 2, 0).astype(np.uint8)
    project.set_labels(index, one_class)
    with pytest.raises(ValueError, match="two classes"):
        project.train()
    project.set_labels(index, labels)
    project.train()
    with pytest.raises(ValueError, match="channel"):
        project.predict(np.zeros((20, 20, 3), np.uint8), axes="yxc")
    with pytest.raises(ValueError, match="output"):
        project.predict(image, axes="yx", output="colours")
    with pytest.raises(IndexError):
        project.labels(5)
    with pytest.raises(ValueError, match="not in the project"):
        project.labels(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="channel"):
        project.add_image(np.zeros((10, 10, 2), np.uint8), axes="yxc")
    with pytest.raises(ValueError, match="features"):
        project.features = "NoSuchFeature:1.0"
    with pytest.raises(ValueError, match="never saved"):
        project.save()
