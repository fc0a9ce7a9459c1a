"""Drawing many doodles at once: :func:`render` (by recipe) and :func:`rasterize` (by values).

One call draws a whole :class:`~rasterfast.batch.StrokeBatch` into a uint8
array ``[N, C, S, S]``; the work happens in the Cython kernels of
``rasterfast._ext._raster`` with the GIL released and no Python work per
drawing, so several threads can render batches at once.

Two methods:

``"direct"``
    Thick polylines drawn at the output size ``S``: segments with round caps and
    joins, ``line_width`` given in 256-px units and scaled to ``S``, optionally
    antialiased by coverage. A point ``(x, y)`` of the 0-255 frame lands at
    ``((x + 0.5) * S / 256 - 0.5, ...)``, the frame of drawing at 256 px and
    resizing, so both methods put strokes in the same place.
``"opencv256"``
    What the Kaggle "Beluga" baseline computes, pixel for pixel:
    ``cv2.line(img, p, q, value, thickness=line_width)`` per segment on a 256x256
    canvas (``LINE_8``, later segments over earlier ones), then
    ``cv2.resize(img, (S, S))`` (``INTER_LINEAR``). OpenCV is not needed. Each thread
    keeps the shapes of the segments it has drawn for the next batches, in at most
    :data:`SHAPE_CACHE_BYTES` (16 MiB) for as long as the thread lives.
"""

from __future__ import annotations

import functools
import threading
from numbers import Integral, Real

import numpy as np

from ._ext import _raster as _kernel
from ._ext import _rastercv as _cvkernel
from .batch import StrokeBatch
from .errors import status_error

__all__ = ["render", "rasterize", "METHODS", "COMPOSE", "GEOMETRIES", "SIZE_RANGE"]

#: How strokes are drawn (see the module docstring).
METHODS = ("direct", "opencv256")
#: ``"paint"``: later strokes over earlier ones (as ``cv2.line``); ``"max"``: the
#: largest value per pixel and channel.
COMPOSE = ("paint", "max")
#: How coordinates reach the 0-255 frame: ``"simplified"`` (they are in it),
#: ``"simplify"`` (raw drawings go through :func:`rasterfast.simplify` first),
#: ``"scale"`` (each drawing's bounding box is fitted into 0-255 keeping its
#: aspect: the first two steps of Google's simplification, without resampling).
GEOMETRIES = ("simplified", "simplify", "scale")
#: Output sizes accepted by :func:`rasterize` (recipes keep to 16-512).
SIZE_RANGE = (1, 1024)

_CANVAS = 256                # the opencv256 canvas
_COEF = 2048                 # INTER_LINEAR's fixed-point weight scale (11 bits)
_MAX_THICKNESS = 64          # the kernel's limit for opencv256 line widths

_COMPOSE_CODE = {"paint": 0, "max": 1}
_RESIZE_GENERIC, _RESIZE_AVG2X2, _RESIZE_COPY = 0, 1, 2


