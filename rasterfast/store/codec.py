"""The ``.strokes`` file: one shard of drawings as flat, memory-mappable arrays.

The byte layout is in ``rasterfast/store/README.md``. A 64-byte header (magic,
version, kind, coordinate type, whether times are kept, the three counts), then the
arrays, each starting at a multiple of 64 bytes::

    drawing_offsets  int64 [N + 1]   into the strokes
    stroke_offsets   int64 [S + 1]   into the points
    x, y             int16 | float32 [P]
    t                int32 [P]       (only when the header says times are kept)

The file size is exactly the end of the last array, so a truncated file is found
from its size alone.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import ShardFormatError

__all__ = ["MAGIC", "STROKES_VERSION", "SUPPORTED_VERSIONS", "HEADER_BYTES", "ALIGN",
           "StrokeLayout", "strokes_header", "iter_strokes_bytes", "read_layout"]

MAGIC = b"RFSTROKE"
#: The version this code writes; readers refuse any other.
STROKES_VERSION = 1
SUPPORTED_VERSIONS = (1,)
HEADER_BYTES = 64
#: Every array starts at a multiple of this (a cache line; natural alignment of every type).
ALIGN = 64
_FLAG_TIMES = 1
_KINDS = {0: "simplified", 1: "raw"}
_COORDS = {1: np.dtype("<i2"), 2: np.dtype("<f4")}
#: magic, version, flags, kind, coordinate type, 6 reserved bytes, N, S, P, 16 reserved bytes
_HEADER = struct.Struct("<8sIIBB6xQQQ16x")
assert _HEADER.size == HEADER_BYTES


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


@dataclass(frozen=True)
class StrokeLayout:
    """Where each array of a ``.strokes`` file lies: counts, types and byte offsets."""

    kind: str
    coords: np.dtype
    times: bool
    drawings: int
    strokes: int
    points: int

    @property
    def sections(self) -> dict[str, tuple[int, np.dtype, int]]:
        """``{name: (byte offset, dtype, length)}`` in file order."""
        out, at = {}, HEADER_BYTES
        items = [("drawing_offsets", np.dtype("<i8"), self.drawings + 1),
                 ("stroke_offsets", np.dtype("<i8"), self.strokes + 1),
                 ("x", self.coords, self.points), ("y", self.coords, self.points)]
        if self.times:
            items.append(("t", np.dtype("<i4"), self.points))
        for name, dtype, n in items:
            at = _align(at)
            out[name] = (at, dtype, n)
            at += n * dtype.itemsize
        return out

    @property
    def file_size(self) -> int:
        """Bytes of the whole file (the end of its last array)."""
        off, dtype, n = list(self.sections.values())[-1]
        return off + n * dtype.itemsize


def strokes_header(layout: StrokeLayout) -> bytes:
    """The 64-byte header of a file of ``layout``."""
    kind = {v: k for k, v in _KINDS.items()}[layout.kind]
    coords = {v: k for k, v in _COORDS.items()}[np.dtype(layout.coords)]
    return _HEADER.pack(MAGIC, STROKES_VERSION, _FLAG_TIMES if layout.times else 0, kind, coords,
                        layout.drawings, layout.strokes, layout.points)


def iter_strokes_bytes(batch):
    """The bytes of ``batch`` (a StrokeBatch) as a ``.strokes`` file, in pieces, in file order.

    Coordinates keep the batch's type (int16 for simplified drawings, float32 for raw);
    times are kept when the batch has them. Yields ``bytes`` or ``memoryview`` pieces
    (no copy of the arrays), so a writer can hash and write as it goes.
    """
    x = np.ascontiguousarray(batch.x)
    coords = {np.dtype(np.int16): np.dtype("<i2"), np.dtype(np.float32): np.dtype("<f4")}.get(
        x.dtype)
    if coords is None:
        raise ValueError(f"stroke coordinates must be int16 or float32, got {x.dtype}")
    layout = StrokeLayout(batch.kind, coords, bool(batch.has_time), len(batch),
                          batch.num_strokes, batch.num_points)
    arrays = {"drawing_offsets": np.asarray(batch.drawing_offsets, "<i8"),
              "stroke_offsets": np.asarray(batch.stroke_offsets, "<i8"),
              "x": x.astype(coords, copy=False), "y": np.asarray(batch.y, coords)}
    if layout.times:
        arrays["t"] = np.asarray(batch.t, "<i4")
    for name, a in arrays.items():
        if a.dtype.byteorder == ">":   # never on the little-endian machines this runs on
            arrays[name] = a.astype(a.dtype.newbyteorder("<"))
    yield strokes_header(layout)
    at = HEADER_BYTES
    for name, (off, _dtype, n) in layout.sections.items():
        if off > at:
            yield bytes(off - at)
        a = np.ascontiguousarray(arrays[name])
        if len(a) != n:
            raise ValueError(f"{name} has {len(a)} values, the offsets say {n}")
        yield memoryview(a).cast("B")
        at = off + a.nbytes


def read_layout(header: bytes, path, file_size: int) -> StrokeLayout:
    """Parse and check the header of the ``.strokes`` file ``path`` of ``file_size`` bytes.

    Raises
    ------
    ShardFormatError
        Not a stroke file, an unknown version, kind or coordinate type, or a size that
        does not match the counts (a truncated or extended file); the message names it.
    """
    if len(header) < HEADER_BYTES:
        raise ShardFormatError(path, f"{len(header)} bytes: too short for a stroke file "
                               f"header ({HEADER_BYTES})")
    magic, version, flags, kind, coords, n, s, p = _HEADER.unpack(header[:HEADER_BYTES])
    if magic != MAGIC:
        raise ShardFormatError(path, f"not a rasterfast stroke file (magic {magic!r}, "
                               f"expected {MAGIC!r})")
    if version not in SUPPORTED_VERSIONS:
        raise ShardFormatError(path, f"stroke file version {version}; this rasterfast reads "
                               f"{SUPPORTED_VERSIONS} (upgrade rasterfast?)")
    if kind not in _KINDS or coords not in _COORDS or flags & ~_FLAG_TIMES:
        raise ShardFormatError(path, f"unknown kind {kind}, coordinate type {coords} or "
                               f"flags {flags:#x}")
    if max(n, s, p) >= 2**40:
        raise ShardFormatError(path, f"implausible counts: {n} drawings, {s} strokes, "
                               f"{p} points")
    layout = StrokeLayout(_KINDS[kind], _COORDS[coords], bool(flags & _FLAG_TIMES), n, s, p)
    if file_size != layout.file_size:
        what = "truncated" if file_size < layout.file_size else "longer than its header says"
        raise ShardFormatError(path, f"{what}: {file_size} bytes, the header's counts "
                               f"({n} drawings, {s} strokes, {p} points) need "
                               f"{layout.file_size}")
    return layout
