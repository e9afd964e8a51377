"""Helpers shared by the modules of the grove package: argument checks and conversions that
give the same messages everywhere (feature specifications, axes, thread counts, images)."""

import os

import numpy as np

# ilastik's feature family ids, and the scikit-image-style names grove also accepts for them.
FAMILY_IDS = {
    "gaussian_smoothing": "GaussianSmoothing",
    "laplacian_of_gaussian": "LaplacianOfGaussian",
    "gaussian_gradient_magnitude": "GaussianGradientMagnitude",
    "difference_of_gaussians": "DifferenceOfGaussians",
    "structure_tensor_eigenvalues": "StructureTensorEigenvalues",
    "hessian_of_gaussian_eigenvalues": "HessianOfGaussianEigenvalues",
}


def feature_spec(features):
    """The SPEC string of a feature selection given as a SPEC string ("all",
    "GaussianSmoothing:0.3,1.0;..."), a mapping {family: scale or scales}, or an iterable of
    (family, scale) pairs. Family names are ilastik's ids or their snake_case forms."""
    if isinstance(features, str):
        return features
    if features is None:
        return "all"
    if hasattr(features, "items"):
        pairs = []
        for family, scales in features.items():
            for scale in np.atleast_1d(scales):
                pairs.append((family, scale))
    else:
        try:
            pairs = [tuple(pair) for pair in features]
        except TypeError:
            raise TypeError(
                "features must be a SPEC string like 'all' or 'GaussianSmoothing:1.0', a dict "
                f"{{family: scales}} or a list of (family, scale) pairs, not {type(features).__name__}"
            ) from None
    by_family = {}
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"features: expected (family, scale) pairs, got {pair!r}")
        family, scale = pair
        if not isinstance(family, str):
            raise TypeError(f"features: a family name must be a string, got {family!r}")
        name = FAMILY_IDS.get(family, family)
        if name.lower() == "computein2d":
            name = "ComputeIn2d"
        by_family.setdefault(name, []).append(float(scale))
    if not by_family:
        raise ValueError("features: no feature is selected")
    return ";".join(f"{name}:{','.join(repr(s) for s in scales)}" for name, scales in by_family.items())


def thread_count(threads, name="threads"):
    """grove's thread count (0: every core) from None, -1 or a positive number."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"{name} must be an integer or None, got {threads!r}")
    threads = int(threads)
    if threads == -1 or threads == 0:
        return 0
    if threads < 0:
        return max(1, (os.cpu_count() or 1) + 1 + threads)
    return threads


def as_image(image, what="image"):
    """image as a numpy array (without copying numpy arrays); TypeError for what is no array."""
    if isinstance(image, np.ndarray):
        return image
    if isinstance(image, (str, bytes, os.PathLike)):
        raise TypeError(f"{what} must be an array here, got the path {image!r}")
    try:
        array = np.asarray(image)
    except Exception as error:  # noqa: BLE001 - any failure means "not an array"
        raise TypeError(f"{what} must be a numpy array, got {type(image).__name__}") from error
    if array.dtype == object:
        raise TypeError(f"{what} must be a numeric numpy array, got {type(image).__name__}")
    return array


def guess_axes(shape):
    """grove's axes for an array of this shape when none are given (as for a .npy file)."""
    ndim = len(shape)
    few_last = ndim > 0 and shape[-1] <= 4
    if ndim == 2:
        return "yx"
    if ndim == 3:
        return "yxc" if few_last else "zyx"
    if ndim == 4:
        return "zyxc" if few_last else "tzyx"
    if ndim == 5:
        return "tzyxc"
    raise ValueError(
        f"an image of {ndim} dimension(s): grove handles 2 to 5 (t, z, y, x, c); give axes=..."
    )


def check_axes(axes, shape, what="image"):
    """axes checked against an array shape (or guessed when None), lower-cased."""
    if axes is None:
        return guess_axes(shape)
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string like 'yx' or 'zyxc', got {axes!r}")
    lower = axes.lower()
    if len(lower) != len(shape):
        raise ValueError(
            f"axes '{axes}' has {len(lower)} letter(s) but {what} has {len(shape)} "
            f"dimension(s) (shape {tuple(shape)})"
        )
    if any(letter not in "tzyxc" for letter in lower) or len(set(lower)) != len(lower):
        raise ValueError(f"axes '{axes}' of {what}: use letters of 'tzyxc', each at most once")
    return lower


def spatial_ndim(axes, shape):
    """3 for a volume (a z axis longer than 1), else 2: how grove computes its features."""
    if "z" in axes and shape[axes.index("z")] > 1:
        return 3
    return 2