def render(batch: StrokeBatch, recipe, out: np.ndarray | None = None) -> np.ndarray:
    """Draw every drawing of ``batch`` as ``recipe`` says; return uint8 ``[N, C, S, S]``.

    Parameters
    ----------
    batch : StrokeBatch
        Simplified or raw drawings.
    recipe : Recipe
        Read for ``size``, ``line_width`` (256-px units), ``antialias``,
        ``compose`` (one of :data:`COMPOSE`), ``geometry`` (one of
        :data:`GEOMETRIES`; ``None`` picks ``"simplified"`` for simplified
        batches and ``"scale"`` for raw ones), ``method`` (one of
        :data:`METHODS`), ``channels``, and ``encode(batch)``, which gives the
        per-segment values ``uint8 [C, P]`` of the batch after its geometry
        step (channel c's value of the segment starting at point p; a stroke's
        last point holds the value of a one-point stroke and of the end cap).
    out : ndarray, optional
        Where to draw: uint8, shape ``[N, C, S, S]``, writeable, rows contiguous
        (a slice of a memory-mapped shard works). Every image is cleared first.

    Returns
    -------
    ndarray of uint8, shape (N, C, S, S)
        ``out`` when given.

    Raises
    ------
    TypeError
        ``batch`` is not a StrokeBatch, ``out`` not an ndarray, or the recipe
        lacks an attribute.
    ValueError
        A recipe value out of range, ``out`` of the wrong shape, dtype or
        layout, ``encode`` giving values of the wrong shape, or broken offsets.

    See Also
    --------
    rasterize : the same drawing from values given directly.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from rasterfast import StrokeBatch
    >>> ink = SimpleNamespace(size=16, line_width=16, antialias=False, compose="paint",
    ...                       geometry=None, method="direct", channels=["ink"],
    ...                       encode=lambda b: np.full((1, b.num_points), 255, np.uint8))
    >>> b = StrokeBatch.from_lists([[[[40, 200], [120, 120]]]], "simplified")
    >>> render(b, ink).shape
    (1, 1, 16, 16)
    """
    if not isinstance(batch, StrokeBatch):
        raise TypeError(f"batch must be a StrokeBatch, got {type(batch).__name__}")
    size = _attr(recipe, "size")
    channels = _attr(recipe, "channels")
    geometry = _check_choice("recipe.geometry", getattr(recipe, "geometry", None),
                             GEOMETRIES, allow_none=True)
    if geometry == "simplify" and batch.kind == "raw":
        try:
            from .simplify import simplify
        except ImportError as err:
            raise ValueError("recipe.geometry='simplify' needs rasterfast.simplify, which this "
                             "installation lacks; use geometry='scale'") from err
        batch = simplify(batch)
    encode = _attr(recipe, "encode")
    intensity = encode(batch)
    if not isinstance(intensity, np.ndarray) or intensity.dtype != np.uint8 \
            or intensity.shape != (len(channels), batch.num_points):
        got = (f"{intensity.dtype} {intensity.shape}" if isinstance(intensity, np.ndarray)
               else type(intensity).__name__)
        raise ValueError(f"recipe.encode(batch) must give uint8 values of shape "
                         f"(channels, points) = ({len(channels)}, {batch.num_points}), got {got}")
    return rasterize(batch, intensity, size=size, line_width=_attr(recipe, "line_width"),
                     antialias=bool(getattr(recipe, "antialias", False)),
                     compose=getattr(recipe, "compose", "paint"),
                     method=getattr(recipe, "method", "direct"),
                     geometry=None if geometry == "simplify" else geometry, out=out)


