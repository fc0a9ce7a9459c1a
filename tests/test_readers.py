"""rasterfast.read_drawings on every input format, compression and failure."""

import csv
import gc
import gzip
import io
import json
import shutil
import struct
import types
import zipfile
import zlib

import numpy as np
import pytest
import zstandard

from rasterfast import InputReadError, StrokeBatch, StrokeParseError, read_drawings
from rasterfast.readers import find_sources

HEADER = "countrycode,drawing,key_id,recognized,timestamp,word\n"


def read_all(paths, **kw):
    batches = list(read_drawings(paths, **kw))
    return StrokeBatch.concat(batches) if batches else None, batches


def reference_csv(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def check_drawings(batch, drawings):
    assert len(batch) == len(drawings)
    for i, ref in enumerate(drawings):
        got = batch.drawing(i)
        assert len(got) == len(ref)
        for s_ref, s in zip(ref, got, strict=True):
            if batch.kind == "raw":
                np.testing.assert_array_equal(s[:2].astype(np.float32), np.float32(s_ref[:2]))
                np.testing.assert_array_equal(s[2], s_ref[2])
            else:
                np.testing.assert_array_equal(s, s_ref)


@pytest.mark.parametrize("folder,kind", [("train_simplified", "simplified"), ("train_raw", "raw")])
def test_kaggle_train_csv(data_dir, folder, kind):
    files = sorted((data_dir / "kaggle" / folder).iterdir())[:40]
    batch, batches = read_all(files)
    rows = [r for f in files for r in reference_csv(f)]
    assert batch.kind == kind
    check_drawings(batch, [json.loads(r["drawing"]) for r in rows])
    assert batch.key_id.tolist() == [int(r["key_id"]) for r in rows]
    assert batch.word.tolist() == [r["word"] for r in rows]
    assert batch.countrycode.tolist() == [r["countrycode"] for r in rows]
    assert batch.recognized.tolist() == [int(r["recognized"] == "True") for r in rows]
    assert [str(t).replace("T", " ") for t in batch.timestamp] == [r["timestamp"] for r in rows]
    assert (batch.label == -1).all()
    # every batch is one block of one file, records numbered within the file
    for b in batches:
        assert len(b.sources) == 1 and b.record.tolist() == list(range(len(b)))


def test_kaggle_test_csv(data_dir):
    batch, _ = read_all(data_dir / "kaggle" / "test_simplified.csv")
    rows = reference_csv(data_dir / "kaggle" / "test_simplified.csv")
    check_drawings(batch, [json.loads(r["drawing"]) for r in rows])
    assert batch.key_id.tolist() == [int(r["key_id"]) for r in rows]
    assert (batch.label == -1).all() and (batch.recognized == -1).all()
    assert set(batch.word) == {""} and np.isnat(batch.timestamp).all()
    raw, _ = read_all(data_dir / "kaggle" / "test_raw.csv.gz")
    assert raw.kind == "raw" and len(raw) == 1180


@pytest.mark.parametrize("sub,kind", [("simplified", "simplified"), ("raw", "raw")])
def test_google_ndjson(data_dir, sub, kind):
    files = sorted((data_dir / "ndjson" / sub).iterdir())[:30]
    batch, _ = read_all(files)
    recs = []
    for f in files:
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt") as fh:
            recs.extend(json.loads(line) for line in fh if line.strip())
    assert batch.kind == kind
    check_drawings(batch, [r["drawing"] for r in recs])
    assert batch.key_id.tolist() == [int(r["key_id"]) for r in recs]
    assert batch.word.tolist() == [r["word"] for r in recs]
    assert batch.recognized.tolist() == [int(r["recognized"]) for r in recs]
    assert [str(t).replace("T", " ") for t in batch.timestamp.astype("datetime64[us]")] == [
        str(np.datetime64(r["timestamp"].replace(" UTC", "").replace(" ", "T"), "us"))
        .replace("T", " ") for r in recs]


def test_words_give_labels_and_reject_unknown(data_dir):
    files = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[:3]
    words = [reference_csv(f)[0]["word"] for f in files]
    batch, _ = read_all(files, words=words[::-1])
    want = {(w, 2 - i) for i, w in enumerate(words)}
    assert set(zip(batch.word, batch.label, strict=True)) == want
    with pytest.raises(StrokeParseError, match="word not in the word list"):
        read_all(files, words=words[:2])
    batch, batches = read_all(files, words=words[:2], on_error="skip")
    rejects = [r for b in batches for r in b.rejects]
    n_third = len(reference_csv(files[2]))
    assert len(rejects) == n_third and len(batch) + len(rejects) == sum(
        len(reference_csv(f)) for f in files)


def test_compression_zip_glob_directory(tmp_path, data_dir):
    src = sorted((data_dir / "kaggle" / "train_simplified").iterdir())[:4]
    ref, _ = read_all(src)
    (tmp_path / "d").mkdir()
    shutil.copy(src[0], tmp_path / "d" / src[0].name)
    with gzip.open(tmp_path / "d" / (src[1].name + ".gz"), "wb") as fh:
        fh.write(src[1].read_bytes())
    (tmp_path / "d" / (src[2].name + ".zst")).write_bytes(
        zstandard.ZstdCompressor().compress(src[2].read_bytes()))
    with zipfile.ZipFile(tmp_path / "d" / "z.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(src[3], "inner/" + src[3].name)
        z.writestr("README.txt", "not an input")
    (tmp_path / "d" / "notes.txt").write_text("ignored in a directory")
    for paths in ([tmp_path / "d"], str(tmp_path / "d" / "*"),
                  [tmp_path / "d" / src[0].name, tmp_path / "d" / (src[1].name + ".gz"),
                   tmp_path / "d" / (src[2].name + ".zst"), tmp_path / "d" / "z.zip"]):
        got, batches = read_all(paths)
        assert sorted(got.key_id.tolist()) == sorted(ref.key_id.tolist())
        names = {b.sources[0] for b in batches}
        assert any(n.endswith(".zip:inner/" + src[3].name) for n in names)


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "bin"])
def test_small_blocks_equal_large(tmp_path, data_dir, fmt):
    if fmt == "csv":
        path = data_dir / "kaggle" / "test_raw.csv.gz"
    elif fmt == "ndjson":
        path = data_dir / "ndjson" / "raw" / "cat.ndjson.gz"
    else:
        path = tmp_path / "cat.bin"
        write_bin(path, read_all(sorted((data_dir / "ndjson" / "simplified").iterdir())[:20])[0])
    big, _ = read_all(path)
    small, batches = read_all(path, block_size=4096)
    assert len(batches) > 3
    for name in ("x", "y", "t", "stroke_offsets", "drawing_offsets", "key_id", "record"):
        np.testing.assert_array_equal(getattr(small, name), getattr(big, name))


