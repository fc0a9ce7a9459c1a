"""rasterfast.format: Writer, Reader, manifest, verify; bad directories name the bad file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from reference_shards import decode_rows, make_shards

from rasterfast.batch import StrokeBatch
from rasterfast.errors import Reject
from rasterfast.format import (
    DATA_OFFSET,
    FORMAT_VERSION,
    META_SCHEMA,
    Manifest,
    Reader,
    ShardFormatError,
    Writer,
    summarize_rejects,
    verify,
)

SIZES = [7, 0, 12, 5]


@pytest.fixture
def shards(tmp_path):
    path = tmp_path / "ds"
    truth = make_shards(path, SIZES, channels=2, size=8, seed=3)
    return path, truth


def test_round_trip(shards):
    path, truth = shards
    r = Reader(path)
    assert r.image_shape == (2, 8, 8) and r.words == truth["words"]
    assert r.counts("train").tolist() == SIZES
    assert np.array_equal(r.labels("train"), truth["labels"])
    meta = r.meta("train")
    assert meta.schema.names[:len(META_SCHEMA)] == META_SCHEMA.names
    assert np.array_equal(meta.column("key_id").to_numpy(), truth["key_ids"])
    assert np.array_equal(meta.column("recognized").to_numpy(), truth["recognized"])
    rows = np.concatenate([decode_rows(r.images("train", i)) for i in range(len(SIZES))])
    assert rows.tolist() == list(range(sum(SIZES)))
    # labels follow from the word column
    words = np.array(truth["words"])[truth["labels"]]
    assert meta.column("word").to_pylist() == words.tolist()


def test_images_are_standard_npy_aligned(shards):
    path, _ = shards
    r = Reader(path)
    f = path / "train" / "000002.images.npy"
    a = np.load(f, mmap_mode="r")
    assert a.offset == DATA_OFFSET == 4096 and a.dtype == np.uint8 and a.shape == (12, 2, 8, 8)
    assert np.array_equal(a, r.images("train", 2))
    assert np.array_equal(np.load(f), a)  # plain np.load too
    assert f.stat().st_size == 4096 + a.nbytes
    assert np.load(path / "train" / "000002.labels.npy").dtype == np.int16


def test_gather_any_rows_any_order(shards):
    path, _ = shards
    r = Reader(path)
    every = np.concatenate([r.images("train", i) for i in range(len(SIZES))])
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(every), 50)  # unsorted, with repeats
    assert np.array_equal(r.gather("train", rows), every[rows])
    out = np.full((3, 2, 8, 8), 7, np.uint8)
    assert r.gather("train", [23, 0, 7], out=out) is out
    assert np.array_equal(out, every[[23, 0, 7]])
    assert r.gather("train", []).shape == (0, 2, 8, 8)
    with pytest.raises(IndexError, match=r"\[0, 24\)"):
        r.gather("train", [24])
    with pytest.raises(IndexError):
        r.gather("train", [-1])
    with pytest.raises(ValueError, match="out must be"):
        r.gather("train", [1, 2], out=np.empty((2, 2, 8, 8), np.int16))
    with pytest.raises(ValueError, match="out must be"):
        r.gather("train", [1, 2], out=np.empty((2, 2, 8, 16), np.uint8)[..., ::2])


def test_gather_from_threads(shards):
    # the kernel runs without the GIL: several threads at once must each get their rows
    from concurrent.futures import ThreadPoolExecutor

    path, _ = shards
    r = Reader(path)
    every = np.concatenate([r.images("train", i) for i in range(len(SIZES))])
    rng = np.random.default_rng(1)
    jobs = [rng.integers(0, len(every), 40) for _ in range(64)]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda rows: r.gather("train", rows), jobs))
    assert all(np.array_equal(g, every[rows]) for g, rows in zip(got, jobs, strict=True))


def test_finished_directory_is_clean_and_manifest_lists_everything(shards):
    path, _ = shards
    names = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    m = json.loads((path / "manifest.json").read_text())
    listed = sorted(f["name"] for s in m["splits"]["train"]["shards"] for f in s["files"].values())
    assert names == sorted(listed + ["manifest.json"])  # no temporaries, sidecars, _build.json
    assert m["format_version"] == FORMAT_VERSION and m["checksum"] == "sha256"
    assert m["splits"]["train"]["count"] == sum(SIZES)
    assert m["inputs"] == [{"name": "synthetic", "read": 24, "written": 24, "rejected": 0,
                            "filtered": 0, "duplicate": 0}]


def test_verify_ok_then_names_every_bad_file(shards):
    path, _ = shards
    rep = verify(path)
    assert rep.ok and rep.files_checked == 3 * len(SIZES), str(rep)
    # alter one byte, truncate one file, delete another
    img = path / "train/000000.images.npy"
    data = bytearray(img.read_bytes())
    data[-1] ^= 1
    img.write_bytes(bytes(data))
    with open(path / "train/000002.images.npy", "r+b") as fh:
        fh.truncate(5000)
    (path / "train/000003.meta.parquet").unlink()
    rep = verify(path)
    problems = dict(rep.problems)
    assert set(problems) == {"train/000000.images.npy", "train/000002.images.npy",
                             "train/000003.meta.parquet"}, str(rep)
    assert "altered" in problems["train/000000.images.npy"]
    assert "truncated" in problems["train/000002.images.npy"]
    assert problems["train/000003.meta.parquet"].startswith("missing")
    assert not verify(path, checksums=False).ok


@pytest.mark.parametrize("damage, where, what", [
    ("delete", "train/000002.images.npy", "missing"),
    ("truncate", "train/000002.images.npy", "truncated"),
    ("delete", "train/000003.labels.npy", "missing"),
    ("truncate", "train/000000.meta.parquet", "truncated"),
])
def test_reader_refuses_missing_or_truncated_file(shards, damage, where, what):
    path, _ = shards
    f = path / where
    if damage == "delete":
        f.unlink()
    else:
        with open(f, "r+b") as fh:
            fh.truncate(f.stat().st_size - 1)
    with pytest.raises(ShardFormatError, match=what) as info:
        Reader(path)
    assert info.value.path == str(f)
    assert where.split("/")[1] in str(info.value)


def test_reader_refuses_unknown_version_and_bad_manifest(shards):
    path, _ = shards
    mpath = path / "manifest.json"
    m = json.loads(mpath.read_text())
    m["format_version"] = FORMAT_VERSION + 1
    mpath.write_text(json.dumps(m))
    with pytest.raises(ShardFormatError, match="unknown format_version") as info:
        Reader(path)
    assert info.value.path == str(mpath)
    mpath.write_text("{not json")
    with pytest.raises(ShardFormatError, match="not valid JSON"):
        Reader(path)
    m["format_version"] = FORMAT_VERSION
    m["splits"]["train"]["shards"][0]["files"]["images"]["name"] = "../../etc/passwd"
    mpath.write_text(json.dumps(m))
    with pytest.raises(ShardFormatError, match="not a shard file name"):
        Reader(path)
    mpath.unlink()
    with pytest.raises(FileNotFoundError, match="no manifest"):
        Reader(path)


def test_reader_checks_header_against_manifest(shards):
    path, _ = shards
    f = path / "train/000000.images.npy"
    data = bytearray(f.read_bytes())
    new = b"{'descr': '|i1'"
    assert data[10:10 + len(new)] == b"{'descr': '|u1'"
    data[10:10 + len(new)] = new
    f.write_bytes(bytes(data))
    with pytest.raises(ShardFormatError, match="header says int8") as info:
        Reader(path)  # check="headers" (the default) reads every header when opened
    assert info.value.path == str(f)
    r = Reader(path, check="sizes")  # sizes are right: only mapping reads the header
    with pytest.raises(ShardFormatError, match="header"):
        r.images("train", 0)


def test_unlisted_files_are_ignored(shards):
    path, _ = shards
    (path / "train" / "000099.images.npy").write_bytes(b"junk")
    (path / "strokes").mkdir()
    r = Reader(path)
    assert r.counts("train").tolist() == SIZES and verify(path).ok


def test_resume_keeps_finished_shards_and_redoes_broken_ones(tmp_path):
    path = tmp_path / "ds"
    words = ["a", "b"]
    w = Writer(path, {"r": 1}, words, channels=1, size=4, seed=0)
    imgs = np.ones((3, 1, 4, 4), np.uint8)
    meta = {"key_id": [1, 2, 3], "word": ["a", "b", "a"]}
    w.write_shard("train", 0, imgs, meta)
    w.write_shard("train", 1, imgs, meta)
    # a shard that fails halfway leaves nothing behind and is not done
    with pytest.raises(RuntimeError), w.shard("train", 2, 3) as sh:
        sh.images[:] = 7
        raise RuntimeError("renderer crashed")
    assert w.done("train", 2) is None
    assert not [p for p in (path / "train").iterdir() if p.name.endswith(".tmp")]
    # a new Writer (a re-run) sees shards 0 and 1 as finished
    mtime = (path / "train/000000.images.npy").stat().st_mtime_ns
    w2 = Writer(path, {"r": 1}, words, channels=1, size=4, seed=0)
    assert w2.pending("train", range(4)) == [2, 3]
    # a truncated shard is not finished any more
    with open(path / "train/000001.images.npy", "r+b") as fh:
        fh.truncate(100)
    assert w2.pending("train", range(2)) == [1]
    w2.write_shard("train", 1, imgs, meta)
    with pytest.raises(ValueError, match=r"shards \[2\] are missing"):
        w2.write_shard("train", 3, imgs, meta) and w2.finish()
    w2.write_shard("train", 2, imgs * 2, meta)
    with pytest.raises(ValueError, match="expected 5 finished shards"):
        w2.finish(expected={"train": 5})
    m = w2.finish(expected={"train": 4})
    assert (path / "train/000000.images.npy").stat().st_mtime_ns == mtime  # not redone
    assert [s.count for s in m.splits["train"]] == [3, 3, 3, 3]
    assert Reader(path).images("train", 2).max() == 2


def test_writer_refuses_other_builds(tmp_path):
    path = tmp_path / "ds"
    make_shards(path, [3], size=4)
    with pytest.raises(FileExistsError, match="finished"):
        Writer(path, {}, ["a"], channels=1, size=4)
    other = tmp_path / "other"
    Writer(other, {"r": 1}, ["a", "b"], channels=1, size=4, seed=0)
    with pytest.raises(ValueError, match=r"another configuration \(differs in \['size'\]\)"):
        Writer(other, {"r": 1}, ["a", "b"], channels=1, size=8, seed=0)
    stray = tmp_path / "stray"
    (stray / "train").mkdir(parents=True)
    (stray / "train" / "000000.images.npy").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="shard files"):
        Writer(stray, {}, ["a"], channels=1, size=4)
    shared = tmp_path / "shared"  # other content (a stroke store) may share the directory
    (shared / "strokes").mkdir(parents=True)
    Writer(shared, {}, ["a"], channels=1, size=4)


@pytest.mark.parametrize("kwargs, err, match", [
    ({"channels": 0, "size": 4}, ValueError, "channels"),
    ({"channels": 1, "size": 5000}, ValueError, "size"),
    ({"channels": 1, "size": 4, "seed": "1"}, TypeError, "seed"),
])
def test_writer_arguments(tmp_path, kwargs, err, match):
    with pytest.raises(err, match=match):
        Writer(tmp_path / "x", {}, ["a"], **kwargs)


def test_shard_checks_labels_meta_and_images(tmp_path):
    w = Writer(tmp_path / "ds", {}, ["a", "b"], channels=1, size=4)
    meta = {"key_id": [1, 2], "word": ["a", "b"]}
    with pytest.raises(ValueError, match="disagrees with its word"):
        w.write_shard("train", 0, np.zeros((2, 1, 4, 4), np.uint8), meta, labels=[1, 1])
    with pytest.raises(ValueError, match="labels must be -1 or in"):
        w.write_shard("train", 0, np.zeros((2, 1, 4, 4), np.uint8), meta, labels=[0, 2])
    with pytest.raises(ValueError, match="meta has 2 rows"):
        w.write_shard("train", 0, np.zeros((3, 1, 4, 4), np.uint8), meta)
    with pytest.raises(ValueError, match=r"uint8 \[n, 1, 4, 4\]"):
        w.write_shard("train", 0, np.zeros((2, 1, 4, 5), np.uint8), meta)
    with pytest.raises(ValueError, match="set_meta"), w.shard("train", 0, 2):
        pass
    with pytest.raises(ValueError, match="split must match"):
        w.shard("../x", 0, 2)
    # unknown words (the test split) are label -1
    w.write_shard("test", 0, np.zeros((2, 1, 4, 4), np.uint8), {"key_id": [5, 6]})
    w.write_shard("train", 0, np.zeros((0, 1, 4, 4), np.uint8),
                  {"key_id": pa.array([], pa.uint64())})
    w.finish()
    r = Reader(tmp_path / "ds")
    assert r.labels("test").tolist() == [-1, -1] and r.images("train", 0).shape == (0, 1, 4, 4)


def test_meta_from_strokebatch(tmp_path):
    b = StrokeBatch.from_lists([[[[0, 10], [0, 5]]], [[[1], [2]], [[3, 4], [5, 6]]]],
                               "simplified", key_id=[11, 12], word=["b", "zz"],
                               countrycode=["NA", "US"], recognized=[1, 0],
                               timestamp=np.array(["2017-03-08T21:12:07.266", "NaT"],
                                                  "datetime64[us]"))
    w = Writer(tmp_path / "ds", {}, ["a", "b"], channels=1, size=4)
    with w.shard("val", 0, 2) as sh:
        sh.set_meta(b, entropy=[0.5, 1.5])
    w.finish(rejects=[Reject("f.csv", 3, 7, "bad number 12"),
                      Reject("f.csv", 9, 1, "bad number 4")])
    r = Reader(tmp_path / "ds")
    t = r.meta("val")
    assert t.column("n_strokes").to_pylist() == [1, 2]
    assert t.column("n_points").to_pylist() == [2, 3]
    assert t.column("countrycode").to_pylist() == ["NA", "US"]
    assert t.column("entropy").to_pylist() == [0.5, 1.5]
    assert t.column("timestamp").null_count == 0 or t.column("timestamp")[1].as_py() is None
    assert r.labels("val").tolist() == [1, -1]  # "zz" is not in the word list
    assert r.manifest.rejects["count"] == 2
    assert r.manifest.rejects["by_reason"] == {"bad number": 2}
    schema = pq.read_schema(tmp_path / "ds/val/000000.meta.parquet")
    assert schema.field("key_id").type == pa.uint64()


def test_summarize_rejects_keeps_first():
    rs = [Reject("a", i, -1, f"record too long: {i} points") for i in range(30)]
    s = summarize_rejects(rs, keep=5)
    assert s["count"] == 30 and len(s["first"]) == 5 and s["by_reason"] == {"record too long:": 30}


def test_manifest_round_trip(shards):
    path, _ = shards
    m = Manifest.load(path)
    again = Manifest.from_json(json.loads(m.dumps()))
    assert again.to_json() == m.to_json()


def test_writer_pickles_for_dask(tmp_path):
    import pickle

    w = Writer(tmp_path / "ds", {"r": 1}, ["a"], channels=1, size=4)
    w2 = pickle.loads(pickle.dumps(w))
    w2.write_shard("train", 0, np.zeros((1, 1, 4, 4), np.uint8), {"word": ["a"]})
    assert w.done("train", 0) is not None


def test_import_rasterfast_does_not_import_torch():
    code = ("import sys, rasterfast, rasterfast.format, rasterfast.metrics; "
            "sys.exit('torch' in sys.modules)")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_golden_shards_v1():
    # committed by tests/fixtures/make_shards_v1.py: a format change must be deliberate
    sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
    from make_shards_v1 import WORDS, expected

    path = Path(__file__).resolve().parent / "fixtures" / "shards_v1"
    assert verify(path).ok
    r = Reader(path)
    assert r.words == WORDS and r.image_shape == (1, 8, 8) and r.manifest.seed == 7
    for split, shards in expected().items():
        for i, (images, words, key_ids) in enumerate(shards):
            assert np.array_equal(r.images(split, i), images)
            meta = r.meta(split, i)
            assert meta.column("key_id").to_pylist() == key_ids
            want = [WORDS.index(w) if w else -1 for w in words]
            assert r.labels(split, i).tolist() == want
        raw = (path / split / "000000.images.npy").read_bytes()
        assert raw[:10] == b"\x93NUMPY\x01\x00" + (4086).to_bytes(2, "little")
        assert raw[4096:] == shards[0][0].tobytes()


def test_golden_shards_v2():
    # committed by tests/fixtures/make_shards_v2.py: images + the stroke store (issue 11)
    sys.path.insert(0, str(Path(__file__).resolve().parent / "fixtures"))
    from make_shards_v2 import WORDS, expected

    path = Path(__file__).resolve().parent / "fixtures" / "shards_v2"
    assert verify(path).ok
    r = Reader(path)
    m = r.manifest
    assert m.format_version == 2 and m.parts == ("images", "strokes")
    assert m.strokes == {"format": "rasterfast-strokes", "version": 1, "kind": "simplified",
                         "coords": "int16", "times": False}
    assert r.words == WORDS and r.image_shape == (1, 16, 16) and m.seed == 11
    for split, shards in expected().items():
        offset = 0
        for i, (batch, images, words, key_ids) in enumerate(shards):
            assert np.array_equal(r.images(split, i), images)
            assert r.meta(split, i).column("key_id").to_pylist() == key_ids
            assert r.labels(split, i).tolist() == [WORDS.index(w) if w else -1 for w in words]
            got = r.strokes(split).gather(np.arange(offset, offset + len(batch)))
            for name in ("x", "y", "stroke_offsets", "drawing_offsets"):
                assert np.array_equal(getattr(got, name), getattr(batch, name)), name
            offset += len(batch)
    data = (path / "train" / "000000.strokes").read_bytes()
    assert data[:8] == b"RFSTROKE" and int.from_bytes(data[24:32], "little") == 2


def test_stream_mode_writes_the_same_bytes_and_checks_its_count(tmp_path):
    """Writer.shard(stream=True) + append() gives the file a memmap fill gives; counts checked."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (7, 1, 4, 4), dtype=np.uint8)
    meta = {"word": ["a"] * 7, "key_id": np.arange(7, dtype=np.uint64)}
    wa = Writer(tmp_path / "a", {}, ["a"], channels=1, size=4)
    with wa.shard("train", 0, 7) as sh:
        sh.images[...] = images
        sh.set_meta(meta)
    wb = Writer(tmp_path / "b", {}, ["a"], channels=1, size=4)
    with wb.shard("train", 0, 7, stream=True) as sh:
        assert sh.images is None
        sh.append(images[:3])
        sh.append(images[3:])
        sh.set_meta(meta)
    name = "train/000000.images.npy"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert np.array_equal(np.load(tmp_path / "b" / name), images)
    # too few, too many, a wrong shape: errors, and no shard left behind
    for bad, match in (([images[:6]], "6 images appended, 7 expected"),
                       ([images, images[:1]], "holds 7 images; 8 appended"),
                       ([images[:, :, :2]], "must be uint8")):
        w = Writer(tmp_path / "c", {}, ["a"], channels=1, size=4)
        with pytest.raises(ValueError, match=match), w.shard("train", 0, 7, stream=True) as sh:
            sh.set_meta(meta)
            for part in bad:
                sh.append(part)
        assert w.done("train", 0) is None
        assert not [p for p in (tmp_path / "c" / "train").iterdir() if "images" in p.name]
    with pytest.raises(ValueError, match="stream=True"), wa.shard("train", 1, 1) as sh:
        sh.append(images[:1])


