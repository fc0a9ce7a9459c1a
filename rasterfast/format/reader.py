"""Reading a finished shard directory: checked at open, shards mapped lazily, sizes per read.

:class:`Reader` parses the manifest (known format version, its content digest) and, at
the ``check`` level asked for, checks the files it lists before anything is mapped
(:data:`CHECK_LEVELS`): sizes, headers, and optionally sha256 of the small files or of
all. Every read from a mapped file (``gather``, ``strokes(...).gather``) first checks
that the file still has its size, so a file truncated while a reader had it mapped is a
:class:`ShardFormatError` naming it, not a SIGBUS. :func:`verify` checks everything and
reports every problem instead of stopping at the first. What each step checks is listed
in ``rasterfast/format/README.md`` (section *What is checked, when*).
"""

from __future__ import annotations

import ast
import functools
import mmap
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .._ext._gather import _gather
from .layout import DATA_OFFSET, META_SCHEMA
from .manifest import MANIFEST_NAME, Manifest, ShardEntry, ShardFormatError, file_checksum

__all__ = ["Reader", "verify", "VerifyReport", "CHECK_LEVELS", "load_npy"]

#: What ``Reader(check=...)`` (and the datasets' ``check``) may check when opened, each
#: level including the ones before it: ``"sizes"`` every listed file exists with its
#: listed size; ``"headers"`` (default) also the header of every ``.images.npy`` (dtype,
#: shape, data offset) and ``.strokes`` file (format, version, kind, counts);
#: ``"labels"`` also the sha256 of every ``labels.npy`` and ``meta.parquet`` (a few dozen
#: bytes per drawing: a label changed to another valid label, altered metadata);
#: ``"full"`` the sha256 of every file (what :func:`verify` does; reads the whole
#: directory once, ~1.4 GB/s per core).
CHECK_LEVELS = ("sizes", "headers", "labels", "full")


def _check_level(check) -> int:
    if check not in CHECK_LEVELS:
        raise ValueError(f"check must be one of {CHECK_LEVELS}, got {check!r}")
    return CHECK_LEVELS.index(check)


#: CPython 3.11's AST constructor is not safe in two threads at once ("SystemError: AST
#: constructor recursion depth mismatch", seen in CI when ShardLoader's prefetch threads
#: mapped image shards together, each through np.load): headers are parsed one at a time.
_NPY_HEADER_LOCK = threading.Lock()
#: The longest header read, numpy's own limit (``max_header_size``) for untrusted files.
_NPY_MAX_HEADER = 10_000
_NPY_KEYS = frozenset(("descr", "fortran_order", "shape"))


def _read_npy_header(path: Path, fh) -> tuple:
    """``(shape, fortran_order, dtype, data offset)`` of the version 1.0 ``.npy`` file ``fh``.

    :class:`ShardFormatError` for anything else.

    The checks of numpy's ``read_array_header_1_0`` (a dict of exactly descr,
    fortran_order and shape; a tuple of ints; a bool; a dtype descr) and non-negative
    dimensions, without its fallback for headers written by Python 2, which runs
    ``tokenize`` over a header that is not a Python literal: one byte changed at the end
    of a 4 KB images header took 6.8 s there (a quote opening a string never closed),
    with the lock held. Every file read here was written by Python 3's numpy or by
    :func:`~rasterfast.format.writer.npy_header`.
    """
    try:
        version = np.lib.format.read_magic(fh)
        if version != (1, 0):
            raise ValueError(f"npy version {version}, expected (1, 0)")
        size = fh.read(2)
        if len(size) != 2:
            raise ValueError("the file ends inside the header length")
        length = int.from_bytes(size, "little")
        if length > _NPY_MAX_HEADER:
            raise ValueError(f"header of {length} bytes, more than {_NPY_MAX_HEADER}")
        text = fh.read(length)
        if len(text) != length:
            raise ValueError(f"the file ends inside the header: {len(text)} of {length} bytes")
        with _NPY_HEADER_LOCK:
            d = ast.literal_eval(text.decode("latin-1"))
        if not isinstance(d, dict) or d.keys() != _NPY_KEYS:
            raise ValueError("not a dict of descr, fortran_order and shape")
        shape, fortran = d["shape"], d["fortran_order"]
        if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
            raise ValueError(f"shape is not a tuple of non-negative ints: {shape!r:.80}")
        if type(fortran) is not bool:
            raise ValueError(f"fortran_order is not a bool: {fortran!r:.80}")
        dtype = np.lib.format.descr_to_dtype(d["descr"])
    except (ValueError, SyntaxError, TypeError, OverflowError, EOFError, RecursionError,
            MemoryError) as err:
        # damage makes literal_eval raise SyntaxError, ValueError (malformed node), or
        # RecursionError / MemoryError for deep nesting; descr_to_dtype TypeError
        raise ShardFormatError(path, f"bad .npy header: {err!r:.200}") from None
    return shape, fortran, dtype, fh.tell()


