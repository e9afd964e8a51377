"""Pixel-classification projects from Python: grove.Project (grove projects and ilastik .ilp
files), with images from files or numpy arrays, labels from numpy, training, prediction, export
and saving."""

import json
import os

import numpy as np

from . import _grove
from ._common import as_image, check_axes, feature_spec, thread_count

_OUTPUTS = ("probabilities", "simple-segmentation", "segmentation", "uncertainty", "features")


def _is_path(value):
    return isinstance(value, (str, os.PathLike))


def _forest_options(n_trees, seed, max_depth, min_samples_leaf, max_features, class_weight):
    options = {"tree_count": int(n_trees), "seed": int(seed)}
    if max_depth is not None:
        options["max_depth"] = int(max_depth)
    options["min_leaf_size"] = int(min_samples_leaf)
    if max_features is not None:
        options["features_per_split"] = int(max_features)
    if class_weight not in (None, "balanced"):
        raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
    options["balance_classes"] = class_weight == "balanced"
    return options


class Project:
    """A pixel-classification project: images with sparse labels, a feature selection and a
    random forest trained on the labelled pixels' features, as in ilastik's Pixel
    Classification workflow.

    Make one with :meth:`Project.create` or :meth:`Project.open` (grove projects and ilastik
    1.2-1.4 ``.ilp`` files). Images are files (read block by block when needed) or numpy arrays
    (held by reference, not copied: change the array and the project sees the change). Labels
    are integer arrays of an image's shape without its channel axis: 0 unlabelled, k class k
    (1..255). Training computes features only where there are labels; prediction runs block by
    block on every core with the GIL released. A saved project predicts with ``grove run`` the
    same as :meth:`predict` here.

    Examples
    --------
    >>> import numpy as np, grove
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(64, 64)).astype(np.float32)
    >>> image[:, 32:] += 4                              # a bright right half
    >>> labels = np.zeros(image.shape, np.uint8)
    >>> labels[10:20, 5:15] = 1                         # strokes in the dark half ...
    >>> labels[40:50, 45:55] = 2                        # ... and in the bright one
    >>> project = grove.Project.create(features="GaussianSmoothing:1.0,3.5", n_trees=10)
    >>> project.add_image(image, labels=labels, axes="yx")
    0
    >>> report = project.train()
    >>> probabilities = project.predict(image, axes="yx")
    >>> probabilities.shape
    (64, 64, 2)
    >>> bool(probabilities[32, 60, 1] > 0.9)
    True
    """

    def __init__(self, _handle=None):
        self._handle = _handle if _handle is not None else _grove._Project()
        # Per image: the numpy array it was given as (None for files), to find it again.
        self._arrays = [None] * len(self._handle.images)

    # --- making and opening -------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        features="all",
        n_trees=100,
        *,
        seed=0,
        classes=None,
        max_depth=None,
        min_samples_leaf=1,
        max_features=None,
        class_weight=None,
    ):
        """A new, empty project.

        Parameters
        ----------
        features : str, dict or list of (family, scale), optional
            The feature selection, as for :func:`grove.features` (default: all of ilastik's
            features, 49 per channel in 2-D, 61 in 3-D).
        n_trees : int, optional
            Trees of the random forest, 1..100000 (ilastik: 100).
        seed : int, optional
            Seed of the forest's training (same labels and seed: same forest).
        classes : list of str, optional
            Class names, for label values 1, 2, ... (default: "Label 1", "Label 2", ...).
        max_depth, min_samples_leaf : int, optional
            As for :class:`grove.RandomForest`.
        max_features : int, optional
            Features tried at each split (default: round(√F), as ilastik).
        class_weight : None or "balanced", optional
            "balanced" weighs each class by its inverse share of the labelled pixels.

        Returns
        -------
        Project
        """
        project = cls()
        project.features = features
        project._handle.forest_options = json.dumps(
            _forest_options(n_trees, seed, max_depth, min_samples_leaf, max_features, class_weight)
        )
        if classes is not None:
            project.classes = classes
        return project

    @classmethod
    def open(cls, path, *, raw_data_dirs=(), allow_missing_raw_data=False):
        """Open a grove project, or import an ilastik pixel-classification project (.ilp).

        An ``.ilp`` is read, never changed: its images (raw data paths), labels, feature
        selection and trained forests, so that :meth:`predict` gives what ilastik gives.

        Parameters
        ----------
        path : str or path-like
            A grove project file or an ilastik ``.ilp``.
        raw_data_dirs : list of str, optional
            Folders to look in for raw data an ``.ilp`` names but that is not where it says.
        allow_missing_raw_data : bool, optional
            Open an ``.ilp`` even when raw data cannot be found (prediction of other images
            still works; training needs the images).

        Raises
        ------
        FileNotFoundError
            The project, or raw data it needs, does not exist.
        ValueError, RuntimeError
            The file is not a grove or ilastik project, or is damaged.
        """
        if not _is_path(path):
            raise TypeError(f"path must be a string or path-like, got {type(path).__name__}")
        dirs = [os.fspath(d) for d in raw_data_dirs]
        return cls(_grove._Project.open(os.fspath(path), dirs, bool(allow_missing_raw_data)))

    def __repr__(self):
        state = "trained" if self.trained else "untrained"
        return (
            f"<grove.Project {self.path or '(not saved)'}: {len(self.images)} image(s), "
            f"{len(self.classes)} class(es), features {self.features!r}, {state}>"
        )

    # --- properties ---------------------------------------------------------------------------
    @property
    def path(self):
        """Where the project was opened from or last saved to (None for a new project)."""
        return self._handle.path or None

    @property
    def features(self):
        """The feature selection as a SPEC string ("all" or "Family:scales;..."). Setting it
        (any form :func:`grove.features` takes) discards the trained forest."""
        return self._handle.features

    @features.setter
    def features(self, value):
        self._handle.features = feature_spec(value)

    @property
    def classes(self):
        """Class names; label value k is ``classes[k - 1]``."""
        return list(self._handle.class_names)

    @classes.setter
    def classes(self, names):
        names = [str(n) for n in names]
        self._handle.class_names = names

    @property
    def forest_options(self):
        """The random forest's settings (a dict; grove's names: tree_count, seed, ...)."""
        return json.loads(self._handle.forest_options)

    @property
    def n_trees(self):
        """Trees of the forest trained next."""
        return self.forest_options["tree_count"]

    @property
    def images(self):
        """The project's images, one dict each: ``path`` (None for arrays), ``name``, ``axes``,
        ``shape`` (in those axes), ``dtype``, ``in_memory`` (an array is attached) and
        ``labels`` ({class value: labelled pixels})."""
        return self._handle.images

    @property
    def trained(self):
        """True once the project has a forest (trained here, loaded or imported)."""
        return self._handle.forest is not None

    @property
    def n_classes(self):
        """Probability channels :meth:`predict` returns (0 before training)."""
        forest = self._handle.forest
        return 0 if forest is None else forest.n_outputs

    @property
    def feature_importances_(self):
        """Gini importance of each feature of the trained forest (in the order of
        :attr:`feature_names`), or None for forests imported from ilastik."""
        forest = self._handle.forest
        if forest is None:
            raise AttributeError("the project is not trained yet")
        importance = forest.gini_importance
        return importance if importance.size else None

    @property
    def feature_names(self):
        """Names of the feature channels the forest reads (for the images trained on)."""
        channels = max(1, self._handle.trained_channels)
        if not self.trained and self.images:
            first = self.images[0]
            channels = first["shape"][first["axes"].index("c")] if "c" in first["axes"] else 1
        ndim = 3 if self._handle.trained_3d else 2
        return list(_grove._feature_names(self.features, ndim, int(channels)))

    @property
    def halo(self):
        """Pixels per side a block needs for exact block-wise prediction, along (y, x) for 2-D
        projects, (z, y, x) for projects trained on volumes (see :func:`grove.feature_halo`)."""
        return self.feature_halo(3 if self._handle.trained_3d else 2)

    def feature_halo(self, ndim):
        """:func:`grove.feature_halo` of this project's features for images of `ndim` (2 or 3)
        spatial dimensions."""
        return self._handle.halo(int(ndim))

    # --- images and labels --------------------------------------------------------------------
    def add_image(self, image, labels=None, *, axes=None, name=None):
        """Add an image to train on.

        Parameters
        ----------
        image : str, path-like or ndarray
            A file (any format :func:`grove.read` reads; the file's axes are used) or a numpy
            array (kept by reference, not copied).
        labels : ndarray, optional
            Its labels (see :meth:`set_labels`).
        axes : str, optional
            For arrays: one letter of "tzyxc" per dimension (default: guessed as
            :func:`grove.features` does).
        name : str, optional
            For arrays: a name (ilastik's nickname; default "image<N>").

        Returns
        -------
        int
            The image's index in :attr:`images`.
        """
        if _is_path(image):
            index = self._handle.add_image_path(os.fspath(image))
            self._arrays.append(None)
        else:
            array = as_image(image)
            axes = check_axes(axes, array.shape)
            name = name or f"image{len(self.images)}"
            index = self._handle.add_image_array(array, axes, str(name))
            self._arrays.append(array)
        if labels is not None:
            self.set_labels(index, labels)
        return index

    def set_image(self, index, image, *, axes=None):
        """Attach the data of image `index` again (a project saved with images given as arrays
        keeps their labels and shapes, not their pixels). `image` must have the same shape."""
        index = self._index(index)
        array = as_image(image)
        axes = check_axes(axes or self.images[index]["axes"], array.shape)
        self._handle.set_image_array(index, array, axes)
        self._arrays[index] = array

    def _index(self, image, add=False, axes=None):
        """The index of an image given as an index, a path or an array (the same object that
        was added), adding it if asked to."""
        if isinstance(image, (int, np.integer)) and not isinstance(image, bool):
            if not 0 <= int(image) < len(self.images):
                raise IndexError(f"image index {image} is out of range ({len(self.images)} image(s))")
            return int(image)
        if _is_path(image):
            wanted = os.path.abspath(os.fspath(image))
            for i, item in enumerate(self.images):
                if item["path"] is not None and os.path.abspath(item["path"]) == wanted:
                    return i
        elif isinstance(image, np.ndarray):
            for i, array in enumerate(self._arrays):
                if array is image:
                    return i
        else:
            raise TypeError(f"image must be an index, a path or a numpy array, got {type(image).__name__}")
        if not add:
            raise ValueError("the image is not in the project; add it with add_image first")
        return self.add_image(image, axes=axes)

    def _labels_array(self, index, labels):
        labels = as_image(labels, "labels")
        if labels.dtype.kind not in "iu":
            raise TypeError(
                f"labels must be an integer array (0 = unlabelled, k = class k), got dtype {labels.dtype}"
            )
        item = self.images[index]
        axes = item["axes"]
        label_axes = axes.replace("c", "")
        if labels.ndim == len(axes) and "c" in axes and labels.shape[axes.index("c")] == 1:
            label_axes = axes
        if labels.ndim != len(label_axes):
            raise ValueError(
                f"labels have shape {labels.shape} but image {index} has axes '{axes}' and shape "
                f"{item['shape']}: labels need the image's shape without its channel axis"
            )
        return labels, label_axes

    def set_labels(self, image, labels):
        """Replace the labels of an image.

        Parameters
        ----------
        image : int, str, path-like or ndarray
            The image: its index, its path or the array it was added as; an image not yet in
            the project is added.
        labels : ndarray of integers
            The image's shape without its channel axis (a channel axis of extent 1 may be kept),
            0 = unlabelled, k = class k (1..255).
        """
        index = self._index(image, add=True)
        labels, label_axes = self._labels_array(index, labels)
        self._handle.set_labels(index, labels, label_axes)
        return index

    def add_labels(self, image, labels, *, axes=None):
        """Add labels to an image: the nonzero values of `labels` replace the image's labels
        there, the others stay (like painting strokes).

        Parameters
        ----------
        image : int, str, path-like or ndarray
            The image: its index, its path or the array it was added as; an image not yet in
            the project is added (with `axes`, for arrays).
        labels : ndarray of integers
            As for :meth:`set_labels`.

        Returns
        -------
        int
            The image's index.
        """
        index = self._index(image, add=True, axes=axes)
        labels, label_axes = self._labels_array(index, labels)
        existing = self._handle.labels(index)
        if existing.any():
            existing = existing.reshape(labels.shape) if existing.size == labels.size else existing
            labels = np.where(labels != 0, labels, existing)
        self._handle.set_labels(index, labels, label_axes)
        return index

    def labels(self, image):
        """The labels of an image (index, path or array) as a dense uint8 array in the image's
        axes without its channel axis."""
        return self._handle.labels(self._index(image))

    def clear_labels(self, image):
        """Remove every label of an image."""
        self._handle.clear_labels(self._index(image))

    # --- training and prediction ---------------------------------------------------------------
    def train(self, threads=None):
        """Train the random forest on the features of every labelled pixel of every image.

        Needs labels of at least two classes. Features are computed only in the blocks that
        hold labels.

        Parameters
        ----------
        threads : int, optional
            Threads; None, 0 or -1 use every core.

        Returns
        -------
        dict
            ``labelled_pixels``, ``pixels_per_class`` (for classes 1..K), ``seconds_features``,
            ``seconds_training``.
        """
        return self._handle.train(thread_count(threads))

    def predict(self, image, *, axes=None, output="probabilities", threads=None):
        """Predict an image with the trained forest.

        Parameters
        ----------
        image : str, path-like, ndarray or int
            A file (read block by block, in its own axes), a numpy array, or the index of one of
            the project's images.
        axes : str, optional
            For arrays: one letter of "tzyxc" per dimension (default: guessed as
            :func:`grove.features` does). Its channel count must be the one trained on.
        output : str, optional
            "probabilities" (default), "simple-segmentation" (uint8 class 1..K of the most
            probable class), "uncertainty" (float32, 1 minus the margin between the two most
            probable classes, as ilastik) or "features" (float32, what the forest reads).
        threads : int, optional
            Threads; None, 0 or -1 use every core.

        Returns
        -------
        ndarray
            The image's axes without its channel axis, then (for probabilities and features) a
            channel axis last: e.g. (y, x, K) float32 probabilities, in [0, 1], summing to 1
            over the K classes.
        """
        if not isinstance(output, str) or output.lower().replace("_", "-").replace(" ", "-") not in _OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(_OUTPUTS)}, got {output!r}")
        threads = thread_count(threads)
        if isinstance(image, (int, np.integer)) and not isinstance(image, bool):
            index = self._index(image)
            if self._arrays[index] is not None:
                image, axes = self._arrays[index], self.images[index]["axes"]
            elif self.images[index]["path"] is not None:
                image = self.images[index]["path"]
            else:
                raise ValueError(f"image {index} has no data attached; give it with set_image")
        if _is_path(image):
            return self._handle.predict_path(os.fspath(image), output, threads)
        array = as_image(image)
        axes = check_axes(axes, array.shape)
        return self._handle.predict_array(array, axes, output, threads)

    def export(
        self,
        image,
        output=None,
        *,
        source="probabilities",
        format="hdf5",
        dtype=None,
        axes=None,
        overwrite=False,
        threads=None,
    ):
        """Predict an image file into an output file block by block, as ``grove run`` does:
        never the whole image or result in memory, so it works on images larger than RAM.

        Parameters
        ----------
        image : str or path-like
            The input image file (``file.h5/dataset`` for containers).
        output : str, optional
            Output path or pattern with ilastik's placeholders ``{dataset_dir}``,
            ``{nickname}``, ``{result_type}``; the format's extension is added when missing.
            Default: ``{dataset_dir}/{nickname}_{result_type}``.
        source : str, optional
            "probabilities", "simple-segmentation", "uncertainty", "features", "labels" (of a
            project image) or "overlay" (RGB, the raw image with class colours blended in).
        format : str, optional
            "hdf5", "tiff", "png", "jpeg", "npy", "zarr" or "n5".
        dtype : str, optional
            Convert the result ("uint8", "float32", ...).
        axes : str, optional
            Axis order of the output, e.g. "tzyxc" or "yxc".
        overwrite : bool, optional
            Replace an existing output (else FileExistsError).
        threads : int, optional
            Threads; None, 0 or -1 use every core.

        Returns
        -------
        str
            The path written.
        """
        if not _is_path(image):
            raise TypeError("export reads its input from a file; use predict for arrays")
        return self._handle.export(
            os.fspath(image),
            "" if output is None else os.fspath(output),
            source,
            format,
            dtype or "",
            axes or "",
            bool(overwrite),
            thread_count(threads),
        )

    def save(self, path=None, *, overwrite=True):
        """Save the project (atomically: the old file stays whole until the new one is).

        Images given as files are stored by path (relative to the project when under its
        folder); images given as arrays keep their labels, shape and name but not their pixels
        (write them with :func:`grove.write` and add them by path to keep them).

        Parameters
        ----------
        path : str or path-like, optional
            Where to save; default: where it was opened from or last saved to.
        overwrite : bool, optional
            Replace an existing grove project (a file that is not a grove project is never
            replaced).
        """
        if path is None:
            path = self.path
            if path is None:
                raise ValueError("give a path: the project was never saved")
        if not _is_path(path):
            raise TypeError(f"path must be a string or path-like, got {type(path).__name__}")
        if os.fspath(path).lower().endswith(".ilp"):
            raise ValueError("grove does not write ilastik .ilp files; save under another name")
        self._handle.save(os.fspath(path), bool(overwrite))

    def _predict_block(self, block, axes, output, threads):
        """One block of :func:`grove.predict_blocks`."""
        return self._handle.predict_array(block, axes, output, threads)
