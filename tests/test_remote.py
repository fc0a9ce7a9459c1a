"""Inputs named by fsspec URLs (issue 12 item 5): fsspec's memory filesystem and an HTTP
server on 127.0.0.1 give the same drawings, and the same build, as the local files."""

import functools
import http.server
import io
import os
import pickle
import re
import shutil
import threading
import urllib.parse
import zipfile
from pathlib import Path

import fsspec
import numpy as np
import pyarrow.parquet as pq
import pytest
import zstandard
from test_readers import write_bin

from rasterfast import InputReadError, StrokeBatch, cli, read_drawings
from rasterfast.pipeline import build, rerender
from rasterfast.readers import find_sources

PER_DRAWING = ("key_id", "label", "word", "countrycode", "recognized", "timestamp", "record",
               "x", "y", "t", "stroke_offsets", "drawing_offsets")


# -- inputs: one directory holding every format and container -------------------------------

@pytest.fixture(scope="module")
def inputs(tmp_path_factory, data_dir):
    """A directory of every format the readers take, as the files of a real download are.

    Kaggle CSVs (simplified plain, raw .gz), the Kaggle test CSV, Google ndjson (simplified
    plain and .zst, raw .gz), a .bin whose word has a space, and a .zip holding CSVs in a
    folder; a README.txt that is no input.
    """
    root = tmp_path_factory.mktemp("inputs") / "qd"
    kaggle, ndjson = data_dir / "kaggle", data_dir / "ndjson"
    simplified = sorted((kaggle / "train_simplified").iterdir())
    root.mkdir()
    for f in simplified[:12]:                       # "The Eiffel Tower.csv" among them
        shutil.copy(f, root / f.name)
    shutil.copy(kaggle / "test_simplified.csv", root / "test_simplified.csv")
    with zipfile.ZipFile(root / "more.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for f in simplified[12:16]:
            z.write(f, "train_simplified/" + f.name)
        z.writestr("README.txt", "not an input")
    nd = sorted((ndjson / "simplified").iterdir())
    (root / "ndjson").mkdir()
    shutil.copy(nd[20], root / "ndjson" / nd[20].name)
    (root / "ndjson" / (nd[21].name + ".zst")).write_bytes(
        zstandard.ZstdCompressor().compress(nd[21].read_bytes()))
    batch = StrokeBatch.concat(list(read_drawings(nd[22])))
    write_bin(root / "ndjson" / "hot air balloon.bin", batch)
    (root / "notes.txt").write_text("not an input")
    raw = root.parent / "raw"
    raw.mkdir()
    for f in sorted((kaggle / "train_raw").iterdir())[:3]:
        shutil.copy(f, raw / f.name)
    shutil.copy(sorted((ndjson / "raw").iterdir())[5], raw)
    (root.parent / "big").mkdir()
    with open(root.parent / "big" / "all.ndjson", "wb") as fh:
        for f in nd:
            fh.write(f.read_bytes().rstrip(b"\n") + b"\n")
    return root


def local_files(root):
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


def assert_same_batches(local, remote, rename):
    """The same drawings, block by block; source names differ only by ``rename``."""
    assert len(local) == len(remote) > 0
    for a, b in zip(local, remote, strict=True):
        assert b.kind == a.kind
        assert b.sources == tuple(rename(s) for s in a.sources)
        for name in PER_DRAWING:
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name), err_msg=name)
        assert [(rename(r.source), r.record, r.offset, r.reason) for r in a.rejects] == \
            [tuple(r) for r in b.rejects]


# -- fsspec's memory filesystem -------------------------------------------------------------

@pytest.fixture()
def memory(inputs):
    """``inputs`` (and the raw files beside it) copied to ``memory://qd``, removed after."""
    fs = fsspec.filesystem("memory")
    for f in local_files(inputs.parent):
        fs.pipe("/" + f.relative_to(inputs.parent).as_posix(), f.read_bytes())
    yield fs
    for top in ("/qd", "/raw", "/big"):
        fs.rm(top, recursive=True)


def memory_name(inputs):
    return lambda name: name.replace(str(inputs.parent), "memory://")


