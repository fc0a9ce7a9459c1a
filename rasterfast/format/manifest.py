"""``manifest.json``: what a shard directory holds, and the helpers every file write goes through.

The manifest is the only source of truth of a shard directory: a reader opens
the files it lists (after checking their sizes) and nothing else. It is written
last, atomically, by :meth:`rasterfast.format.Writer.finish`; a directory
without one is an unfinished build. The byte layout and a sample manifest are
in ``rasterfast/format/README.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ShardFormatError

__all__ = [
    "FORMAT", "FORMAT_VERSION", "SUPPORTED_VERSIONS", "CHECKSUM", "MANIFEST_NAME", "ROLES", "PARTS",
    "ShardFormatError", "FileEntry", "ShardEntry", "Manifest", "InputStats",
    "summarize_rejects", "file_checksum", "atomic_write_bytes", "fsync_dir", "shard_file_name",
    "check_split_name", "STROKES_FORMAT", "DIGEST_FIELD", "content_digest",
]

#: The ``format`` field of every manifest.
FORMAT = "rasterfast-shards"
#: The version this code writes; a reader refuses any version not in SUPPORTED_VERSIONS.
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
#: The checksum algorithm (a :mod:`hashlib` name) of every file entry. sha256 runs at
#: ~1.4 GB/s with SHA-NI (blake2b ~0.55 GB/s on the same machine) and ``sha256sum``
#: can check a file by hand.
CHECKSUM = "sha256"
MANIFEST_NAME = "manifest.json"
#: The files of one shard, by role, with their suffixes.
ROLES = {"images": "images.npy", "strokes": "strokes", "labels": "labels.npy",
         "meta": "meta.parquet"}
#: The optional parts of a directory (version 2): a build has images, strokes or both;
#: every shard has labels and meta. Version 1 directories have images only.
PARTS = ("images", "strokes")
#: The ``strokes`` section of a manifest names the file format of the ``.strokes`` files.
STROKES_FORMAT = "rasterfast-strokes"

#: The manifest field holding :func:`content_digest` of all its other fields (issue 16;
#: manifests written before it have none and are read as before, unchecked).
DIGEST_FIELD = "content_sha256"

_SPLIT_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_NAME_RE = re.compile(
    r"^([a-z][a-z0-9_]{0,31})/([0-9]{6,})\.(images\.npy|strokes|labels\.npy|meta\.parquet)$")
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")
_COUNTERS = ("read", "written", "rejected", "filtered", "duplicate")


def check_split_name(split) -> str:
    """Return ``split`` if it can name a split (and its subdirectory), else raise."""
    if not isinstance(split, str):
        raise TypeError(f"split must be a str, got {type(split).__name__}")
    if not _SPLIT_RE.match(split):
        raise ValueError(f"split must match {_SPLIT_RE.pattern} (e.g. 'train', 'val', 'test'), "
                         f"got {split!r}")
    return split


def shard_file_name(split: str, index: int, role: str) -> str:
    """The name of a shard file relative to the directory, e.g. ``train/000012.images.npy``."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {tuple(ROLES)}, got {role!r}")
    return f"{split}/{index:06d}.{ROLES[role]}"


# -- file helpers --------------------------------------------------------------------------------
def file_checksum(path, algorithm: str = CHECKSUM) -> str:
    """Hex digest of the file at ``path`` (read in 1 MiB chunks, never whole into memory)."""
    with open(path, "rb") as fh:
        if hasattr(hashlib, "file_digest"):  # Python >= 3.11: reads into one reused buffer
            return hashlib.file_digest(fh, algorithm).hexdigest()
        h = hashlib.new(algorithm)
        buf = bytearray(1 << 20)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            h.update(view[:n])
        return h.hexdigest()


