"""Image files through grove's io layer: grove.read, grove.write, grove.info, grove.datasets and
grove.open_image (a lazy reader that dask can read block by block)."""

import os

import numpy as np

from . import _grove
from ._common import as_image

_FORMATS = "TIFF (.tif, .tiff), PNG, JPEG, NumPy (.npy), HDF5 (.h5 and .ilp, path file.h5/dataset), Zarr v2/v3 and OME-Zarr (file.zarr/path), N5 (file.n5/path)"


def _path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a string or path-like, got {type(path).__name__}")
    return os.fspath(path)


def info(path):
    """What an image file holds, without reading its pixels.

    Parameters
    ----------
    path : str or path-like
        An image: {formats}.

    Returns
    -------
    dict
        ``axes`` (as stored, slowest first, e.g. "zyx", "tczyx"), ``shape`` (extents in the
        order of ``axes``), ``dtype`` (numpy dtype), ``format``, ``compression``, ``chunks``
        (chunk extents in the order of ``axes``, or None), ``internal_path`` (the dataset read in
        a container), ``pixel_size`` and ``units`` (dicts by axis letter; empty when the file
        does not say).

    Raises
    ------
    FileNotFoundError
        The file or dataset does not exist.
    """
    return _grove._info(_path(path))


info.__doc__ = info.__doc__.format(formats=_FORMATS)


def datasets(path):
    """The images inside a container file (HDF5, Zarr, N5), or the one image of another file.

    Returns
    -------
    list of dict
        ``path`` (the internal path: give ``file.h5/path`` to the other functions), ``axes``,
        ``shape``, ``dtype``.
    """
    return _grove._datasets(_path(path))


def read(path, axes=None):
    """Read a whole image into a numpy array.

    Parameters
    ----------
    path : str or path-like
        An image: {formats}. In a container, name the dataset: ``"raw.h5/volume/data"``; an
        HDF5 file with a single dataset opens without.
    axes : str, optional
        The axes of the returned array, letters of ``"tzyxc"`` in the order wanted, e.g.
        ``"zyx"`` or ``"tzyxc"``; axes of extent 1 may be left out, others not. Default: the
        file's axes as stored (:func:`info` ``["axes"]``).

    Returns
    -------
    ndarray
        C-contiguous, of the file's dtype.

    Raises
    ------
    FileNotFoundError
        The file or dataset does not exist.
    ValueError
        `axes` leaves out an axis of extent > 1.

    Examples
    --------
    >>> import grove, numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "image.tif")
    >>> grove.write(path, np.zeros((2, 30, 40), np.uint16), axes="zyx")
    >>> grove.read(path).shape, grove.info(path)["axes"]
    ((2, 30, 40), 'zyx')
    >>> grove.read(path, axes="tzyxc").shape
    (1, 2, 30, 40, 1)
    """
    if axes is not None:
        axes = _checked_letters(axes)
    return np.ascontiguousarray(_grove._read(_path(path), axes))


read.__doc__ = read.__doc__.format(formats=_FORMATS)


def _checked_letters(axes):
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string like 'zyx', got {axes!r}")
    lower = axes.lower()
    if any(letter not in "tzyxc" for letter in lower) or len(set(lower)) != len(lower):
        raise ValueError(f"axes '{axes}': use letters of 'tzyxc', each at most once")
    return lower


def write(
    path,
    array,
    axes=None,
    *,
    compression=None,
    compression_level=None,
    chunks=None,
    pixel_size=None,
    units=None,
    overwrite=False,
    format=None,
):
    """Write a numpy array as an image file.

    The file appears whole or not at all (written under a temporary name, then renamed).

    Parameters
    ----------
    path : str or path-like
        The output: {formats}. The format comes from the extension unless `format` is given;
        containers take an internal path (``"out.h5/exported_data"``; default dataset
        ``data``).
    array : ndarray
        The image, any dtype grove handles (bool, (u)int8..64, float32/64); PNG and JPEG take
        8- or 16-bit integers.
    axes : str, optional
        One letter of ``"tzyxc"`` per dimension of `array`; the file stores this axis order.
        Default: guessed from the shape as :func:`grove.features` does.
    compression : str, optional
        "gzip", "zstd", "blosc", "lzw", "deflate", "none"; default: the format's.
    compression_level : int, optional
        The codec's level; default: grove's choice for the codec.
    chunks : tuple of int, optional
        Chunk extents in the order of `axes` (HDF5, Zarr, N5); default: grove's choice.
    pixel_size : dict, optional
        Physical size of a pixel by axis letter, e.g. ``{{"z": 0.05, "y": 0.004, "x": 0.004}}``.
    units : dict, optional
        Units of those sizes by axis letter, e.g. ``{{"z": "micrometer"}}``.
    overwrite : bool, optional
        Replace an existing file (else FileExistsError).
    format : str, optional
        "hdf5", "tiff", "png", "jpeg", "npy", "zarr" or "n5", overriding the extension.

    Raises
    ------
    FileExistsError
        The output exists and `overwrite` is False.
    ValueError, NotImplementedError
        The format cannot hold this array (dtype, number of channels) or an option is wrong.
    """
    array = as_image(array, "array")
    if pixel_size is not None and not hasattr(pixel_size, "items"):
        raise TypeError("pixel_size must be a dict by axis letter, e.g. {'x': 0.5, 'y': 0.5}")
    if units is not None and not hasattr(units, "items"):
        raise TypeError("units must be a dict by axis letter, e.g. {'x': 'micrometer'}")
    _grove._write(
        _path(path),
        array,
        axes,
        compression or "",
        -1 if compression_level is None else int(compression_level),
        None if chunks is None else [int(c) for c in chunks],
        {str(k).lower(): float(v) for k, v in (pixel_size or {}).items()},
        {str(k).lower(): str(v) for k, v in (units or {}).items()},
        bool(overwrite),
        format or "",
    )


