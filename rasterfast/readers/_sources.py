"""Finding inputs (files, directories, globs, zip members) and opening them as byte streams.

Each may be a local path or an fsspec URL (``s3://``, ``gs://``, ``https://``,
``memory://``; see :mod:`._remote`): a :class:`Source` holds only the path or URL,
and whoever reads it opens it.
"""

from __future__ import annotations

import glob
import gzip
import lzma
import os
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputReadError
from ._remote import is_url, list_url, open_url, url_basename, url_path, url_size

__all__ = ["Source", "find_sources", "READ_ERRORS", "FORMATS", "line_number", "raise_if_broken"]

#: File name endings (after a compression suffix is removed) and their format.
FORMATS = {".csv": "csv", ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".bin": "bin"}
COMPRESSIONS = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd"}


def _read_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, EOFError, zlib.error, zipfile.BadZipFile]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:  # pragma: no cover - zstandard is a dependency
        pass
    try:
        import pyarrow as pa

        errors.append(pa.ArrowException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


#: What a broken stream raises while being read (gzip, zstd, zip, Arrow, the OS).
READ_ERRORS = _read_errors()

#: What :mod:`zipfile` raises on a corrupt archive or member besides BadZipFile: a
#: member's name or flags it cannot decode, a method or version it does not know,
#: encryption, and the errors of the member's decompressor (issue 16 item 7).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
              IndexError, KeyError, struct.error, NotImplementedError, RuntimeError,
              zlib.error, lzma.LZMAError)


class BrokenMemberError(OSError):
    """A zip member whose data cannot be decompressed (one of :data:`ZIP_ERRORS`).

    An OSError, which every reader already treats as a stream that broke.
    """

#: Line of a file that holds record 0, by format: Kaggle CSVs have a header line; ndjson
#: numbers every line (blank ones too) as a record; .bin files have no lines.
_FIRST_LINE = {"csv": 2, "ndjson": 1}


def line_number(name: str, record: int) -> int:
    """The 1-based line of the text input ``name`` that holds ``record`` (0-based); -1 if none.

    A CSV's records are its data rows, one line each (rasterfast reads CSVs without
    newlines inside values); an empty line that pyarrow skips would shift the count.
    """
    kind = _classify(url_path(name) if is_url(name) else name)
    if kind is None or record < 0 or kind[0] not in _FIRST_LINE:
        return -1
    return int(record) + _FIRST_LINE[kind[0]]


def raise_if_broken(stream, source: str, record: int) -> None:
    """Raise the ``InputReadError`` of a stream that ended early because it broke.

    ``record`` is the first record that was lost; every record before it was read.
    """
    err = getattr(stream, "error", None)
    if err is not None:
        raise InputReadError(f"truncated: the compressed data ends here ({err}); the "
                             "drawings before it are kept", source, record) from err


