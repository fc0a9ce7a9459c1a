"""Finding inputs (files, directories, globs, zip members) and opening them as byte streams."""

from __future__ import annotations

import glob
import gzip
import os
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Source", "find_sources", "READ_ERRORS", "FORMATS"]

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

    @property
    def stem(self) -> str:
        """The file name without its format and compression suffixes (the word of a .bin file)."""
        base = Path(self.member or self.path).name
        for suffix in (*COMPRESSIONS, *FORMATS):
            if base.lower().endswith(suffix):
                base = base[: -len(suffix)]
        return base

    def open(self):
        """A binary stream of the decompressed bytes. Close it when done."""
        if self.member is None:
            raw = open(self.path, "rb")  # noqa: SIM115 - returned to the caller
        else:
            archive = zipfile.ZipFile(self.path)
            try:
                raw = _Closing(archive.open(self.member), archive)
            except BaseException:
                archive.close()
                raise
        try:
            if self.compression == "gzip":
                # GzipFile does not close a file object it was given: close both.
                return _Closing(gzip.GzipFile(fileobj=raw, mode="rb"), raw)
            if self.compression == "zstd":
                import zstandard

                return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True,
                                                                  closefd=True)
        except BaseException:
            raw.close()
            raise
        return raw


class _Closing:
    """A read-only stream that also closes ``others`` when closed."""

    def __init__(self, stream, *others):
        self._stream, self._others = stream, others

    def read(self, n: int = -1) -> bytes:
        return self._stream.read(n)

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
    except (zipfile.BadZipFile, OSError) as err:
        from ..errors import InputReadError

        raise InputReadError(f"not a readable zip archive: {err}", path) from err
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
