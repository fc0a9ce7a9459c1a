"""rasterfast.format_drawings and the file writers: real files byte for byte, json round trips."""

import csv
import gzip
import json
import re
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference_formatting import drawing_text, kaggle_csv_text, ndjson_text

import rasterfast.formatting as fmt
from rasterfast import StrokeBatch, parse_drawings, read_drawings
from rasterfast._ext import _format as kernel
from rasterfast.formatting import KaggleCsvWriter, format_drawings, write_kaggle_csv, write_ndjson

FLOAT_TOKEN = re.compile(r"-?\d+\.\d+(?:e[-+]\d+)?|-?\d+e[-+]\d+")


def _read_text(path):
    return gzip.open(path).read() if str(path).endswith(".gz") else path.read_bytes()


def _kaggle_drawings(path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as fh:
        return [row["drawing"] for row in csv.DictReader(fh)]


def _ndjson_drawings(path):
    out = []
    for line in _read_text(path).split(b"\n"):
        if line:
            out.append(line[line.index(b'"drawing":') + 10:-1].decode())
    return out


def _float32_exact(text):
    """Whether every float in the text is how a float32 prints (repr of its double)."""
    return all(repr(float(np.float32(float(tok)))) == tok for tok in FLOAT_TOKEN.findall(text))


def _batch_of(texts, kind):
    return StrokeBatch.from_lists([json.loads(t) for t in texts], kind)


def _split(data, offsets):
    return [data[offsets[i]:offsets[i + 1]].decode() for i in range(len(offsets) - 1)]


def assert_json_equal(batch, texts):
    """json.loads of each text gives back the batch's values (x, y as float32 for raw)."""
    assert len(texts) == len(batch)
    for i, text in enumerate(texts):
        ref = json.loads(text)
        got = batch.drawing(i)
        assert len(ref) == len(got), i
        for s_ref, s in zip(ref, got, strict=True):
            if batch.kind == "raw":
                np.testing.assert_array_equal(np.asarray(s_ref[:2], np.float64).astype(np.float32),
                                              s[:2].astype(np.float32))
                if batch.has_time:
                    np.testing.assert_array_equal(np.asarray(s_ref[2], np.int64), s[2])
            else:
                np.testing.assert_array_equal(np.asarray(s_ref), s)


# -- real data: the layout, byte for byte ------------------------------------------------
@pytest.mark.parametrize("source", ["kaggle", "ndjson"])
def test_real_simplified_reformat_identical(data_dir, source):
    if source == "kaggle":
        files = sorted((data_dir / "kaggle" / "train_simplified").glob("*.csv"))
        texts = [t for f in files for t in _kaggle_drawings(f)]
    else:
        files = sorted((data_dir / "ndjson" / "simplified").glob("*.ndjson"))
        texts = [t for f in files for t in _ndjson_drawings(f)]
    batch = _batch_of(texts, "simplified")
    data, offsets = format_drawings(batch, style=source)
    assert offsets[0] == 0 and offsets[-1] == len(data)
    assert _split(data, offsets) == texts


@pytest.mark.parametrize("source", ["kaggle", "ndjson"])
def test_real_raw_reformat(data_dir, source):
    """Raw drawings come back byte for byte, except the ~9% that hold values that are
    not float32 (``459.9000015258789``): those come back json-equal after float32."""
    if source == "kaggle":
        texts = _kaggle_drawings(data_dir / "kaggle" / "test_raw.csv.gz")
    else:
        files = sorted((data_dir / "ndjson" / "raw").glob("*.ndjson.gz"))
        texts = [t for f in files[:25] for t in _ndjson_drawings(f)]
    batch = _batch_of(texts, "raw")
    got = _split(*format_drawings(batch, style=source))
    exact = [_float32_exact(t) for t in texts]
    assert sum(exact) > 0.8 * len(texts)
    assert all((g == t) == e for g, t, e in zip(got, texts, exact, strict=True))
    assert_json_equal(batch, got)


@pytest.mark.parametrize("pattern,test", [
    ("kaggle/train_simplified/[a-c]*.csv", False),
    ("kaggle/test_simplified.csv", True),
    ("ndjson/simplified/[a-c]*.ndjson", None),
])
def test_real_files_rewritten_identical(data_dir, tmp_path, pattern, test):
    files = sorted(data_dir.glob(pattern))
    assert files
    for f in files:
        batch = StrokeBatch.concat(list(read_drawings(f)))
        out = tmp_path / f.name
        if test is None:
            write_ndjson(out, batch)
            # the sample's simplified ndjson files were cut after a newline
            assert out.read_bytes() == f.read_bytes().rstrip(b"\n")
        else:
            write_kaggle_csv(out, batch, test=test)
            assert out.read_bytes() == f.read_bytes()


@pytest.mark.parametrize("name,writer", [
    ("ndjson/raw/cat.ndjson.gz", write_ndjson),
    ("kaggle/train_raw/cat.csv.gz", write_kaggle_csv),
])
def test_real_raw_files_rewritten(data_dir, tmp_path, name, writer):
    src = data_dir / name
    batch = StrokeBatch.concat(list(read_drawings(src)))
    out = tmp_path / src.name
    writer(out, batch)
    want, got = _read_text(src).split(b"\n"), _read_text(out).split(b"\n")
    assert len(want) == len(got)
    for a, b in zip(want, got, strict=True):
        if a == b:
            continue
        a, b = a.decode(), b.decode()
        da, db = a[a.index("[[["):a.rindex("]]]") + 3], b[b.index("[[["):b.rindex("]]]") + 3]
        assert not _float32_exact(da)            # only non-float32 values may differ
        assert a.replace(da, "") == b.replace(db, "")   # and only in the drawing
        assert_json_equal(_batch_of([da], "raw"), [db])


# -- against the slow reference ---------------------------------------------------------
def _random_batch(rng, n, kind, timed=True, meta=True):
    drawings = []
    for _ in range(n):
        strokes = []
        for _ in range(rng.integers(1, 6)):
            k = int(rng.integers(1, 12))
            if kind == "simplified":
                strokes.append([rng.integers(0, 256, k).tolist(), rng.integers(0, 256, k).tolist()])
            else:
                xy = rng.normal(0, 500, (2, k)).astype(np.float32)
                ints = rng.random(k) < 0.5
                xy[:, ints] = np.rint(xy[:, ints])
                s = [xy[0].tolist(), xy[1].tolist()]
                if timed:
                    s.append(np.sort(rng.integers(-5, 30000, k)).tolist())
                strokes.append(s)
        drawings.append(strokes)
    extra = {}
    if meta:
        extra = dict(
            key_id=rng.integers(0, 2**63, n).astype(np.uint64),
            word=np.array([["cat", "The Eiffel Tower", 'say "hi", now', "café", ""][i % 5]
                           for i in range(n)], object),
            countrycode=np.array([["US", "NA", "", "G,B"][i % 4] for i in range(n)], object),
            recognized=np.array([[1, 0, -1][i % 3] for i in range(n)], np.int8),
            timestamp=(np.datetime64("2017-01-01", "us")
                       + rng.integers(0, 10**13, n).astype("timedelta64[us]")),
        )
        extra["timestamp"][::7] = np.datetime64("NaT")
        extra["timestamp"][1::7] = np.datetime64("2017-03-02T23:25:10", "us")
        extra["timestamp"][2::7] = np.datetime64("2017-03-02T23:25:10.100000", "us")
    return StrokeBatch.from_lists(drawings, kind, **extra)


@pytest.mark.parametrize("kind", ["simplified", "raw"])
@pytest.mark.parametrize("style", ["kaggle", "ndjson"])
def test_drawings_match_reference(kind, style):
    rng = np.random.default_rng(3)
    batch = _random_batch(rng, 200, kind)
    texts = _split(*format_drawings(batch, style))
    assert texts == [drawing_text(batch, i, style) for i in range(len(batch))]
    assert_json_equal(batch, texts)


@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_files_match_reference(tmp_path, kind):
    batch = _random_batch(np.random.default_rng(4), 120, kind)
    write_kaggle_csv(tmp_path / "a.csv", batch)
    assert (tmp_path / "a.csv").read_text("utf-8") == kaggle_csv_text(batch)
    write_kaggle_csv(tmp_path / "t.csv", batch, test=True)
    assert (tmp_path / "t.csv").read_text("utf-8") == kaggle_csv_text(batch, test=True)
    write_ndjson(tmp_path / "a.ndjson", batch)
    text = (tmp_path / "a.ndjson").read_text("utf-8")
    assert text == ndjson_text(batch)
    rows = [json.loads(line) for line in text.split("\n")]
    assert [r["word"] for r in rows] == list(batch.word)
    # the csv module reads the metadata back
    with open(tmp_path / "a.csv", newline="", encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert [r["word"] for r in got] == list(batch.word)
    assert [r["countrycode"] for r in got] == list(batch.countrycode)


@pytest.mark.parametrize("kind", ["simplified", "raw"])
@pytest.mark.parametrize("style", fmt.STYLES)
def test_parse_drawings_reads_it_back(kind, style):
    """The lead's parser gives back the exact columns, extreme float32 values included."""
    batch = _random_batch(np.random.default_rng(10), 300, kind, meta=False)
    if kind == "raw":
        extremes = [1e-30, -3.4028235e38, 1e16, 0.1, -0.0, 1.4e-45, 123456.789, -1e-5, 2.0**60]
        batch = StrokeBatch.concat([batch, StrokeBatch.from_lists(
            [[[extremes, extremes[::-1], list(range(len(extremes)))]]], "raw")])
    back = parse_drawings(_split(*format_drawings(batch, style)), kind)
    for name in ("x", "y", "t", "stroke_offsets", "drawing_offsets"):
        np.testing.assert_array_equal(getattr(back, name), getattr(batch, name))
    if kind == "raw":
        np.testing.assert_array_equal(np.signbit(back.x), np.signbit(batch.x))


def test_writers_take_batches_in_pieces(tmp_path):
    batch = _random_batch(np.random.default_rng(5), 50, "raw")
    parts = [batch.take(np.arange(0, 20)), batch.take(np.arange(20, 21)),
             StrokeBatch.empty("raw"), batch.take(np.arange(21, 50))]
    for writer, name in ((write_ndjson, "x.ndjson"), (write_kaggle_csv, "x.csv")):
        assert writer(tmp_path / ("1" + name), batch) == 50
        assert writer(tmp_path / ("2" + name), iter(parts)) == 50
        assert (tmp_path / ("1" + name)).read_bytes() == (tmp_path / ("2" + name)).read_bytes()


def test_gzip_deterministic_and_equal(tmp_path):
    batch = _random_batch(np.random.default_rng(6), 40, "simplified")
    write_ndjson(tmp_path / "a.ndjson", batch)
    write_ndjson(tmp_path / "a.ndjson.gz", batch)
    first = (tmp_path / "a.ndjson.gz").read_bytes()
    write_ndjson(tmp_path / "a.ndjson.gz", batch)
    assert (tmp_path / "a.ndjson.gz").read_bytes() == first
    assert gzip.decompress(first) == (tmp_path / "a.ndjson").read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_empty(tmp_path):
    for kind in ("simplified", "raw"):
        data, offsets = format_drawings(StrokeBatch.empty(kind))
        assert data == b"" and offsets.tolist() == [0]
    assert write_kaggle_csv(tmp_path / "e.csv", StrokeBatch.empty("raw")) == 0
    assert (tmp_path / "e.csv").read_bytes() == fmt.KAGGLE_TRAIN_HEADER
    write_ndjson(tmp_path / "e.ndjson", StrokeBatch.empty("raw"))
    assert (tmp_path / "e.ndjson").read_bytes() == b""


# -- numbers --------------------------------------------------------------------------------
def _expected_value_text(v):
    d = float(v)
    if d == 0.0 and np.signbit(d):
        return "-0.0"
    return str(int(d)) if d.is_integer() and abs(d) < 1e16 else repr(d)


@pytest.fixture(params=[True, False], ids=["exact128", "fallback"])
def fast_path(request):
    kernel._use_fast_path(request.param)
    yield request.param
    kernel._use_fast_path(True)


def test_float32_text_is_python_repr(fast_path):
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**32, 100_000 if fast_path else 20_000, dtype=np.uint64)
    values = bits.astype(np.uint32).view(np.float32)
    pow2 = np.float32(2.0) ** np.arange(-149, 128, dtype=np.float32)
    values = np.concatenate([
        values[np.isfinite(values)], pow2, -pow2, np.nextafter(pow2, np.float32(np.inf)),
        np.float32(np.round(rng.uniform(-100, 2000, 20_000), 3)),
        np.array([0.0, -0.0, 1.0, 0.5, 0.1, 1e-4, 1e-5, 9.999e15, 1e16, 3.4028235e38, 1e-45,
                  16777217.0, 459.9, 414.48199462890625], np.float32)])
    data, offsets = kernel._format_values(values)
    got = _split(data, offsets)
    want = [_expected_value_text(v) for v in values.tolist()]
    bad = [(v, g, w) for v, g, w in zip(values.tolist(), got, want, strict=True) if g != w]
    assert not bad[:5]
    assert [np.float32(json.loads(g)) for g in got[-14:]] == list(values[-14:])


float32s = st.floats(width=32, allow_nan=False, allow_infinity=False)
strokes = st.integers(1, 6).flatmap(lambda k: st.tuples(
    st.lists(float32s, min_size=k, max_size=k), st.lists(float32s, min_size=k, max_size=k),
    st.lists(st.integers(-2**31, 2**31 - 1), min_size=k, max_size=k)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(strokes, min_size=1, max_size=4), min_size=1, max_size=5),
       st.sampled_from(["kaggle", "ndjson"]))
def test_raw_round_trip_any_float32(drawings, style):
    batch = StrokeBatch.from_lists([[list(s) for s in d] for d in drawings], "raw")
    texts = _split(*format_drawings(batch, style))
    assert_json_equal(batch, texts)
    assert texts == [drawing_text(batch, i, style) for i in range(len(batch))]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(1, 8).flatmap(lambda k: st.tuples(
    st.lists(st.integers(-32768, 32767), min_size=k, max_size=k),
    st.lists(st.integers(-32768, 32767), min_size=k, max_size=k))), min_size=1, max_size=4),
    min_size=1, max_size=5))