@dataclass(frozen=True)
class Source:
    """One input: a file, or a member of a zip archive; local, or an fsspec URL.

    ``name`` is what errors and manifests call it (``train_simplified.zip:cat.csv``
    for a member, the URL for a URL); ``path`` is the file's path or URL;
    ``format`` is ``"csv"``, ``"ndjson"`` or ``"bin"``; ``compression`` is
    ``None``, ``"gzip"`` or ``"zstd"``. ``size``, when the listing gave it, is the
    bytes stored (a zip member's uncompressed size): see :meth:`stored_bytes`.
    """

    name: str
    path: str
    format: str
    compression: str | None = None
    member: str | None = None
    size: int | None = field(default=None, compare=False)
    #: Why the input cannot be read at all (a corrupt zip archive), found while listing
    #: the inputs; reading it is then an InputReadError, a reject under "skip".
    broken: str | None = None

    @property
    def is_url(self) -> bool:
        """True when ``path`` is an fsspec URL, read through fsspec by whoever opens it."""
        return is_url(self.path)

    @property
    def stem(self) -> str:
        """The file name without its format and compression suffixes (the word of a .bin file)."""
        if self.member is None and self.is_url:
            base = url_basename(self.path)
        else:
            base = Path(self.member or self.path).name
        for suffix in (*COMPRESSIONS, *FORMATS):
            if base.lower().endswith(suffix):
                base = base[: -len(suffix)]
        return base

    def stored_bytes(self) -> int:
        """Bytes of the file (a zip member: uncompressed), from the listing or asked for now."""
        if self.size is not None:
            return self.size
        if self.member is not None:
            with _open_zip(self.path) as archive:
                return archive.getinfo(self.member).file_size
        return url_size(self.path) if self.is_url else os.path.getsize(self.path)

    def line_of(self, record: int) -> int:
        """The 1-based line of this file that holds ``record``; -1 for a binary file."""
        return line_number(self.name, record)

    def open(self, *, lines: bool = False):
        """A binary stream of the decompressed bytes. Close it when done.

        A compressed stream or zip member that is truncated ends early instead of
        raising, with the error in its ``error`` attribute (see
        :func:`raise_if_broken`): the bytes decoded before the damage are kept. With
        ``lines``, a line cut by the damage is dropped with the rest.
        """
        if self.broken is not None:
            raise InputReadError(self.broken, self.name, 0)
        if self.member is None:
            if self.is_url:
                raw = open_url(self.path)
                size = raw.size     # None for a streamed HTTP response: ask when it matters
                if size is None and self.compression is not None:
                    try:
                        size = self.stored_bytes()
                    except BaseException:
                        raw.close()
                        raise
            else:
                raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
                size = os.fstat(raw.fileno()).st_size
            if self.compression is not None and size == 0:
                raw.close()
                # gzip.GzipFile reads an empty file as an empty stream; it is no gzip at all
                raise InputReadError(f"empty file (0 bytes): not a valid {self.compression} "
                                     "stream", self.name, 0)
        else:
            try:
                archive = _open_zip(self.path)
            except ZIP_ERRORS as err:
                raise InputReadError(f"not a readable zip archive: {err!r}", self.name,
                                     0) from err
            try:
                raw = _Closing(archive.open(self.member), archive)
            except ZIP_ERRORS as err:
                archive.close()
                raise InputReadError(f"zip member cannot be opened: {err!r}", self.name,
                                     0) from err
            except BaseException:
                archive.close()
                raise
        try:
            if self.compression == "gzip":
                # GzipFile does not close a file object it was given: close both.
                return _Salvage(_Closing(gzip.GzipFile(fileobj=raw, mode="rb"), raw), lines)
            if self.compression == "zstd":
                return _Salvage(_ZstdFrames(raw), lines)
        except BaseException:
            raw.close()
            raise
        return raw if self.member is None else _Salvage(raw, lines, ZIP_ERRORS)


class ForwardReader:
    """A read-only, forward-only binary stream over ``self._stream``, which it closes.

    The base of the stream wrappers the readers hand to pyarrow and to their own loops
    (:class:`_Salvage` here, the CSV reader's line filter); subclasses give ``read``.
    """

    _stream = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def close(self) -> None:
        self._stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Salvage(ForwardReader):
    """A decompressing stream read until it is cut short; then end-of-file, with ``error`` set.

    ``read(n)`` of a gzip (or zstd, or zip) stream that hits damage raises, and the
    bytes it had already decoded in that call are lost with it; a truncated
    ``cat.csv.gz`` then lost every drawing (issue 13). Reading ``read1`` pieces (one
    read of the compressed data each) keeps all but the bytes of the damaged piece.
    With ``lines``, the bytes after the last newline are held back until the next one
    arrives, so a line cut by the damage is dropped, never parsed as a shorter row.
    """

    def __init__(self, stream, lines: bool, broken: tuple[type[BaseException], ...] = ()):
        self._stream = stream
        self._broken = broken       # errors that mean corrupt data: raised as BrokenMemberError
        self._read1 = getattr(stream, "read1", stream.read)
        self._lines = lines
        self._held = b""            # the start of a line whose end has not been read yet
        self._eof = False
        self.error: BaseException | None = None

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = sys.maxsize
        parts, size = [], 0
        while not self._eof:
            want = n - size - len(self._held)
            if want <= 0:
                break
            try:
                # at most 4 MiB a call: read1 allocates what it is asked for
                chunk = self._read1(min(want, 1 << 22))
            except EOFError as err:
                # Truncation (gzip, zip): what was decoded is exact. Corruption (zlib.error,
                # a CRC mismatch) raises instead: the bytes since the damage are garbage,
                # and the CRC is checked only at the end of the stream.
                # Kept without its traceback: its frames lead (f_back) to the reader
                # that called read(), whose pyarrow CSV reader holds this stream from C++,
                # a cycle gc cannot see: every truncated file's reader stayed in memory
                # (~60 KB each, 11 GB in 10 minutes of fuzzing gzip under ASan).
                self.error, self._eof, self._held = err.with_traceback(None), True, b""
                break
            except self._broken as err:
                if isinstance(err, READ_ERRORS):
                    raise
                raise BrokenMemberError(f"corrupt zip member data: {err!r}") from err
            if not chunk:
                self._eof = True
                break
            if not self._lines:
                parts.append(chunk)
                size += len(chunk)
                continue
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                self._held += chunk
                continue
            parts += (self._held, memoryview(chunk)[:cut])
            size += len(self._held) + cut
            self._held = chunk[cut:]
        if self._held and (self._eof or not parts):
            # the last line, without a newline; or a line longer than n, in pieces
            # (pyarrow refuses a row longer than its block in any case)
            parts.append(self._held[:n])
            self._held = self._held[n:]
        return b"".join(parts)