def load_npy(path, dtype=None, shape=None) -> np.ndarray:
    """The array of the ``.npy`` file ``path`` (in memory, writable), safe in threads.

    What ``np.load(path, allow_pickle=False)`` gives for a C-order array, but its header
    is parsed one thread at a time (see ``_NPY_HEADER_LOCK``: ``np.load`` in two threads
    can raise ``SystemError`` under CPython 3.11), and a damaged or unexpected file raises
    :class:`ShardFormatError` naming it: a bad header, Fortran order, an object dtype, a
    ``dtype`` or ``shape`` other than those given (when given), or fewer bytes than the
    header announces. The header is checked before anything is allocated.
    """
    path = Path(path)
    try:
        fh = open(path, "rb")
    except OSError as err:
        raise ShardFormatError(path, f"cannot open: {err.strerror or err}") from err
    with fh:
        got_shape, fortran, got_dtype, _ = _read_npy_header(path, fh)
        if fortran or got_dtype.hasobject:
            raise ShardFormatError(path, f"{got_dtype} (fortran={fortran}): only C-order "
                                   "plain arrays are read")
        if (dtype is not None and got_dtype != np.dtype(dtype)) or (
                shape is not None and tuple(got_shape) != tuple(shape)):
            raise ShardFormatError(path, f"holds {got_dtype} {got_shape}, expected "
                                   f"{np.dtype(dtype) if dtype is not None else got_dtype} "
                                   f"{tuple(shape) if shape is not None else got_shape}")
        size = int(np.prod(got_shape, dtype=np.int64)) * got_dtype.itemsize
        data = fh.read(size)
    if len(data) != size:
        raise ShardFormatError(path, f"truncated: {len(data)} of {size} bytes of data")
    return np.frombuffer(bytearray(data), got_dtype).reshape(got_shape)


def _images_header_problem(path: Path, fh, count: int, image_shape) -> str | None:
    shape = (count, *image_shape)
    got_shape, fortran, dtype, at = _read_npy_header(path, fh)
    if (got_shape, fortran, dtype, at) != (shape, False, np.dtype(np.uint8), DATA_OFFSET):
        return (f"header says {dtype} {got_shape} (fortran={fortran}, data at {at}); the "
                f"manifest says uint8 {shape} at {DATA_OFFSET}")
    return None


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


