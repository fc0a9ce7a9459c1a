"""Reading a finished shard directory: validated at open, shards mapped lazily.

:class:`Reader` checks the manifest (known format version) and that every file it
lists exists with the listed size before anything is mapped, so a missing or
truncated shard is a :class:`ShardFormatError` naming the file when the reader is
made, never a SIGBUS in the middle of an epoch. :func:`verify` also recomputes the
checksums.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .._ext._gather import _gather
from .layout import DATA_OFFSET, META_SCHEMA
from .manifest import MANIFEST_NAME, Manifest, ShardEntry, ShardFormatError, file_checksum

__all__ = ["Reader", "verify", "VerifyReport"]


def _check_files(root: Path, manifest: Manifest) -> None:
    """Raise ShardFormatError on the first listed file that is missing or of the wrong size."""
    c, s = manifest.channels, manifest.size
    for shards in manifest.splits.values():
        for sh in shards:
            want = DATA_OFFSET + sh.count * c * s * s
            if sh.images is not None and sh.images.size != want:
                raise ShardFormatError(root / MANIFEST_NAME,
                                       f"{sh.images.name}: listed as {sh.images.size} bytes, but "
                                       f"{sh.count} images of {c}x{s}x{s} take {want}")
            for fe in sh.files:
                try:
                    size = os.stat(root / fe.name).st_size
                except FileNotFoundError:
                    raise ShardFormatError(root / fe.name, "missing (listed in the manifest)") \
                        from None
                if size != fe.size:
                    what = "truncated" if size < fe.size else "longer than listed"
                    raise ShardFormatError(root / fe.name, f"{what}: {size} bytes, the manifest "
                                           f"lists {fe.size}")


@dataclass
class _SplitMaps:
    """The maps gather() uses for one split: row offsets, counts, addresses (0: unmapped)."""

    offsets: np.ndarray
    counts: np.ndarray
    bases: np.ndarray
    maps: list


class Reader:
    """A finished shard directory, opened for reading.

    Parameters
    ----------
    path : str or Path
        The directory (holding ``manifest.json``).
    max_open : int
        How many image memmaps one process keeps open (least recently used are closed).

    Raises
    ------
    FileNotFoundError
        No manifest (not a shard directory, or an unfinished build).
    ShardFormatError
        Unknown format version, inconsistent manifest, a listed file missing or of the
        wrong size; the message names the file.

    Notes
    -----
    A Reader pickles without its open maps: each process (DataLoader worker) maps the
    shards it reads itself.
    """

    def __init__(self, path, *, max_open: int = 512):
        self.path = Path(path)
        self.manifest = Manifest.load(self.path)
        _check_files(self.path, self.manifest)
        if max_open < 1:
            raise ValueError(f"max_open must be >= 1, got {max_open}")
        self.max_open = max_open
        self._maps: OrderedDict = OrderedDict()
        self._gathers: dict = {}  # split -> _SplitMaps, for gather()
        self._strokes: dict = {}  # split -> StrokeSet, for strokes()
        self._lock = threading.Lock()  # the map caches are shared by prefetch threads

    def __getstate__(self):
        state = self.__dict__.copy()
        del state["_maps"], state["_lock"], state["_gathers"], state["_strokes"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._maps = OrderedDict()
        self._gathers = {}
        self._strokes = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        counts = {k: self.manifest.count(k) for k in self.splits}
        return f"Reader({str(self.path)!r}, image={self.image_shape}, counts={counts})"

    # -- what is there --------------------------------------------------------------------------
    @property
    def words(self) -> list[str]:
        """The class list: label ``i`` is ``words[i]``."""
        return self.manifest.words

    @property
    def num_classes(self) -> int:
        """``len(words)``."""
        return len(self.manifest.words)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, S, S)``."""
        return self.manifest.image_shape

    @property
    def has_images(self) -> bool:
        """Whether the shards have images (a ``build --no-images`` directory has none)."""
        return self.manifest.has_images

    @property
    def has_strokes(self) -> bool:
        """Whether the shards have ``.strokes`` files (the stroke store)."""
        return self.manifest.has_strokes

    @property
    def stroke_kind(self) -> str | None:
        """``"simplified"`` or ``"raw"``: what the stroke files hold (None without them)."""
        return self.manifest.strokes["kind"] if self.manifest.strokes else None

    @property
    def stroke_times(self) -> bool:
        """Whether the stroke files keep the stroke times (raw drawings)."""
        return bool(self.manifest.strokes and self.manifest.strokes["times"])

    @property
    def splits(self) -> tuple[str, ...]:
        """The names of the splits, e.g. ``("test", "train", "val")``."""
        return tuple(self.manifest.splits)

    def shards(self, split: str) -> list[ShardEntry]:
        """The manifest entries of the shards of ``split``."""
        return self.manifest.shards(split)

    def counts(self, split: str) -> np.ndarray:
        """Number of drawings of each shard of ``split`` (int64)."""
        return np.array([s.count for s in self.shards(split)], np.int64)

    def _entry(self, split: str, shard: int) -> ShardEntry:
        shards = self.shards(split)
        if not 0 <= shard < len(shards):
            raise IndexError(f"split {split!r} has {len(shards)} shards, asked for {shard}")
        return shards[shard]

    # -- contents ---------------------------------------------------------------------------------
    def images(self, split: str, shard: int) -> np.ndarray:
        """The images of one shard, uint8 ``[n, C, S, S]``, memory-mapped read-only (cached)."""
        key = (split, shard)
        with self._lock:
            mm = self._maps.get(key)
            if mm is not None:
                self._maps.move_to_end(key)
                return mm
        entry = self._entry(split, shard)
        if entry.images is None:
            raise ValueError(f"{self.path} has no images (built with --no-images, parts="
                             f"{list(self.manifest.parts)}): render them on the fly with "
                             f"rasterfast.StrokeDataset, or write them with rasterfast render")
        path = self.path / entry.images.name
        shape = (entry.count, *self.image_shape)
        with open(path, "rb") as fh:
            try:
                version = np.lib.format.read_magic(fh)
                if version != (1, 0):
                    raise ValueError(f"npy version {version}, expected (1, 0)")
                got_shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            except ValueError as err:
                raise ShardFormatError(path, f"bad .npy header: {err}") from err
            if (got_shape, fortran, dtype) != (shape, False, np.dtype(np.uint8)) or \
                    fh.tell() != DATA_OFFSET:
                raise ShardFormatError(path, f"header says {dtype} {got_shape} "
                                       f"(fortran={fortran}, data at {fh.tell()}); the manifest "
                                       f"says uint8 {shape} at {DATA_OFFSET}")
            size = os.fstat(fh.fileno()).st_size
            if size != entry.images.size:  # changed since the Reader was made: never SIGBUS
                raise ShardFormatError(path, f"{size} bytes, the manifest lists "
                                       f"{entry.images.size}")
        if entry.count == 0:
            mm = np.zeros(shape, np.uint8)
        else:
            mm = np.memmap(path, np.uint8, "r", offset=DATA_OFFSET, shape=shape)
        with self._lock:
            self._maps[key] = mm
            while len(self._maps) > self.max_open:
                self._maps.popitem(last=False)
        return mm

    def gather(self, split: str, rows, out: np.ndarray | None = None) -> np.ndarray:
        """Copy the images of ``rows`` (row numbers in the split, shards end to end) to ``out``.

        One ``memcpy`` per image straight from the memory maps, without the GIL (threads
        gather in parallel). Rows in increasing order read the files forwards; any order
        works. Every shard this touches stays mapped for the life of the Reader (maps
        cost address space, not memory), so that no copy can outlive its map.

        Parameters
        ----------
        split : str
        rows : array-like of int, shape (n,)
        out : ndarray of uint8, shape (n, C, S, S), C-contiguous, optional
            Where to write (e.g. a pinned or shared-memory tensor's ``.numpy()``).

        Returns
        -------
        ndarray
            ``out``, or a new array.
        """
        g = self._split_maps(split)
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        n = len(rows)
        shape = (n, *self.image_shape)
        if out is None:
            out = np.empty(shape, np.uint8)
        elif not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != shape or \
                not out.flags.c_contiguous or not out.flags.writeable:
            raise ValueError(f"out must be a writable C-contiguous uint8 array of shape {shape}")
        if n == 0:
            return out
        if rows.min() < 0 or rows.max() >= g.offsets[-1]:
            raise IndexError(f"rows must be in [0, {g.offsets[-1]}) for split {split!r}, got "
                             f"{rows.min()}..{rows.max()}")
        shard = np.searchsorted(g.offsets, rows, side="right") - 1
        local = rows - g.offsets[shard]
        unmapped = g.bases[shard] == 0
        if unmapped.any():
            self._map_for_gather(split, g, np.unique(shard[unmapped]))
        bad = _gather(g.bases, g.counts, shard, local, out.reshape(n, -1))
        if bad >= 0:  # cannot happen after the checks above; never copy out of bounds
            raise IndexError(f"row {rows[bad]} (shard {shard[bad]}) outside its shard")
        return out

    def _split_maps(self, split: str) -> _SplitMaps:
        g = self._gathers.get(split)
        if g is None:
            counts = self.counts(split)
            g = _SplitMaps(np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), counts,
                           np.zeros(len(counts), np.uint64), [None] * len(counts))
            with self._lock:
                g = self._gathers.setdefault(split, g)
        return g

    def _map_for_gather(self, split: str, g: _SplitMaps, shards) -> None:
        for s in shards.tolist():
            with self._lock:
                if g.maps[s] is not None:
                    continue
            mm = self.images(split, s)
            with self._lock:
                if g.maps[s] is None:
                    # the reference in g.maps keeps the map (and so the address) alive
                    g.maps[s] = mm
                    g.bases[s] = mm.ctypes.data if mm.size else 0

    def strokes(self, split: str):
        """The stroke files of ``split`` as a :class:`rasterfast.store.StrokeSet` (cached).

        ``reader.strokes(split).gather(rows)`` gives the drawings of ``rows`` as a
        StrokeBatch. Files are mapped and checked when first read.

        Raises
        ------
        ValueError
            The directory has no stroke files.
        """
        from ..store import StrokeSet

        if not self.has_strokes:
            raise ValueError(f"{self.path} has no stroke store (parts="
                             f"{list(self.manifest.parts)}; built before rasterfast kept one, "
                             f"or by rasterfast render): rebuild it from the inputs")
        got = self._strokes.get(split)
        if got is None:
            shards = self.shards(split)
            got = StrokeSet([self.path / sh.strokes.name for sh in shards],
                            [sh.count for sh in shards], self.stroke_kind)
            with self._lock:
                got = self._strokes.setdefault(split, got)
        return got

    def labels(self, split: str, shard: int | None = None) -> np.ndarray:
        """Labels (int16; -1 = unknown) of one shard, or of the whole split in shard order."""
        if shard is None:
            parts = [self.labels(split, i) for i in range(len(self.shards(split)))]
            return np.concatenate(parts) if parts else np.zeros(0, np.int16)
        entry = self._entry(split, shard)
        path = self.path / entry.labels.name
        try:
            labels = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ShardFormatError(path, f"cannot read labels: {err}") from err
        if labels.dtype != np.int16 or labels.shape != (entry.count,):
            raise ShardFormatError(path, f"labels are {labels.dtype} {labels.shape}, expected "
                                   f"int16 ({entry.count},)")
        if labels.size and (labels.min() < -1 or labels.max() >= self.num_classes):
            raise ShardFormatError(path, f"labels outside [-1, {self.num_classes})")
        return labels

    def meta(self, split: str, shard: int | None = None, columns=None) -> pa.Table:
        """Metadata (``meta.parquet``, see ``META_SCHEMA``) of one shard or the whole split."""
        if shard is None:
            parts = [self.meta(split, i, columns) for i in range(len(self.shards(split)))]
            if parts:
                return pa.concat_tables(parts)
            schema = META_SCHEMA if columns is None else pa.schema(
                [META_SCHEMA.field(c) for c in columns])
            return schema.empty_table()
        entry = self._entry(split, shard)
        path = self.path / entry.meta.name
        try:
            table = pq.read_table(path, columns=columns)
        except (pa.ArrowException, OSError) as err:
            raise ShardFormatError(path, f"cannot read metadata: {err}") from err
        if table.num_rows != entry.count:
            raise ShardFormatError(path, f"{table.num_rows} rows, expected {entry.count}")
        return table

    def close(self) -> None:
        """Drop this process's maps (they close when no array refers to them)."""
        with self._lock:
            self._maps.clear()
            self._gathers.clear()
            self._strokes.clear()