# -- issue 16: tampering found at open (check=), the manifest's own digest, max_open ---------
def _flip(path, offset, value=None):
    data = bytearray(path.read_bytes())
    data[offset] = data[offset] ^ 0xFF if value is None else value
    path.write_bytes(bytes(data))


def test_check_levels_find_tampering_the_default_does_not(shards):
    """Issue 16 (adversarial item 8): a pixel flipped, a label changed to another valid
    label, a meta.parquet byte flipped loaded silently; check="labels"/"full" find them."""
    path, truth = shards
    labels = path / "train/000000.labels.npy"
    _flip(labels, labels.stat().st_size - 2, (int(truth["labels"][6]) + 1) % 10)
    Reader(path)  # headers and sizes are right: the default cannot see it
    with pytest.raises(ShardFormatError, match="altered: sha256") as info:
        Reader(path, check="labels")
    assert info.value.path == str(labels)
    with pytest.raises(ShardFormatError, match="altered"):
        Reader(path, check="full")
    r = Reader(path)
    r.check("labels", splits=[])  # no split asked: nothing read
    with pytest.raises(ShardFormatError, match="000000.labels"):
        r.check("labels", splits=["train"])


@pytest.mark.parametrize("victim, offset, level, found", [
    ("train/000003.meta.parquet", 100, "labels", True),
    ("train/000002.images.npy", DATA_OFFSET + 5, "labels", False),  # images: only "full"
    ("train/000002.images.npy", DATA_OFFSET + 5, "full", True),
])
def test_check_level_coverage(shards, victim, offset, level, found):
    path, _ = shards
    _flip(path / victim, offset)
    Reader(path, check="headers")
    if found:
        with pytest.raises(ShardFormatError, match="altered") as info:
            Reader(path, check=level)
        assert info.value.path == str(path / victim)
    else:
        Reader(path, check=level)
    assert not verify(path).ok


