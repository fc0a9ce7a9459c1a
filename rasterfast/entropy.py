"""Sketch entropy: the outlier score of each rendered drawing.

A drawing's score is the Shannon entropy (bits) of its image's values: the
256-bin histogram over all its pixels and channels. Scribbles and filled
areas score high, near-empty images low; the Kaggle Quick, Draw! "sketch
entropy" kernel used it to find the drawings worth a look. The build stores it
per drawing (``entropy`` in each shard's metadata) and ``ShardDataset`` can
filter on it.
"""

from __future__ import annotations

import numpy as np

from ._ext import _entropy as _kernel
from .errors import status_error

__all__ = ["sketch_entropy"]


def sketch_entropy(images: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits of each image's 256-bin value histogram.

    Parameters
    ----------
    images : ndarray of uint8, shape (N, ...)
        One image per row of the first axis (``[N, C, S, S]`` from
        :func:`rasterfast.render`, ``[N, S, S]``, or any layout); all values of
        a row count, whatever their channel. Memory maps work; a row that is
        not contiguous is copied.

    Returns
    -------
    ndarray of float32, shape (N,)
        ``-sum_v p_v log2 p_v`` with ``p_v`` the fraction of the row's values
        equal to ``v``: 0 for a blank (or one-valued) image, at most 8.
        0 for rows of no values.

    Raises
    ------
    TypeError
        ``images`` is not a uint8 numpy array.
    ValueError
        ``images`` has no first axis, or rows of 2**32 values or more.

    Notes
    -----
    One pass over the pixels in a Cython kernel with the GIL released; the
    build calls it on every shard it writes.

    Examples
    --------
    Half the pixels 0, a quarter 255, a quarter 128: 1.5 bits.

    >>> img = np.zeros((1, 4, 4), np.uint8)
    >>> img[0, 2:, :2] = 255
    >>> img[0, 2:, 2:] = 128
    >>> sketch_entropy(img)
    array([1.5], dtype=float32)
    """
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images must be a numpy array, got {type(images).__name__}")
    if images.dtype != np.uint8:
        raise TypeError(f"images must be uint8, got {images.dtype}")
    if images.ndim < 1:
        raise ValueError(f"images must have a first axis (one image per row), got shape "
                         f"{images.shape}")
    n = images.shape[0]
    rows = np.ascontiguousarray(images.reshape(n, -1) if n else images.reshape(0, 0))
    if rows.shape[1] >= 2**32:
        raise ValueError(f"images must hold fewer than 2**32 values each, got {rows.shape[1]}")
    out = np.empty(n, np.float32)
    status = _kernel._sketch_entropy(rows, out)
    if status:
        raise status_error(status, caller=__name__)
    return out
