"""Block-wise grove on dask arrays: grove.predict_blocks and grove.features_blocks.

Each block is extended by the feature halo (grove.feature_halo) with dask's overlap, with
boundary "none" (at the image's borders a block sees the true border, where grove reflects, as it
does for the whole image), computed with grove, and cropped back. The result equals the
whole-image result exactly, block by block, so images larger than RAM can be processed lazily and
in parallel (threads, processes or a cluster)."""

import numpy as np

from ._common import check_axes, feature_spec, spatial_ndim
from ._features import feature_halo, feature_names, features


def _even_chunks(extent, target):
    parts = max(1, extent // target)
    base, extra = divmod(extent, parts)
    return tuple(base + (1 if i < extra else 0) for i in range(parts))


def _per_pixel_blocks(array, axes, halo, channels_out, dtype, compute, squeeze):
    """Maps compute(block, block_axes) -> (block without channel axis..., channels_out) over a
    dask array with the halo (by axis letter), cropping each result back to its block."""
    import dask.array as da

    if not isinstance(array, da.Array):
        raise TypeError(f"array must be a dask array, got {type(array).__name__}")
    axes = check_axes(axes, array.shape, "array")
    # Channels last, in one chunk; an image without channels gets a channel axis of extent 1.
    if "c" in axes:
        order = [i for i, a in enumerate(axes) if a != "c"] + [axes.index("c")]
        array = array.transpose(order)
        axes = "".join(axes[i] for i in order)
        array = array.rechunk({array.ndim - 1: -1})
    else:
        array = array[..., None]
        axes = axes + "c"
    depth = {i: int(halo.get(letter, 0)) for i, letter in enumerate(axes)}
    # dask's overlap needs blocks at least as deep as the halo.
    rechunk = {}
    for i, d in depth.items():
        if d and min(array.chunks[i]) < d:
            rechunk[i] = _even_chunks(array.shape[i], max(d, max(array.chunks[i])))
    if rechunk:
        array = array.rechunk(rechunk)
    chunks = array.chunks
    overlapped = da.overlap.overlap(array, depth=depth, boundary="none")

    def one_block(block, block_info=None):
        where = block_info[0]["chunk-location"]
        counts = block_info[0]["num-chunks"]
        result = compute(block, axes)
        crop = []
        for i in range(len(axes) - 1):
            before = depth[i] if where[i] > 0 else 0
            after = depth[i] if where[i] < counts[i] - 1 else 0
            crop.append(slice(before, result.shape[i] - after))
        crop.append(slice(None))
        return result[tuple(crop)]

    out_chunks = chunks[:-1] + ((channels_out,),)
    result = overlapped.map_blocks(one_block, chunks=out_chunks, dtype=dtype)
    return result[..., 0] if squeeze else result


def _halo_by_letter(halo):
    letters = "zyx" if len(halo) == 3 else "yx"
    return dict(zip(letters, halo))


def predict_blocks(array, project, *, axes=None, output="probabilities", threads=1):
    """Predict a dask array block by block with a trained project (lazily).

    Equals ``project.predict(array.compute(), axes=axes, output=output)`` exactly, without ever
    holding the whole image: each block is predicted with a halo of ``project.feature_halo``
    pixels (dask ``overlap`` with boundary "none") and cropped back. Blocks thinner than the
    halo are merged first.

    Parameters
    ----------
    array : dask.array.Array
        The image, 2 to 5 dimensions; a channel axis may be chunked (it is merged into one
        chunk).
    project : grove.Project
        A trained project.
    axes : str, optional
        One letter of "tzyxc" per dimension (default: guessed as :func:`grove.features` does).
    output : str, optional
        "probabilities" (default), "simple-segmentation", "uncertainty" or "features", as for
        :meth:`grove.Project.predict`.
    threads : int, optional
        grove threads per block (default 1: dask already runs blocks in parallel, and grove
        releases the GIL).

    Returns
    -------
    dask.array.Array
        The image's blocks without the channel axis, then (for probabilities and features) a
        channel axis last, one chunk: e.g. (y, x, K) float32.

    Examples
    --------
    >>> import dask.array as da                                         # doctest: +SKIP
    >>> image = da.from_array(grove.open_image("big.zarr/raw"), chunks=512)  # doctest: +SKIP
    >>> probabilities = grove.predict_blocks(image, project, axes="yx")     # doctest: +SKIP
    >>> probabilities.to_zarr("probabilities.zarr")                         # doctest: +SKIP
    """
    if not project.trained:
        raise ValueError("the project is not trained yet: call project.train() first")
    axes = check_axes(axes, array.shape, "array")
    ndim = spatial_ndim(axes, array.shape)
    halo = _halo_by_letter(project.feature_halo(ndim))
    name = output.lower().replace("_", "-").replace(" ", "-") if isinstance(output, str) else output
    if name == "probabilities":
        channels, dtype, squeeze = project.n_classes, np.float32, False
    elif name == "features":
        channels_in = array.shape[axes.index("c")] if "c" in axes else 1
        channels = len(feature_names(project.features, ndim, channels_in))
        dtype, squeeze = np.float32, False
    elif name in ("simple-segmentation", "segmentation"):
        channels, dtype, squeeze = 1, np.uint8, True
    elif name == "uncertainty":
        channels, dtype, squeeze = 1, np.float32, True
    else:
        raise ValueError(
            f"output must be probabilities, simple-segmentation, uncertainty or features, got {output!r}"
        )

    def compute(block, block_axes):
        result = project._handle.predict_array(block, block_axes, name, int(threads))
        return result[..., None] if squeeze else result

    return _per_pixel_blocks(array, axes, halo, channels, dtype, compute, squeeze)


def features_blocks(array, features_selection="all", *, axes=None, threads=1):
    """:func:`grove.features` of a dask array, block by block (lazily), equal to the
    whole-image features.

    Parameters
    ----------
    array : dask.array.Array
        The image.
    features_selection : str, dict or list of (family, scale), optional
        The selection, as for :func:`grove.features`.
    axes : str, optional
        One letter of "tzyxc" per dimension (default: guessed).
    threads : int, optional
        grove threads per block (default 1).

    Returns
    -------
    dask.array.Array of float32
        The image's axes without its channel axis, then the feature channels (one chunk).
    """
    spec = feature_spec(features_selection)
    axes = check_axes(axes, array.shape, "array")
    ndim = spatial_ndim(axes, array.shape)
    halo = _halo_by_letter(feature_halo(spec, ndim))
    channels_in = array.shape[axes.index("c")] if "c" in axes else 1
    channels = len(feature_names(spec, ndim, channels_in))

    def compute(block, block_axes):
        return features(block, spec, axes=block_axes, threads=threads)

    return _per_pixel_blocks(array, axes, halo, channels, np.float32, compute, False)
