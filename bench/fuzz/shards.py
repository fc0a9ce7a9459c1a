"""Fuzz targets: the shard directory and stroke-store readers against tampered files (issue 16).

``TARGETS`` lists ``(name, seeds, run)``: ``seeds()`` gives example inputs (bytes),
``run(data)`` runs one input and raises when a contract is broken (any exception that
escapes ``run`` is a finding; the harness, ``python -m bench.fuzz``, counts them). The
targets build two small real shard directories once per process (``rasterfast.format.Writer``:
one of simplified drawings with images and strokes, one of raw drawings with times and
strokes only) and read tampered copies of them.

``shards-tamper``
    ``data`` is a mutation program over one of the builds (layout in :func:`decode`):
    which file, an offset, an edit (xor or set a byte, write an int64, truncate, append,
    or a structural edit of ``manifest.json``), and whether it happens before the
    :class:`~rasterfast.format.Reader` is opened or after it has mapped every file. The
    directory is then read whole (labels, metadata, every image, every drawing, rendered)
    at the ``check`` level the program picks, before and after the late edits.
``strokes-file``
    ``data`` is a whole ``.strokes`` file, read by :class:`rasterfast.store.StrokeShard`
    and gathered by :class:`rasterfast.store.StrokeSet`.
``manifest``
    ``data`` is a whole ``manifest.json`` for the simplified build's files.

The contract, from ``rasterfast/format/README.md`` (*What is checked, when*): a read
either succeeds or raises :class:`rasterfast.errors.ShardFormatError` (a ``ValueError``)
whose ``path`` is the tampered directory's manifest or one of its files; never a crash,
a SIGBUS, another exception type, or an error for an untouched directory. A read that
succeeds after an edit must be one the docs call silent at that level (pixels, labels,
metadata or in-range coordinates, unseen below ``check="labels"``/``"full"``), and then
:func:`rasterfast.format.verify` must report the edit; a manifest whose content changed
while it kept its digest is always an error; a file truncated after it was mapped is an
error at the next read.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["TARGETS", "decode", "run_tamper", "run_strokes_file", "run_manifest"]

_LEVELS = ("sizes", "headers", "labels", "full")
_OP_BYTES = 7
_MAX_OPS = 4
# interesting int64 values for offsets and counts
_INT64 = (0, 1, -1, 2, 7, 255, 256, 2**15, 2**31 - 1, 2**31, 2**32, 2**40, 2**62,
          2**63 - 1, -2**63, -2**31)
_OPS = ("xor", "set", "int64", "truncate", "append", "manifest")
_MANIFEST_EDITS = ("swap words", "empty splits", "drop digest", "count+1", "size+1",
                   "swap shards", "nest", "image size", "stroke kind", "fewer words",
                   "drop a shard", "negative count")

_state: dict = {}


# -- the builds ------------------------------------------------------------------------------------
def _drawings(rng, n, kind):
    out = []
    for _ in range(n):
        strokes = []
        for _ in range(int(rng.integers(0, 4))):
            k = int(rng.integers(1, 6))
            if kind == "simplified":
                strokes.append([rng.integers(0, 256, k).tolist(), rng.integers(0, 256, k).tolist()])
            else:
                strokes.append([(rng.random(k) * 900 - 50).astype(np.float32).tolist(),
                                (rng.random(k) * 700).astype(np.float32).tolist(),
                                np.cumsum(rng.integers(0, 40, k)).tolist()])
        out.append(strokes)
    return out


def _make_build(path: Path, kind: str) -> None:
    from rasterfast import Recipe, StrokeBatch, render
    from rasterfast.format import Writer

    rng = np.random.default_rng(16)
    words = ["cat", "dog", "The Eiffel Tower"]
    recipe = Recipe.preset("gray" if kind == "simplified" else "time3", size=16)
    parts = ("images", "strokes") if kind == "simplified" else ("strokes",)
    w = Writer(path, recipe, words, channels=recipe.shape[0], size=16, seed=1, parts=parts,
               strokes={"kind": kind, "times": kind == "raw"})
    for split, sizes in (("train", (3, 0, 4)), ("test", (2,))):
        for i, n in enumerate(sizes):
            batch = StrokeBatch.from_lists(_drawings(rng, n, kind), kind)
            meta = {"key_id": rng.integers(1, 2**40, n).tolist(),
                    "word": [words[int(j)] for j in rng.integers(0, 3, n)] if split == "train"
                    else [""] * n, "recognized": [1] * n}
            images = render(batch, recipe) if "images" in parts else None
            w.write_shard(split, i, images, meta, strokes=batch)
    w.finish(inputs=[{"name": "fuzz", "read": 9, "written": 9}])


def _setup() -> dict:
    """The builds (made once per process) and a work directory to tamper copies in."""
    if _state:
        return _state
    # in memory (/dev/shm) where there is one: every input rewrites a file or two
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="rasterfast-fuzz-shards-", dir=shm))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    state = {"root": root}
    for kind in ("simplified", "raw"):
        _make_build(root / "pristine" / kind, kind)
        files = sorted(str(p.relative_to(root / "pristine" / kind))
                       for p in (root / "pristine" / kind).rglob("*") if p.is_file())
        state[kind] = {"files": files, "bytes": {f: (root / "pristine" / kind / f).read_bytes()
                                                 for f in files}}
        shutil.copytree(root / "pristine" / kind, root / "work" / kind)
    _state.update(state)  # only once complete
    return _state


def _restore(kind: str) -> Path:
    """Put the files of the work copy of ``kind`` that earlier inputs edited back as built
    (new inodes, so that a map still open from an earlier input keeps its own file)."""
    st = _setup()
    d = st["root"] / "work" / kind
    dirty = st[kind].setdefault("dirty", set())
    for name in sorted(dirty):
        tmp = d / (name + ".restore")
        tmp.write_bytes(st[kind]["bytes"][name])
        os.replace(tmp, d / name)
    dirty.clear()
    return d


# -- the mutation program --------------------------------------------------------------------------
def decode(data: bytes) -> dict:
    """The mutation program in ``data``.

    Byte 0: bits 0-1 the ``check`` level (sizes, headers, labels, full), bit 2 the build
    (simplified with images, raw strokes only). Then up to four edits of 7 bytes each:
    file (index into the build's sorted file list, ``manifest.json`` included), op (bits
    0-6 modulo the ops xor, set, int64, truncate, append, manifest; bit 7: after the
    Reader mapped everything), offset (uint32 little-endian, modulo the file size + 1),
    value (the byte; the int64 table index; the manifest edit).
    """
    data = bytes(data)
    head = data[0] if data else 0
    edits = []
    for k in range(1, min(len(data), 1 + _MAX_OPS * _OP_BYTES), _OP_BYTES):
        chunk = data[k:k + _OP_BYTES].ljust(_OP_BYTES, b"\0")
        f, op, off, value = struct.unpack("<BBIB", chunk)
        edits.append({"file": f, "op": _OPS[(op & 0x7F) % len(_OPS)], "late": bool(op & 0x80),
                      "offset": off, "value": value})
    return {"level": _LEVELS[head & 3], "kind": ("simplified", "raw")[(head >> 2) & 1],
            "edits": edits}


def _edit_manifest(text: bytes, which: int) -> bytes:
    edit = _MANIFEST_EDITS[which % len(_MANIFEST_EDITS)]
    if edit == "nest":
        return b"[" * 50_000 + b"]" * 50_000
    m = _manifest_content(text)
    if not isinstance(m, dict) or not isinstance(m.get("splits"), dict) or \
            "train" not in m["splits"]:
        return text  # an earlier edit broke it: nothing to edit structurally
    try:
        if edit == "swap words":
            m["words"][0], m["words"][1] = m["words"][1], m["words"][0]
        elif edit == "empty splits":
            m["splits"] = {}
        else:
            m.pop("content_sha256", None)  # the edits below test the structural checks
            shards = m["splits"]["train"].get("shards") or [{}] * 3
            if edit == "count+1":
                shards[2]["count"] += 1
                m["splits"]["train"]["count"] += 1
            elif edit == "size+1":
                next(iter(shards[0]["files"].values()))["size"] += 1
            elif edit == "swap shards":
                shards[0]["files"], shards[2]["files"] = shards[2]["files"], shards[0]["files"]
            elif edit == "image size":
                m["image"]["size"] += 1
            elif edit == "stroke kind":
                m["strokes"]["kind"] = {"raw": "simplified"}.get(m["strokes"]["kind"], "raw")
            elif edit == "fewer words":
                m["words"] = m["words"][:1]
            elif edit == "drop a shard":
                gone = shards.pop()
                m["splits"]["train"]["count"] -= gone["count"]
            elif edit == "negative count":
                shards[1]["count"] = -1
    except (KeyError, TypeError, IndexError, AttributeError, ValueError):
        return text  # an earlier byte edit changed its structure: leave it as it is
    return json.dumps(m).encode()


def _apply(d: Path, name: str, edit: dict) -> None:
    _state[d.name]["dirty"].add(name)   # d is the work copy of that kind
    path = d / name
    data = bytearray(path.read_bytes())
    at = edit["offset"] % (len(data) + 1)
    op, value = edit["op"], edit["value"]
    if op == "manifest":
        if name != "manifest.json":
            return
        data = bytearray(_edit_manifest(bytes(data), value))
    elif op == "truncate":
        with open(path, "r+b") as fh:  # in place: a reader's map sees it
            fh.truncate(at)
        return
    elif op == "append":
        data += bytes([value]) * (1 + value % 9)
    elif at == len(data):
        return
    elif op == "xor":
        data[at] ^= value or 0xFF
    elif op == "set":
        data[at] = value
    else:  # int64
        word = struct.pack("<q", _INT64[value % len(_INT64)])
        data[at:at + 8] = word[:len(data) - at]
    with open(path, "r+b") as fh:  # in place, as another process rewriting it would
        fh.write(bytes(data))
        fh.truncate(len(data))


# -- reading everything ---------------------------------------------------------------------------
def _read_all(reader) -> None:
    """Read every label, metadata row, image and drawing of every split, and render them."""
    from rasterfast import render

    recipe = None
    for split in reader.splits:
        n = int(reader.counts(split).sum())
        labels = reader.labels(split)
        if len(labels) != n:
            raise AssertionError(f"{len(labels)} labels for {n} drawings")
        reader.meta(split)
        if reader.has_images and n:
            reader.gather(split, np.arange(n)[::-1].copy())
        if reader.has_strokes:
            batch = reader.strokes(split).gather(np.arange(n))
            batch.validate()
            if len(batch) != n:
                raise AssertionError(f"{len(batch)} drawings gathered for {n} rows")
            if recipe is None:
                from rasterfast import Recipe

                recipe = Recipe.preset("gray" if reader.stroke_kind == "simplified" else
                                       "time3", size=16)
            render(batch, recipe)


def _allowed(err: BaseException, d: Path) -> bool:
    from rasterfast.errors import ShardFormatError

    if not isinstance(err, ShardFormatError):
        return False
    path = Path(err.path)
    return (path == d or d in path.parents) and str(err).startswith(str(path))


def run_tamper(data: bytes) -> None:
    """One mutation program (see :func:`decode`) against its build; raise on a broken contract."""
    from rasterfast.format import Reader, verify

    prog = decode(data)
    st = _setup()
    kind = prog["kind"]
    files = st[kind]["files"]
    d = _restore(kind)
    early = [e for e in prog["edits"] if not e["late"]]
    late = [e for e in prog["edits"] if e["late"]]
    for e in early:
        _apply(d, files[e["file"] % len(files)], e)
    # only the files an edit touched (the dirty ones) can differ from the build
    changed = {f for f in st[kind]["dirty"] if (d / f).read_bytes() != st[kind]["bytes"][f]}
    manifest_changed = "manifest.json" in changed and _manifest_content(d) != \
        _manifest_content(st[kind]["bytes"]["manifest.json"])
    try:    # the drawings of each file as the Reader will see them at open
        opened_counts = _file_counts((d / "manifest.json").read_bytes())
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
        opened_counts = {}
    # a file the edited manifest no longer lists is never read: its edits do not count
    data_changed = (changed - {"manifest.json"}) & set(opened_counts)
    stage = "open"
    try:
        reader = Reader(d, check=prog["level"])
        stage = "read"
        _read_all(reader)
        if late:
            for e in late:
                _apply(d, files[e["file"] % len(files)], e)
            stage = "read after the late edits"
            _read_all(reader)
    except Exception as err:  # noqa: BLE001 - the contract is about which exceptions escape
        if not _allowed(err, d):
            raise AssertionError(f"{stage}: {type(err).__name__} breaks the contract "
                                 f"(program {prog})") from err
        if not changed and not late and stage == "open":
            raise AssertionError(f"an untouched directory refused: {err}") from err
        return
    # it read: every edit must be one the docs call silent, and verify must see it
    if manifest_changed and _has_digest(d):
        raise AssertionError(f"manifest content changed under its digest, read silently "
                             f"(program {prog})")
    level = prog["level"]
    small = {f for f in data_changed if f.endswith((".labels.npy", ".meta.parquet"))}
    if level == "full" and data_changed or level == "labels" and small:
        raise AssertionError(f"check={level!r} opened altered files {sorted(data_changed)} "
                             f"silently (program {prog})")
    counts = st[kind].setdefault("counts", _file_counts(st[kind]["bytes"]["manifest.json"]))
    for e in late:
        name = files[e["file"] % len(files)]
        # a file of no drawings is never read, nor one the edited manifest no longer
        # lists ("drop a shard"): its truncation needs no error
        if e["op"] == "truncate" and name.endswith((".images.npy", ".strokes")) and \
                counts[name] and opened_counts.get(name) and \
                (d / name).stat().st_size != len(st[kind]["bytes"][name]):
            raise AssertionError(f"{name} truncated after mapping, read silently "
                                 f"(program {prog})")
    # verify, on the directory as the late edits left it
    final = {f for f in st[kind]["dirty"] if (d / f).read_bytes() != st[kind]["bytes"][f]}
    if not final:
        return
    report = verify(d)
    named = dict(report.problems)
    if _manifest_content(d) != _manifest_content(st[kind]["bytes"]["manifest.json"]):
        if _has_digest(d) and "manifest.json" not in named and \
                str(d / "manifest.json") not in named:
            raise AssertionError(f"verify missed the edit of manifest.json (program {prog})")
        return  # a manifest edited without its digest is trusted as written (old builds)
    missed = {f for f in (final - {"manifest.json"}) & _listed(d) if f not in named}
    if missed:
        raise AssertionError(f"verify missed the edits of {sorted(missed)} (program {prog})")


def _listed(d: Path) -> set:
    """The files the manifest of ``d`` lists (empty when it cannot be parsed, the same
    exceptions as ``opened_counts`` in :func:`run_tamper`)."""
    try:
        return set(_file_counts((d / "manifest.json").read_bytes()))
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError):
        return set()


def _file_counts(manifest: bytes) -> dict:
    """Drawings of the shard of each file the manifest lists."""
    m = json.loads(manifest)
    return {fe["name"]: sh["count"] for split in m["splits"].values()
            for sh in split["shards"] for fe in sh["files"].values()}


def _manifest_content(src):
    try:
        text = src if isinstance(src, bytes) else (src / "manifest.json").read_bytes()
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _has_digest(d: Path) -> bool:
    m = _manifest_content(d)
    return isinstance(m, dict) and "content_sha256" in m


# -- whole files ----------------------------------------------------------------------------------
def run_strokes_file(data: bytes) -> None:
    """``data`` as a ``.strokes`` file: open, gather every drawing; raise on a broken contract."""
    from rasterfast.errors import ShardFormatError
    from rasterfast.store import StrokeSet, StrokeShard

    st = _setup()
    path = st["root"] / "work" / "one.strokes"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(bytes(data))
    os.replace(tmp, path)
    try:
        shard = StrokeShard(path)
        kind = shard.layout.kind
        n = len(shard)
        batch = StrokeSet([path], [n], kind).gather(np.arange(min(n, 10_000)))
        batch.validate()
    except ShardFormatError as err:
        if err.path != str(path) or not str(err).startswith(str(path)):
            raise AssertionError(f"the error names {err.path!r}, not the file") from err
    except Exception as err:  # noqa: BLE001
        raise AssertionError(f"{type(err).__name__} breaks the contract") from err


def run_manifest(data: bytes) -> None:
    """``data`` as the simplified build's ``manifest.json``: open it and read everything."""
    from rasterfast.format import Reader

    st = _setup()
    d = _restore("simplified")
    st["simplified"]["dirty"].add("manifest.json")
    (d / "manifest.json").write_bytes(bytes(data))
    try:
        _read_all(Reader(d))
    except Exception as err:  # noqa: BLE001
        if not _allowed(err, d):
            raise AssertionError(f"{type(err).__name__} breaks the contract") from err
        return
    content = _manifest_content(bytes(data))
    if "content_sha256" in content and \
            content != _manifest_content(st["simplified"]["bytes"]["manifest.json"]):
        raise AssertionError("a manifest changed under its digest was read")


