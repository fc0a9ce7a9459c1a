"""Reading ``.strokes`` files: one shard mapped and checked, and batches gathered from many.

:class:`StrokeShard` maps one file read-only and checks it before any array is used:
header, size, and both offset arrays (starting at 0, non-decreasing, ending at the
counts), so that the gather kernel and the rasteriser never follow a tampered offset.
:class:`StrokeSet` gathers drawings scattered over the shards of a split into one
:class:`~rasterfast.batch.StrokeBatch`, in two GIL-free kernel passes.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from .._ext._strokes import _stroke_copy, _stroke_sizes
from ..batch import StrokeBatch
from ..errors import ShardFormatError
from .codec import HEADER_BYTES, StrokeLayout, read_layout

__all__ = ["StrokeShard", "StrokeSet", "read_header"]

_E_INDEX, _E_OFFSETS = 1, 2


def read_header(path) -> StrokeLayout:
    """The checked header of the ``.strokes`` file ``path`` (reads 64 bytes, maps nothing)."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(HEADER_BYTES)
            size = os.fstat(fh.fileno()).st_size
    except FileNotFoundError:
        raise ShardFormatError(path, "missing (listed in the manifest)") from None
    return read_layout(header, path, size)


class StrokeShard:
    """One ``.strokes`` file, memory-mapped read-only and checked.

    Parameters
    ----------
    path : str or Path
    expect : StrokeLayout or (kind, count), optional
        What the manifest says: the file must agree (kind and number of drawings).

    Attributes
    ----------
    layout : StrokeLayout
    drawing_offsets, stroke_offsets : ndarray of int64
    x, y : ndarray of int16 or float32
    t : ndarray of int32 (empty when the file keeps no times)

    Raises
    ------
    ShardFormatError
        Any inconsistency, naming the file.
    """

    def __init__(self, path, expect: tuple[str, int] | None = None):
        self.path = str(path)
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise ShardFormatError(path, "missing (listed in the manifest)") from None
        with fh:
            header = fh.read(HEADER_BYTES)
            size = os.fstat(fh.fileno()).st_size
            layout = read_layout(header, path, size)
            if expect is not None and (layout.kind, layout.drawings) != tuple(expect):
                raise ShardFormatError(path, f"holds {layout.drawings} {layout.kind} drawings, "
                                       f"the manifest says {expect[1]} {expect[0]}")
            # np.memmap keeps its own descriptor; the file may be renamed or unlinked after
            self._map = np.memmap(fh, np.uint8, "r", shape=(size,))
        self.layout = layout
        arrays = {name: np.frombuffer(self._map, dtype, count=n, offset=off)
                  for name, (off, dtype, n) in layout.sections.items()}
        self.drawing_offsets = arrays["drawing_offsets"]
        self.stroke_offsets = arrays["stroke_offsets"]
        self.x, self.y = arrays["x"], arrays["y"]
        self.t = arrays.get("t", np.zeros(0, np.int32))
        for name, offs, end in (("drawing_offsets", self.drawing_offsets, layout.strokes),
                                ("stroke_offsets", self.stroke_offsets, layout.points)):
            if offs[0] != 0 or offs[-1] != end or (len(offs) > 1 and (np.diff(offs) < 0).any()):
                raise ShardFormatError(path, f"{name} must rise from 0 to {end} (file altered?)")

    def __len__(self) -> int:
        return self.layout.drawings

    def batch(self) -> StrokeBatch:
        """All drawings of the file as a StrokeBatch (views of the map; geometry only)."""
        return StrokeBatch.from_columns(self.layout.kind, self.x, self.y, self.t,
                                        self.stroke_offsets, self.drawing_offsets)


