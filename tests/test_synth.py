"""rasterfast.synth and ``rasterfast synth``: layouts, ranges, uniqueness, determinism, --like."""

import csv
import gzip
import importlib
import json
import re
import shutil

import numpy as np
import pytest

from rasterfast import StrokeBatch, read_drawings
from rasterfast.cli import main
from rasterfast.synth import SYNTH_WORDS, synth

# the module, not the function that rasterfast/__init__.py exports under the same name
synth_mod = importlib.import_module("rasterfast.synth")

TRAIN_HEADER = "countrycode,drawing,key_id,recognized,timestamp,word"
NDJSON_KEYS = ["word", "countrycode", "timestamp", "recognized", "key_id", "drawing"]
KAGGLE_TS = re.compile(r"2017-0[1-3]-\d\d \d\d:\d\d:\d\d\.\d{6}$")
NDJSON_TS = re.compile(r"2017-0[1-3]-\d\d \d\d:\d\d:\d\d(\.\d{1,6})? UTC$")


def _csv_rows(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n")
        fh.seek(0)
        return header, list(csv.DictReader(fh))


def _read(path):
    return StrokeBatch.concat(list(read_drawings(path)))


def _check_simplified(drawing):
    xs = [v for s in drawing for v in s[0]]
    ys = [v for s in drawing for v in s[1]]
    assert all(len(s) == 2 and len(s[0]) == len(s[1]) >= 1 for s in drawing)
    assert all(isinstance(v, int) and 0 <= v <= 255 for v in xs + ys)
    # Google's simplification: aligned to the top-left, the larger side scaled to 255
    assert min(xs) == 0 and min(ys) == 0 and max(max(xs), max(ys)) == 255


def _check_raw(drawing):
    for s in drawing:
        assert len(s) == 3 and len(s[0]) == len(s[1]) == len(s[2]) >= 1
        assert all(isinstance(v, int) for v in s[2])
        assert all(isinstance(v, (int, float)) for v in s[0] + s[1])
    t = [v for s in drawing for v in s[2]]
    assert 0 <= t[0] <= 4 and max(t) <= 20_100


@pytest.mark.parametrize("raw", [False, True], ids=["simplified", "raw"])
def test_kaggle_csv_layout(tmp_path, raw):
    files = synth(tmp_path, 150, raw=raw, words=5, seed=3, progress=False)
    assert [f.name for f in files] == [f"{w}.csv" for w in SYNTH_WORDS[:5]]
    keys = []
    for f in files:
        assert f.read_bytes().endswith(b"\n") and b"\r" not in f.read_bytes()
        header, rows = _csv_rows(f)
        assert header == TRAIN_HEADER and len(rows) == 30
        for r in rows:
            assert r["word"] == f.stem
            assert r["recognized"] in ("True", "False")
            assert KAGGLE_TS.match(r["timestamp"]), r["timestamp"]
            assert re.fullmatch(r"[A-Z]{2}", r["countrycode"])
            assert r["drawing"].startswith("[[[") and ", " in r["drawing"]
            (_check_raw if raw else _check_simplified)(json.loads(r["drawing"]))
            keys.append(int(r["key_id"]))
    assert len(set(keys)) == len(keys) == 150
    assert all(2**52 <= k < 2**52 + 2**51 and len(str(k)) == 16 for k in keys)


@pytest.mark.parametrize("raw", [False, True], ids=["simplified", "raw"])
def test_ndjson_layout(tmp_path, raw):
    files = synth(tmp_path, 60, format="ndjson", raw=raw, words=["sun", "smiley face"],
                  progress=False)
    assert [f.name for f in files] == ["sun.ndjson", "smiley face.ndjson"]
    for f in files:
        text = f.read_text("utf-8")
        assert not text.endswith("\n")
        lines = text.split("\n")
        assert len(lines) == 30
        for line in lines:
            rec = json.loads(line)
            assert list(rec) == NDJSON_KEYS
            assert rec["word"] == f.stem and isinstance(rec["recognized"], bool)
            assert NDJSON_TS.match(rec["timestamp"]) and re.fullmatch(r"\d{16}", rec["key_id"])
            assert '"drawing":[[[' in line and ", " not in line and '": ' not in line
            (_check_raw if raw else _check_simplified)(rec["drawing"])


def test_read_back_equals_generated(tmp_path):
    """The files parse with rasterfast's own readers, drawing for drawing, both layouts."""
    synth(tmp_path / "c", 80, raw=True, words=4, seed=9, progress=False)
    synth(tmp_path / "n", 80, format="ndjson", raw=True, words=4, seed=9, compress=True,
          progress=False)
    a, b = _read(tmp_path / "c"), _read(tmp_path / "n")
    assert len(a) == len(b) == 80 and not a.rejects and not b.rejects
    for name in ("x", "y", "t", "stroke_offsets", "drawing_offsets", "key_id", "recognized",
                 "timestamp"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert list(a.word) == list(b.word) and list(a.countrycode) == list(b.countrycode)


@pytest.mark.parametrize("fmt", ["kaggle-csv", "ndjson"])
def test_same_seed_same_bytes(tmp_path, fmt):
    kw = dict(format=fmt, raw=fmt == "ndjson", words=3, compress=True, progress=False)
    one = synth(tmp_path / "a", 90, seed=5, **kw)
    two = synth(tmp_path / "b", 90, seed=5, **kw)
    other = synth(tmp_path / "c", 90, seed=6, **kw)
    assert [f.read_bytes() for f in one] == [f.read_bytes() for f in two]
    assert all(x.read_bytes() != y.read_bytes() for x, y in zip(one, other, strict=True))


def test_batches_and_key_ids_across_words(tmp_path, monkeypatch):
    """Several generator batches per word; key ids unique over the whole run."""
    monkeypatch.setitem(synth_mod._BATCH, "simplified", 7)
    files = synth(tmp_path, 100, words=3, progress=False)
    keys = [int(r["key_id"]) for f in files for r in _csv_rows(f)[1]]
    assert len(keys) == 100 and len(set(keys)) == 100


def test_key_ids_are_a_bijection():
    ids = synth_mod._key_ids(11, 0, 200_000)
    assert len(np.unique(ids)) == len(ids)
    np.testing.assert_array_equal(synth_mod._key_ids(11, 1000, 5), ids[1000:1005])
    assert not np.array_equal(synth_mod._key_ids(12, 0, 5), ids[:5])


@pytest.mark.parametrize("raw", [False, True], ids=["simplified", "raw"])
def test_statistics_like_real(tmp_path, raw):
    """Means near the real sample's (simplified 5.3 strokes, 44.5 points; raw 189 points)."""
    n = 1200 if raw else 4000
    synth(tmp_path, n, format="ndjson", raw=raw, seed=1, progress=False)
    b = _read(tmp_path)
    assert len(b) == n
    assert 4.0 < b.strokes_per_drawing().mean() < 6.5
    pts = b.points_per_drawing().mean()
    assert (150 < pts < 230) if raw else (35 < pts < 55)
    rec = b.recognized.mean()
    assert 0.88 < rec < 0.97
    cc = set(b.countrycode)
    assert "US" in cc and len(cc) > 20
    if raw:
        so, do, t = b.stroke_offsets, b.drawing_offsets, b.t.astype(np.int64)
        first = t[so[do[:-1]]]
        assert 0.9 < (first == 0).mean() < 1.0
        starts = np.setdiff1d(np.arange(1, b.num_strokes), do[:-1])
        pause = t[so[starts]] - t[so[starts] - 1]
        assert 250 < np.median(pause) < 800
        floaty = np.add.reduceat((b.x != np.round(b.x)).astype(int), so[do[:-1]]) > 0
        assert 0.1 < floaty.mean() < 0.4


def test_test_split(tmp_path):
    files = synth(tmp_path, 103, words=4, test=10, progress=False)
    names = [f.name for f in files]
    assert names[-2:] == ["test_simplified.csv", "test_solution.csv"]
    header, rows = _csv_rows(tmp_path / "test_simplified.csv")
    assert header == "key_id,countrycode,drawing" and len(rows) == 10
    keys = [int(r["key_id"]) for r in rows]
    assert keys == sorted(keys)
    _, sol = _csv_rows(tmp_path / "test_solution.csv")
    assert [int(r["key_id"]) for r in sol] == keys
    train = [r for f in files[:-2] for r in _csv_rows(f)[1]]
    assert len(train) == 93
    assert not set(keys) & {int(r["key_id"]) for r in train}
    assert {r["word"] for r in sol} <= set(SYNTH_WORDS[:4])


def test_like_real_simplified(data_dir, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in sorted((data_dir / "ndjson" / "simplified").glob("*.ndjson"))[:6]:
        shutil.copy(f, src)
    files = synth(tmp_path / "out", 40, format="ndjson", like=src, words=4, seed=2,
                  progress=False)
    real = _read(src)
    words = sorted(set(real.word))[:4]
    assert [f.stem for f in files] == words
    out = _read(tmp_path / "out")
    assert len(out) == 40 and not set(out.key_id) & set(real.key_id)
    for f in files:
        for line in f.read_text().split("\n"):
            _check_simplified(json.loads(line)["drawing"])
    # perturbed, not copied: no output drawing equals a real one
    real_texts = {json.dumps(real.to_lists(i)) for i in range(len(real))}
    assert not any(json.dumps(out.to_lists(i)) in real_texts for i in range(len(out)))


def test_like_real_raw(data_dir, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(data_dir / "ndjson" / "raw" / "cat.ndjson.gz", src)
    shutil.copy(data_dir / "kaggle" / "train_raw" / "dog.csv.gz", src)
    files = synth(tmp_path / "out", 30, raw=True, like=src, progress=False)
    assert [f.name for f in files] == ["cat.csv", "dog.csv"]
    for f in files:
        for r in _csv_rows(f)[1]:
            drawing = json.loads(r["drawing"])
            assert all(len(s) == 3 for s in drawing)
    with pytest.raises(ValueError, match="no simplified drawings"):
        synth(tmp_path / "out2", 5, like=src, progress=False)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="n must be"):
        synth(tmp_path, 0)
    with pytest.raises(TypeError, match="n must be an int"):
        synth(tmp_path, 5.0)
    with pytest.raises(ValueError, match="format"):
        synth(tmp_path, 5, format="csv")
    with pytest.raises(ValueError, match="unknown words"):
        synth(tmp_path, 5, words=["circle", "unicorn"])
    with pytest.raises(ValueError, match="words must be between"):
        synth(tmp_path, 5, words=0)
    with pytest.raises(ValueError, match="test"):
        synth(tmp_path, 5, format="ndjson", test=1)
    with pytest.raises(ValueError, match="test must be"):
        synth(tmp_path, 5, test=6)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="out"):
        synth(blocker / "sub", 5)
    with pytest.raises(ValueError, match="like"):
        synth(tmp_path, 5, like=tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no drawing files"):
        synth(tmp_path / "o", 5, like=tmp_path / "empty")
    assert not list(tmp_path.glob("*.csv"))


def test_fewer_drawings_than_words(tmp_path):
    files = synth(tmp_path, 3, progress=False)
    assert [f.stem for f in files] == list(SYNTH_WORDS[:3])


def test_cli(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    assert "--like" in help_text and "kaggle-csv" in help_text and "ndjson" in help_text
    assert main(["synth", "--out", str(tmp_path / "o"), "--n", "20", "--words", "circle,star",
                 "--format", "ndjson", "--seed", "4", "--gzip", "--progress"]) == 0
    captured = capsys.readouterr()
    assert "wrote 20 drawings in 2 files" in captured.out
    assert re.search(r"synth: 100%.* 20/20 ", captured.err.split("\r")[-1])   # tqdm's last line
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["circle.ndjson.gz",
                                                                  "star.ndjson.gz"]
    assert main(["synth", "--out", str(tmp_path / "p"), "--n", "0"]) == 2
    assert "n must be a positive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--out", str(tmp_path / "p"), "--n", "5", "--format", "xml"])
    assert exc.value.code == 2
    (tmp_path / "empty").mkdir()
    assert main(["synth", "--out", str(tmp_path / "p"), "--n", "5", "--like",
                 str(tmp_path / "empty")]) == 2
    assert "no drawing files" in capsys.readouterr().err