def _stroke_file_problem(path: Path, manifest: Manifest, count: int) -> str | None:
    """What is wrong with the header of a listed ``.strokes`` file (None: nothing)."""
    from ..store import read_header

    try:
        lay = read_header(path)
    except ShardFormatError as err:
        return err.reason
    want = manifest.strokes or {}
    if (lay.kind, lay.drawings, lay.times) != (want.get("kind"), count, want.get("times")):
        return (f"holds {lay.drawings} {lay.kind} drawings (times={lay.times}); the manifest "
                f"says {count} {want.get('kind')} (times={want.get('times')})")
    return None


@dataclass
class VerifyReport:
    """What :func:`verify` found: ``problems`` lists (file, reason), empty when all is well."""

    path: str
    problems: list = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def __str__(self) -> str:
        head = (f"{self.path}: {self.files_checked} files, {self.bytes_checked / 1e6:,.1f} MB "
                f"checked, {len(self.problems)} problem(s)")
        return "\n".join([head] + [f"  {name}: {why}" for name, why in self.problems])


def verify(path, *, checksums: bool = True, threads: int | None = None) -> VerifyReport:
    """Check every file the manifest lists: present, of the listed size, and its sha256.

    Unlike :class:`Reader` this does not stop at the first problem: the report names
    every missing, truncated or altered file. The header of every ``.strokes`` file is
    also read (format, version, kind and count against the manifest), so a file of a
    newer version is named as such. ``checksums=False`` checks sizes and headers only.
    ``threads`` hash files in parallel (hashlib releases the GIL); default up to 4.
    """
    root = Path(path)
    report = VerifyReport(str(root))
    try:
        manifest = Manifest.load(root)
    except (FileNotFoundError, ShardFormatError) as err:
        # the file is named once, in front (the error's message starts with it too)
        reason = getattr(err, "reason", None) or str(err).removeprefix(
            f"{root / MANIFEST_NAME}: ")
        name = str(root / MANIFEST_NAME)
        if not root.is_dir():
            name, reason = str(root), "no such directory"
        report.problems.append((name, reason))
        return report
    todo = []
    c, s = manifest.channels, manifest.size
    for shards in manifest.splits.values():
        for sh in shards:
            if sh.images is not None and sh.images.size != DATA_OFFSET + sh.count * c * s * s:
                report.problems.append((sh.images.name, "listed size does not fit its count"))
            for fe in sh.files:
                try:
                    size = os.stat(root / fe.name).st_size
                except FileNotFoundError:
                    report.problems.append((fe.name, "missing"))
                    continue
                report.files_checked += 1
                if size != fe.size:
                    what = "truncated" if size < fe.size else "longer than listed"
                    report.problems.append((fe.name, f"{what}: {size} bytes, listed {fe.size}"))
                    continue
                if fe is sh.strokes:
                    problem = _stroke_file_problem(root / fe.name, manifest, sh.count)
                    if problem:
                        report.problems.append((fe.name, problem))
                        continue
                if checksums:
                    todo.append(fe)
    if todo:
        def check(fe):
            return fe, file_checksum(root / fe.name)

        with ThreadPoolExecutor(threads or min(4, os.cpu_count() or 1)) as pool:
            for fe, digest in pool.map(check, todo):
                report.bytes_checked += fe.size
                if digest != fe.sha256:
                    report.problems.append((fe.name, "altered: sha256 differs from the manifest"))
    return report