def rasterize(batch: StrokeBatch, intensity: np.ndarray, *, size: int, line_width: float = 6.0,
              antialias: bool = False, compose: str = "paint", method: str = "direct",
              geometry: str | None = None, out: np.ndarray | None = None) -> np.ndarray:
    """Draw every drawing of ``batch`` with the given per-segment values.

    Parameters
    ----------
    batch : StrokeBatch
        Simplified drawings (``geometry="simplified"``) or any drawings to fit
        into the 0-255 frame (``geometry="scale"``).
    intensity : ndarray of uint8, shape (C, P)
        Channel c's value of the segment that starts at point p. A one-point
        stroke is a dot in its point's value; a stroke's end cap takes its last
        point's value. ``C`` is the number of output channels.
    size : int
        Output side ``S`` in pixels, 1-1024 (recipes use 16-512).
    line_width : float
        Stroke width in 256-px units (scaled to ``S``). ``"opencv256"`` takes
        OpenCV's integer ``thickness``, 2-64 (6 in the Beluga baseline).
    antialias : bool
        Coverage antialiasing (``"direct"`` only).
    compose : {"paint", "max"}
        Later strokes over earlier ones, or the maximum per pixel.
    method : {"direct", "opencv256"}
        See the module docstring.
    geometry : {"simplified", "scale"}, optional
        Default: ``"simplified"`` for simplified batches, ``"scale"`` for raw ones.
    out : ndarray, optional
        uint8 ``[N, C, S, S]`` to draw into (cleared first), rows contiguous.

    Returns
    -------
    ndarray of uint8, shape (N, C, S, S)

    Examples
    --------
    A two-segment stroke in value 9 and a one-point stroke in 5, at 10 px
    (width 40 of 256, so 1.6 px):

    >>> from rasterfast import StrokeBatch
    >>> b = StrokeBatch.from_lists([[[[20, 120, 230], [40, 40, 200]], [[60], [200]]]],
    ...                            "simplified")
    >>> v = np.array([[9, 9, 9, 5]], np.uint8)
    >>> print(rasterize(b, v, size=10, line_width=40)[0, 0])
    [[0 0 0 0 0 0 0 0 0 0]
     [9 9 9 9 9 9 0 0 0 0]
     [0 0 0 0 9 9 0 0 0 0]
     [0 0 0 0 0 9 9 0 0 0]
     [0 0 0 0 0 0 9 9 0 0]
     [0 0 0 0 0 0 9 9 0 0]
     [0 0 0 0 0 0 0 9 9 0]
     [0 0 5 0 0 0 0 0 9 9]
     [0 0 5 0 0 0 0 0 0 0]
     [0 0 0 0 0 0 0 0 0 0]]
    """
    if not isinstance(batch, StrokeBatch):
        raise TypeError(f"batch must be a StrokeBatch, got {type(batch).__name__}")
    size = _check_size(size)
    method = _check_choice("method", method, METHODS)
    compose = _check_choice("compose", compose, COMPOSE)
    geometry = _check_choice("geometry", geometry, ("simplified", "scale"), allow_none=True)
    geometry = geometry or ("simplified" if batch.kind == "simplified" else "scale")
    if geometry == "simplified" and batch.kind != "simplified":
        raise ValueError("geometry='simplified' needs simplified drawings (0-255 integers), got "
                         f"kind={batch.kind!r}; use geometry='scale' (or a recipe with 'simplify')")
    if not isinstance(line_width, Real) or isinstance(line_width, bool) \
            or not np.isfinite(line_width) or line_width <= 0:
        raise ValueError(f"line_width must be a positive number (256-px units), got {line_width!r}")
    if not isinstance(intensity, np.ndarray):
        raise TypeError(f"intensity must be a numpy array, got {type(intensity).__name__}")
    if intensity.dtype != np.uint8 or intensity.ndim != 2 or intensity.shape[1] != batch.num_points:
        raise ValueError(f"intensity must be uint8 of shape (channels, {batch.num_points}), got "
                         f"{intensity.dtype} {intensity.shape}")
    channels = intensity.shape[0]
    if not 1 <= channels <= 256:
        raise ValueError(f"intensity must have 1-256 channels, got {channels}")
    n = len(batch)
    out = _check_out(out, (n, channels, size, size))
    intensity = np.ascontiguousarray(intensity)
    so = np.ascontiguousarray(batch.stroke_offsets, np.int64)
    do = np.ascontiguousarray(batch.drawing_offsets, np.int64)
    if method == "direct":
        if antialias not in (True, False):
            raise TypeError(f"antialias must be a bool, got {antialias!r}")
        xs, ys, affine = _direct_frame(batch, geometry, size)
        paint_aa = antialias and compose == "paint"
        tag = np.full(size * size if paint_aa else 0, -1, np.int64)
        cov = np.empty(size * size if paint_aa else 0, np.uint8)
        base = np.empty(channels * size * size if paint_aa else 0, np.uint8)
        status, detail = _kernel._render_direct(
            xs, ys, affine, so, do, intensity, out, line_width * size / _CANVAS / 2.0,
            bool(antialias), _COMPOSE_CODE[compose], tag, cov, base)
    else:
        if antialias:
            raise ValueError("antialias=True does not exist in method='opencv256' (cv2.line "
                             "LINE_8 draws without it)")
        if float(line_width) != int(line_width) or not 2 <= line_width <= _MAX_THICKNESS:
            raise ValueError(f"method='opencv256' takes an integer line_width (cv2 thickness) "
                             f"2-{_MAX_THICKNESS}, got {line_width!r}")
        xs, ys = _cv_frame(batch, geometry)
        mode, xtab, ytab, xinv, rowmask = _linear_tables(_CANVAS, size)
        canvas = np.zeros((channels, _CANVAS, _CANVAS), np.uint8)
        status, detail = _cvkernel._render_cv256(
            xs, ys, so, do, intensity, out, int(line_width), _COMPOSE_CODE[compose], mode,
            xtab, ytab, xinv, rowmask, canvas, _shape_store(int(line_width)))
    if status:
        raise status_error(status, detail, caller=__name__)
    return out


