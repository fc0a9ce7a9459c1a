"""Contact sheets: rendered drawings in a grid, their words underneath, written as PNG.

Used by ``rasterfast preview`` so that a person can look at a recipe before a
full build. Neither OpenCV nor PIL is needed: :func:`encode_png` is a minimal
PNG encoder on the standard library's ``zlib``, and labels use the built-in
5x9 bitmap font of ``rasterfast._font``.
"""

from __future__ import annotations

import os
import struct
import textwrap
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import _font

__all__ = ["contact_sheet", "encode_png", "write_png"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PAD = 4                      # pixels around each tile and its label
_LABEL_LINES = 2
_MIN_LABEL_CHARS = 10         # a cell is at least this many characters wide
_BACKGROUND, _FRAME, _TEXT = 48, 110, 230


def _chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """The PNG file of a uint8 image: ``[H, W]`` (gray) or ``[H, W, 3]`` (RGB).

    8 bits per sample, no interlacing, filter type 0 (none) on every row.

    Raises
    ------
    TypeError
        ``image`` is not a uint8 numpy array.
    ValueError
        Another shape, or an empty image.

    References
    ----------
    W3C, *Portable Network Graphics (PNG) Specification*, 2nd ed. (2003),
    sections 5 (datastream), 11.2 (IHDR, IDAT, IEND) and 9 (filtering).
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(f"image must be a uint8 numpy array, got "
                        f"{getattr(image, 'dtype', type(image).__name__)}")
    if image.ndim == 2:
        colour_type, channels = 0, 1
    elif image.ndim == 3 and image.shape[2] == 3:
        colour_type, channels = 2, 3
    else:
        raise ValueError(f"image must be [H, W] or [H, W, 3], got shape {image.shape}")
    h, w = image.shape[:2]
    if h == 0 or w == 0 or h >= 2**31 or w >= 2**31:
        raise ValueError(f"image must be 1 to 2**31 - 1 pixels on each side, got {h}x{w}")
    rows = np.empty((h, 1 + w * channels), np.uint8)
    rows[:, 0] = 0                                    # filter type: none
    rows[:, 1:] = image.reshape(h, w * channels)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", ihdr)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + _chunk(b"IEND", b""))


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
    chars: int                          # characters per label line


def _layout(n: int, channels: int, size: int, cols: int, zoom: int) -> _Layout:
    """Where the tiles and labels of a sheet go: cells ``_PAD`` apart and from the edges."""
    tile_h = size * zoom
    tile_w = size * zoom * (1 if channels in (1, 3) else channels)
    inner_w = max(tile_w + 2, _font.text_width("x" * _MIN_LABEL_CHARS))
    label_y = tile_h + 2 + 3                # below the framed tile, 3 px apart
    cell_w = inner_w + _PAD
    cell_h = label_y + _LABEL_LINES * _font.LINE_HEIGHT + _PAD
    cols = min(cols, n)
    rows = -(-n // cols)
    tiles, labels = [], []
    for i in range(n):
        r, q = divmod(i, cols)
        cy, cx = _PAD + r * cell_h, _PAD + q * cell_w
        tiles.append((cy + 1, cx + (inner_w - tile_w - 2) // 2 + 1))
        labels.append((cy + label_y, cx, inner_w))
    return _Layout((_PAD + rows * cell_h, _PAD + cols * cell_w), (tile_h, tile_w), tiles,
                   labels, max(1, (inner_w + 1) // _font.ADVANCE))


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
        ``~`` when longer.
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
    lay = _layout(n, c, s, cols, zoom)
    sheet = np.full(lay.shape + ((3,) if c == 3 else ()), _BACKGROUND, np.uint8)
    th, tw = lay.tile
    for i in range(n):
        y, x = lay.tiles[i]
        sheet[y - 1:y + th + 1, x - 1:x + tw + 1] = _FRAME
        sheet[y:y + th, x:x + tw] = _tile(images[i], zoom)
        text = " ".join(labels[i].split())
        lines = (textwrap.wrap(text, lay.chars, max_lines=_LABEL_LINES, placeholder="~")
                 if len(text) > lay.chars else [text])
        ly, lx, width = lay.labels[i]
        for k, line in enumerate(lines):
            _font.draw_text(sheet, line, lx + (width - _font.text_width(line)) // 2,
                            ly + k * _font.LINE_HEIGHT, _TEXT)
    return sheet
