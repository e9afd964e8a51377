"""Block-wise grove on dask arrays equals the whole-image result exactly: prediction and features,
2-D and 3-D, with channels, with blocks thinner than the halo, and read lazily from a file."""
import dask
import dask.array as da
import numpy as np
import pytest

import grove


@pytest.fixture(scope="module")
def trained(isbi):
    image = grove.read(isbi / "image" / "03.png")
    truth = grove.read(isbi / "label" / "03.png")
    labels = np.zeros(image.shape, np.uint8)
    labels.reshape(-1)[np.flatnonzero(truth.reshape(-1) == 0)[::40]] = 1
    labels.reshape(-1)[np.flatnonzero(truth.reshape(-1) == 255)[::150]] = 2
    project = grove.Project.create(features="GaussianSmoothing:1.0;HessianOfGaussianEigenvalues:3.5;DifferenceOfGaussians:5.0",
                                   n_trees=10)
    project.add_image(image, labels=labels, axes="yx")
    project.train()
    return project, grove.read(isbi / "image" / "04.png")


@pytest.mark.parametrize("chunks", [(128, 200), (300, 512), (16, 512)])
def test_predict_blocks_equals_whole_image(trained, chunks):
    project, image = trained
    expected = project.predict(image, axes="yx")
    lazy = grove.predict_blocks(da.from_array(image, chunks=chunks), project, axes="yx")
    assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
    with dask.config.set(scheduler="threads", num_workers=2):
        np.testing.assert_array_equal(lazy.compute(), expected)
    segmentation = grove.predict_blocks(da.from_array(image, chunks=chunks), project, axes="yx", output="simple-segmentation")
    np.testing.assert_array_equal(segmentation.compute(), project.predict(image, axes="yx", output="simple-segmentation"))


def test_halo_is_needed(trained):
    """Without the halo the blocks differ at their edges: the test above can fail."""
    project, image = trained
    expected = project.predict(image, axes="yx")
    naive = da.from_array(image, chunks=(128, 128)).map_blocks(
        lambda block: project.predict(block, axes="yx"), new_axis=2, chunks=((128,) * 4, (128,) * 4, (2,)), dtype=np.float32
    )
    assert not np.array_equal(naive.compute(), expected)


def test_predict_blocks_from_a_file(trained, tmp_path):
    project, image = trained
    path = f"{tmp_path}/image.zarr/raw"
    grove.write(path, image, axes="yx", chunks=(100, 100))
    lazy = da.from_array(grove.open_image(path), chunks=(100, 100))
    result = grove.predict_blocks(lazy, project)
    np.testing.assert_array_equal(result.compute(), project.predict(path))


def test_features_blocks_3d_and_channels(shared_data):
    volume = grove.read(shared_data / "ilastik_testdata" / "inputdata" / "3d.h5")
    spec = "GaussianGradientMagnitude:1.0;StructureTensorEigenvalues:0.7"
    expected = grove.features(volume, spec, axes="zyx")
    result = grove.features_blocks(da.from_array(volume, chunks=(20, 25, 30)), spec, axes="zyx")
    np.testing.assert_array_equal(result.compute(), expected)
    rgb = grove.read(shared_data / "ilastik_testdata" / "inputdata" / "2d3c.h5", axes="cyx")
    expected = grove.features(rgb, spec, axes="cyx")
    result = grove.features_blocks(da.from_array(rgb, chunks=(1, 40, 60)), spec, axes="cyx")
    assert result.shape == expected.shape
    np.testing.assert_array_equal(result.compute(), expected)


def test_predict_blocks_errors(trained):
    project, image = trained
    with pytest.raises(TypeError, match="dask"):
        grove.predict_blocks(image, project, axes="yx")
    with pytest.raises(ValueError, match="not trained"):
        grove.predict_blocks(da.from_array(image), grove.Project.create(), axes="yx")
    with pytest.raises(ValueError, match="output"):
        grove.predict_blocks(da.from_array(image), project, axes="yx", output="colours")