def test_simplified_round_trip_any_int16(drawings):
    batch = StrokeBatch.from_lists([[list(s) for s in d] for d in drawings], "simplified")
    assert_json_equal(batch, _split(*format_drawings(batch, "ndjson")))


# -- buffers, threads, errors -----------------------------------------------------------
def test_small_chunks_same_output(monkeypatch):
    batch = _random_batch(np.random.default_rng(8), 300, "raw", meta=False)
    want = format_drawings(batch)
    monkeypatch.setattr(fmt, "_CHUNK", 3000)   # smaller than some drawings' bound
    got = format_drawings(batch)
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])


def test_threads_same_output():
    batch = _random_batch(np.random.default_rng(9), 400, "raw", meta=False)
    want = format_drawings(batch)[0]
    results = [None] * 4

    def work(k):
        results[k] = format_drawings(batch)[0]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [want] * 4


def test_raw_without_times_prints_two_lists():
    b = StrokeBatch.from_columns("raw", [1.5, 2], [3, 4.25], None, [0, 2], [0, 1])
    assert format_drawings(b, "ndjson")[0] == b"[[[1.5,2],[3,4.25]]]"


def test_errors():
    b = StrokeBatch.from_lists([[[[1.0, float("nan")], [2.0, 3.0], [0, 1]]]], "raw")
    with pytest.raises(ValueError, match="drawing 0 has a NaN or infinite coordinate at point 1"):
        format_drawings(b)
    with pytest.raises(ValueError, match="style"):
        format_drawings(_random_batch(np.random.default_rng(0), 2, "simplified"), "csv")
    with pytest.raises(TypeError, match="StrokeBatch"):
        format_drawings([[[1], [2]]])
    good = StrokeBatch.from_lists([[[[1, 2], [3, 4]]]], "simplified")
    good.stroke_offsets = np.array([0, 5], np.int64)      # more points than there are
    with pytest.raises(ValueError, match="stroke_offsets"):
        format_drawings(good)
    with pytest.raises(ValueError, match="compresslevel"):
        KaggleCsvWriter("/nonexistent/x.csv", compresslevel=12)
    with pytest.raises(TypeError):
        write_kaggle_csv("x.csv", 5)


def test_failed_write_leaves_no_file(tmp_path):
    bad = StrokeBatch.from_lists([[[[1.0, float("inf")], [2.0, 3.0], [0, 1]]]], "raw")
    with pytest.raises(ValueError):
        write_ndjson(tmp_path / "bad.ndjson", bad)
    assert list(tmp_path.iterdir()) == []