class StrokeSet:
    """The ``.strokes`` files of one split, mapped on first use, and the batch gather.

    Parameters
    ----------
    paths : sequence of path
        The files, in shard order.
    counts : sequence of int
        Drawings per file (from the manifest).
    kind : {"simplified", "raw"}
        What every file must hold.

    Notes
    -----
    Thread-safe: prefetch threads may gather at once. Every file touched stays mapped
    for the life of the set (maps cost address space, not memory), so no copy can
    outlive its map. Pickles without its maps (each process maps what it reads).
    """

    def __init__(self, paths, counts, kind: str):
        self.paths = [str(p) for p in paths]
        self.counts = np.asarray(counts, np.int64)
        if len(self.paths) != len(self.counts):
            raise ValueError(f"{len(self.paths)} paths for {len(self.counts)} counts")
        self.kind = kind
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self._reset()

    def _reset(self) -> None:
        k = len(self.paths)
        self._shards: list[StrokeShard | None] = [None] * k
        # per shard: addresses of its arrays and its counts, 0 until mapped
        self._addr = np.zeros((5, k), np.uint64)   # drawing, stroke offsets, x, y, t
        self._sizes = np.zeros((3, k), np.int64)   # drawings, strokes, points
        self._times: bool | None = None
        self._coords: np.dtype | None = None
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"paths": self.paths, "counts": self.counts, "kind": self.kind,
                "offsets": self.offsets}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def shard(self, index: int) -> StrokeShard:
        """File ``index``, mapped and checked (once per process)."""
        sh = self._shards[index]
        if sh is not None:
            return sh
        sh = StrokeShard(self.paths[index], (self.kind, int(self.counts[index])))
        with self._lock:
            if self._shards[index] is not None:
                return self._shards[index]
            lay = sh.layout
            if self._coords is None:
                self._coords, self._times = lay.coords, lay.times
            elif (lay.coords, lay.times) != (self._coords, self._times):
                raise ShardFormatError(sh.path, f"{lay.coords} coordinates, times={lay.times}; "
                                       f"the other files of the split have {self._coords}, "
                                       f"times={self._times}")
            # Sizes first and the drawing offsets' address last: another thread takes a
            # shard as mapped once that address is non-zero, and reads the rest without
            # the lock.
            self._sizes[:, index] = (lay.drawings, lay.strokes, lay.points)
            arrays = (sh.drawing_offsets, sh.stroke_offsets, sh.x, sh.y, sh.t)
            for j in (4, 3, 2, 1, 0):
                a = arrays[j]
                # an empty array has no address the kernel may read: mark it 1 (never read,
                # the counts say there is nothing) so that 0 keeps meaning "unmapped"
                self._addr[j, index] = a.ctypes.data if a.size else 1
            self._shards[index] = sh  # keeps the map, and so the addresses, alive
        return sh

    def check_headers(self) -> StrokeLayout | None:
        """Read every file's header (no map): kind, counts, size, version. First layout."""
        first = None
        for path, n in zip(self.paths, self.counts, strict=True):
            lay = read_header(path)
            if (lay.kind, lay.drawings) != (self.kind, int(n)):
                raise ShardFormatError(path, f"holds {lay.drawings} {lay.kind} drawings, the "
                                       f"manifest says {int(n)} {self.kind}")
            if first is None:
                first = lay
            elif (lay.coords, lay.times) != (first.coords, first.times):
                raise ShardFormatError(path, f"{lay.coords} coordinates, times={lay.times}; the "
                                       f"first file has {first.coords}, times={first.times}")
        return first

    def gather(self, rows) -> StrokeBatch:
        """The drawings of ``rows`` (row numbers in the split, shards end to end), in order.

        Returns a StrokeBatch holding geometry only (``x``, ``y``, ``t`` and offsets;
        the per-drawing columns are "unknown").
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        total = len(self)
        if len(rows) and (rows.min() < 0 or rows.max() >= total):
            raise IndexError(f"rows must be in [0, {total}), got {rows.min()}..{rows.max()}")
        shard = np.searchsorted(self.offsets, rows, side="right") - 1
        local = rows - self.offsets[shard]
        unmapped = self._addr[0, shard] == 0
        if unmapped.any():
            for s in np.unique(shard[unmapped]).tolist():
                self.shard(s)
        if self._coords is None and len(self.paths):  # no rows: still learn the types
            self.shard(0)
        coords = self._coords if self._coords is not None else np.dtype(np.int16)
        times = bool(self._times)
        n = len(rows)
        strokes = np.empty(n, np.int64)
        points = np.empty(n, np.int64)
        addr, sizes = self._addr, self._sizes
        status, pos = _stroke_sizes(addr[0], addr[1], sizes[0], sizes[1], sizes[2], shard, local,
                                    strokes, points)
        if status:
            self._fail(status, pos, shard, local)
        do = np.zeros(n + 1, np.int64)
        np.cumsum(strokes, out=do[1:])
        p = int(points.sum())
        x = np.empty(p, coords)
        y = np.empty(p, coords)
        t = np.empty(p if times else 0, np.int32)
        so = np.empty(int(do[-1]) + 1, np.int64)
        status, pos = _stroke_copy(addr[0], addr[1], addr[2], addr[3], addr[4], sizes[0],
                                   sizes[1], sizes[2], coords.itemsize, shard, local, do, so,
                                   x.view(np.uint8), y.view(np.uint8), t.view(np.uint8))
        if status:
            self._fail(status, pos, shard, local)
        return StrokeBatch.from_columns(self.kind, x.astype(coords.newbyteorder("="), copy=False),
                                        y.astype(coords.newbyteorder("="), copy=False), t, so, do)

    def _fail(self, status, pos, shard, local):
        if status in (_E_INDEX, _E_OFFSETS) and 0 <= pos < len(shard):
            path = self.paths[int(shard[pos])]
            raise ShardFormatError(path, f"drawing {int(local[pos])}: its offsets point outside "
                                   "the file's strokes or points (file altered?)")
        raise RuntimeError(f"stroke gather kernel status {status} at {pos} (a rasterfast bug)")