def write_bin(path, batch):
    """Google's binary format, written from a StrokeBatch (test helper)."""
    out = io.BytesIO()
    ts = batch.timestamp.astype("datetime64[s]").astype(np.int64)
    for i in range(len(batch)):
        strokes = batch.drawing(i)
        out.write(struct.pack("<Q2sbIH", int(batch.key_id[i]), batch.countrycode[i].encode(),
                              int(batch.recognized[i]), int(ts[i]), len(strokes)))
        for s in strokes:
            out.write(struct.pack("<H", s.shape[1]))
            out.write(s[0].astype(np.uint8).tobytes() + s[1].astype(np.uint8).tobytes())
    path.write_bytes(out.getvalue())


def test_binary_format(tmp_path, data_dir):
    ref, _ = read_all(data_dir / "ndjson" / "simplified" / "cat.ndjson")
    write_bin(tmp_path / "cat.bin", ref)
    got, _ = read_all(tmp_path / "cat.bin", words=["dog", "cat"])
    for name in ("x", "y", "stroke_offsets", "drawing_offsets", "key_id", "recognized"):
        np.testing.assert_array_equal(getattr(got, name), getattr(ref, name))
    assert got.countrycode.tolist() == ref.countrycode.tolist()
    assert set(got.word) == {"cat"} and set(got.label) == {1}
    np.testing.assert_array_equal(got.timestamp, ref.timestamp.astype("datetime64[s]"))
    with pytest.raises(InputReadError, match="not in the word list"):
        read_all(tmp_path / "cat.bin", words=["dog"])