# -- helpers ------------------------------------------------------------------------------

def _attr(recipe, name):
    try:
        return getattr(recipe, name)
    except AttributeError:
        raise TypeError(f"recipe must have a {name!r} attribute; got {type(recipe).__name__} "
                        "without it") from None


def _check_choice(name, value, choices, allow_none=False):
    if value is None and allow_none:
        return None
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _check_size(size):
    if not isinstance(size, Integral) or isinstance(size, bool):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise ValueError(f"size must be {SIZE_RANGE[0]}-{SIZE_RANGE[1]} px, got {size}")
    return int(size)


def _check_out(out, shape):
    if out is None:
        return np.empty(shape, np.uint8)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array (or memmap), got {type(out).__name__}")
    if out.dtype != np.uint8 or out.shape != shape:
        raise ValueError(f"out must be uint8 of shape {shape}, got {out.dtype} {out.shape}")
    if not out.flags.writeable:
        raise ValueError("out must be writeable (a memmap opened with mode 'r+' or 'w+')")
    if out.size and out.strides[3] != 1:
        raise ValueError(f"out must have contiguous rows (last stride 1), got strides "
                         f"{out.strides}; pass a slice along the first axis or a copy")
    return out


_LOCAL = threading.local()
#: The most memory the opencv256 segment-shape cache of one thread holds (bytes): the
#: shapes kept between calls, so that later batches reuse those of earlier ones. Past it,
#: new shapes are drawn without the cache (the same pixels, slower). The 6,880 drawings of
#: the Kaggle sample keep 8.2 MiB of shapes at line width 6; it was up to ~65 MiB a thread.
SHAPE_CACHE_BYTES = 16 << 20


def _shape_store(thickness):
    """The opencv256 segment-shape cache of the calling thread for ``thickness``.

    Kept between calls, one thickness at a time, at most :data:`SHAPE_CACHE_BYTES`;
    per thread because the kernel uses it with the GIL released. It lives as long as the
    thread (a threading.local).
    """
    store = getattr(_LOCAL, "shapes", None)
    if store is None or store.thickness != thickness:
        store = _LOCAL.shapes = _cvkernel._ShapeStore(thickness, SHAPE_CACHE_BYTES)
    return store


def _bbox_fit(batch):
    """Per drawing (x0, y0, k): ``(x - x0) * k`` fits the drawing into 0-255, keeping its aspect."""
    dt = np.int16 if batch.x.dtype == np.int16 else np.float32
    fit = np.empty((len(batch), 3), np.float64)
    status, detail = _kernel._bbox_fit(
        np.ascontiguousarray(batch.x, dt), np.ascontiguousarray(batch.y, dt),
        np.ascontiguousarray(batch.stroke_offsets, np.int64),
        np.ascontiguousarray(batch.drawing_offsets, np.int64), fit)
    if status:
        raise status_error(status, detail, caller=__name__)
    return fit


