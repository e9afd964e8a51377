"""grove: interactive machine learning for (bio)image analysis, from Python.

ilastik's pixel features and random forest on numpy arrays, pixel-classification projects
(grove's and ilastik's .ilp), image files in grove's formats, and block-wise processing of
dask arrays. The work runs in grove's C++ core on every core with the GIL released; numpy
inputs are read in place where their layout allows.

Functions
---------
features, feature_names, feature_halo
    ilastik's pixel features of an image, their names, the halo blocks need.
RandomForest, permutation_importance
    The random forest with scikit-learn's conventions.
Project
    Pixel classification: images, labels, training, prediction, export; opens .ilp files.
read, write, info, datasets, open_image
    Image files (TIFF, PNG, JPEG, .npy, HDF5, Zarr/OME-Zarr, N5).
predict_blocks, features_blocks
    Lazy block-wise prediction and features of dask arrays, equal to the whole-image results.

Axes are strings of the letters t, z, y, x, c (time, depth, rows, columns, channels), one per
array dimension, e.g. "yx", "zyx", "yxc", "tzyxc".
"""

from ._dask import features_blocks, predict_blocks
from ._features import feature_halo, feature_names, features
from ._forest import RandomForest, permutation_importance
from ._io import ImageFile, datasets, info, open_image, read, write
from ._project import Project

__version__ = "0.1.0"

__all__ = [
    "ImageFile",
    "Project",
    "RandomForest",
    "datasets",
    "feature_halo",
    "feature_names",
    "features",
    "features_blocks",
    "info",
    "open_image",
    "permutation_importance",
    "predict_blocks",
    "read",
    "write",
]