def _problems(root: Path, manifest: Manifest, level: int, splits=None, threads=None,
              tally=None):
    """Yield ``(file name, reason)`` for every problem the ``check`` level ``level`` finds.

    Sizes and headers come first, file by file, in manifest order; then the checksums
    (on up to ``threads`` threads: hashlib releases the GIL) of the files whose size and
    header were right. ``tally`` (a VerifyReport) counts the files and bytes checked.
    """
    c, s = manifest.channels, manifest.size
    todo = []
    for split in (manifest.splits if splits is None else splits):
        for sh in manifest.shards(split):
            if sh.images is not None and sh.images.size != DATA_OFFSET + sh.count * c * s * s:
                yield sh.images.name, (f"listed as {sh.images.size} bytes, but {sh.count} "
                                       f"images of {c}x{s}x{s} take "
                                       f"{DATA_OFFSET + sh.count * c * s * s}")
                continue
            for role, fe in zip(sh.roles, sh.files, strict=True):
                path = root / fe.name
                try:
                    size = os.stat(path).st_size
                except FileNotFoundError:
                    yield fe.name, "missing (listed in the manifest)"
                    continue
                except OSError as err:  # e.g. the split directory is a file
                    yield fe.name, f"cannot stat: {err.strerror or err}"
                    continue
                if tally is not None:
                    tally.files_checked += 1
                if size != fe.size:
                    what = "truncated" if size < fe.size else "longer than listed"
                    yield fe.name, f"{what}: {size} bytes, the manifest lists {fe.size}"
                    continue
                problem = None
                if level >= 1 and role == "images":
                    try:
                        with open(path, "rb") as fh:
                            problem = _images_header_problem(path, fh, sh.count,
                                                             manifest.image_shape)
                    except ShardFormatError as err:
                        problem = err.reason
                    except OSError as err:  # a directory in its place, no permission...
                        problem = f"cannot open: {err.strerror or err}"
                elif level >= 1 and role == "strokes":
                    problem = _stroke_file_problem(path, manifest, sh.count)
                if problem:
                    yield fe.name, problem
                elif level >= 3 or level == 2 and role in ("labels", "meta"):
                    todo.append(fe)
    if todo:
        def digest(fe):
            return fe, file_checksum(root / fe.name)

        with ThreadPoolExecutor(threads or min(4, os.cpu_count() or 1)) as pool:
            for fe, got in pool.map(digest, todo):
                if tally is not None:
                    tally.bytes_checked += fe.size
                if got != fe.sha256:
                    yield fe.name, "altered: sha256 differs from the manifest"


@dataclass(frozen=True)
class _ImageMap:
    """One mapped ``images.npy``: its images, and the map whose size is checked per read."""

    path: Path
    images: np.ndarray          # uint8 [n, C, S, S], a read-only view of ``mm``
    mm: mmap.mmap | None        # None for a shard of no images (nothing mapped)
    file_size: int              # what the manifest lists
    address: int = 0            # of images[0] (0: no images), for the gather kernel

    def check_size(self) -> None:
        """Raise ShardFormatError if the file no longer has the size it had when mapped.

        Reading a page of a mapped file past its end is a SIGBUS, which kills the
        process. ``mmap.size()`` is an ``fstat`` of the map's own descriptor (the
        mapped file, even if renamed or unlinked since): one system call per file and
        read turns a truncation since mapping into this error.
        """
        if self.mm is not None and (got := self.mm.size()) != self.file_size:
            raise ShardFormatError(self.path, f"truncated to {got} bytes while mapped (the "
                                   f"manifest lists {self.file_size}): the shard directory "
                                   f"was changed while it was being read")