class _ZstdFrames(ForwardReader):
    """The zstd frames of ``raw``, decompressed one after the other; closes ``raw``.

    ``zstandard``'s ``stream_reader`` ends quietly where the data ends, inside a frame
    too: a truncated ``.zst`` read as a shorter file, often as an empty one, with no
    error (found by bench/fuzz, issue 16). Here a stream that ends inside a frame raises
    ``EOFError``, as gzip does for a truncated member, and :class:`_Salvage` turns that
    into a counted break. Compressed data goes in ``FEED`` bytes at a time, which bounds
    what one call can expand to (a zstd block of 128 KiB can be 4 bytes).
    """

    FEED = 1 << 12

    def __init__(self, raw):
        import zstandard

        self._stream = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._frame = None          # the decompressobj of the frame being read
        self._input = b""           # compressed bytes read, not yet fed
        self._out = b""             # decompressed bytes not yet returned

    def read1(self, n: int = -1) -> bytes:
        while not self._out:
            if not self._input:
                self._input = self._stream.read(1 << 16)
                if not self._input:
                    if self._frame is not None:
                        raise EOFError("the zstd data ends inside a frame")
                    return b""
            piece, self._input = self._input[:self.FEED], self._input[self.FEED:]
            if self._frame is None:
                self._frame = self._dctx.decompressobj()
            self._out = self._frame.decompress(piece)
            if self._frame.eof:     # the frame ended: the rest starts the next one
                self._input = self._frame.unused_data + self._input
                self._frame = None
        if n is None or n < 0:
            n = len(self._out)
        out, self._out = self._out[:n], self._out[n:]
        return out

    read = read1


class _Closing:
    """A read-only stream that also closes ``others`` when closed."""

    def __init__(self, stream, *others):
        self._stream, self._others = stream, others

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

    def read1(self, n: int = -1) -> bytes:
        return self._stream.read1(n)

    def readinto(self, b) -> int:
        return self._stream.readinto(b)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            for other in self._others:
                other.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _classify(name: str) -> tuple[str, str | None] | None:
    """(format, compression) of a file name, or None when it is not an input."""
    lower = name.lower()
    compression = None
    for suffix, comp in COMPRESSIONS.items():
        if lower.endswith(suffix):
            compression, lower = comp, lower[: -len(suffix)]
            break
    for suffix, fmt in FORMATS.items():
        if lower.endswith(suffix):
            return fmt, compression
    return None


def _open_zip(path: str) -> zipfile.ZipFile:
    """A zip archive, local or at a URL (read with random access)."""
    return zipfile.ZipFile(path) if not is_url(path) else _UrlZipFile(open_url(path,
                                                                             random_access=True))


class _UrlZipFile(zipfile.ZipFile):
    """A zip archive read from a file object that it closes with itself (ZipFile does not)."""

    def __init__(self, file):
        self._owned = file
        try:
            super().__init__(file)
        except BaseException:
            file.close()
            raise

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._owned.close()


def _is_input_name(path: str) -> bool:
    return path.lower().endswith(".zip") or _classify(path) is not None


def _zip_sources(path: str) -> list[Source]:
    try:
        with _open_zip(path) as archive:
            infos = sorted((i.filename, i.file_size) for i in archive.infolist()
                           if not i.is_dir())
    except ZIP_ERRORS as err:
        # one input that cannot be read, under the policy of read_drawings (a reject
        # under "skip", as a corrupt .gz is); not an error while listing the inputs
        fmt = (_classify(path[:-4]) or ("ndjson", None))[0]
        return [Source(path, path, fmt, broken=f"not a readable zip archive: {err!r}")]
    out = []
    for member, size in infos:
        kind = _classify(member)
        if kind is not None and not Path(member).name.startswith("."):
            out.append(Source(f"{path}:{member}", path, kind[0], kind[1], member, size))
    return out


