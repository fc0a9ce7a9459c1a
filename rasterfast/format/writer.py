"""Writing a shard directory: one shard at a time, resumable, every file renamed into place.

The build pipeline (Dask) writes only through :class:`Writer`. A Writer holds no open
file and pickles as its path and configuration, so each task may write its own shards::

    writer = Writer(out, recipe, words, channels=1, size=64, seed=0)   # once, on the driver
    # in each task (any process, any machine sharing the directory):
    if writer.done("train", i) is None:
        with writer.shard("train", i, n) as sh:
            render(batch, recipe, out=sh.images)     # fills the writable memmap in place
            sh.set_meta(batch, entropy=entropy)      # labels follow from the word column
    writer.finish(inputs=stats, rejects=rejects)     # once, on the driver: manifest.json

A shard is committed when its sidecar ``<split>/NNNNNN.shard.json`` (sizes and
checksums of its three files) is renamed into place; a shard whose sidecar is present
and whose files have the recorded sizes is finished, and a re-run skips it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._version import __version__
from ..batch import StrokeBatch
from .layout import BUILD_NAME, DATA_OFFSET, META_SCHEMA
from .manifest import (
    CHECKSUM,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    PARTS,
    ROLES,
    STROKES_FORMAT,
    FileEntry,
    Manifest,
    ShardEntry,
    ShardFormatError,
    atomic_write_bytes,
    check_split_name,
    file_checksum,
    fsync_dir,
    shard_file_name,
    summarize_rejects,
)

__all__ = ["Writer", "ShardWriter", "meta_from_batch", "npy_header"]

def npy_header(shape: tuple[int, ...], descr: str = "|u1") -> bytes:
    r"""A ``.npy`` version 1.0 header for a C-order array, padded to :data:`DATA_OFFSET` bytes.

    Layout: ``\x93NUMPY``, version ``01 00``, header length (uint16 LE, here 4086), then
    the header dict as ASCII, padded with spaces and ending in ``\n``; the data follows
    at byte 4096. Any ``.npy`` reader accepts it (the format allows any padding).
    """
    d = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(int(s) for s in shape)}, }}"
    hlen = DATA_OFFSET - 10
    if len(d) + 1 > hlen:
        raise ValueError(f"shape {shape} does not fit a {DATA_OFFSET}-byte header")
    return b"\x93NUMPY\x01\x00" + hlen.to_bytes(2, "little") + (d.ljust(hlen - 1) + "\n").encode()


def meta_from_batch(batch: StrokeBatch, entropy=None) -> pa.Table:
    """The ``meta.parquet`` table of a :class:`~rasterfast.batch.StrokeBatch` (image order).

    Its per-drawing columns come from :meth:`StrokeBatch.to_arrow`; ``entropy`` (float,
    one per drawing) is stored when given, NaN otherwise.
    """
    n = len(batch)
    if entropy is None:
        entropy = np.full(n, np.nan, np.float32)
    entropy = np.asarray(entropy, np.float32)
    if entropy.shape != (n,):
        raise ValueError(f"entropy must have shape ({n},) for {n} drawings, got {entropy.shape}")
    table = batch.to_arrow(strokes=False)
    added = {
        "entropy": pa.array(entropy, pa.float32()),
        "n_strokes": pa.array(batch.strokes_per_drawing().astype(np.int32), pa.int32()),
        "n_points": pa.array(batch.points_per_drawing().astype(np.int32), pa.int32()),
    }
    return pa.table([added[f.name] if f.name in added else table.column(f.name)
                     for f in META_SCHEMA], schema=META_SCHEMA)


def _conform_meta(meta, n: int) -> pa.Table:
    """``meta`` as a table of META_SCHEMA (extra columns kept after it); missing columns null."""
    if isinstance(meta, StrokeBatch):
        meta = meta_from_batch(meta)
    elif isinstance(meta, Mapping):
        meta = pa.table(dict(meta))
    elif not isinstance(meta, pa.Table):
        raise TypeError(f"meta must be a pyarrow.Table, a dict of columns or a StrokeBatch, "
                        f"got {type(meta).__name__}")
    if meta.num_rows != n:
        raise ValueError(f"meta has {meta.num_rows} rows for a shard of {n} drawings")
    cols, fields = [], []
    for f in META_SCHEMA:
        if f.name in meta.column_names:
            try:
                col = meta.column(f.name).cast(f.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise ValueError(f"meta column {f.name!r} cannot be stored as {f.type}: "
                                 f"{err}") from err
        else:
            col = pa.nulls(n, f.type)
        cols.append(col)
        fields.append(f)
    for name in meta.column_names:
        if name not in META_SCHEMA.names:
            cols.append(meta.column(name))
            fields.append(meta.schema.field(name))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


def _recipe_config(recipe) -> dict:
    config = recipe.get_config() if hasattr(recipe, "get_config") else recipe
    if not isinstance(config, dict):
        raise TypeError(f"recipe must have get_config() or be a dict, got {type(recipe).__name__}")
    try:
        return json.loads(json.dumps(config))
    except (TypeError, ValueError) as err:
        raise ValueError(f"recipe config is not JSON-serialisable: {err}") from err


def _is_split(name: str) -> bool:
    try:
        check_split_name(name)
    except ValueError:
        return False
    return True


#: Stream mode writes behind: every ``_WRITE_BEHIND_BYTES`` appended, the range before is
#: put on disk and dropped from the page cache (see ``_WriteBehind``).
_WRITE_BEHIND_BYTES = 32 << 20


def _libc_sync_file_range():
    """``sync_file_range(2)`` through ctypes (Python has no binding), or None."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.sync_file_range
    except (OSError, AttributeError):   # not Linux
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _libc_sync_file_range()
_SFR_WAIT_BEFORE, _SFR_WRITE, _SFR_WAIT_AFTER = 1, 2, 4