def test_memory_directory_lists_like_a_local_one(inputs, memory):
    local = find_sources(inputs)
    remote = find_sources("memory://qd")
    assert [memory_name(inputs)(s.name) for s in local] == [s.name for s in remote]
    assert [(s.format, s.compression, s.member, s.stem) for s in local] == \
        [(s.format, s.compression, s.member, s.stem) for s in remote]
    # the task carries the URL, never the bytes
    big = max(remote, key=lambda s: s.stored_bytes())
    assert big.stored_bytes() > 10_000 and len(pickle.dumps(big)) < 500
    assert [s.stored_bytes() for s in local] == [s.stored_bytes() for s in remote]


@pytest.mark.parametrize("block_size", [4096, 4 << 20])
def test_memory_reads_every_format_as_local(inputs, memory, block_size):
    for local, url in ((inputs, "memory://qd"), (inputs.parent / "raw", "memory://raw")):
        a = list(read_drawings(local, block_size=block_size))
        b = list(read_drawings(url, block_size=block_size))
        assert {x.kind for x in a} == ({"raw"} if url.endswith("raw") else {"simplified"})
        assert_same_batches(a, b, memory_name(inputs))


def test_memory_globs_and_single_files(inputs, memory):
    got = [s.name for s in find_sources("memory://qd/**/*.zst")]
    assert len(got) == 1 and got[0].endswith(".ndjson.zst")
    names = [s.name for s in find_sources(["memory://qd/ndjson/hot air balloon.bin",
                                           "memory://qd/more.zip"])]
    members = sorted(zipfile.ZipFile(inputs / "more.zip").namelist())
    assert names == ["memory://qd/ndjson/hot air balloon.bin"] + \
        [f"memory://qd/more.zip:{m}" for m in members if m.endswith(".csv")]
    assert len(names) == 5
    batch = StrokeBatch.concat(list(read_drawings("memory://qd/ndjson/hot air balloon.bin")))
    assert set(batch.word) == {"hot air balloon"}