def test_binary_truncated_and_garbage(tmp_path, data_dir):
    ref, _ = read_all(data_dir / "ndjson" / "simplified" / "cat.ndjson")
    write_bin(tmp_path / "cat.bin", ref)
    data = (tmp_path / "cat.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-7])
    with pytest.raises(InputReadError, match="file ends inside a record") as info:
        read_all(tmp_path / "cut.bin")
    assert info.value.record == len(ref) - 1
    got, batches = read_all(tmp_path / "cut.bin", on_error="skip")
    assert len(got) == len(ref) - 1 and len(batches[-1].rejects) == 1
    rng = np.random.default_rng(0)
    (tmp_path / "junk.bin").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(InputReadError, match="corrupt data"):
        read_all(tmp_path / "junk.bin")


def write(path, text):
    path.write_text(text)
    return path


def test_csv_namibia_and_bad_rows(tmp_path):
    path = write(tmp_path / "t.csv", HEADER +
                 'NA,"[[[1, 2], [3, 4]]]",5,True,2017-01-01 00:00:00.000001,cat\n'
                 'US,"[[[1, 2], [3]]]",6,False,2017-01-01 00:00:00,cat\n'
                 'US,"[[[1], [3]]]",abc,False,2017-01-01 00:00:00,cat\n'
                 'US,"[[[1], [3]]]",7,maybe,2017-01-01 00:00:00,cat\n'
                 'US,"[[[1], [3]]]",8,True,yesterday,cat\n'
                 'US,"[[[1], [3]]]",9,True\n'
                 ',"[[[9], [9]]]",10,False,2017-01-01 00:00:00,cat\n')
    # issue 13: the message names the file's line (header = line 1), as an editor shows it
    with pytest.raises(StrokeParseError,
                       match=r"t.csv, line 3, byte \d+ of the drawing: the y list") as info:
        read_all(path)
    assert info.value.record == 1 and info.value.line == 3
    got, batches = read_all(path, on_error="skip")
    assert got.key_id.tolist() == [5, 10]
    assert got.countrycode.tolist() == ["NA", ""]
    assert got.record.tolist() == [0, 6]
    reasons = {r.record: r.reason for b in batches for r in b.rejects}
    assert sorted(reasons) == [1, 2, 3, 4, 5]
    assert "key_id must be an integer" in reasons[2]
    assert "recognized must be True or False" in reasons[3]
    assert "timestamp must look like" in reasons[4]
    assert "malformed CSV row" in reasons[5]
    with pytest.warns(UserWarning, match="skipped 5 bad drawings"):
        read_all(path, on_error="warn")


def test_csv_without_drawing_column(tmp_path):
    path = write(tmp_path / "t.csv", "key_id,countrycode,picture\n1,US,x\n")
    with pytest.raises(InputReadError, match="no 'drawing' column"):
        read_all(path)


def test_empty_inputs(tmp_path):
    empty = write(tmp_path / "e.csv", "")
    assert read_all(empty)[1] == []
    header_only = write(tmp_path / "h.csv", HEADER)
    assert sum(len(b) for b in read_all(header_only)[1]) == 0
    (tmp_path / "none").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no inputs"):
        read_all(tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_all(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="not an input format"):
        read_all(write(tmp_path / "x.txt", "hello"))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_broken_gzip(tmp_path, data_dir, damage):
    data = (data_dir / "kaggle" / "test_raw.csv.gz").read_bytes()
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data = bytearray(data)
        data[len(data) // 2] ^= 0xFF
        data = bytes(data)
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(data)
    with pytest.raises(InputReadError) as info:
        read_all(path)
    assert "broken.csv.gz" in str(info.value)
    got, batches = read_all(path, on_error="skip", block_size=1 << 16)
    rejects = [r for b in batches for r in b.rejects]
    assert len(rejects) >= 1 and rejects[-1].source == str(path)
    assert (got is None or len(got) < 1180)


def test_ndjson_bad_lines(tmp_path):
    good = '{"word":"cat","countrycode":"NA","timestamp":"2017-03-02 23:25:10.07453 UTC",' \
           '"recognized":true,"key_id":"12","drawing":[[[1,2],[3,4]]]}'
    lines = [good,
             '{"word":"cat","key_id":"13"}',
             'not json',
             good.replace('"12"', '"1x"'),
             good.replace('"drawing":[[[1,2],[3,4]]]', '"drawing":[[[1,2],[3]]]'),
             good[:-10],
             good.replace('"word":"cat"', '"word":"c\\u0061t \\"x\\""'),
             "",
             good.replace('{"word"', '{"extra":{"a":[1,{"b":"]"}]},"word"')]
    path = write(tmp_path / "cat.ndjson", "\n".join(lines))
    got, batches = read_all(path, on_error="skip")
    reasons = {r.record: r.reason for b in batches for r in b.rejects}
    assert got.record.tolist() == [0, 6, 8]
    assert got.word.tolist() == ["cat", 'cat "x"', "cat"]
    assert got.countrycode.tolist() == ["NA"] * 3
    assert sorted(reasons) == [1, 2, 3, 4, 5]
    assert "no 'drawing' key" in reasons[1] and "not a JSON object" in reasons[2]
    assert "key_id" in reasons[3] and "y list" in reasons[4] and "truncated" in reasons[5]


def test_bad_arguments(data_dir):
    with pytest.raises(ValueError, match="on_error"):
        read_all(data_dir / "kaggle" / "test_simplified.csv", on_error="nope")
    with pytest.raises(ValueError, match="duplicates"):
        read_all(data_dir / "kaggle" / "test_simplified.csv", words=["a", "a"])
    with pytest.raises(ValueError, match="block_size"):
        read_all(data_dir / "kaggle" / "test_simplified.csv", block_size=10)


@pytest.mark.parametrize("n", [3100, 4096, 1 << 20])
def test_truncated_gzip_stream_ends_at_its_last_whole_line(tmp_path, n):
    """Issue 13: a truncated .gz gives every whole line decoded before the cut, then ends.

    Reads of ``n`` >= the longest line, as the readers' blocks are (a longer line comes
    in pieces; the CSV reader refuses such a row anyway)."""
    rng = np.random.default_rng(0)
    lines = [b"x" * int(k) + b"\n" for k in rng.integers(0, 3000, 400)]
    text = b"".join(lines) + b"last line, no newline"
    packed = gzip.compress(text)
    for cut in (len(packed), len(packed) - 9, len(packed) // 2, 40):
        path = tmp_path / "t.ndjson.gz"
        path.write_bytes(packed[:cut])
        stream = find_sources(path)[0].open(lines=True)
        got = b"".join(iter(lambda s=stream: s.read(n), b""))
        stream.close()
        if cut == len(packed):
            assert got == text and stream.error is None
        else:
            decoded = zlib.decompressobj(31).decompress(packed[:cut])
            assert got == decoded[: decoded.rfind(b"\n") + 1], cut
            assert isinstance(stream.error, EOFError)


def test_truncated_ndjson_gz_keeps_its_lines(tmp_path):
    good = '{"word":"cat","countrycode":"US","timestamp":"2017-03-02 23:25:10.07453 UTC",' \
           '"recognized":true,"key_id":"%d","drawing":[[[1,2],[3,4]]]}\n'
    packed = gzip.compress("".join(good % k for k in range(2000)).encode())
    path = tmp_path / "cat.ndjson.gz"
    path.write_bytes(packed[: len(packed) // 2])
    kept = zlib.decompressobj(31).decompress(packed[: len(packed) // 2]).count(b"\n")
    got, batches = read_all(path, on_error="skip")
    rejects = [r for b in batches for r in b.rejects]
    assert len(got) == kept and got.key_id.tolist() == list(range(kept))
    assert len(rejects) == 1 and rejects[0].record == kept and "truncated" in rejects[0].reason



def _reader_leftovers() -> int:
    """Objects of a reader that outlived its read: read_csv's frames, rasterfast.readers'
    objects."""
    gc.collect()
    return sum(1 for o in gc.get_objects()
               if (type(o) is types.FrameType and o.f_code.co_name == "read_csv")
               or str(type(o).__dict__.get("__module__", "")).startswith("rasterfast.readers"))


def test_a_truncated_csv_gz_leaves_nothing_behind(tmp_path):
    """Found by fuzzing gzip (issue 16): the stream kept the EOFError of the cut with its
    traceback, whose frames lead to read_csv's, which holds the pyarrow CSV reader, which
    holds the stream from C++; gc cannot see that cycle, and every truncated file's reader
    stayed in memory (11 GB in 10 minutes of fuzzing)."""
    rows = "".join(f'US,"[[[1,2],[3,4]]]",{k},True,2017-03-02 23:25:10.07453 UTC,cat\n'
                   for k in range(300))   # 25 KB: cut inside the first read, the header's
    packed = gzip.compress((HEADER + rows).encode())
    path = tmp_path / "cat.csv.gz"
    path.write_bytes(packed[: len(packed) // 2])
    before = _reader_leftovers()
    for _ in range(5):
        got, batches = read_all(path, on_error="skip", block_size=1 << 16)
        assert 0 < len(got) < 300 and sum(len(b.rejects) for b in batches) == 1
        with pytest.raises(InputReadError):
            read_all(path, on_error="raise", block_size=1 << 16)
    del got, batches
    assert _reader_leftovers() == before

_EXIT_SCRIPT = """
import sys
import rasterfast
for _ in range(10):
    for mode in ("raise", "skip"):
        try:
            for _b in rasterfast.read_drawings(sys.argv[1], on_error=mode, block_size=1 << 16):
                pass
        except ValueError:
            pass
print("read", flush=True)
"""


def test_process_exits_after_csv_stream_errors(tmp_path, data_dir):
    """A process that read CSVs whose stream failed midway exits (it hung at exit in pyarrow's
    thread-pool shutdown: the stream's exception, kept by pyarrow's read-ahead, held the
    reader through its traceback). The hang was intermittent: 2 of 8 such processes hung
    before the fix (5 of 15 with both cores busy, once the stream's own errors took another
    path), 0 of 48 (0 of 15 busy) after; three processes here."""
    import subprocess
    import sys

    data = bytearray((data_dir / "kaggle" / "test_raw.csv.gz").read_bytes())
    data[len(data) // 2] ^= 0xFF      # a CRC/zlib error in the middle of the stream
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(bytes(data))
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT, str(path)],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "read" in done.stdout, done.stderr[-2000:]


def test_line_break_screen_matches_a_search_of_every_value():
    # _line_breaks screens the column's bytes before searching values (a build's ingest
    # spent 2.4% of its CPU in the search); the screen must never hide a break
    import pyarrow as pa

    from rasterfast.readers._csv import _line_breaks

    cases = [["[[[1, 2]]]", "[[[3]]]"], ["a\nb", "c", "d\re"], ["tab\there", "x"],
             ["", "\x0b", "\r\n"], []]
    for values in cases:
        col = pa.array([v.encode() for v in values], pa.binary())
        want = np.array([("\n" in v) or ("\r" in v) for v in values], bool)
        assert _line_breaks(col).tolist() == want.tolist(), values
        # a slice shares the parent's value bytes (the screen may look at more of them)
        if len(values) > 1:
            assert _line_breaks(col.slice(1)).tolist() == want[1:].tolist(), values