# -- seeds ----------------------------------------------------------------------------------------
def seeds_tamper() -> list[bytes]:
    """Every file of both builds under each kind of edit, early and late, all four levels;
    every structural manifest edit."""
    def program(head, f, op, offset, value=0):
        return bytes([head]) + struct.pack("<BBIB", f, op, offset, value)

    xor, set_, int64, truncate, manifest = (_OPS.index(o) for o in
                                            ("xor", "set", "int64", "truncate", "manifest"))
    out = [b"\x01", b"\x05"]  # no edit
    for kind in (0, 4):
        for f in range(17):  # modulo the file count: every file of both builds
            head = kind | f % 4
            out += [program(head, f, xor, 4096 + 37, 0x10),          # pixels / file tail
                    program(head, f, set_, 70, 0xFF),               # stroke offsets, headers
                    program(head, f, int64, 24, _INT64.index(2**62)),  # counts, header text
                    program(head, f, truncate | 0x80, 100),         # after it was mapped
                    program(head, f, truncate, 4096 + 10)]
        for k in range(len(_MANIFEST_EDITS)):
            out.append(program(kind | k % 4, 0, manifest, 0, k))
    return out


def seeds_strokes_file() -> list[bytes]:
    """The build's stroke files as written."""
    st = _setup()
    return [v for kind in ("simplified", "raw") for k, v in st[kind]["bytes"].items()
            if k.endswith(".strokes")]


def seeds_manifest() -> list[bytes]:
    """The simplified build's manifest, and its structural edits."""
    text = _setup()["simplified"]["bytes"]["manifest.json"]
    return [text] + [_edit_manifest(text, k) for k in range(len(_MANIFEST_EDITS))]


TARGETS = [
    ("shards-tamper", seeds_tamper, run_tamper),
    ("strokes-file", seeds_strokes_file, run_strokes_file),
    ("manifest", seeds_manifest, run_manifest),
]
