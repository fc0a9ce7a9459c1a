"""The .strokes file (rasterfast/store): byte layout, round trips, gathers, tampered bytes."""

import struct
import threading

import numpy as np
import pytest

from rasterfast import ShardFormatError, StrokeBatch, read_drawings
from rasterfast._ext._strokes import _locate, _stroke_copy, _stroke_gather, _stroke_sizes
from rasterfast.errors import Status
from rasterfast.store import (
    HEADER_BYTES,
    MAGIC,
    STROKES_VERSION,
    StrokeSet,
    StrokeShard,
    iter_strokes_bytes,
    read_header,
)


def write(path, batch):
    with open(path, "wb") as fh:
        for piece in iter_strokes_bytes(batch):
            fh.write(piece)
    return path


def same(a, b):
    assert a.kind == b.kind and len(a) == len(b)
    for name in ("x", "y", "stroke_offsets", "drawing_offsets"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.has_time == b.has_time
    if a.has_time:
        assert np.array_equal(a.t, b.t)


def test_byte_layout_by_hand(tmp_path):
    """Two drawings: [[0, 5], [1, 6]] + a one-point stroke [7], [8]; then an empty one."""
    b = StrokeBatch.from_lists([[[[0, 5], [1, 6]], [[7], [8]]], []], "simplified")
    data = write(tmp_path / "a.strokes", b).read_bytes()
    assert data[:8] == MAGIC == b"RFSTROKE"
    version, flags, kind, coords = struct.unpack_from("<IIBB", data, 8)
    assert (version, flags, kind, coords) == (STROKES_VERSION, 0, 0, 1)
    assert struct.unpack_from("<QQQ", data, 24) == (2, 2, 3)
    assert data[18:24] == bytes(6) and data[48:64] == bytes(16)
    # drawing_offsets at 64, stroke_offsets at 128, x at 192, y at 256 (each 64-aligned)
    assert np.frombuffer(data, "<i8", 3, 64).tolist() == [0, 2, 2]
    assert np.frombuffer(data, "<i8", 3, 128).tolist() == [0, 2, 3]
    assert np.frombuffer(data, "<i2", 3, 192).tolist() == [0, 5, 7]
    assert np.frombuffer(data, "<i2", 3, 256).tolist() == [1, 6, 8]
    assert len(data) == 256 + 3 * 2
    assert data[88:128] == bytes(40)  # padding is zeros


def test_raw_keeps_float_points_and_times(tmp_path, data_dir):
    raw = next(iter(read_drawings(data_dir / "ndjson" / "raw" / "cat.ndjson.gz")))
    path = write(tmp_path / "r.strokes", raw)
    lay = read_header(path)
    assert (lay.kind, lay.times, str(lay.coords)) == ("raw", True, "float32")
    same(StrokeShard(path).batch(), raw.take(np.arange(len(raw))))


def test_gather_over_many_files_equals_take(tmp_path, data_dir):
    parts = [b for p in sorted((data_dir / "ndjson" / "simplified").iterdir())[:12]
             for b in read_drawings(p)]
    paths = [write(tmp_path / f"{i}.strokes", b) for i, b in enumerate(parts)]
    paths.append(write(tmp_path / "empty.strokes", StrokeBatch.from_lists([], "simplified")))
    counts = [len(b) for b in parts] + [0]
    ref = StrokeBatch.concat(parts)
    s = StrokeSet(paths, counts, "simplified")
    rng = np.random.default_rng(0)
    for rows in (rng.integers(0, len(ref), 200), np.arange(len(ref))[::-1],
                 np.zeros(0, np.int64), np.array([len(ref) - 1])):
        same(s.gather(rows), ref.take(rows))
    with pytest.raises(IndexError):
        s.gather([len(ref)])
    with pytest.raises(IndexError):
        s.gather([-1])


def test_gather_from_threads(tmp_path, data_dir):
    parts = [b for p in sorted((data_dir / "ndjson" / "simplified").iterdir())[:30]
             for b in read_drawings(p)]
    paths = [write(tmp_path / f"{i}.strokes", b) for i, b in enumerate(parts)]
    ref = StrokeBatch.concat(parts)
    s = StrokeSet(paths, [len(b) for b in parts], "simplified")  # nothing mapped yet
    rng = np.random.default_rng(1)
    jobs = [rng.integers(0, len(ref), 300) for _ in range(8)]
    got = [None] * len(jobs)

    def run(i):
        got[i] = s.gather(jobs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rows, g in zip(jobs, got, strict=True):
        same(g, ref.take(rows))


def test_pickled_set_maps_again(tmp_path, data_dir):
    import pickle

    b = next(iter(read_drawings(data_dir / "ndjson" / "simplified" / "cat.ndjson")))
    s = StrokeSet([write(tmp_path / "a.strokes", b)], [len(b)], "simplified")
    s.gather([0])
    t = pickle.loads(pickle.dumps(s))
    same(t.gather([3, 1]), b.take(np.array([3, 1])))


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.__setitem__(slice(0, 8), b"NOTSTROK"), "not a rasterfast stroke file"),
    (lambda d: d.__setitem__(slice(8, 12), (2).to_bytes(4, "little")), "version 2"),
    (lambda d: d.__setitem__(16, 9), "unknown kind"),
    (lambda d: d.__setitem__(12, 4), "flags"),
    (lambda d: d.__setitem__(slice(32, 40), (10**6).to_bytes(8, "little")), "truncated"),
    (lambda d: d.__setitem__(slice(72, 80), (-1).to_bytes(8, "little", signed=True)),
     "drawing_offsets must rise"),
    (lambda d: d.__setitem__(slice(64, 72), (1).to_bytes(8, "little")),
     "drawing_offsets must rise"),
    (lambda d: d.extend(b"x"), "longer than its header"),
    (lambda d: d.__delitem__(slice(40, None)), "too short"),
])
def test_tampered_files_are_errors_naming_them(tmp_path, data_dir, edit, match):
    b = next(iter(read_drawings(data_dir / "ndjson" / "simplified" / "cat.ndjson")))
    path = write(tmp_path / "a.strokes", b)
    data = bytearray(path.read_bytes())
    edit(data)
    path.write_bytes(bytes(data))
    with pytest.raises(ShardFormatError, match=match) as err:
        StrokeShard(path)
    assert "a.strokes" in str(err.value)


