"""ilastik's pixel features of numpy images: grove.features, grove.feature_names and
grove.feature_halo."""

from . import _grove
from ._common import as_image, feature_spec, thread_count


def features(image, features="all", axes=None, threads=None):
    """Compute ilastik's pixel features of an image.

    Per input channel: Gaussian smoothing, Laplacian of Gaussian, Gaussian gradient magnitude,
    difference of Gaussians, structure tensor eigenvalues and Hessian of Gaussian eigenvalues,
    at the scales selected, with ilastik's presmoothing and reflected borders, so that the
    values match what ilastik 1.4 computes for the same selection.

    Parameters
    ----------
    image : ndarray
        The image, 2 to 5 dimensions, any of bool, (u)int8..64, float16/32/64. It is read in
        place when its layout allows (no copy).
    features : str, dict or list of (family, scale), optional
        The selection: ``"all"`` (six families at ilastik's scales 0.3, 0.7, 1.0, 1.6, 3.5, 5.0,
        10.0; 0.3 only for smoothing), a SPEC string
        ``"GaussianSmoothing:0.3,1.0;HessianOfGaussianEigenvalues:3.5"``, a dict
        ``{"gaussian_smoothing": [0.3, 1.0], "HessianOfGaussianEigenvalues": 3.5}`` or a list of
        ``(family, scale)`` pairs. Scales are Gaussian sigmas in pixels, in (0, 500]. Add
        ``"ComputeIn2d:1.6,3.5"`` (or ``"ComputeIn2d:all"``) to compute those scales slice by
        slice in volumes, as ilastik's "2D" check box does.
    axes : str, optional
        One letter of ``"tzyxc"`` per dimension of `image`, e.g. ``"yx"``, ``"zyx"``,
        ``"yxc"``, ``"tzyxc"``. Default: guessed from the shape as grove guesses for .npy files
        (2-D: yx; 3-D: yxc if the last extent is at most 4, else zyx; 4-D: zyxc if the last extent
        is at most 4, else tzyx; 5-D: tzyxc). Give it explicitly when in doubt.
    threads : int, optional
        Worker threads; None, 0 or -1 use every core.

    Returns
    -------
    ndarray of float32
        The features with the image's axes except its channel axis, then one axis of F feature
        channels last, e.g. (y, x, F) for ``axes="yx"`` or ``"yxc"``. Channels are in ilastik's
        order: by family, then scale, then input channel, then component (eigenvalues in
        descending order); :func:`feature_names` names them. F = 49 for all features of a
        single-channel 2-D image, 61 for a volume.

    Raises
    ------
    TypeError
        `image` is not a numeric array.
    ValueError
        `axes` does not fit `image`, `features` is not a valid selection, or the image is empty.

    Examples
    --------
    >>> import numpy as np, grove
    >>> image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    >>> grove.features(image).shape
    (64, 64, 49)
    >>> grove.features(image, {"gaussian_smoothing": [1.0, 3.5]}, axes="yx").shape
    (64, 64, 2)
    """
    image = as_image(image)
    return _grove._features(image, feature_spec(features), axes, thread_count(threads))


def feature_names(features="all", ndim=2, channels=1):
    """Names of the feature channels :func:`features` computes, in its channel order.

    Parameters
    ----------
    features : str, dict or list of (family, scale), optional
        The selection, as for :func:`features`.
    ndim : {2, 3}, optional
        Spatial dimensions of the image: 3 for volumes (z longer than 1), where the eigenvalue
        families give three channels instead of two.
    channels : int, optional
        Channels of the input image (at least 1).

    Returns
    -------
    list of str
        E.g. ``"Gaussian Smoothing (σ=0.30) [c0]"``,
        ``"Hessian of Gaussian Eigenvalues (σ=1.60) [c0 e1]"``.

    Examples
    --------
    >>> import grove
    >>> grove.feature_names("GaussianSmoothing:1.0;StructureTensorEigenvalues:1.0")
    ['Gaussian Smoothing (σ=1.00) [c0]', 'Structure Tensor Eigenvalues (σ=1.00) [c0 e0]', \
'Structure Tensor Eigenvalues (σ=1.00) [c0 e1]']
    """
    return _grove._feature_names(feature_spec(features), int(ndim), int(channels))


def feature_halo(features="all", ndim=2):
    """The halo a block needs so that its features equal those of the whole image.

    Computing the features of a block extended by this many pixels on each side (clipped at the
    image's borders, never reflected or padded there) and cropping the extension away gives
    exactly the features of the whole image in that block. This is the `depth` to give
    dask's ``map_overlap`` (with ``boundary="none"``); :func:`grove.predict_blocks` does it.

    Parameters
    ----------
    features : str, dict or list of (family, scale), optional
        The selection, as for :func:`features`.
    ndim : {2, 3}, optional
        Spatial dimensions of the image.

    Returns
    -------
    tuple of int
        Pixels per side along (y, x) for ``ndim=2``, (z, y, x) for ``ndim=3``. Time and channel
        axes need no halo.

    Examples
    --------
    >>> import grove
    >>> grove.feature_halo("GaussianSmoothing:1.0")
    (6, 6)
    """
    return _grove._feature_halo(feature_spec(features), int(ndim))
