"""Finding inputs (files, directories, globs, zip members) and opening them as byte streams."""

from __future__ import annotations

import glob
import gzip
import lzma
import os
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputReadError

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
    kind = _classify(name)
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
    """One input: a file, or a member of a zip archive.

    ``name`` is what errors and manifests call it (``train_simplified.zip:cat.csv``
    for a member); ``format`` is ``"csv"``, ``"ndjson"`` or ``"bin"``;
    ``compression`` is ``None``, ``"gzip"`` or ``"zstd"``.
    """

    name: str
    path: str
    format: str
    compression: str | None = None
    member: str | None = None
    #: Why the input cannot be read at all (a corrupt zip archive), found while listing
    #: the inputs; reading it is then an InputReadError, a reject under "skip".
    broken: str | None = None

    @property
    def stem(self) -> str:
        """The file name without its format and compression suffixes (the word of a .bin file)."""
        base = Path(self.member or self.path).name
        for suffix in (*COMPRESSIONS, *FORMATS):
            if base.lower().endswith(suffix):
                base = base[: -len(suffix)]
        return base

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
            raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
            if self.compression is not None and os.fstat(raw.fileno()).st_size == 0:
                raw.close()
                # gzip.GzipFile reads an empty file as an empty stream; it is no gzip at all
                raise InputReadError(f"empty file (0 bytes): not a valid {self.compression} "
                                     "stream", self.name, 0)
        else:
            try:
                archive = zipfile.ZipFile(self.path)
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
                import zstandard

                return _Salvage(zstandard.ZstdDecompressor().stream_reader(
                    raw, read_across_frames=True, closefd=True), lines)
        except BaseException:
            raw.close()
            raise
        return raw if self.member is None else _Salvage(raw, lines, ZIP_ERRORS)


class _Salvage:
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
                self.error, self._eof, self._held = err, True, b""
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


def _zip_sources(path: str) -> list[Source]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(i.filename for i in archive.infolist() if not i.is_dir())
    except ZIP_ERRORS as err:
        # one input that cannot be read, under the policy of read_drawings (a reject
        # under "skip", as a corrupt .gz is); not an error while listing the inputs
        fmt = (_classify(path[:-4]) or ("ndjson", None))[0]
        return [Source(path, path, fmt, broken=f"not a readable zip archive: {err!r}")]
    out = []
    for member in names:
        kind = _classify(member)
        if kind is not None and not Path(member).name.startswith("."):
            out.append(Source(f"{path}:{member}", path, kind[0], kind[1], member))
    return out


def _file_sources(path: str, explicit: bool) -> list[Source]:
    if path.lower().endswith(".zip"):
        return _zip_sources(path)
    kind = _classify(path)
    if kind is None:
        if explicit:
            raise ValueError(f"{path}: not an input format rasterfast reads (expected a name "
                             f"ending in {', '.join(FORMATS)} optionally followed by "
                             f"{', '.join(COMPRESSIONS)}, or .zip)")
        return []
    return [Source(path, path, kind[0], kind[1])]


#: Files that make a directory a rasterfast build (finished, or unfinished), not inputs.
_BUILD_FILES = ("manifest.json", "_build.json")
#: Shard files (``<split>/NNNNNN.<suffix>``) that only a build writes: a directory holding
#: them is a build even without its manifest.
_SHARD_SUFFIXES = (".strokes", ".labels.npy", ".shard.json")


def _refuse_build_dir(root: str, files: list[str]) -> None:
    """Raise ``ValueError`` when ``root`` is a shard directory: its JSON is no ndjson input."""
    sub = os.path.join(glob.escape(root), "*")
    if any(f in files for f in _BUILD_FILES) or glob.glob(os.path.join(sub, "_config.json")) \
            or any(glob.glob(os.path.join(sub, f"[0-9][0-9][0-9][0-9][0-9][0-9]{suffix}"))
                   for suffix in _SHARD_SUFFIXES):
        raise ValueError(f"{root} is a rasterfast shard directory (a build's output), not an "
                         f"input; to draw its drawings again at another recipe or size, use "
                         f"`rasterfast render {root} --recipe R --out DIR`")


def find_sources(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Source]:
    """Expand files, directories (recursively) and globs into a sorted list of inputs.

    Raises
    ------
    FileNotFoundError
        A path that does not exist and matches nothing as a glob, or no input at all.
    ValueError
        A file named explicitly whose format rasterfast does not read.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Source] = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
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