def test_manifest_and_file_must_agree(tmp_path, data_dir):
    b = next(iter(read_drawings(data_dir / "ndjson" / "simplified" / "cat.ndjson")))
    path = write(tmp_path / "a.strokes", b)
    with pytest.raises(ShardFormatError, match="manifest says"):
        StrokeShard(path, ("simplified", len(b) + 1))
    with pytest.raises(ShardFormatError, match="manifest says"):
        StrokeSet([path], [len(b)], "raw").check_headers()
    with pytest.raises(ShardFormatError, match="missing"):
        StrokeShard(tmp_path / "nope.strokes")


def test_kernel_checks_every_offset_it_reads():
    """The gather kernel itself refuses offsets outside the counts (no read out of bounds),
    even when given arrays that the Python checks never saw."""
    do = np.array([0, 2, 5], np.int64)            # drawing 1 claims strokes 2..5 of 3
    so = np.array([0, 3, 6, 9], np.int64)
    x = np.zeros(9, np.int16)
    addr = lambda a: np.array([a.ctypes.data], np.uint64)  # noqa: E731
    n_d, n_s, n_p = (np.array([v], np.int64) for v in (2, 3, 9))
    out_s, out_p = np.empty(1, np.int64), np.empty(1, np.int64)
    args = (addr(do), addr(so), n_d, n_s, n_p)
    assert _stroke_sizes(*args, np.zeros(1, np.int64), np.array([0], np.int64), out_s,
                         out_p) == (Status.OK, -1)
    assert (out_s[0], out_p[0]) == (2, 6)
    assert _stroke_sizes(*args, np.zeros(1, np.int64), np.array([1], np.int64), out_s,
                         out_p) == (Status.E_STORE_OFFSETS, 0)
    assert _stroke_sizes(*args, np.zeros(1, np.int64), np.array([2], np.int64), out_s,
                         out_p) == (Status.E_STORE_ROW, 0)
    assert _stroke_sizes(*args, np.ones(1, np.int64), np.array([0], np.int64), out_s,
                         out_p) == (Status.E_STORE_ROW, 0)
    # copy: outputs smaller than the drawing are refused before any byte is written
    ox = np.zeros(2, np.int16)
    status, _ = _stroke_copy(addr(do), addr(so), addr(x), addr(x), np.zeros(1, np.uint64), n_d,
                             n_s, n_p, 2, np.zeros(1, np.int64), np.array([0], np.int64),
                             np.array([0, 2], np.int64), np.empty(3, np.int64),
                             ox.view(np.uint8), ox.view(np.uint8), np.zeros(0, np.uint8))
    assert status == Status.E_SHAPE
    # a stroke offset inside the drawing's range but past its end point
    so_bad = np.array([0, 7, 6, 9], np.int64)
    status, _ = _stroke_copy(addr(do), addr(so_bad), addr(x), addr(x), np.zeros(1, np.uint64),
                             n_d, n_s, n_p, 2, np.zeros(1, np.int64), np.array([0], np.int64),
                             np.array([0, 2], np.int64), np.empty(3, np.int64),
                             np.zeros(12, np.uint8), np.zeros(12, np.uint8),
                             np.zeros(0, np.uint8))
    assert status == Status.E_STORE_OFFSETS