def test_check_must_be_a_known_level(shards):
    path, _ = shards
    with pytest.raises(ValueError, match="check must be one of"):
        Reader(path, check="sha256")


@pytest.mark.parametrize("edit", ["swap words", "empty splits", "drop a shard"])
def test_manifest_content_is_covered_by_its_digest(shards, edit):
    """Issue 16 (item 8): swapping two words or emptying `splits` passed verify."""
    path, _ = shards
    mpath = path / "manifest.json"
    m = json.loads(mpath.read_text())
    assert m["content_sha256"]
    if edit == "swap words":
        m["words"][0], m["words"][1] = m["words"][1], m["words"][0]
    elif edit == "empty splits":
        m["splits"] = {}
    else:
        shard = m["splits"]["train"]["shards"].pop()
        m["splits"]["train"]["count"] -= shard["count"]
    mpath.write_text(json.dumps(m))
    report = verify(path)
    assert dict(report.problems)["manifest.json"].startswith("altered"), str(report)
    with pytest.raises(ShardFormatError, match="content_sha256") as info:
        Reader(path)
    assert info.value.path == str(mpath)


def test_manifest_reformatted_keeps_its_digest(shards):
    path, _ = shards
    mpath = path / "manifest.json"
    m = json.loads(mpath.read_text())
    mpath.write_text(json.dumps(dict(reversed(list(m.items()))), indent=3, ensure_ascii=True))
    assert verify(path).ok and Reader(path).words == m["words"]


