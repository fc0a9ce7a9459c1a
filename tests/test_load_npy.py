"""rasterfast.format.load_npy: np.load's result, header parsed one thread at a time,
damage as ShardFormatError naming the file."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rasterfast.format import ShardFormatError, load_npy


def test_same_array_as_np_load(tmp_path):
    for arr in (np.arange(7, dtype=np.int16) - 3, np.zeros((0,), np.int16),
                np.arange(24, dtype=np.float32).reshape(2, 3, 4)):
        path = tmp_path / "a.npy"
        np.save(path, arr)
        got = load_npy(path, arr.dtype, arr.shape)
        np.testing.assert_array_equal(got, np.load(path))
        assert got.dtype == arr.dtype and got.shape == arr.shape and got.flags.writeable


def test_many_threads_at_once(tmp_path):
    paths = []
    for i in range(16):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], np.full(100, i, np.int16))
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            got = list(pool.map(lambda p: load_npy(p, np.int16, (100,)), paths))
            assert [int(a[0]) for a in got] == list(range(16))


@pytest.mark.parametrize("damage", ["header", "truncated", "dtype", "shape", "fortran",
                                    "object", "missing"])
def test_damage_is_a_shard_format_error(tmp_path, damage):
    path = tmp_path / "labels.npy"
    np.save(path, np.arange(10, dtype=np.int16))
    dtype, shape = np.int16, (10,)
    raw = path.read_bytes()
    if damage == "header":
        path.write_bytes(raw[:10] + b"{'descr': <<" + raw[22:])
    elif damage == "truncated":
        path.write_bytes(raw[:-3])
    elif damage == "dtype":
        dtype = np.int32
    elif damage == "shape":
        shape = (11,)
    elif damage == "fortran":
        np.save(path, np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)))
        shape = None
    elif damage == "object":
        np.save(path, np.array([1, "a"], object), allow_pickle=True)
        dtype, shape = None, None
    else:
        path.unlink()
    with pytest.raises(ShardFormatError, match="labels.npy"):
        load_npy(path, dtype, shape)


@pytest.mark.parametrize("edit, reason", [
    # numpy's read_array_header_1_0 takes 6.8 s over this one (its Python 2 filter runs
    # tokenize over a string never closed); here it is refused as it is read
    (lambda h: h[:-1] + b"'", "SyntaxError"),
    # what numpy reads with a warning (Python 2's long ints), never written by Python 3
    (lambda h: h.replace(b"(10,), }", b"(10L,),}"), "SyntaxError"),
    (lambda h: h.replace(b"(10,), }", b"(-10,),}"), "non-negative"),
    (lambda h: h.replace(b"False", b"0    "), "fortran_order"),
    (lambda h: h.replace(b"'shape'", b"'shap' "), "descr, fortran_order and shape"),
    (lambda h: h[:8] + b"\xff\xff" + h[10:], "more than 10000"),
])
def test_a_damaged_header_is_refused_as_read(tmp_path, edit, reason):
    """Found by bench/fuzz shards-tamper (issue 16): a header that is not a Python literal
    went through numpy's Python 2 filter, seconds per file under the header lock."""
    path = tmp_path / "labels.npy"
    np.save(path, np.arange(10, dtype=np.int16))
    raw = path.read_bytes()
    head = raw[:raw.index(b"\n") + 1]
    damaged = edit(head)
    assert damaged != head and len(damaged) == len(head)
    path.write_bytes(damaged + raw[len(head):])
    with pytest.raises(ShardFormatError, match=reason) as info:
        load_npy(path)
    assert info.value.path == str(path)