def test_memory_errors_name_the_url(inputs, memory):
    with pytest.raises(FileNotFoundError, match="memory://qd/nope.csv"):
        find_sources("memory://qd/nope.csv")
    with pytest.raises(FileNotFoundError, match="memory://qd/nope"):
        find_sources("memory://qd/nope*.csv")
    with pytest.raises(ValueError, match="nosuchprotocol://x/y.csv"):
        find_sources("nosuchprotocol://x/y.csv")
    with pytest.raises(ValueError, match="not an input format"):
        find_sources("memory://qd/notes.txt")
    # a broken gzip stream: the error names the URL and the first record lost
    data = (inputs.parent / "raw" / sorted(os.listdir(inputs.parent / "raw"))[0]).read_bytes()
    memory.pipe("/bad/cut.csv.gz", data[: len(data) // 2])
    with pytest.raises(InputReadError, match="memory://bad/cut.csv.gz"):
        list(read_drawings("memory://bad/cut.csv.gz"))
    got = list(read_drawings("memory://bad/cut.csv.gz", on_error="skip"))
    assert got[-1].rejects[-1].source == "memory://bad/cut.csv.gz"
    memory.pipe("/bad/empty.ndjson.gz", b"")
    with pytest.raises(InputReadError, match="memory://bad/empty.ndjson.gz, line 1: empty file"):
        list(read_drawings("memory://bad/empty.ndjson.gz"))
    # removed after listing: "cannot open", naming it
    memory.pipe("/bad/gone.csv", b"x")
    src = find_sources("memory://bad/gone.csv")
    memory.rm("/bad/gone.csv")
    from rasterfast.readers import ReadContext, read_source
    with pytest.raises(InputReadError, match="memory://bad/gone.csv.*cannot open"):
        list(read_source(src[0], ReadContext()))
    memory.rm("/bad", recursive=True)


def test_memory_refuses_a_shard_directory(memory):
    memory.pipe("/built/manifest.json", b"{}")
    memory.pipe("/built/train/000000.strokes", b"")
    with pytest.raises(ValueError, match="shard directory"):
        find_sources("memory://built")
    memory.rm("/built/manifest.json")
    with pytest.raises(ValueError, match="memory:///built is a rasterfast shard directory"):
        find_sources("memory://built")
    memory.rm("/built", recursive=True)


# -- an HTTP server on 127.0.0.1 ------------------------------------------------------------

class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Python's file server plus range requests (as S3, GCS and nginx serve them: a zip's
    directory is read from its end). A GET of a path in ``failing`` answers 500; one in
    ``cut`` sends half the file and hangs up (its Content-Length promised all of it)."""

    failing: set = set()
    cut: set = set()

    def send_head(self):
        path = self.translate_path(self.path)
        name = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if self.command == "GET" and name in self.failing:
            self.send_error(500, "broken on purpose")
            return None
        if self.command == "GET" and name in self.cut:
            data = Path(path).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            return io.BytesIO(data[: len(data) // 2])
        rng = self.headers.get("Range")
        if rng is None or not os.path.isfile(path):
            return super().send_head()
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
        size = os.path.getsize(path)
        start = int(m[1])
        end = min(int(m[2]) if m[2] else size - 1, size - 1)
        if start >= size:
            self.send_error(416)
            return None
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass      # a client that stops reading early resets the connection: not news


@pytest.fixture(scope="module")
def http_root(inputs):
    """``http://127.0.0.1:PORT`` serving the folder that holds ``inputs``."""
    handler = functools.partial(RangeHandler, directory=str(inputs.parent))
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def http_name(inputs, root):
    def rename(name):
        rel = name[len(str(inputs.parent)):]
        path, _, member = rel.partition(".zip:")
        path = urllib.parse.quote(path) + (".zip:" + member if member else "")
        return root + path
    return rename


def test_http_reads_every_format_as_local(inputs, http_root):
    rename = http_name(inputs, http_root)
    for local, url in ((inputs, http_root + "/qd/"), (inputs.parent / "raw", http_root + "/raw")):
        got = find_sources(url)
        assert [s.name for s in got] == [rename(s.name) for s in find_sources(local)]
        assert_same_batches(list(read_drawings(local)), list(read_drawings(url)), rename)
    # a glob, a file named by its decoded name, and the word of a .bin read from its URL
    assert len(find_sources(http_root + "/qd/*.zip")) == 4
    batch = StrokeBatch.concat(list(read_drawings(http_root + "/qd/ndjson/hot air balloon.bin")))
    assert set(batch.word) == {"hot air balloon"}


def test_http_errors_name_the_url(inputs, http_root):
    with pytest.raises(FileNotFoundError, match=re.escape(http_root + "/qd/missing.csv")):
        find_sources(http_root + "/qd/missing.csv")
    name = "/qd/" + sorted(p.name for p in inputs.glob("*.csv"))[1]
    url = http_root + urllib.parse.quote(name)
    RangeHandler.failing.add(name)
    try:
        with pytest.raises(OSError, match=re.escape(url) + ".*500"):
            find_sources(url)
    finally:
        RangeHandler.failing.discard(name)
    # the connection drops halfway through: the drawings before are kept, the rest of the
    # file is one reject naming the URL and the first record lost
    url = http_root + "/big/all.ndjson"
    full = StrokeBatch.concat(list(read_drawings(inputs.parent / "big" / "all.ndjson")))
    RangeHandler.cut.add("/big/all.ndjson")
    try:
        with pytest.raises(InputReadError, match=re.escape(url) + ".*unreadable from here"):
            list(read_drawings(url, block_size=1 << 16))
        got = list(read_drawings(url, block_size=1 << 16, on_error="skip"))
    finally:
        RangeHandler.cut.discard("/big/all.ndjson")
    kept = sum(len(b) for b in got)
    rejects = [r for b in got for r in b.rejects]
    assert 0 < kept < len(full) and len(rejects) == 1
    assert rejects[0].source == url and rejects[0].record == kept
    np.testing.assert_array_equal(StrokeBatch.concat(got).key_id, full.key_id[:kept])


def test_http_empty_gzip_is_an_error(tmp_path, inputs, http_root):
    """As for a local file: a 0-byte .gz is no gzip stream, even when the size is not in
    the streamed response."""
    (inputs.parent / "big" / "empty.csv.gz").write_bytes(b"")
    try:
        with pytest.raises(InputReadError, match=r"empty.csv.gz, line 2: empty file"):
            list(read_drawings(http_root + "/big/empty.csv.gz"))
    finally:
        (inputs.parent / "big" / "empty.csv.gz").unlink()


def shard_files(out):
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_build_from_urls_equals_build_from_files(tmp_path, inputs, http_root):
    """Worker processes read the URLs themselves; the shards are byte for byte the local
    build's, and the metadata differs only in naming each drawing's input by its URL."""
    kw = dict(recipe="gray", size=32, shard_size=700, val_fraction=0.1, progress=False,
              bucket_size=1500)
    ref = build(inputs, tmp_path / "local", scheduler="threads", **kw)
    got = build(http_root + "/qd/", tmp_path / "http", scheduler="processes", workers=2, **kw)
    rename = http_name(inputs, http_root)
    ref_inputs, got_inputs = ([e if isinstance(e, dict) else e.to_json() for e in m.inputs]
                              for m in (ref, got))
    assert [e["name"] for e in got_inputs] == [rename(e["name"]) for e in ref_inputs]
    assert [{k: v for k, v in e.items() if k != "name"} for e in got_inputs] == \
        [{k: v for k, v in e.items() if k != "name"} for e in ref_inputs]
    files = shard_files(tmp_path / "local")
    assert files == shard_files(tmp_path / "http")
    assert sum(f.endswith(".images.npy") for f in files) > 3 and "test/000000.labels.npy" in files
    for f in files:
        a, b = (tmp_path / "local" / f), (tmp_path / "http" / f)
        if f.endswith((".images.npy", ".strokes", ".labels.npy")):
            assert a.read_bytes() == b.read_bytes(), f
        elif f.endswith(".meta.parquet"):
            ta, tb = pq.read_table(a), pq.read_table(b)
            assert tb.column("source").to_pylist() == \
                [rename(s) for s in ta.column("source").to_pylist()]
            assert tb.drop(["source"]).equals(ta.drop(["source"]))


def test_build_from_memory_urls(tmp_path, inputs, memory):
    kw = dict(recipe="gray", size=32, shard_size=2000, val_fraction=0.1, progress=False)
    ref = build(inputs, tmp_path / "local", scheduler="threads", **kw)
    got = build("memory://qd", tmp_path / "mem", scheduler="threads", **kw)
    for split in ("train", "val", "test"):
        assert got.count(split) == ref.count(split) > 0
        for a, b in zip(ref.shards(split), got.shards(split), strict=True):
            for fa, fb in zip(a.files, b.files, strict=True):
                if not fa.name.endswith((".meta.parquet", ".shard.json")):
                    assert (fa.name, fa.size, fa.sha256) == (fb.name, fb.size, fb.sha256)


# -- the output directory -------------------------------------------------------------------

def test_remote_scheduler_refuses_a_relative_out(tmp_path, monkeypatch, inputs, memory, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="absolute path that every worker sees"):
        build("memory://qd", "shards", scheduler="tcp://127.0.0.1:1", progress=False)
    assert not (tmp_path / "shards").exists()
    with pytest.raises(ValueError, match="not a URL"):
        build("memory://qd", "memory://out", scheduler="threads", progress=False)
    with pytest.raises(ValueError, match="absolute path that every worker sees"):
        rerender(tmp_path / "any", "again", "gray", scheduler="tcp://127.0.0.1:1")
    assert not (tmp_path / "again").exists()
    assert cli.main(["build", "memory://qd", "--out", "shards", "--scheduler",
                     "tcp://127.0.0.1:1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "rasterfast build: error: shards: with a distributed scheduler" in err
    assert not (tmp_path / "shards").exists()


def test_preview_from_a_url(tmp_path, inputs, memory):
    out = tmp_path / "grid.png"
    assert cli.main(["preview", "memory://qd/ndjson/", "--n", "6", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

