"""Contact sheets: rendered drawings in a grid, their words underneath, written as PNG.

Used by ``rasterfast preview`` (and ``rasterfast demo``) so that a person can look at a
recipe before a full build. The labels are drawn with ``cv2.putText`` and the file is
encoded by ``cv2.imencode``: OpenCV is the optional dependency ``rasterfast[preview]``
(``opencv-python-headless``), imported when a sheet is made.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = ["contact_sheet", "encode_png", "write_png"]

_PAD = 4                      # pixels around each tile and its label
_LABEL_LINES = 2
_MIN_LABEL = "x" * 10         # a cell is at least as wide as this text
_BACKGROUND, _FRAME, _TEXT = 48, 110, 230
#: cv2.putText's font and scale: about 11 px from ascender to descender
_FONT_SCALE = 0.4


def _cv2():
    """OpenCV, or a ModuleNotFoundError that says how to install it."""
    try:
        import cv2
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("contact sheets need OpenCV: pip install 'rasterfast[preview]' "
                          "(or opencv-python-headless)", name="cv2") from err
    return cv2


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """The PNG file of a uint8 image: ``[H, W]`` (gray) or ``[H, W, 3]`` (RGB).

    Encoded by ``cv2.imencode`` (8 bits per sample, no row filter) at zlib ``level`` 0-9.

    Raises
    ------
    TypeError
        ``image`` is not a uint8 numpy array.
    ValueError
        Another shape, an empty image, or a ``level`` outside 0-9.
    ModuleNotFoundError
        OpenCV is not installed.
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(f"image must be a uint8 numpy array, got "
                        f"{getattr(image, 'dtype', type(image).__name__)}")
    if image.ndim == 3 and image.shape[2] == 3:
        image = image[:, :, ::-1]                     # OpenCV writes BGR
    elif image.ndim != 2:
        raise ValueError(f"image must be [H, W] or [H, W, 3], got shape {image.shape}")
    h, w = image.shape[:2]
    if h == 0 or w == 0 or h >= 2**31 or w >= 2**31:
        raise ValueError(f"image must be 1 to 2**31 - 1 pixels on each side, got {h}x{w}")
    if isinstance(level, bool) or not isinstance(level, int) or not 0 <= level <= 9:
        raise ValueError(f"level must be an integer 0-9, got {level!r}")
    cv2 = _cv2()
    params = [cv2.IMWRITE_PNG_COMPRESSION, level]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.11
        # no row filter: on a 64-tile sheet (flat background, thin strokes) libpng's
        # adaptive filters saved 0-11% of the bytes and took 1.6-1.8x as long (issue 16)
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} image as PNG")
    return data.tobytes()


def write_png(path, image: np.ndarray) -> Path:
    """Write ``image`` (see :func:`encode_png`) to ``path`` atomically; return the path."""
    path = Path(path)
    data = encode_png(image)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


@cache
def _text_width(text: str) -> int:
    cv2 = _cv2()
    return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, 1)[0][0]


@cache
def _line_height() -> int:
    """Pixels from one label line to the next: the font's height and descent, 3 px apart."""
    cv2 = _cv2()
    (_, height), descent = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, 1)
    return height + descent + 3


@cache
def _descent() -> int:
    cv2 = _cv2()
    return cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, 1)[1]


def _label_lines(text: str, width: int) -> list[str]:
    """``text`` in at most two lines of at most ``width`` px; a line too long ends in ``~``."""
    lines: list[str] = []
    for word in text.split():
        if lines and _text_width(f"{lines[-1]} {word}") <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > _LABEL_LINES:
        lines[_LABEL_LINES - 1:] = [" ".join(lines[_LABEL_LINES - 1:])]
    for k, line in enumerate(lines):
        if _text_width(line) > width:
            while line and _text_width(line + "~") > width:
                line = line[:-1].rstrip()
            lines[k] = line + "~"
    return lines


def _tile(image: np.ndarray, zoom: int) -> np.ndarray:
    """One drawing ``[C, S, S]`` as pixels.

    Gray ``[S, S]`` for one channel, RGB for three, otherwise the channels side
    by side in gray.
    """
    c = image.shape[0]
    if c == 1:
        tile = image[0]
    elif c == 3:
        tile = image.transpose(1, 2, 0)
    else:
        tile = np.concatenate(list(image), axis=1)
    if zoom > 1:
        tile = tile.repeat(zoom, axis=0).repeat(zoom, axis=1)
    return tile