class Reader:
    """A finished shard directory, opened for reading.

    Parameters
    ----------
    path : str or Path
        The directory (holding ``manifest.json``).
    max_open : int
        How many image shards one process keeps mapped (the least recently read are
        unmapped first; the shards one ``gather`` reads stay mapped for that call).
    check : {"sizes", "headers", "labels", "full"}
        What to check of every listed file now (:data:`CHECK_LEVELS`): by default
        sizes and headers; ``"labels"`` adds the sha256 of the labels and metadata
        files, ``"full"`` of every file.

    Raises
    ------
    FileNotFoundError
        No manifest (not a shard directory, or an unfinished build).
    ShardFormatError
        Unknown format version, inconsistent or altered manifest (its content digest),
        a listed file missing, of the wrong size, with a wrong header, or (with
        ``check="labels"`` or ``"full"``) altered; the message names the file.

    Notes
    -----
    A Reader pickles without its open maps: each process (DataLoader worker) maps the
    shards it reads itself. The maps are kept in a :func:`functools.lru_cache` per
    Reader (thread-safe; a hit measured 0.11-0.14 us against 0.4-0.7 us for the
    hand-written OrderedDict and lock it replaced): evicting one drops the cache's
    reference, and the map closes when no array (a caller's, or a gather in progress
    in another thread) refers to it.
    """

    def __init__(self, path, *, max_open: int = 512, check: str = "headers"):
        self.path = Path(path)
        if isinstance(max_open, bool) or not isinstance(max_open, int) or max_open < 1:
            raise ValueError(f"max_open must be an int >= 1, got {max_open!r}")
        level = _check_level(check)
        self.manifest = Manifest.load(self.path)
        self.check(CHECK_LEVELS[level])
        self.max_open = max_open
        self._reset()

    def _reset(self) -> None:
        self._image_maps = functools.lru_cache(maxsize=self.max_open)(self._map_images)
        self._strokes: dict = {}  # split -> StrokeSet, for strokes()
        self._offsets_cache: dict = {}  # split -> row offsets, for gather()
        self._counts_cache: dict = {}  # split -> rows per shard, for gather()

    def __getstate__(self):
        state = self.__dict__.copy()
        for name in ("_image_maps", "_strokes", "_offsets_cache", "_counts_cache"):
            del state[name]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._reset()

    def __repr__(self) -> str:
        counts = {k: self.manifest.count(k) for k in self.splits}
        return f"Reader({str(self.path)!r}, image={self.image_shape}, counts={counts})"

    def check(self, level: str = "headers", splits=None, *, threads: int | None = None) -> None:
        """Check the files of ``splits`` (default: all) at ``level``; raise on the first problem.

        See :data:`CHECK_LEVELS`. Checksums are computed on up to ``threads`` threads
        (default up to 4).

        Raises
        ------
        ShardFormatError
            The first problem, naming the file.
        """
        for name, reason in _problems(self.path, self.manifest, _check_level(level),
                                      None if splits is None else list(splits), threads):
            raise ShardFormatError(self.path / name, reason)

    @property
    def mapped(self) -> int:
        """How many image shards this process has mapped now (at most ``max_open``)."""
        return self._image_maps.cache_info().currsize

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
    def _map_images(self, split: str, shard: int) -> _ImageMap:
        """Map the images of one shard after checking its header and size (cached)."""
        entry = self._entry(split, shard)
        if entry.images is None:
            raise ValueError(f"{self.path} has no images (built with --no-images, parts="
                             f"{list(self.manifest.parts)}): render them on the fly with "
                             f"rasterfast.StrokeDataset, or write them with rasterfast render")
        path = self.path / entry.images.name
        shape = (entry.count, *self.image_shape)
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise ShardFormatError(path, "missing (listed in the manifest)") from None
        except OSError as err:  # a directory in its place, no permission...
            raise ShardFormatError(path, f"cannot open: {err.strerror or err}") from err
        with fh:
            problem = _images_header_problem(path, fh, entry.count, self.image_shape)
            if problem:
                raise ShardFormatError(path, problem)
            size = os.fstat(fh.fileno()).st_size
            if size != entry.images.size:  # changed since the Reader was made
                raise ShardFormatError(path, f"{size} bytes, the manifest lists "
                                       f"{entry.images.size}")
            if entry.count == 0:
                return _ImageMap(path, np.zeros(shape, np.uint8), None, entry.images.size)
            # the map keeps its own descriptor: the file may be renamed or unlinked after
            try:
                mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError) as err:  # e.g. emptied since the size was read
                raise ShardFormatError(path, f"cannot map: {err}") from err
            if mm.size() != entry.images.size:
                raise ShardFormatError(path, f"changed size while opened ({size} bytes, "
                                       f"then {mm.size()})")
        images = np.frombuffer(mm, np.uint8, count=entry.count * int(np.prod(shape[1:])),
                               offset=DATA_OFFSET).reshape(shape)
        return _ImageMap(path, images, mm, entry.images.size, images.ctypes.data)

    def images(self, split: str, shard: int) -> np.ndarray:
        """The images of one shard, uint8 ``[n, C, S, S]``, memory-mapped read-only (cached).

        The header and size are checked when the file is mapped; the array reads the map
        directly, so reading it after the file was truncated is a SIGBUS. :meth:`gather`
        checks the size at every call instead.
        """
        return self._image_maps(split, shard).images

    def gather(self, split: str, rows, out: np.ndarray | None = None) -> np.ndarray:
        """Copy the images of ``rows`` (row numbers in the split, shards end to end) to ``out``.

        One ``memcpy`` per image straight from the memory maps, without the GIL (threads
        gather in parallel). Rows in increasing order read the files forwards; any order
        works. The shards this reads are mapped (at most ``max_open`` stay mapped after
        the call, the least recently read unmapped first) and held for the call, so no
        copy outlives its map; each is checked to still have its size first.

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

        Raises
        ------
        IndexError
            A row outside the split.
        ShardFormatError
            A shard that is missing, has a wrong header, or was truncated since it was
            mapped; the message names it.
        """
        offsets = self._row_offsets(split)
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
        if rows.min() < 0 or rows.max() >= offsets[-1]:
            raise IndexError(f"rows must be in [0, {offsets[-1]}) for split {split!r}, got "
                             f"{rows.min()}..{rows.max()}")
        shard = np.searchsorted(offsets, rows, side="right") - 1
        local = rows - offsets[shard]
        # the shards read, and each row's index among them (O(n + shards), no sort)
        present = np.zeros(len(offsets) - 1, bool)
        present[shard] = True
        wanted = np.flatnonzero(present)
        which = (np.cumsum(present) - 1)[shard]
        # our references hold the maps for this call, even if the cache evicts them
        held = [self._image_maps(split, s) for s in wanted.tolist()]
        for m in held:
            m.check_size()
        bases = np.array([m.address for m in held], np.uint64)
        counts = self._counts_cache[split][wanted]
        bad = _gather(bases, counts, which, local, out.reshape(n, -1))
        del held
        if bad >= 0:  # cannot happen after the checks above; never copy out of bounds
            raise IndexError(f"row {rows[bad]} (shard {shard[bad]}) outside its shard")
        return out

    def _row_offsets(self, split: str) -> np.ndarray:
        """Where each shard's rows start in the split, and the total (int64, cached)."""
        offsets = self._offsets_cache.get(split)
        if offsets is None:
            counts = self.counts(split)
            self._counts_cache[split] = counts
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self._offsets_cache[split] = offsets
        return offsets

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
            got = self._strokes.setdefault(split, got)  # atomic: one StrokeSet per split
        return got

    def labels(self, split: str, shard: int | None = None) -> np.ndarray:
        """Labels (int16; -1 = unknown) of one shard, or of the whole split in shard order."""
        if shard is None:
            parts = [self.labels(split, i) for i in range(len(self.shards(split)))]
            return np.concatenate(parts) if parts else np.zeros(0, np.int16)
        entry = self._entry(split, shard)
        path = self.path / entry.labels.name
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise ShardFormatError(path, "missing (listed in the manifest)") from None
        except OSError as err:  # a directory in its place, no permission...
            raise ShardFormatError(path, f"cannot open: {err.strerror or err}") from err
        with fh:
            # the header first: a tampered shape must not size an allocation (np.load would)
            shape, _fortran, dtype, _ = _read_npy_header(path, fh)
            if dtype != np.dtype(np.int16) or shape != (entry.count,):
                raise ShardFormatError(path, f"labels are {dtype} {shape}, expected int16 "
                                       f"({entry.count},)")
            data = fh.read(2 * entry.count)
        if len(data) != 2 * entry.count:
            raise ShardFormatError(path, f"truncated: {len(data)} bytes of labels for "
                                   f"{entry.count} drawings")
        labels = np.frombuffer(bytearray(data), np.int16)
        if labels.size and (labels.min() < -1 or labels.max() >= self.num_classes):
            raise ShardFormatError(path, f"labels outside [-1, {self.num_classes})")
        return labels

    def meta(self, split: str, shard: int | None = None, columns=None) -> pa.Table:
        """Metadata (``meta.parquet``, see ``META_SCHEMA``) of one shard or the whole split."""
        if shard is None:
            parts = [self.meta(split, i, columns) for i in range(len(self.shards(split)))]
            for i, part in enumerate(parts[1:], 1):
                if not part.schema.equals(parts[0].schema):  # extra columns differ
                    raise ShardFormatError(self.path / self.shards(split)[i].meta.name,
                                           f"columns {part.schema.names} differ from those "
                                           f"of shard 0 ({parts[0].schema.names})")
            if parts:
                return pa.concat_tables(parts)
            schema = META_SCHEMA if columns is None else pa.schema(
                [META_SCHEMA.field(c) for c in columns])
            return schema.empty_table()
        entry = self._entry(split, shard)
        path = self.path / entry.meta.name
        try:
            table = pq.read_table(path, columns=columns)
            have = table.schema.names  # decodes the column names (UTF-8)
        except (pa.ArrowException, OSError, UnicodeDecodeError) as err:
            raise ShardFormatError(path, f"cannot read metadata: {err}") from err
        if table.num_rows != entry.count:
            raise ShardFormatError(path, f"{table.num_rows} rows, expected {entry.count}")
        names = META_SCHEMA.names if columns is None else \
            [c for c in columns if c in META_SCHEMA.names]
        for name in names:
            got = table.schema.field(name).type if name in have else None
            if got != META_SCHEMA.field(name).type:
                raise ShardFormatError(path, f"column {name!r} is {got}, expected "
                                       f"{META_SCHEMA.field(name).type} (META_SCHEMA)")
        return table

    def close(self) -> None:
        """Drop this process's maps (they close when no array refers to them)."""
        self._image_maps.cache_clear()
        self._strokes.clear()