def _direct_frame(batch, geometry, size):
    """Coordinates for the direct kernel and the per-drawing affine into the output frame."""
    k = size / _CANVAS
    b = 0.5 * k - 0.5
    n = len(batch)
    if geometry == "simplified":
        affine = np.empty((n, 3), np.float64)
        affine[:] = (k, b, b)
    else:
        fit = _bbox_fit(batch)
        affine = np.stack([fit[:, 2] * k, b - fit[:, 0] * fit[:, 2] * k,
                           b - fit[:, 1] * fit[:, 2] * k], axis=1)
    dt = np.int16 if batch.x.dtype == np.int16 else np.float32
    return (np.ascontiguousarray(batch.x, dt), np.ascontiguousarray(batch.y, dt),
            np.ascontiguousarray(affine))


def _cv_frame(batch, geometry):
    """Integer points of the 256 canvas (cv2.line takes integers only)."""
    if geometry == "simplified":
        return (np.ascontiguousarray(batch.x, np.int16), np.ascontiguousarray(batch.y, np.int16))
    fit = _bbox_fit(batch)
    per_point = np.repeat(np.arange(len(batch)), batch.points_per_drawing())
    f = fit[per_point]
    xs = np.clip(np.rint((batch.x - f[:, 0]) * f[:, 2]), 0, 255).astype(np.int16)
    ys = np.clip(np.rint((batch.y - f[:, 1]) * f[:, 2]), 0, 255).astype(np.int16)
    return xs, ys


@functools.lru_cache(maxsize=64)
def _linear_tables(src: int, dst: int):
    """Tables of ``cv2.resize(INTER_LINEAR)`` for uint8, ``src`` -> ``dst`` px (both axes).

    Returns ``(mode, xtab, ytab, xinv, rowmask)``: ``xtab``/``ytab`` int32
    ``[4, dst]`` with rows (offset0, offset1, weight0, weight1), offsets clamped
    to the source; ``xinv`` int32 ``[2, src]``: per source column c, the first
    output column that reads c or a later one, and the last that reads c or an
    earlier one (the output columns outside them read only other columns);
    ``rowmask`` uint8 ``[src]``, 1 on the source rows the result reads.

    The source position of output pixel d is ``(d + 0.5) * src / dst - 0.5``
    rounded to float32; weights are ``round((1 - f) * 2048)``, ``round(f * 2048)``
    of its fraction f. Horizontally, positions outside ``[0, src - 1)`` take
    the clamped pixel with weight (2048, 0); vertically the rows are clamped and
    the weights kept. (Measured against OpenCV for every ``dst`` 8-519.)
    """
    d = np.arange(dst, dtype=np.float64)
    pos = ((d + 0.5) * (1.0 / (dst / src)) - 0.5).astype(np.float32)
    s = np.floor(pos).astype(np.int64)
    frac = pos - s.astype(np.float32)
    w1 = np.rint(frac * np.float32(_COEF)).astype(np.int64)
    w0 = np.rint((np.float32(1) - frac) * np.float32(_COEF)).astype(np.int64)
    o0, o1 = np.clip(s, 0, src - 1), np.clip(s + 1, 0, src - 1)
    edge = (s < 0) | (s >= src - 1)
    xtab = np.stack([o0, o1, np.where(edge, _COEF, w0), np.where(edge, 0, w1)]).astype(np.int32)
    ytab = np.stack([o0, o1, w0, w1]).astype(np.int32)
    c = np.arange(src)
    first = np.searchsorted(np.maximum(xtab[0], xtab[1]), c, "left")
    last = np.searchsorted(np.minimum(xtab[0], xtab[1]), c, "right") - 1
    xinv = np.stack([first, last]).astype(np.int32)
    rowmask = np.zeros(src, np.uint8)
    rowmask[o0[w0 != 0]] = 1
    rowmask[o1[w1 != 0]] = 1
    if src == dst:
        mode = _RESIZE_COPY
        rowmask[:] = 1
    elif (xtab[2:] == _COEF // 2).all() and (ytab[2:] == _COEF // 2).all():
        mode = _RESIZE_AVG2X2
    else:
        mode = _RESIZE_GENERIC
    for a in (xtab, ytab, xinv, rowmask):
        a.flags.writeable = False
    return mode, xtab, ytab, xinv, rowmask