def test_locate_and_gather_kernels_match_numpy_and_check_bounds():
    """_locate is searchsorted + unique (first-appearance order); _stroke_gather both passes,
    refusing a bad row or tampered offsets with a status instead of reading out of bounds."""
    rng = np.random.default_rng(5)
    offsets = np.concatenate([[0], np.cumsum(rng.integers(0, 4, 30))]).astype(np.int64)
    for _ in range(50):
        rows = rng.integers(0, offsets[-1], rng.integers(0, 40))
        files, local, index = (np.empty(max(len(rows), 1), np.int64), np.empty(len(rows), np.int64),
                               np.empty(len(rows), np.int64))
        status, w = _locate(offsets, rows, files, local, index)
        ref = np.searchsorted(offsets, rows, side="right") - 1
        assert status == 0
        assert (files[:w][index] == ref).all() and (local == rows - offsets[ref]).all()
        assert len(set(files[:w].tolist())) == w == len(set(ref.tolist()))
    one = np.empty(1, np.int64)
    assert _locate(offsets, np.array([offsets[-1]]), one, one.copy(),
                   one.copy()) == (Status.E_STORE_ROW, 0)
    assert _locate(offsets, np.array([-1]), one, one.copy(), one.copy()) == \
        (Status.E_STORE_ROW, 0)
    # gather: one shard of two drawings; drawing 1's strokes run past the shard's
    do = np.array([0, 2, 5], np.int64)
    so = np.array([0, 3, 6, 9], np.int64)
    x = np.arange(9, dtype=np.int16)
    zero = 0
    addr = np.array([[do.ctypes.data], [so.ctypes.data], [x.ctypes.data], [x.ctypes.data],
                     [zero]], np.uint64)
    sizes = np.array([[2], [3], [9]], np.int64)
    status, pos, gx, gy, gt, gso, gdo = _stroke_gather(addr, sizes, 2, False,
                                                       np.zeros(1, np.int64), np.zeros(1, np.int64))
    assert (status, pos) == (0, -1)
    assert gx.view(np.int16).tolist() == list(range(6)) and gso.tolist() == [0, 3, 6]
    assert gdo.tolist() == [0, 2] and len(gt) == 0
    assert _stroke_gather(addr, sizes, 2, False, np.zeros(1, np.int64),
                          np.ones(1, np.int64))[:2] == (Status.E_STORE_OFFSETS, 0)
    assert _stroke_gather(addr, sizes, 2, False, np.ones(1, np.int64),
                          np.zeros(1, np.int64))[:2] == (Status.E_STORE_ROW, 0)
    assert _stroke_gather(addr, sizes, 3, False, np.zeros(1, np.int64),
                          np.zeros(1, np.int64))[:2] == (Status.E_SHAPE, -1)


def test_header_size_constant():
    assert HEADER_BYTES == 64


