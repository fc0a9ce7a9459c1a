"""Reading ``.strokes`` files: one shard mapped and checked, and batches gathered from many.

:class:`StrokeShard` maps one file read-only and checks it before any array is used:
header, size, and both offset arrays (starting at 0, non-decreasing, ending at the
counts), so that the gather kernel and the rasteriser never follow a tampered offset.
:class:`StrokeSet` gathers drawings scattered over the shards of a split into one
:class:`~rasterfast.batch.StrokeBatch`, in two GIL-free kernel passes.
"""

from __future__ import annotations

import mmap
import os
import threading
from collections import OrderedDict

import numpy as np

from .._ext._strokes import _first_not_finite, _first_out_of_range, _locate, _stroke_gather
from ..batch import StrokeBatch
from ..errors import ShardFormatError, Status, status_error
from .codec import HEADER_BYTES, StrokeLayout, read_layout

__all__ = ["StrokeShard", "StrokeSet", "read_header"]



def read_header(path) -> StrokeLayout:
    """The checked header of the ``.strokes`` file ``path`` (reads 64 bytes, maps nothing)."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(HEADER_BYTES)
            size = os.fstat(fh.fileno()).st_size
    except FileNotFoundError:
        raise ShardFormatError(path, "missing (listed in the manifest)") from None
    except OSError as err:  # a directory in its place, no permission...
        raise ShardFormatError(path, f"cannot open: {err.strerror or err}") from err
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
        except OSError as err:  # a directory in its place, no permission...
            raise ShardFormatError(path, f"cannot open: {err.strerror or err}") from err
        with fh:
            header = fh.read(HEADER_BYTES)
            size = os.fstat(fh.fileno()).st_size
            layout = read_layout(header, path, size)
            if expect is not None and (layout.kind, layout.drawings) != tuple(expect):
                raise ShardFormatError(path, f"holds {layout.drawings} {layout.kind} drawings, "
                                       f"the manifest says {expect[1]} {expect[0]}")
            # the map keeps its own descriptor; the file may be renamed or unlinked after
            try:
                self._mmap = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as err:  # e.g. emptied since the header was read
                raise ShardFormatError(path, f"cannot map: {err}") from err
            if self._mmap.size() != size:
                raise ShardFormatError(path, f"changed size while opened ({size} bytes, then "
                                       f"{self._mmap.size()})")
            self._map = np.frombuffer(self._mmap, np.uint8)
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

    def check_size(self) -> None:
        """Raise ShardFormatError if the file no longer has the size it had when mapped.

        Reading a page of a mapped file past its end is a SIGBUS, which kills the
        process; ``mmap.size()`` is an ``fstat`` of the map's own descriptor, so one
        system call per file and gather turns a truncation since mapping into an error.
        """
        if (got := self._mmap.size()) != self.layout.file_size:
            raise ShardFormatError(self.path, f"truncated to {got} bytes while mapped (its "
                                   f"header says {self.layout.file_size}): the shard "
                                   f"directory was changed while it was being read")

    def batch(self) -> StrokeBatch:
        """All drawings of the file as a StrokeBatch (views of the map; geometry only)."""
        return StrokeBatch.from_columns(self.layout.kind, self.x, self.y, self.t,
                                        self.stroke_offsets, self.drawing_offsets)


class StrokeSet:
    """The ``.strokes`` files of one split, mapped on demand, and the batch gather.

    Parameters
    ----------
    paths : sequence of path
        The files, in shard order.
    counts : sequence of int
        Drawings per file (from the manifest).
    kind : {"simplified", "raw"}
        What every file must hold.
    max_mapped_bytes : int, optional
        The most bytes of files kept mapped at once (the least recently read are
        unmapped first; the files one gather reads are always mapped). Mapped pages that
        were read count in the process's RSS (as page cache the kernel may drop), so
        this bounds the RSS a whole epoch adds: without a bound it grew with the store
        (985 MB of mapped pages after an epoch of 4M simplified drawings). Default
        256 MiB; None: no bound.

    Notes
    -----
    Thread-safe: prefetch threads may gather at once. A gather holds the files it reads
    for the length of the call, so no copy outlives its map. Pickles without its maps
    (each process maps what it reads).
    """

    def __init__(self, paths, counts, kind: str, *, max_mapped_bytes: int | None = 256 << 20):
        self.paths = [str(p) for p in paths]
        self.counts = np.asarray(counts, np.int64)
        if len(self.paths) != len(self.counts):
            raise ValueError(f"{len(self.paths)} paths for {len(self.counts)} counts")
        if max_mapped_bytes is not None and (isinstance(max_mapped_bytes, bool) or
                                             not isinstance(max_mapped_bytes, int) or
                                             max_mapped_bytes < 1):
            raise ValueError(f"max_mapped_bytes must be a positive int or None, got "
                             f"{max_mapped_bytes!r}")
        self.kind = kind
        self.max_mapped_bytes = max_mapped_bytes
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self._reset()

    def _reset(self) -> None:
        k = len(self.paths)
        self._shards: OrderedDict = OrderedDict()   # index -> StrokeShard, least recent first
        self._mapped_bytes = 0
        # per shard: addresses of its arrays and its counts (0 while unmapped)
        self._addr = np.zeros((5, k), np.uint64)   # drawing, stroke offsets, x, y, t
        self._sizes = np.zeros((3, k), np.int64)   # drawings, strokes, points
        self._times: bool | None = None
        self._coords: np.dtype | None = None
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"paths": self.paths, "counts": self.counts, "kind": self.kind,
                "offsets": self.offsets, "max_mapped_bytes": self.max_mapped_bytes}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def mapped(self) -> int:
        """How many files are mapped now."""
        return len(self._shards)

    @property
    def mapped_bytes(self) -> int:
        """The bytes of the files mapped now."""
        return self._mapped_bytes

    def shard(self, index: int) -> StrokeShard:
        """File ``index``, mapped and checked (kept mapped until evicted)."""
        with self._lock:
            sh = self._shards.get(index)
            if sh is not None:
                self._shards.move_to_end(index)
                return sh
        sh = StrokeShard(self.paths[index], (self.kind, int(self.counts[index])))
        with self._lock:
            got = self._shards.get(index)
            if got is not None:
                self._shards.move_to_end(index)
                return got
            lay = sh.layout
            if self._coords is None:
                self._coords, self._times = lay.coords, lay.times
            elif (lay.coords, lay.times) != (self._coords, self._times):
                raise ShardFormatError(sh.path, f"{lay.coords} coordinates, times={lay.times}; "
                                       f"the other files of the split have {self._coords}, "
                                       f"times={self._times}")
            self._sizes[:, index] = (lay.drawings, lay.strokes, lay.points)
            for j, a in enumerate((sh.drawing_offsets, sh.stroke_offsets, sh.x, sh.y, sh.t)):
                # an empty array has no address the kernel may read: mark it 1 (never read,
                # the counts say there is nothing) so that 0 keeps meaning "unmapped"
                self._addr[j, index] = a.ctypes.data if a.size else 1
            self._shards[index] = sh
            self._mapped_bytes += lay.file_size
        return sh

    def _hold(self, wanted: np.ndarray) -> tuple[list, np.ndarray, np.ndarray]:
        """Map the files ``wanted`` (distinct); return them, their addresses and sizes.

        The maps returned are held for the caller's call; the least recent others past
        the bound are unmapped.
        """
        keys = wanted.tolist()
        with self._lock:
            # the usual case in an epoch: every file is mapped already (one lock, no map)
            held = [self._shards.get(s) for s in keys]
            if None not in held:
                for s in keys:
                    self._shards.move_to_end(s)
                if self.max_mapped_bytes is not None and \
                        self._mapped_bytes > self.max_mapped_bytes:
                    self._evict(set(keys))   # past the bound after other threads' gathers
                return held, self._addr.take(wanted, axis=1), self._sizes.take(wanted, axis=1)
        for s in keys:
            self.shard(s)
        with self._lock:
            held = [self._shards.get(s) for s in keys]
            if None in held:    # evicted by another thread meanwhile
                held = None
            else:
                for s in keys:
                    self._shards.move_to_end(s)
                # copies (take: C-contiguous rows, as the kernel takes them)
                addr = self._addr.take(wanted, axis=1)
                sizes = self._sizes.take(wanted, axis=1)
                self._evict(set(keys))
        if held is None:
            return self._hold(wanted)
        return held, addr, sizes

    def _evict(self, keep: set) -> None:
        """Unmap the least recently read files (not in ``keep``) past the bound (lock held)."""
        if self.max_mapped_bytes is None:
            return
        for s in list(self._shards):
            if self._mapped_bytes <= self.max_mapped_bytes:
                break
            if s in keep:
                continue
            sh = self._shards.pop(s)
            self._mapped_bytes -= sh.layout.file_size
            self._addr[:, s] = 0
            # the map closes when the last reference goes: a gather in another thread
            # that holds this file keeps it until that gather returns

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
        # Two kernel calls and one lock: every Python step here holds the GIL, which the
        # render threads of a StrokeDataset take turns at (bench/bench_stroke.py, 2 threads)
        rows = np.ascontiguousarray(rows, dtype=np.int64).reshape(-1)
        n = len(rows)
        files = np.empty(max(n, 1), np.int64)
        local = np.empty(n, np.int64)
        index = np.empty(n, np.int64)
        status, w = _locate(self.offsets, rows, files, local, index)
        if status == Status.E_STORE_ROW:
            raise IndexError(f"rows must be in [0, {len(self)}), got {int(rows[w])}")
        if status:
            raise RuntimeError(f"row locate kernel status {status} (a rasterfast bug)")
        if not n:   # no rows: still learn the types from the first file
            files[0], w = 0, min(1, len(self.paths))
        held, addr, sizes = self._hold(files[:w])
        for sh in held:
            sh.check_size()
        coords = self._coords if self._coords is not None else np.dtype(np.int16)
        status, pos, x, y, t, so, do = _stroke_gather(addr, sizes, coords.itemsize,
                                                      bool(self._times), index, local)
        if status:
            self._fail(status, pos, index, local, files[:w])
        del held   # the files may be unmapped from here on
        native = coords.newbyteorder("=")
        x = x.view(coords).astype(native, copy=False)
        y = y.view(coords).astype(native, copy=False)
        self._check_coords(x, y, so, do, index, local, files[:w])
        return StrokeBatch.from_columns(self.kind, x, y, t, so, do, validate=False)

    def _check_coords(self, x, y, so, do, index, local, files) -> None:
        """Raise ShardFormatError on a coordinate the store's kind cannot hold.

        Simplified drawings are 0-255 (Google's simplification); the rasteriser would
        clip anything else without a word. Raw drawings are finite. The file bytes are
        not hashed per read: this is what a batch can check for a few us.
        """
        # one GIL-free pass (the render threads of a StrokeDataset share the GIL)
        if x.dtype == np.int16:
            point = _first_out_of_range(x, y, 0, 255)
            why = "outside 0-255, which a simplified drawing cannot have"
        else:
            point = _first_not_finite(np.ascontiguousarray(x, np.float32),
                                      np.ascontiguousarray(y, np.float32))
            why = "not a finite number"
        if point == -1:
            return
        if point < 0:
            raise RuntimeError("x and y differ in length (a rasterfast bug)")
        drawing = int(np.searchsorted(do, np.searchsorted(so, point, side="right") - 1,
                                      side="right") - 1)
        raise ShardFormatError(self.paths[int(files[index[drawing]])],
                               f"drawing {int(local[drawing])}: coordinate ({x[point]}, "
                               f"{y[point]}) {why} (file altered?)")

    def _fail(self, status, pos, shard, local, wanted=None):
        if 0 <= pos < len(shard):
            path = self.paths[int(shard[pos] if wanted is None else wanted[shard[pos]])]
            if status in (Status.E_STORE_ROW, Status.E_STORE_OFFSETS):
                raise status_error(status, pos, path=path, row=int(local[pos]))
            if status == Status.E_SHAPE:
                # the outputs were sized by the first pass: the file's offsets changed
                # between the two passes (another process writing into a mapped file)
                raise ShardFormatError(path, f"drawing {int(local[pos])}: its offsets changed "
                                       "while it was being read (file altered in place?)")
        if status == Status.E_SHAPE and pos == len(shard) and wanted is not None and len(wanted):
            # the same, found only when the points copied did not add up to the first pass
            names = [self.paths[int(m)] for m in wanted]
            raise ShardFormatError(names[0], f"offsets changed while being read (file altered in "
                                   f"place?); the gather read {names}")
        raise RuntimeError(f"stroke gather kernel status {status} at {pos} (a rasterfast bug)")