class _Layout(NamedTuple):
    shape: tuple[int, int]              # sheet height, width
    tile: tuple[int, int]               # tile height, width (inside its 1-px frame)
    tiles: list[tuple[int, int]]        # top-left (y, x) of each tile
    labels: list[tuple[int, int, int]]  # top y, left x and width of each label area


def _layout(n: int, channels: int, size: int, cols: int, zoom: int) -> _Layout:
    """Where the tiles and labels of a sheet go: cells ``_PAD`` apart and from the edges."""
    tile_h = size * zoom
    tile_w = size * zoom * (1 if channels in (1, 3) else channels)
    inner_w = max(tile_w + 2, _text_width(_MIN_LABEL))
    label_y = tile_h + 2 + 3                # below the framed tile, 3 px apart
    cell_w = inner_w + _PAD
    cell_h = label_y + _LABEL_LINES * _line_height() + _PAD
    cols = min(cols, n)
    rows = -(-n // cols)
    tiles, labels = [], []
    for i in range(n):
        r, q = divmod(i, cols)
        cy, cx = _PAD + r * cell_h, _PAD + q * cell_w
        tiles.append((cy + 1, cx + (inner_w - tile_w - 2) // 2 + 1))
        labels.append((cy + label_y, cx, inner_w))
    return _Layout((_PAD + rows * cell_h, _PAD + cols * cell_w), (tile_h, tile_w), tiles,
                   labels)


def contact_sheet(images: np.ndarray, labels: Sequence[str] | None = None, *, cols: int = 8,
                  zoom: int = 1) -> np.ndarray:
    """Lay out rendered drawings in a grid with a label under each.

    Parameters
    ----------
    images : ndarray of uint8, shape (N, C, S, S)
        As :func:`rasterfast.render` gives them. One channel shows as gray,
        three as RGB (channel 0 red); any other number as its channels side
        by side in gray.
    labels : sequence of str, optional
        One per image (its word); wrapped onto two lines and shortened with
        ``~`` when longer. Drawn with ``cv2.putText`` (OpenCV's font has ASCII only).
    cols : int
        Tiles per row.
    zoom : int
        Each pixel drawn as ``zoom x zoom`` (nearest neighbour), 1-16.

    Returns
    -------
    ndarray of uint8, shape (H, W) or (H, W, 3)
        The sheet: tiles framed in gray on a dark background, labels in
        light gray.

    Raises
    ------
    TypeError, ValueError
        Images that are not uint8 ``[N, C, S, S]`` with N >= 1, labels of
        another count, or ``cols``/``zoom`` out of range.
    ModuleNotFoundError
        OpenCV is not installed.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise TypeError("images must be a uint8 numpy array [N, C, S, S]")
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[2] != images.shape[3]:
        raise ValueError(f"images must be [N, C, S, S] with N >= 1, got shape {images.shape}")
    n, c, s, _ = images.shape
    labels = [""] * n if labels is None else [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"labels must have one entry per image ({n}), got {len(labels)}")
    for name, v, hi in (("cols", cols, 10_000), ("zoom", zoom, 16)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise ValueError(f"{name} must be an integer 1-{hi}, got {v!r}")
    cv2 = _cv2()
    lay = _layout(n, c, s, cols, zoom)
    sheet = np.full(lay.shape + ((3,) if c == 3 else ()), _BACKGROUND, np.uint8)
    colour = (_TEXT,) * (3 if c == 3 else 1)
    th, tw = lay.tile
    step = _line_height()
    for i in range(n):
        y, x = lay.tiles[i]
        sheet[y - 1:y + th + 1, x - 1:x + tw + 1] = _FRAME
        sheet[y:y + th, x:x + tw] = _tile(images[i], zoom)
        ly, lx, width = lay.labels[i]
        for k, line in enumerate(_label_lines(labels[i], width)):
            # putText's origin is the baseline's left end; a label stays in its own area
            # (drawn into a contiguous copy: OpenCV may write a strided view to a temporary)
            area = sheet[ly + k * step:ly + (k + 1) * step, lx:lx + width]
            ink = np.ascontiguousarray(area)
            cv2.putText(ink, line, ((width - _text_width(line)) // 2, step - 3 - _descent()),
                        cv2.FONT_HERSHEY_SIMPLEX, _FONT_SCALE, colour, 1, cv2.LINE_AA)
            area[...] = ink
    return sheet