def test_manifest_without_digest_still_reads_and_verify_notes_it(shards):
    """Builds from before the digest (and the golden fixtures) keep loading."""
    path, _ = shards
    mpath = path / "manifest.json"
    m = json.loads(mpath.read_text())
    del m["content_sha256"]
    mpath.write_text(json.dumps(m))
    report = verify(path)
    assert report.ok and "no content_sha256" in report.notes[0]
    assert "note: " in str(report)
    Reader(path, check="full")
    m["content_sha256"] = "xyz"
    mpath.write_text(json.dumps(m))
    with pytest.raises(ShardFormatError, match="64 hex digits"):
        Reader(path)


def test_deeply_nested_manifest_is_a_clear_error(shards):
    """Issue 16 (item 6): a manifest.json of nested brackets raised RecursionError."""
    path, _ = shards
    (path / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ShardFormatError, match="nested too deeply") as info:
        Reader(path)
    assert info.value.path == str(path / "manifest.json")
    assert not verify(path).ok


def test_max_open_bounds_the_gather_path(tmp_path):
    """Issue 16 (item 6): every shard gather() touched stayed mapped whatever max_open."""
    path = tmp_path / "ds"
    sizes = [3] * 12
    make_shards(path, sizes, size=4, seed=5)
    r = Reader(path, max_open=2)
    rows = np.arange(sum(sizes))
    for start in range(0, len(rows), 5):  # each call spans two or three shards
        got = r.gather("train", rows[start:start + 5])
        assert decode_rows(got).tolist() == rows[start:start + 5].tolist()
        assert r.mapped <= 2
    everything = r.gather("train", rows[::-1])  # one call may hold more than max_open
    assert decode_rows(everything).tolist() == rows[::-1].tolist() and r.mapped == 2
    with pytest.raises(ValueError, match="max_open"):
        Reader(path, max_open=0)