def fsync_dir(path) -> None:
    """Fsync a directory so that the renames inside it survive a crash (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def create_temp_for(path) -> tuple[int, Path]:
    """Create a new, unique temporary file next to ``path``; return ``(fd, its path)``.

    Its mode is what a plain ``open(path, "w")`` gives under the current umask
    (0o666 & ~umask): ``tempfile.mkstemp`` makes 0o600 files, and a manifest renamed
    from one could not be read by another user or uid that reads the shards (issue 13).
    """
    path = Path(path)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` under a temporary name, fsync it, then rename it into place."""
    path = Path(path)
    fd, tmp = create_temp_for(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def content_digest(d: Mapping) -> str:
    """sha256 of a manifest's fields (all but :data:`DIGEST_FIELD`), as canonical JSON.

    Canonical: keys sorted, no whitespace, UTF-8, so that reformatting the file does not
    change it and any change to a value does (two words swapped, a split emptied).
    """
    body = {k: v for k, v in d.items() if k != DIGEST_FIELD}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# -- entries -------------------------------------------------------------------------------------
def _need(d: Mapping, key: str, types, where: str, src):
    if not isinstance(d, Mapping) or key not in d:
        raise ShardFormatError(src, f"{where}: missing field {key!r}")
    v = d[key]
    if not isinstance(v, types) or isinstance(v, bool) and bool not in _as_tuple(types):
        raise ShardFormatError(src, f"{where}.{key}: expected {_type_names(types)}, "
                               f"got {type(v).__name__} {v!r:.60}")
    return v


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _type_names(types) -> str:
    return " or ".join(t.__name__ for t in _as_tuple(types))


@dataclass(frozen=True)
class FileEntry:
    """One file of a shard: its name relative to the directory, size in bytes, and sha256."""

    name: str
    size: int
    sha256: str

    def to_json(self) -> dict:
        """The entry as it appears in ``manifest.json``."""
        return {"name": self.name, "size": self.size, CHECKSUM: self.sha256}

    @classmethod
    def from_json(cls, d, where: str, src) -> FileEntry:
        """Parse and check an entry (``where`` and ``src`` name it in errors)."""
        name = _need(d, "name", str, where, src)
        if not _NAME_RE.match(name) or ".." in name:
            raise ShardFormatError(src, f"{where}.name: {name!r} is not a shard file name "
                                   "(<split>/NNNNNN.<role>.<ext>)")
        size = _need(d, "size", int, where, src)
        digest = _need(d, CHECKSUM, str, where, src)
        if size < 0 or not _HEX_RE.match(digest):
            raise ShardFormatError(src, f"{where}: bad size {size} or {CHECKSUM} {digest!r:.70}")
        return cls(name, size, digest)


@dataclass(frozen=True)
class ShardEntry:
    """One shard: its index in its split, number of drawings, and its files.

    ``images`` and ``strokes`` are None when the directory lacks that part (``parts``
    of the manifest); ``labels`` and ``meta`` are always there.
    """

    index: int
    count: int
    images: FileEntry | None
    labels: FileEntry
    meta: FileEntry
    strokes: FileEntry | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles this shard has files for, in :data:`ROLES` order."""
        return tuple(r for r in ROLES if getattr(self, r) is not None)

    @property
    def files(self) -> tuple[FileEntry, ...]:
        """The files, in role order (images, strokes, labels, meta; absent parts left out)."""
        return tuple(getattr(self, r) for r in self.roles)

    def to_json(self) -> dict:
        """The entry as it appears in ``manifest.json``."""
        return {"index": self.index, "count": self.count,
                "files": {role: getattr(self, role).to_json() for role in self.roles}}

    @classmethod
    def from_json(cls, d, where: str, src, parts=("images",)) -> ShardEntry:
        """Parse and check an entry (``where`` and ``src`` name it in errors).

        ``parts`` are the optional roles the directory has: exactly those, plus labels
        and meta, must be listed.
        """
        index = _need(d, "index", int, where, src)
        count = _need(d, "count", int, where, src)
        if index < 0 or count < 0:
            raise ShardFormatError(src, f"{where}: negative index {index} or count {count}")
        files = _need(d, "files", dict, where, src)
        want = [r for r in ROLES if r in parts or r not in PARTS]
        extra = sorted(set(files) - set(want))
        if extra:
            raise ShardFormatError(src, f"{where}.files: roles {extra} are not among this "
                                   f"directory's parts ({want})")
        entries = {role: FileEntry.from_json(_need(files, role, dict, f"{where}.files", src),
                                             f"{where}.files.{role}", src) for role in want}
        entries.setdefault("images", None)
        return cls(index, count, **entries)


@dataclass
class InputStats:
    """What the build did with one input file (one entry of the manifest's ``inputs``).

    ``read`` rows were read; ``written`` went into shards, ``rejected`` could not be read
    (see the rejects summary), ``filtered`` were left out on purpose (word list,
    recognized flag, per-word cut), ``duplicate`` repeated a key_id already written.
    Anything else about the input (its split, kind...) goes in ``extra``.
    """

    name: str
    read: int = 0
    written: int = 0
    rejected: int = 0
    filtered: int = 0
    duplicate: int = 0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The entry of ``manifest.json``; ``ValueError`` on a counter that is not an int >= 0."""
        d = {"name": str(self.name)}
        for key in _COUNTERS:
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"input {self.name!r}: {key} must be a non-negative int, "
                                 f"got {v!r}")
            d[key] = v
        d.update(self.extra)
        return d


def _input_json(item) -> dict:
    if isinstance(item, InputStats):
        return item.to_json()
    if isinstance(item, Mapping):
        if "name" not in item:
            raise ValueError(f"each input needs a 'name', got keys {sorted(item)}")
        known = {k: item[k] for k in _COUNTERS if k in item}
        extra = {k: v for k, v in item.items() if k not in _COUNTERS and k != "name"}
        return InputStats(str(item["name"]), **known, extra=extra).to_json()
    raise TypeError(f"inputs must hold InputStats or dicts, got {type(item).__name__}")


def summarize_rejects(rejects: Iterable, keep: int = 20) -> dict:
    """A JSON summary of :class:`rasterfast.errors.Reject` records: count, by reason, first few.

    Reasons are grouped by their text up to the first digit, so that "record 12: 300
    points" and "record 40: 301 points" count as one reason.
    """
    count, by_reason, first = 0, Counter(), []
    for r in rejects:
        count += 1
        by_reason[re.split(r"[0-9]", r.reason, maxsplit=1)[0].strip() or r.reason] += 1
        if len(first) < keep:
            first.append({"source": r.source, "record": int(r.record), "offset": int(r.offset),
                          "reason": r.reason})
    return {"count": count, "by_reason": dict(by_reason.most_common()), "first": first}


# -- the manifest --------------------------------------------------------------------------------
@dataclass
class Manifest:
    """The parsed ``manifest.json`` of a finished shard directory.

    ``splits`` maps a split name to its shards, in index order (0, 1, ...).
    ``recipe`` is whatever ``Recipe.get_config()`` gave (opaque here). ``parts`` says
    which optional files every shard has (``"images"``, ``"strokes"``); ``strokes``
    describes the stroke files (``kind``, ``times``) when they are there.
    """

    recipe: dict
    words: list
    channels: int
    size: int
    splits: dict
    seed: int | None = None
    inputs: list = field(default_factory=list)
    rejects: dict = field(default_factory=lambda: {"count": 0, "by_reason": {}, "first": []})
    extra: dict = field(default_factory=dict)
    created: str = ""
    writer: str = ""
    format_version: int = FORMAT_VERSION
    parts: tuple = ("images",)
    strokes: dict | None = None
    #: the digest the file carried, and the one of what was read (None: built in memory)
    content_sha256: str | None = field(default=None, compare=False, repr=False)
    actual_sha256: str | None = field(default=None, compare=False, repr=False)

    @property
    def has_images(self) -> bool:
        """Whether the shards have image files (``False`` for ``build --no-images``)."""
        return "images" in self.parts

    @property
    def has_strokes(self) -> bool:
        """Whether the shards have ``.strokes`` files (the stroke store)."""
        return "strokes" in self.parts

    @property
    def num_classes(self) -> int:
        """``len(words)``."""
        return len(self.words)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, S, S)`` of every image."""
        return (self.channels, self.size, self.size)

    def count(self, split: str) -> int:
        """Number of drawings in ``split``."""
        return sum(s.count for s in self.shards(split))

    def shards(self, split: str) -> list[ShardEntry]:
        """The shards of ``split``; ``ValueError`` listing the splits when it has none."""
        if split not in self.splits:
            raise ValueError(f"split {split!r} is not in this directory; it has "
                             f"{sorted(self.splits)}")
        return self.splits[split]

    def to_json(self) -> dict:
        """The manifest as a JSON-ready dict."""
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "writer": self.writer,
            "created": self.created,
            "checksum": CHECKSUM,
            "image": {"dtype": "uint8", "layout": "NCHW", "channels": self.channels,
                      "size": self.size, "data_offset": 4096},
            **({"parts": list(self.parts)} if self.format_version >= 2 else {}),
            **({"strokes": self.strokes} if self.strokes is not None else {}),
            "recipe": self.recipe,
            "words": list(self.words),
            "seed": self.seed,
            "splits": {name: {"count": sum(s.count for s in shards),
                              "shards": [s.to_json() for s in shards]}
                       for name, shards in self.splits.items()},
            "inputs": [_input_json(i) for i in self.inputs],
            "rejects": self.rejects,
            "extra": self.extra,
        }

    def dumps(self) -> bytes:
        """The bytes of ``manifest.json``: :meth:`to_json` and its :func:`content_digest`."""
        d = self.to_json()
        # the digest of what a reader will parse: the dict after a JSON round trip (tuples
        # become lists, non-string keys strings)
        d[DIGEST_FIELD] = content_digest(json.loads(json.dumps(d)))
        return (json.dumps(d, indent=1, ensure_ascii=False) + "\n").encode()

    def digest_problem(self) -> str | None:
        """Why the manifest's content does not match its own digest, or None.

        None also when it has no digest (written before digests, issue 16) or was not read
        from a file.
        """
        if self.content_sha256 is None or self.actual_sha256 is None or \
                self.content_sha256 == self.actual_sha256:
            return None
        return (f"altered: its fields do not match its {DIGEST_FIELD} (edited after it was "
                f"written?)")

    @classmethod
    def from_json(cls, d, src="manifest.json", *, check_digest: bool = True) -> Manifest:
        """Parse and check a manifest dict; :class:`ShardFormatError` naming ``src`` if bad.

        A manifest that has a :data:`DIGEST_FIELD` must match it (unless
        ``check_digest=False``: :func:`rasterfast.format.verify` reports it instead); the
        other checks come first, so that the reason named is the most specific one.
        """
        if not isinstance(d, dict):
            raise ShardFormatError(src, f"expected a JSON object, got {type(d).__name__}")
        fmt = d.get("format")
        if fmt != FORMAT:
            raise ShardFormatError(src, f"not a rasterfast shard manifest (format={fmt!r}, "
                                   f"expected {FORMAT!r})")
        version = _need(d, "format_version", int, "manifest", src)
        if version not in SUPPORTED_VERSIONS:
            raise ShardFormatError(src, f"unknown format_version {version}; this rasterfast "
                                   f"reads {SUPPORTED_VERSIONS} (written by "
                                   f"{d.get('writer', '?')!r}: upgrade rasterfast?)")
        algo = d.get("checksum")
        if algo != CHECKSUM:
            raise ShardFormatError(src, f"unknown checksum algorithm {algo!r}, "
                                   f"expected {CHECKSUM!r}")
        image = _need(d, "image", dict, "manifest", src)
        if image.get("dtype") != "uint8" or image.get("layout") != "NCHW" or \
                image.get("data_offset") != 4096:
            raise ShardFormatError(src, f"image: expected uint8 NCHW at offset 4096, got {image}")
        channels = _need(image, "channels", int, "image", src)
        size = _need(image, "size", int, "image", src)
        if not (1 <= channels <= 64 and 1 <= size <= 4096):
            raise ShardFormatError(src, f"image: implausible channels={channels} size={size}")
        parts, strokes = ("images",), None
        if version >= 2:
            parts = _need(d, "parts", list, "manifest", src)
            if not parts or len(set(parts)) != len(parts) or not set(parts) <= set(PARTS):
                raise ShardFormatError(src, f"parts: expected a non-empty subset of {PARTS}, "
                                       f"got {parts!r}")
            parts = tuple(p for p in PARTS if p in parts)
            if "strokes" in parts:
                strokes = _need(d, "strokes", dict, "manifest", src)
                if strokes.get("format") != STROKES_FORMAT or \
                        strokes.get("kind") not in ("simplified", "raw") or \
                        not isinstance(strokes.get("times"), bool):
                    raise ShardFormatError(src, f"strokes: expected format {STROKES_FORMAT!r}, "
                                           f"kind simplified|raw and times true|false, got "
                                           f"{strokes}")
        words = _need(d, "words", list, "manifest", src)
        if not all(isinstance(w, str) for w in words) or len(set(words)) != len(words):
            raise ShardFormatError(src, "words: expected a list of distinct strings")
        splits_d = _need(d, "splits", dict, "manifest", src)
        splits = {}
        for name, sd in splits_d.items():
            if not _SPLIT_RE.match(name):
                raise ShardFormatError(src, f"splits: bad split name {name!r}")
            shards = [ShardEntry.from_json(s, f"splits.{name}.shards[{i}]", src, parts)
                      for i, s in enumerate(_need(sd, "shards", list, f"splits.{name}", src))]
            for i, s in enumerate(shards):
                if s.index != i:
                    raise ShardFormatError(src, f"splits.{name}: shard {i} has index {s.index}")
                for role, fe in zip(s.roles, s.files, strict=True):
                    if fe.name != shard_file_name(name, i, role):
                        raise ShardFormatError(src, f"splits.{name}.shards[{i}]: {role} file is "
                                               f"{fe.name!r}, expected "
                                               f"{shard_file_name(name, i, role)!r}")
            if _need(sd, "count", int, f"splits.{name}", src) != sum(s.count for s in shards):
                raise ShardFormatError(src, f"splits.{name}.count differs from its shards' sum")
            splits[name] = shards
        seed = d.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ShardFormatError(src, f"seed: expected an int or null, got {seed!r}")
        recipe = d.get("recipe")
        if not isinstance(recipe, dict):
            raise ShardFormatError(src, f"recipe: expected an object, got {type(recipe).__name__}")
        stored = d.get(DIGEST_FIELD)
        if stored is not None and (not isinstance(stored, str) or not _HEX_RE.match(stored)):
            raise ShardFormatError(src, f"{DIGEST_FIELD}: expected 64 hex digits, got "
                                   f"{stored!r:.80}")
        m = cls(recipe=recipe, words=words, channels=channels, size=size, splits=splits,
                seed=seed, inputs=list(d.get("inputs") or []),
                rejects=d.get("rejects") or {}, extra=d.get("extra") or {},
                created=str(d.get("created", "")), writer=str(d.get("writer", "")),
                format_version=version, parts=parts, strokes=strokes, content_sha256=stored,
                actual_sha256=content_digest(d) if stored is not None else None)
        problem = m.digest_problem()
        if check_digest and problem:
            raise ShardFormatError(src, problem)
        return m

    @classmethod
    def load(cls, directory, *, check_digest: bool = True) -> Manifest:
        """Read ``<directory>/manifest.json`` (``check_digest``: see :meth:`from_json`).

        Raises
        ------
        FileNotFoundError
            No manifest: not a shard directory, or a build that has not finished.
        ShardFormatError
            A manifest that is not valid JSON, of an unknown version, or inconsistent.
        """
        path = Path(directory) / MANIFEST_NAME
        if not path.is_file():
            hint = " (an unfinished build: run it again to resume)" if \
                (Path(directory) / "_build.json").is_file() else ""
            raise FileNotFoundError(f"{path}: no manifest; not a finished shard directory{hint}")
        try:
            d = json.loads(path.read_bytes())
        except (ValueError, UnicodeDecodeError) as err:
            raise ShardFormatError(path, f"not valid JSON ({err})") from err
        except RecursionError:
            # json nests one Python call per bracket (issue 16)
            raise ShardFormatError(path, "not a manifest: JSON nested too deeply") from None
        return cls.from_json(d, path, check_digest=check_digest)