write.__doc__ = write.__doc__.format(formats=_FORMATS)


class ImageFile:
    """An image file opened for reading parts of it on demand, e.g. by dask.

    Indexing with integers and slices (in the file's axes, :attr:`axes`) reads only the part
    needed, where the format allows it (chunks, pages, strips). Reads may run in parallel from
    several threads, with the GIL released.

    Examples
    --------
    >>> import dask.array as da, grove                                  # doctest: +SKIP
    >>> image = grove.open_image("volume.zarr/raw")                     # doctest: +SKIP
    >>> lazy = da.from_array(image, chunks=(64, 256, 256))              # doctest: +SKIP
    """

    def __init__(self, path):
        self.path = _path(path)
        self._file = _grove._ImageFile(self.path)
        self.info = self._file.info()
        self.axes = self.info["axes"]
        self.shape = tuple(self.info["shape"])
        self.dtype = np.dtype(self.info["dtype"])
        self.ndim = len(self.shape)

    def __repr__(self):
        return f"ImageFile({self.path!r}, axes={self.axes!r}, shape={self.shape}, dtype={self.dtype})"

    def __len__(self):
        return self.shape[0]

    def __array__(self, dtype=None):
        data = self[...]
        return data if dtype is None else data.astype(dtype)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            at = next(i for i, k in enumerate(key) if k is Ellipsis)
            fill = (slice(None),) * (self.ndim - len(key) + 1)
            key = key[:at] + fill + key[at + 1 :]
        if len(key) > self.ndim:
            raise IndexError(f"too many indices ({len(key)}) for an image of {self.ndim} dimensions")
        key = key + (slice(None),) * (self.ndim - len(key))
        begin = [0] * 5
        end = [1] * 5
        local = []
        for extent, letter, k in zip(self.shape, self.axes, key):
            axis = "tzyxc".index(letter)
            if isinstance(k, slice):
                start, stop, step = k.indices(extent)
                if step < 0:
                    raise IndexError("negative slice steps are not supported; read, then reverse")
                stop = max(stop, start)
                begin[axis], end[axis] = start, stop
                local.append(slice(0, stop - start, step))
            elif isinstance(k, (int, np.integer)):
                index = int(k) + extent if k < 0 else int(k)
                if not 0 <= index < extent:
                    raise IndexError(f"index {k} is out of range for extent {extent}")
                begin[axis], end[axis] = index, index + 1
                local.append(0)
            else:
                raise IndexError(f"only integers and slices index an ImageFile, got {k!r}")
        if any(e <= b for b, e in zip(begin, end)):
            shape = []
            for letter, index in zip(self.axes, local):
                if isinstance(index, slice):
                    axis = "tzyxc".index(letter)
                    shape.append(len(range(*index.indices(end[axis] - begin[axis]))))
            return np.empty(shape, self.dtype)
        data = self._file.read(begin, end, self.axes)
        return np.ascontiguousarray(data[tuple(local)])


def open_image(path):
    """Open an image file for reading parts of it on demand (see :class:`ImageFile`).

    Parameters
    ----------
    path : str or path-like
        An image: {formats}.

    Returns
    -------
    ImageFile
        With ``shape``, ``dtype``, ``ndim``, ``axes`` (the file's) and numpy-style indexing,
        so that ``dask.array.from_array(grove.open_image(path), chunks=...)`` reads it lazily.
    """
    return ImageFile(path)


open_image.__doc__ = open_image.__doc__.format(formats=_FORMATS)