class _WriteBehind:
    """Appends to a file written once, keeping few of its pages in the page cache.

    The file is a shard's images in stream mode: not read back by its writer.

    Each ``_WRITE_BEHIND_BYTES`` written are handed to the disk at once (asynchronously),
    and the range before them, by now on disk, is dropped from the page cache. Why: a
    build writes ~50 KB a drawing at 128 px, and every new page-cache page cost the
    writing thread ~2 CPU-s a GB on the VMs measured (fresh pages: the kernel's
    allocation and the hypervisor's first touch), against ~0.4 for pages dropped and
    reused at once; the pages of a shard bigger than memory would be evicted anyway.
    The shard is fsync'd at commit as before; only what it leaves cached differs.
    """

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        self.written = 0      # bytes written
        self.handed = 0       # bytes handed to the disk (sync_file_range WRITE)
        self.dropped = 0      # bytes dropped from the page cache

    def write(self, data) -> None:
        view = memoryview(data).cast("B")
        while view.nbytes:
            n = os.write(self.fd, view)
            view = view[n:]
            self.written += n
        if self.written - self.handed >= _WRITE_BEHIND_BYTES:
            self._behind()

    def _behind(self) -> None:
        if _SYNC_FILE_RANGE is None or not hasattr(os, "posix_fadvise"):
            return
        # wait for the previous hand-over (started one step ago, mostly done), then drop
        # it; start writing out the range since
        if self.handed > self.dropped:
            if _SYNC_FILE_RANGE(self.fd, self.dropped, self.handed - self.dropped,
                                _SFR_WAIT_BEFORE | _SFR_WRITE | _SFR_WAIT_AFTER) == 0:
                os.posix_fadvise(self.fd, self.dropped, self.handed - self.dropped,
                                 os.POSIX_FADV_DONTNEED)
                self.dropped = self.handed
        if _SYNC_FILE_RANGE(self.fd, self.handed, self.written - self.handed, _SFR_WRITE) == 0:
            self.handed = self.written

    def finish(self) -> None:
        """Put everything on disk, drop it from the page cache, close."""
        os.fsync(self.fd)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def _fsync_file(path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ShardWriter:
    """One shard being written: images, strokes, labels, metadata. Use as a context manager.

    Attributes
    ----------
    images : numpy.memmap of uint8, shape (n, C, S, S), or None
        Backed by the (temporary) images file; fill it in place, in any order. None in
        stream mode (``Writer.shard(..., stream=True)``): call :meth:`append` instead;
        None as well when the directory has no images (``parts``). When it has
        strokes, call :meth:`set_strokes` with the shard's drawings.
    labels : ndarray of int16, shape (n,) or None
        Set it (or call :meth:`set_labels`) or leave it None to derive the labels from
        the ``word`` column of the metadata (index in the word list, -1 when absent).
    """

    def __init__(self, writer: Writer, split: str, index: int, n: int, *, stream: bool = False):
        self.writer, self.split, self.index, self.n = writer, split, index, n
        self.labels = None
        self._meta = None
        self._closed = False
        self._fh = None          # stream mode: the images file, open for appending
        self._digest = None      # stream mode: the checksum of the bytes written so far
        self._appended = 0
        token = f"{os.getpid()}.{secrets.token_hex(4)}"
        self._dir = writer.path / split
        self._dir.mkdir(parents=True, exist_ok=True)
        self._tmp = {role: self._dir / f".{index:06d}.{suffix}.{token}.tmp"
                     for role, suffix in ROLES.items() if role in writer.roles}
        self._digests: dict = {}   # role -> checksum taken while the file was written
        shape = (n, writer.channels, writer.size, writer.size)
        if "images" not in writer.roles:
            self.images = None
            return
        path = self._tmp["images"]
        if stream:
            self.images = None
            self._fh = _WriteBehind(path)
            header = npy_header(shape)
            self._fh.write(header)
            # hashed as written, rather than read back when finished: that copied every
            # page of the file out of the page cache once more
            self._digest = hashlib.new(CHECKSUM, header)
            return
        with open(path, "wb") as fh:
            fh.write(npy_header(shape))
            fh.truncate(DATA_OFFSET + n * writer.channels * writer.size * writer.size)
        if n:
            self.images = np.memmap(path, np.uint8, "r+", offset=DATA_OFFSET, shape=shape)
        else:  # mmap cannot map zero bytes
            self.images = np.zeros(shape, np.uint8)

    def append(self, images) -> None:
        """Stream mode: write the next ``len(images)`` images (uint8 ``[m, C, S, S]``) in order.

        Plain ``write`` calls from a buffer the caller reuses: for a build this costs less
        than filling a fresh memmap (a page fault per new page) and flushing it.
        """
        if self._fh is None:
            raise ValueError("append() needs a shard opened with stream=True (and a directory "
                             "with images); fill .images instead")
        images = np.ascontiguousarray(images)
        shape = (self.writer.channels, self.writer.size, self.writer.size)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != shape:
            raise ValueError(f"images must be uint8 [m, {shape[0]}, {shape[1]}, {shape[2]}], "
                             f"got {images.dtype} {images.shape}")
        if self._appended + len(images) > self.n:
            raise ValueError(f"shard {self.split}/{self.index} holds {self.n} images; "
                             f"{self._appended + len(images)} appended")
        data = memoryview(images).cast("B")
        self._fh.write(data)
        self._digest.update(data)
        self._appended += len(images)

    def set_strokes(self, batch) -> None:
        """Write the shard's drawings (a StrokeBatch, in shard order) as its ``.strokes`` file.

        The batch must be of the directory's stroke kind; its times are kept exactly when
        the directory keeps times (``Writer(strokes=...)``). Hashed as it is written.
        """
        from ..store import iter_strokes_bytes

        if "strokes" not in self._tmp:
            raise ValueError(f"{self.writer.path} has no stroke part (parts="
                             f"{list(self.writer.parts)})")
        want = self.writer.strokes
        if batch.kind != want["kind"] or bool(batch.has_time) != want["times"]:
            raise ValueError(f"shard {self.split}/{self.index}: the directory stores "
                             f"{want['kind']} drawings with times={want['times']}, got "
                             f"{batch.kind} with times={bool(batch.has_time)}")
        if len(batch) != self.n:
            raise ValueError(f"shard {self.split}/{self.index} holds {self.n} drawings, "
                             f"got {len(batch)}")
        digest = hashlib.new(CHECKSUM)
        with open(self._tmp["strokes"], "wb") as fh:
            for piece in iter_strokes_bytes(batch):
                fh.write(piece)
                digest.update(piece)
        self._digests["strokes"] = digest

    def set_labels(self, labels) -> None:
        """Set the labels (int, one per drawing, -1 or an index into the word list)."""
        labels = np.asarray(labels)
        if labels.shape != (self.n,) or labels.dtype.kind not in "iu":
            raise ValueError(f"labels must be integers of shape ({self.n},), got {labels.dtype} "
                             f"{labels.shape}")
        k = len(self.writer.words)
        if labels.size and (labels.min() < -1 or labels.max() >= k):
            raise ValueError(f"labels must be -1 or in [0, {k}) (the word list), got values "
                             f"{labels.min()}..{labels.max()}")
        self.labels = labels.astype(np.int16)

    def set_meta(self, meta, entropy=None) -> None:
        """Set the metadata: a ``pyarrow.Table``, a dict of columns, or a StrokeBatch."""
        if entropy is not None:
            if not isinstance(meta, StrokeBatch):
                raise TypeError("entropy= goes with a StrokeBatch; put it in the table otherwise")
            meta = meta_from_batch(meta, entropy)
        self._meta = _conform_meta(meta, self.n)

    # -- commit / abort ----------------------------------------------------------------------
    def commit(self) -> ShardEntry:
        """Write labels and metadata, fsync, checksum, rename the three files; then the sidecar."""
        if self._closed:
            raise ValueError(f"shard {self.split}/{self.index} is already closed")
        if self._meta is None:
            raise ValueError(f"shard {self.split}/{self.index}: set_meta() was not called")
        words = pa.array(self.writer.words, pa.string())
        derived = pc.index_in(self._meta.column("word"), value_set=words).fill_null(-1)
        derived = derived.to_numpy(zero_copy_only=False).astype(np.int16)
        if self.labels is None:
            labels = derived
        else:
            self.set_labels(self.labels)
            labels = self.labels
            named = derived >= 0
            bad = np.flatnonzero(named & (labels != derived))
            if bad.size:
                i = int(bad[0])
                raise ValueError(f"shard {self.split}/{self.index}: label {labels[i]} of drawing "
                                 f"{i} disagrees with its word {self._meta.column('word')[i]} "
                                 f"(index {derived[i]}); {bad.size} such drawings")
        if "strokes" in self._tmp and "strokes" not in self._digests:
            raise ValueError(f"shard {self.split}/{self.index}: set_strokes() was not called")
        if self._fh is not None:
            if self._appended != self.n:
                raise ValueError(f"shard {self.split}/{self.index}: {self._appended} images "
                                 f"appended, {self.n} expected")
            self._fh.finish()
            self._fh = None
        if isinstance(self.images, np.memmap):
            # msync now; the map itself goes with the last reference (views the producer
            # still holds keep it alive: writing through them after commit is a bug).
            self.images.flush()
        self.images = None
        with open(self._tmp["labels"], "wb") as fh:
            np.save(fh, labels, allow_pickle=False)
        pq.write_table(self._meta, self._tmp["meta"], compression="zstd")
        entries = {}
        for role, tmp in self._tmp.items():
            _fsync_file(tmp)
            name = shard_file_name(self.split, self.index, role)
            if role == "images" and self._digest is not None:
                digest = self._digest.hexdigest()
            elif role in self._digests:
                digest = self._digests[role].hexdigest()
            else:
                digest = file_checksum(tmp)
            entries[role] = FileEntry(name, tmp.stat().st_size, digest)
        for role, tmp in self._tmp.items():
            os.replace(tmp, self.writer.path / entries[role].name)
        fsync_dir(self._dir)
        entry = ShardEntry(self.index, self.n, **{"images": None, **entries})
        atomic_write_bytes(self.writer._sidecar(self.split, self.index),
                           json.dumps(entry.to_json()).encode())
        self._closed = True
        return entry

    def abort(self) -> None:
        """Remove the temporary files (the shard stays unfinished)."""
        self.images = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        for tmp in self._tmp.values():
            tmp.unlink(missing_ok=True)
        self._closed = True

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                if not self._closed:   # a shard that cannot commit leaves no temporaries
                    self.abort()
                raise
        elif not self._closed:
            self.abort()


class Writer:
    """Writes a shard directory: shards (any order, any process), then the manifest.

    Parameters
    ----------
    path : str or Path
        The directory. A new or empty one starts a build; one holding an unfinished build
        with the same recipe, words, image shape and seed resumes it (finished shards are
        kept); a finished directory (with ``manifest.json``) is refused, and so is one
        holding shard files without a build record. Other content (the build's stroke
        store) is left alone; the manifest lists only the shards.
    recipe : Recipe or dict
        Stored in the manifest as ``recipe.get_config()`` (or the dict itself).
    words : sequence of str
        The class list: label ``i`` is ``words[i]``.
    channels, size : int
        Every image is uint8 ``[channels, size, size]``.
    seed : int, optional
        The build's seed (recorded in the manifest).
    parts : sequence of {"images", "strokes"}
        What every shard holds besides labels and metadata: rendered images, the
        drawings as a ``.strokes`` file (see ``rasterfast/store/README.md``), or both.
    strokes : dict, optional
        With ``"strokes"`` in ``parts``: ``{"kind": "simplified" | "raw", "times": bool}``,
        what every stroke file holds.

    Raises
    ------
    FileExistsError
        ``path`` is a finished shard directory, or holds stray shard files.
    ValueError
        ``path`` holds an unfinished build of another configuration.
    """

    def __init__(self, path, recipe, words, *, channels: int, size: int, seed: int | None = None,
                 parts=("images",), strokes: dict | None = None):
        self.path = Path(path)
        if isinstance(parts, str) or not parts or not set(parts) <= set(PARTS):
            raise ValueError(f"parts must be a non-empty sequence of {PARTS}, got {parts!r}")
        self.parts = tuple(p for p in PARTS if p in parts)
        self.roles = tuple(r for r in ROLES if r in self.parts or r not in PARTS)
        self.strokes = None
        if "strokes" in self.parts:
            from ..store import STROKES_VERSION

            if not isinstance(strokes, Mapping) or strokes.get("kind") not in (
                    "simplified", "raw") or not isinstance(strokes.get("times"), bool):
                raise ValueError(f"parts with 'strokes' need strokes={{'kind': 'simplified' | "
                                 f"'raw', 'times': bool}}, got {strokes!r}")
            self.strokes = {"format": STROKES_FORMAT, "version": STROKES_VERSION,
                            "kind": strokes["kind"],
                            "coords": "int16" if strokes["kind"] == "simplified" else "float32",
                            "times": strokes["times"]}
        elif strokes is not None:
            raise ValueError("strokes= needs 'strokes' in parts")
        self.recipe = _recipe_config(recipe)
        if isinstance(words, str):
            raise TypeError("words must be a sequence of str, not a str")
        self.words = [str(w) for w in words]
        if len(set(self.words)) != len(self.words):
            raise ValueError("words must be distinct")
        if len(self.words) > 32767:
            raise ValueError(f"at most 32767 words (labels are int16), got {len(self.words)}")
        for name, v, hi in (("channels", channels, 64), ("size", size, 4096)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= hi:
                raise ValueError(f"{name} must be an int in [1, {hi}], got {v!r}")
        self.channels, self.size = int(channels), int(size)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
        self.seed = seed
        self._claim()

    def _config(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "recipe": self.recipe,
                "words": self.words, "channels": self.channels, "size": self.size,
                "seed": self.seed, "parts": list(self.parts), "strokes": self.strokes}

    def _claim(self) -> None:
        build = self.path / BUILD_NAME
        if (self.path / MANIFEST_NAME).exists():
            raise FileExistsError(f"{self.path} is a finished shard directory (it has "
                                  f"{MANIFEST_NAME}); remove it or write elsewhere")
        if build.is_file():
            try:
                old = json.loads(build.read_bytes())
            except ValueError as err:
                raise ShardFormatError(build, f"not valid JSON ({err})") from err
            new = self._config()
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if diff:
                raise ValueError(f"{self.path} holds an unfinished build with another "
                                 f"configuration (differs in {diff}); remove it to start over")
            return
        if self.path.exists():
            # Other content (e.g. the build's stroke store) may share the directory; shard
            # files without a build record may not: they would be listed by finish().
            stray = next(self.path.glob("*/[0-9]*.shard.json"), None) or \
                next(self.path.glob("*/[0-9]*.images.npy"), None)
            if stray is not None:
                raise FileExistsError(f"{self.path} holds shard files ({stray.name}) but no "
                                      f"{BUILD_NAME}; remove them or write elsewhere")
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(build, json.dumps(self._config(), indent=1).encode())

    def _sidecar(self, split: str, index: int) -> Path:
        return self.path / split / f"{index:06d}.shard.json"

    def _check(self, split, index, n=0) -> None:
        check_split_name(split)
        for name, v in (("index", index), ("n", n)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative int, got {v!r}")

    def done(self, split: str, index: int) -> ShardEntry | None:
        """The entry of shard ``index`` of ``split`` if it is finished, else None.

        Finished: its sidecar is present and valid and its three files have the recorded
        sizes (checksums are recomputed by :func:`rasterfast.format.verify`, not here).
        """
        self._check(split, index)
        sidecar = self._sidecar(split, index)
        try:
            entry = ShardEntry.from_json(json.loads(sidecar.read_bytes()), "shard", sidecar,
                                         self.parts)
        except (FileNotFoundError, ValueError):
            return None
        for fe in entry.files:
            try:
                if (self.path / fe.name).stat().st_size != fe.size:
                    return None
            except FileNotFoundError:
                return None
        if entry.index != index or (entry.images is not None and entry.images.size !=
                                    DATA_OFFSET + entry.count * self.channels * self.size *
                                    self.size):
            return None
        return entry

    def pending(self, split: str, indices: Iterable[int]) -> list[int]:
        """The indices among ``indices`` whose shard is not finished."""
        return [i for i in indices if self.done(split, i) is None]

    def shard(self, split: str, index: int, n: int, *, stream: bool = False) -> ShardWriter:
        """Start shard ``index`` of ``split`` with ``n`` drawings (replacing it if it exists).

        By default the shard's ``images`` is a writable memmap to fill in any order; with
        ``stream=True`` the images are written in order through :meth:`ShardWriter.append`.
        """
        self._check(split, index, n)
        if (self.path / MANIFEST_NAME).exists():
            raise ValueError(f"{self.path} is finished; no more shards can be written")
        self._sidecar(split, index).unlink(missing_ok=True)
        return ShardWriter(self, split, int(index), int(n), stream=stream)

    def write_shard(self, split: str, index: int, images, meta, labels=None, *,
                    strokes=None) -> ShardEntry:
        """Write a whole shard from arrays in memory (tests, small builds).

        ``images`` (None when the directory has no images) and ``strokes`` (a
        StrokeBatch, when it has strokes) hold the same drawings, in order.
        """
        if images is not None:
            images = np.asarray(images)
            shape = (self.channels, self.size, self.size)
            if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != shape:
                raise ValueError(f"images must be uint8 [n, {shape[0]}, {shape[1]}, "
                                 f"{shape[2]}], got {images.dtype} {images.shape}")
        if (images is None) != ("images" not in self.parts):
            raise ValueError(f"images must be given exactly when the directory has them "
                             f"(parts={list(self.parts)})")
        if (strokes is None) != ("strokes" not in self.parts):
            raise ValueError(f"strokes must be given exactly when the directory has them "
                             f"(parts={list(self.parts)})")
        n = len(images) if images is not None else len(strokes)
        with self.shard(split, index, n) as sh:
            if images is not None:
                sh.images[...] = images
            if strokes is not None:
                sh.set_strokes(strokes)
            sh.set_meta(meta)
            if labels is not None:
                sh.set_labels(labels)
        return self.done(split, index)

    def finish(self, *, inputs: Iterable = (), rejects=None, extra: dict | None = None,
               expected: Mapping[str, int] | None = None, timing=None) -> Manifest:
        """Write ``manifest.json`` (atomically, last) listing every finished shard.

        Parameters
        ----------
        inputs : iterable of InputStats or dict
            What was read from each input, with its counters.
        rejects : dict or iterable of Reject, optional
            A summary (:func:`summarize_rejects`) or the rejects themselves.
        extra : dict, optional
            Anything else to record (JSON).
        expected : mapping of split to number of shards, optional
            Refuse to finish unless each split has exactly that many finished shards.
        timing : callable, optional
            Called with the splits (``{split: [ShardEntry]}``) just before the manifest
            is written; its dict goes to ``extra["timing"]`` (the build's figures).

        Raises
        ------
        ValueError
            A split whose finished shards are not exactly 0..k-1 (a missing shard), or
            fewer than ``expected``.
        """
        splits = {}
        for sub in sorted(p for p in self.path.iterdir() if p.is_dir() and _is_split(p.name)):
            found = sorted(int(p.name.split(".")[0]) for p in sub.glob("[0-9]*.shard.json"))
            entries = []
            for i in found:
                entry = self.done(sub.name, i)
                if entry is None:
                    raise ValueError(f"{self._sidecar(sub.name, i)}: shard is not finished "
                                     "(files missing or of the wrong size); write it again")
                entries.append(entry)
            if [e.index for e in entries] != list(range(len(entries))):
                missing = sorted(set(range(max(found) + 1)) - set(found))
                raise ValueError(f"split {sub.name!r}: shards {missing[:10]} are missing "
                                 f"(found {len(found)} shards up to {max(found)})")
            if entries:
                splits[sub.name] = entries
        for split, k in (expected or {}).items():
            if len(splits.get(split, ())) != k:
                raise ValueError(f"split {split!r}: expected {k} finished shards, found "
                                 f"{len(splits.get(split, ()))}")
        if rejects is None:
            rejects = summarize_rejects(())
        elif not isinstance(rejects, Mapping):
            rejects = summarize_rejects(rejects)
        extra = dict(extra or {})
        if timing is not None:
            extra["timing"] = timing(splits)
        manifest = Manifest(
            recipe=self.recipe, words=self.words, channels=self.channels, size=self.size,
            splits=splits, seed=self.seed, inputs=list(inputs), rejects=dict(rejects),
            extra=dict(extra or {}), writer=f"rasterfast {__version__}",
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            parts=self.parts, strokes=self.strokes)
        data = manifest.dumps()  # serialise (and check the inputs) before touching the disk
        Manifest.from_json(json.loads(data), self.path / MANIFEST_NAME)
        atomic_write_bytes(self.path / MANIFEST_NAME, data)
        # Only after the commit point: the sidecars and temporaries are not part of the format.
        for sub in splits:
            for p in (self.path / sub).iterdir():
                if p.name.endswith((".shard.json", ".tmp")):
                    p.unlink(missing_ok=True)
        (self.path / BUILD_NAME).unlink(missing_ok=True)
        return manifest