@pytest.mark.parametrize("edit", [
    lambda d: d.replace(b"'shape': (", b"'shape': ((", 1),     # tokenize.TokenError in numpy
    lambda d: d.replace(b"'shape': (", b"'shape': (2**70, ", 1),  # sizes no allocation
    lambda d: d.replace(b"'<i2'", b"'>i2'", 1),
    lambda d: d[:-3],
])
def test_tampered_labels_file_is_a_shard_format_error(shards, edit):
    """Found by bench/fuzz/shards.py (issue 16): a labels.npy header with an unclosed
    bracket escaped Reader.labels as tokenize.TokenError."""
    path, _ = shards
    r = Reader(path)  # opened, then the file changes: labels are read on each call
    f = path / "train/000002.labels.npy"
    f.write_bytes(edit(f.read_bytes()))
    with pytest.raises(ShardFormatError) as info:
        r.labels("train")
    assert info.value.path == str(f)


@pytest.mark.parametrize("column, rename", [("entropy", b"entro\xffy"), ("word", b"wore")])
def test_meta_with_foreign_columns_is_a_shard_format_error(shards, column, rename):
    """Found by bench/fuzz/shards.py (issue 16): a meta.parquet whose column name was
    altered escaped Reader.meta as UnicodeDecodeError or pyarrow's ArrowInvalid."""
    path, _ = shards
    r = Reader(path)  # opened, then the file changes: metadata is read on each call
    f = path / "train/000003.meta.parquet"
    data = f.read_bytes()
    assert column.encode() in data
    f.write_bytes(data.replace(column.encode(), rename))
    with pytest.raises(ShardFormatError) as info:
        r.meta("train")
    assert info.value.path == str(f)