def _file_sources(path: str, explicit: bool, size: int | None = None) -> list[Source]:
    local = url_path(path) if is_url(path) else path
    if local.lower().endswith(".zip"):
        return _zip_sources(path)
    kind = _classify(local)
    if kind is None:
        if explicit:
            raise ValueError(f"{path}: not an input format rasterfast reads (expected a name "
                             f"ending in {', '.join(FORMATS)} optionally followed by "
                             f"{', '.join(COMPRESSIONS)}, or .zip)")
        return []
    return [Source(path, path, kind[0], kind[1], size=size)]


#: Files that make a directory a rasterfast build (finished, or unfinished), not inputs.
_BUILD_FILES = ("manifest.json", "_build.json")
#: Shard files (``<split>/NNNNNN.<suffix>``) that only a build writes: a directory holding
#: them is a build even without its manifest.
_SHARD_SUFFIXES = (".strokes", ".labels.npy", ".shard.json")


def _build_dir_error(root: str) -> ValueError:
    return ValueError(f"{root} is a rasterfast shard directory (a build's output), not an "
                      f"input; to draw its drawings again at another recipe or size, use "
                      f"`rasterfast render {root} --recipe R --out DIR`")


def _refuse_build_dir(root: str, files: list[str]) -> None:
    """Raise ``ValueError`` when ``root`` is a shard directory: its JSON is no ndjson input."""
    sub = os.path.join(glob.escape(root), "*")
    if any(f in files for f in _BUILD_FILES) or glob.glob(os.path.join(sub, "_config.json")) \
            or any(glob.glob(os.path.join(sub, f"[0-9][0-9][0-9][0-9][0-9][0-9]{suffix}"))
                   for suffix in _SHARD_SUFFIXES):
        raise _build_dir_error(root)


def _refuse_build_listing(root: str, names: list[str], parent: str | None) -> None:
    """:func:`_refuse_build_dir` for a directory listed through fsspec, one level at a time.

    A split directory's shard files (or the shuffle area's ``_config.json``) make its
    parent a build.
    """
    if any(f in names for f in _BUILD_FILES):
        raise _build_dir_error(root)
    if parent is not None and ("_config.json" in names or any(
            re.fullmatch(r"[0-9]{6}" + re.escape(suffix), n)
            for n in names for suffix in _SHARD_SUFFIXES)):
        raise _build_dir_error(parent)


def _url_sources(url: str) -> list[Source]:
    files, explicit = list_url(url, _refuse_build_listing, _is_input_name)
    found = [src for u, size in files for src in _file_sources(u, explicit, size)]
    if not found and not explicit:
        raise FileNotFoundError(f"{url}: holds no inputs (.csv, .ndjson, .bin, optionally "
                                f".gz/.zst, or .zip)")
    return found


def find_sources(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Source]:
    """Expand files, directories (recursively) and globs into a sorted list of inputs.

    Each path may be an fsspec URL (``s3://bucket/train_simplified/``,
    ``https://host/cat.ndjson.gz``, ``memory://...``): a URL to a file, a directory
    (where the filesystem lists them; an HTTP server's index page does) or a glob is
    expanded as a local path is, in the same order. Only the listing happens here;
    each input is read where it is opened.

    Raises
    ------
    FileNotFoundError
        A path that does not exist and matches nothing as a glob, or no input at all.
    ValueError
        A file named explicitly whose format rasterfast does not read; a shard
        directory; a URL of a protocol fsspec does not know, or whose package is
        not installed (s3fs for ``s3://``, gcsfs for ``gs://``, aiohttp for
        ``http(s)://``).
    OSError
        A URL that cannot be listed (network, permissions), named in the message.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Source] = []
    for p in paths:
        p = os.fspath(p)
        if is_url(p):
            out.extend(_url_sources(p))
        elif os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                _refuse_build_dir(root, files)
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if not f.startswith("."):
                        found.extend(_file_sources(os.path.join(root, f), explicit=False))
            if not found:
                raise FileNotFoundError(f"{p}: directory holds no inputs (.csv, .ndjson, .bin, "
                                        f"optionally .gz/.zst, or .zip)")
            out.extend(found)
        elif os.path.isfile(p):
            out.extend(_file_sources(p, explicit=True))
        else:
            matches = sorted(glob.glob(p, recursive=True))
            if not matches:
                raise FileNotFoundError(f"{p}: no such file, directory or glob match")
            for m in matches:
                if os.path.isfile(m):
                    out.extend(_file_sources(m, explicit=False))
    if not out:
        raise FileNotFoundError("no input files found")
    return out


def read_blocks(stream, block_size: int) -> Iterator[bytes]:
    """Read ``stream`` in blocks of about ``block_size`` bytes."""
    while True:
        block = stream.read(block_size)
        if not block:
            return
        yield block