def test_mapped_files_are_bounded_and_gathers_stay_right(tmp_path, data_dir):
    """Issue 11 (RSS flat over an epoch): past max_mapped_bytes the least recently read
    files are unmapped; gathers from 4 threads stay equal to take() meanwhile."""
    parts = [b for p in sorted((data_dir / "ndjson" / "simplified").iterdir())[:40]
             for b in read_drawings(p)]
    paths = [write(tmp_path / f"{i}.strokes", b) for i, b in enumerate(parts)]
    ref = StrokeBatch.concat(parts)
    size = max(p.stat().st_size for p in paths)
    s = StrokeSet(paths, [len(b) for b in parts], "simplified", max_mapped_bytes=3 * size)
    rng = np.random.default_rng(2)
    for _ in range(20):
        rows = rng.integers(0, len(ref), 3)     # at most 3 files a gather
        same(s.gather(rows), ref.take(rows))
        assert s.mapped_bytes <= 3 * size and s.mapped <= 40
    jobs = [rng.integers(0, len(ref), 50) for _ in range(16)]
    got = [None] * len(jobs)

    def run(i):
        got[i] = s.gather(jobs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rows, g in zip(jobs, got, strict=True):
        same(g, ref.take(rows))
    s.gather([0, 1])          # one small gather evicts down to the bound again
    assert s.mapped_bytes <= 3 * size
    unbounded = StrokeSet(paths, [len(b) for b in parts], "simplified", max_mapped_bytes=None)
    unbounded.gather(np.arange(len(ref)))
    assert unbounded.mapped == len(paths)
    with pytest.raises(ValueError, match="max_mapped_bytes"):
        StrokeSet(paths, [len(b) for b in parts], "simplified", max_mapped_bytes=0)


@pytest.mark.parametrize("kind, value", [("simplified", -3), ("simplified", 300),
                                         ("raw", np.nan), ("raw", np.inf)])
def test_coordinates_the_kind_cannot_hold_are_refused(tmp_path, kind, value):
    """Issue 16 (item 9): out-of-range int16 coordinates in a store rendered silently."""
    lists = [[[[1, 2], [3, 4]]], [[[5, 6, 7], [8, 9, 10]]], [[[11], [12]]]]
    if kind == "raw":
        lists = [[[list(map(float, s[0])), list(map(float, s[1])), [0, 1, 2][:len(s[0])]]
                  for s in d] for d in lists]
    b = StrokeBatch.from_lists(lists, kind)
    path = write(tmp_path / "a.strokes", b)
    shard = StrokeShard(path)
    data = bytearray(path.read_bytes())
    off, dtype, _ = shard.layout.sections["y"]
    data[off + 3 * dtype.itemsize:off + 4 * dtype.itemsize] = np.array([value], dtype).tobytes()
    path.write_bytes(bytes(data))
    s = StrokeSet([path], [3], kind)
    same(s.gather([0, 2]), b.take(np.array([0, 2])))   # drawing 1 holds the bad point
    with pytest.raises(ShardFormatError, match="drawing 1: coordinate") as err:
        s.gather([2, 1])
    assert err.value.path == str(path)


def test_a_directory_in_place_of_a_file_is_a_shard_format_error(tmp_path):
    """Issue 16 (item 9): a tampered store gave OSError tracebacks, not errors naming it."""
    path = tmp_path / "a.strokes"
    path.mkdir()
    for read in (StrokeShard, read_header):
        with pytest.raises(ShardFormatError, match="cannot open") as err:
            read(path)
        assert err.value.path == str(path)


def test_offsets_changed_between_the_two_passes_name_the_file(tmp_path, monkeypatch):
    """Issue 16 (item 9): the gather's sizing and copying passes disagreeing (a file written
    into while mapped) raised RuntimeError("a rasterfast bug"); now it names the file."""
    from rasterfast.errors import Status
    from rasterfast.store import reader as store_reader

    b = StrokeBatch.from_lists([[[[1, 2], [3, 4]]], [[[5], [6]]]], "simplified")
    path = write(tmp_path / "a.strokes", b)
    for pos, match in ((1, "drawing 1: its offsets changed"), (2, "offsets changed")):
        monkeypatch.setattr(store_reader, "_stroke_gather",
                            lambda *args, pos=pos: (Status.E_SHAPE, pos) + (None,) * 5)
        with pytest.raises(ShardFormatError, match=match) as err:
            StrokeSet([path], [2], "simplified").gather([0, 1])
        assert err.value.path == str(path)