def test_a_directory_in_place_of_a_shard_file_is_a_shard_format_error(shards):
    path, _ = shards
    r = Reader(path)
    f = path / "train/000002.images.npy"
    f.unlink()
    f.mkdir()
    with pytest.raises(ShardFormatError) as info:
        Reader(path)
    assert info.value.path == str(f)
    with pytest.raises(ShardFormatError, match="cannot open") as info:
        r.images("train", 2)
    assert info.value.path == str(f)
    labels = path / "train/000003.labels.npy"
    labels.unlink()
    labels.mkdir()
    with pytest.raises(ShardFormatError, match="cannot open"):
        r.labels("train", 3)


def test_stream_mode_writing_behind_keeps_bytes_and_checksum(tmp_path, monkeypatch):
    """Stream mode's write-behind (hand ranges to the disk and drop them from the page cache
    every _WRITE_BEHIND_BYTES) changes no byte: a shard of many such ranges, appended in
    uneven pieces, equals the memmap-filled one, checksum included, and verifies."""
    from rasterfast.format import verify
    from rasterfast.format import writer as writer_mod

    monkeypatch.setattr(writer_mod, "_WRITE_BEHIND_BYTES", 4096)
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (50, 2, 16, 16), dtype=np.uint8)   # 25 KiB: 6 ranges
    meta = {"word": ["a"] * 50, "key_id": np.arange(50, dtype=np.uint64)}
    wa = Writer(tmp_path / "a", {}, ["a"], channels=2, size=16)
    with wa.shard("train", 0, 50) as sh:
        sh.images[...] = images
        sh.set_meta(meta)
    wb = Writer(tmp_path / "b", {}, ["a"], channels=2, size=16)
    with wb.shard("train", 0, 50, stream=True) as sh:
        for lo, hi in ((0, 1), (1, 20), (20, 21), (21, 50)):
            sh.append(images[lo:hi])
        sh.set_meta(meta)
    ea, eb = wa.done("train", 0), wb.done("train", 0)
    assert ea.images.sha256 == eb.images.sha256   # hashed as appended == read back
    name = "train/000000.images.npy"
    assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    wb.finish()
    report = verify(tmp_path / "b")
    assert not report.problems, report.problems