@dataclass
class VerifyReport:
    """What :func:`verify` found: ``problems`` lists (file, reason), empty when all is well.

    ``notes`` are facts that are not problems, e.g. a manifest written before manifests
    carried their own digest (whose content therefore could not be checked).
    """

    path: str
    problems: list = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def __str__(self) -> str:
        head = (f"{self.path}: {self.files_checked} files, {self.bytes_checked / 1e6:,.1f} MB "
                f"checked, {len(self.problems)} problem(s)")
        return "\n".join([head] + [f"  {name}: {why}" for name, why in self.problems] +
                         [f"  note: {note}" for note in self.notes])


def verify(path, *, checksums: bool = True, threads: int | None = None) -> VerifyReport:
    """Check the manifest and every file it lists: present, of the listed size, headers, sha256.

    Unlike :class:`Reader` this does not stop at the first problem: the report names
    every missing, truncated or altered file. The manifest's own content is checked
    against its ``content_sha256`` (a manifest edited by hand, e.g. two words swapped,
    is a problem; one written before manifests had a digest gets a note).
    The header of every ``.images.npy`` and ``.strokes`` file is read (a file of a
    newer version is named as such). ``checksums=False`` checks sizes and headers
    only (``check="headers"`` of :class:`Reader`); ``threads`` hash files in parallel
    (hashlib releases the GIL); default up to 4.
    """
    root = Path(path)
    report = VerifyReport(str(root))
    try:
        manifest = Manifest.load(root, check_digest=False)
    except (FileNotFoundError, ShardFormatError) as err:
        # the file is named once, in front (the error's message starts with it too)
        reason = getattr(err, "reason", None) or str(err).removeprefix(
            f"{root / MANIFEST_NAME}: ")
        name = str(root / MANIFEST_NAME)
        if not root.is_dir():
            name, reason = str(root), "no such directory"
        report.problems.append((name, reason))
        return report
    if manifest.content_sha256 is None:
        report.notes.append(f"{MANIFEST_NAME} has no content_sha256 (written by "
                            f"{manifest.writer or 'an older rasterfast'}): its own fields "
                            f"(words, splits...) were not checked")
    else:
        problem = manifest.digest_problem()
        if problem:
            report.problems.append((MANIFEST_NAME, problem))
    report.problems.extend(_problems(root, manifest, 3 if checksums else 1, threads=threads,
                                     tally=report))
    return report
