"""Inputs named by fsspec URLs (``s3://``, ``gs://``, ``https://``, ``memory://``, ...).

Listing (directories, globs), sizes and opening, for :mod:`._sources`. A
:class:`~rasterfast.readers.Source` keeps only the URL: the process that reads an
input (the worker that ingests it, in a build) opens it, so its bytes never travel
through the driver. Credentials and options come from where fsspec and the
protocol's library find them on every worker (the environment, ``~/.aws``, fsspec's
``FSSPEC_<PROTOCOL>_<OPTION>`` variables), never from rasterfast.

References
----------
fsspec URLs and chaining: https://filesystem-spec.readthedocs.io/en/latest/features.html
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse

__all__ = ["is_url", "url_path", "url_basename", "list_url", "open_url", "url_size"]

_URL = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*::)*[A-Za-z][A-Za-z0-9+.-]+://")
#: Protocols whose paths are percent-encoded (``The%20Eiffel%20Tower.csv``).
_QUOTED = ("http", "https")


def is_url(path: str) -> bool:
    """True when ``path`` is an fsspec URL (``protocol://...``, optionally chained with ``::``).

    Local paths, Windows ones with a drive letter (``C:``) included, are not URLs.
    """
    return bool(_URL.match(path))


def _target(url: str) -> str:
    """The segment of a chained URL that names the file (the first holding ``://``).

    ``simplecache::s3://b/cat.csv`` names ``s3://b/cat.csv``, ``zip://cat.csv::s3://b/t.zip``
    names ``zip://cat.csv``.
    """
    return next(seg for seg in url.split("::") if "://" in seg)


def url_path(url: str) -> str:
    """The path of the file a URL names, decoded: what its format and word are read from.

    A query string or fragment of an ``http(s)`` URL (a signed URL's token) is no part
    of it; ``%20`` is a space.
    """
    target = _target(url)
    scheme, rest = target.split("://", 1)
    if scheme.lower() in _QUOTED:
        return urllib.parse.unquote(urllib.parse.urlsplit(target).path)
    return rest


def url_basename(url: str) -> str:
    """The file name a URL ends with, decoded (``cat.bin`` of ``https://h/d/cat.bin?sig=1``)."""
    return posixpath.basename(url_path(url).rstrip("/"))


def _filesystem(url: str):
    """``(filesystem, path)`` of ``url``, with errors that name it."""
    try:
        from fsspec.core import url_to_fs

        return url_to_fs(url)
    except ImportError as err:
        # fsspec says which package a protocol needs ("Install s3fs to access S3"); a
        # ValueError, as for an unknown protocol: the URL cannot be read on this machine
        raise ValueError(f"{url}: this protocol needs a package that is not installed "
                         f"({err})") from err
    except ValueError as err:
        raise ValueError(f"{url}: not a URL fsspec can open ({err})") from err


def _protocol(fs) -> str:
    proto = fs.protocol
    return proto[0] if isinstance(proto, (tuple, list)) else proto


def _name_key(fs, path: str) -> str:
    """Sort key of a listed path: its decoded name, so inputs run in the order of a local walk."""
    return urllib.parse.unquote(path) if _protocol(fs) in _QUOTED else path


def _hidden(fs, path: str) -> bool:
    return _name_key(fs, posixpath.basename(path.rstrip("/"))).startswith(".")


def _entry_url(fs, name: str) -> str:
    return fs.unstrip_protocol(name)


def _walk(fs, root: str, refuse):
    """Files under ``root`` as ``[(url, size or None)]``, in the order of ``os.walk``.

    A directory's files (sorted by name) come before its subdirectories (sorted,
    each walked in turn); hidden names (``.x``) are skipped. ``refuse(dir, names,
    parent)`` may raise for a directory that is no input (a build's output).
    """
    out = []
    stack = [(root, None)]
    while stack:
        path, parent = stack.pop()
        entries = fs.ls(path, detail=True)
        names = [posixpath.basename(e["name"].rstrip("/")) for e in entries]
        refuse(_entry_url(fs, path), [_name_key(fs, n) for n in names],
               None if parent is None else _entry_url(fs, parent))
        files = sorted((e for e in entries if e["type"] != "directory"
                        and not _hidden(fs, e["name"])), key=lambda e: _name_key(fs, e["name"]))
        dirs = sorted((e["name"] for e in entries if e["type"] == "directory"
                       and not _hidden(fs, e["name"])
                       and e["name"].rstrip("/") != path.rstrip("/")),   # a page's self-link
                      key=lambda n: _name_key(fs, n))
        out.extend((_entry_url(fs, e["name"]), e.get("size")) for e in files)
        stack.extend((d, path) for d in reversed(dirs))
    return out


def list_url(url: str, refuse, is_input) -> tuple[list[tuple[str, int | None]], bool]:
    """The files a URL stands for, and whether it named one file explicitly.

    A file is itself; a directory is walked recursively as a local one is (see
    :func:`_walk`); anything else is a glob (``*``, ``?``, ``[``, ``**``), its
    matches sorted by decoded name. Sizes are those the listing gave (None when it
    gave none, as HTTP directory pages do). ``is_input(path)`` says whether a path
    has an input's name (``.csv``, ``.zip``, ...): such a URL is taken for a file
    first, since an HTTP server answers for a directory page as for a file.

    Raises
    ------
    FileNotFoundError
        A URL that names no file or directory and matches nothing.
    ValueError
        A chained URL (``::``) that is not one file: its matches could not be named.
    OSError
        The filesystem failed (network, permissions), with the URL.
    """
    fs, path = _filesystem(url)
    try:
        if is_input(url_path(url)) and fs.isfile(path):
            return [(url, None)], True
        if fs.isdir(path):
            if "::" in url:
                raise ValueError(f"{url}: a chained URL (::) must name one file, not a "
                                 "directory")
            return _walk(fs, path, refuse), False
        if fs.isfile(path):
            return [(url, None)], True
        if not any(c in path for c in "*?["):
            raise FileNotFoundError(f"{url}: no such file, directory or glob match")
        if "::" in url:
            raise ValueError(f"{url}: a chained URL (::) must name one file, not a glob")
        matches = fs.glob(path, detail=True)
    except (FileNotFoundError, ValueError):
        raise
    except Exception as err:   # the protocol's own errors (aiohttp, botocore, ...)
        raise OSError(f"{url}: cannot list ({type(err).__name__}: {err})") from err
    if not matches:
        raise FileNotFoundError(f"{url}: no such file, directory or glob match")
    files = sorted(((p, info) for p, info in matches.items()
                    if info.get("type") != "directory" and not _hidden(fs, p)),
                   key=lambda pi: _name_key(fs, pi[0]))
    return [(_entry_url(fs, p), info.get("size")) for p, info in files], False


def url_size(url: str) -> int:
    """Bytes stored at ``url`` (compressed, for a compressed file)."""
    fs, path = _filesystem(url)
    try:
        return int(fs.size(path) or 0)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise OSError(f"{url}: cannot read its size ({type(err).__name__}: {err})") from err


def open_url(url: str, *, random_access: bool = False) -> RemoteFile:
    """A binary file object reading ``url``; its errors are ``OSError`` (see :class:`RemoteFile`).

    ``random_access`` is for zip archives (their directory is at the end). Otherwise
    an ``http(s)`` URL is read as one streamed response: a server without range
    requests (Python's ``http.server``) serves it too, and nothing is fetched twice.
    """
    fs, path = _filesystem(url)
    kwargs = {}
    if not random_access and _protocol(fs) in _QUOTED:
        kwargs["block_size"] = 0           # fsspec's HTTPStreamFile: one GET, read in order
    try:
        return RemoteFile(fs.open(path, "rb", **kwargs), url)
    except FileNotFoundError:
        raise
    except Exception as err:
        raise OSError(f"{type(err).__name__}: {err}") from err   # the caller names the URL


class RemoteFile:
    """An fsspec file whose errors are ``OSError``, as a local file's are.

    Each protocol raises its library's own exceptions (aiohttp's ``ClientError``,
    botocore's, a ``ValueError`` from an HTTP server without range requests); the
    readers treat ``OSError`` as "the input broke here" and name the input and record,
    so those are turned into ``OSError`` at this one boundary.
    """

    def __init__(self, file, url: str):
        self._file, self.url = file, url

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except (OSError, EOFError):
            raise
        except Exception as err:
            # no URL here: the reader that called names the input (and the record)
            raise OSError(f"{type(err).__name__}: {err}") from err

    @property
    def size(self) -> int | None:
        """Bytes in the file, when the filesystem said (None for a streamed HTTP response)."""
        return getattr(self._file, "size", None)

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes, fewer only at the end: as a local file gives them.

        A streamed HTTP response gives what has arrived; the readers' blocks, and so
        their batches, are then the same as for the local file.
        """
        data = self._call(self._file.read, n)
        if n is None or n < 0 or len(data) >= n or not data:
            return data
        parts, size = [data], len(data)
        while size < n:
            more = self._call(self._file.read, n - size)
            if not more:
                break
            parts.append(more)
            size += len(more)
        return b"".join(parts)

    def read1(self, n: int = -1) -> bytes:
        return self._call(getattr(self._file, "read1", self._file.read), n)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._call(self._file.seek, offset, whence)

    def tell(self) -> int:
        return self._call(self._file.tell)

    def seekable(self) -> bool:
        return bool(self._file.seekable())

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return bool(self._file.closed)

    def close(self) -> None:
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
