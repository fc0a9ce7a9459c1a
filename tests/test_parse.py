"""rasterfast.parse_drawings against json.loads, malformed input, threads, fuzzing."""

import csv
import gzip
import json
import threading

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rasterfast import StrokeParseError, detect_kind, parse_drawings


def _kaggle_strings(data_dir, kind):
    folder = data_dir / "kaggle" / ("train_simplified" if kind == "simplified" else "train_raw")
    out = []
    for path in sorted(folder.iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="") as fh:
            out.extend(row["drawing"] for row in csv.DictReader(fh))
    return out


@pytest.fixture(scope="module")
def simplified_texts(data_dir):
    return _kaggle_strings(data_dir, "simplified")


@pytest.fixture(scope="module")
def raw_texts(data_dir):
    return _kaggle_strings(data_dir, "raw")


def assert_matches_json(batch, texts):
    """Every drawing equals json.loads of its text (raw x, y as float32, t as int)."""
    assert len(batch) == len(texts)
    for i, text in enumerate(texts):
        ref = json.loads(text)
        got = batch.drawing(i)
        assert len(got) == len(ref), i
        for stroke_ref, stroke in zip(ref, got, strict=True):
            assert stroke.shape == (len(stroke_ref), len(stroke_ref[0])), i
            if batch.kind == "raw":
                np.testing.assert_array_equal(stroke[:2].astype(np.float32),
                                              np.asarray(stroke_ref[:2], np.float32))
                np.testing.assert_array_equal(stroke[2], np.asarray(stroke_ref[2], np.int64))
            else:
                np.testing.assert_array_equal(stroke, np.asarray(stroke_ref))


def test_real_simplified_equal_json(simplified_texts):
    batch = parse_drawings(simplified_texts)
    assert batch.kind == "simplified" and batch.x.dtype == np.int16
    assert_matches_json(batch, simplified_texts)


def test_real_raw_equal_json(raw_texts):
    batch = parse_drawings(raw_texts, kind="raw")
    assert batch.x.dtype == np.float32 and batch.t.dtype == np.int32
    assert_matches_json(batch, raw_texts)


def test_input_forms_agree(simplified_texts):
    texts = simplified_texts[:300]
    ref = parse_drawings(texts)
    for form in ([t.encode() for t in texts], tuple(texts), pa.array(texts),
                 pa.array(texts, pa.large_string()), pa.chunked_array([texts[:100], texts[100:]]),
                 pa.array(texts).slice(0), np.array(texts)):
        got = parse_drawings(form)
        np.testing.assert_array_equal(got.x, ref.x)
        np.testing.assert_array_equal(got.stroke_offsets, ref.stroke_offsets)
        np.testing.assert_array_equal(got.drawing_offsets, ref.drawing_offsets)


def test_sliced_arrow_array(simplified_texts):
    arr = pa.array(simplified_texts[:50]).slice(10, 20)
    got = parse_drawings(arr)
    assert_matches_json(got, simplified_texts[10:30])


def test_separators_whitespace_and_numbers():
    texts = ["[[[1,2],[3,4]]]", " [ [ [ 1 , 2 ] , [ 3 , 4 ] ] ] \n", "[[[1, 2], [3, 4]]]",
             "\t[[[1,\r\n2],[3,4]]]"]
    b = parse_drawings(texts)
    for i in range(4):
        assert b.to_lists(i) == [[[1, 2], [3, 4]]]
    raw = parse_drawings(["[[[414.48199462890625, -3.5e2, 1E-3, 0, -0.0], "
                          "[1e10, 2.5, 7, 1.0e+2, 12345678901234567890], "
                          "[0, 5, -20, 2147483647, -2147483648]]]"],
                         kind="raw")
    s = raw.drawing(0)[0]
    np.testing.assert_array_equal(
        s[0].astype(np.float32), np.float32([414.48199462890625, -350.0, 0.001, 0.0, -0.0]))
    np.testing.assert_array_equal(
        s[1].astype(np.float32), np.float32([1e10, 2.5, 7, 100.0, 12345678901234567890.0]))
    np.testing.assert_array_equal(raw.t, [0, 5, -20, 2147483647, -2147483648])


def test_raw_float32_rounding_matches_json():
    # Decimals near float32 rounding ties and long mantissas: the result must be
    # float32(float(text)), whichever path the kernel takes.
    rng = np.random.default_rng(7)
    values = []
    for _ in range(3000):
        f = np.float32(rng.uniform(-5000, 5000))
        nxt = np.nextafter(f, np.float32(np.inf))
        mid = (float(f) + float(nxt)) / 2  # an exact tie in double
        values += [repr(float(f)), repr(mid), f"{mid:.25g}", f"{float(f):.9g}",
                   f"{rng.uniform(-1e30, 1e30):.17e}", f"{rng.uniform(0, 1):.30f}"]
    text = "[[[" + ",".join(values) + "],[" + ",".join(["0"] * len(values)) + "],[" + \
        ",".join(["0"] * len(values)) + "]]]"
    b = parse_drawings([text], kind="raw")
    np.testing.assert_array_equal(b.x, np.array([float(v) for v in values]).astype(np.float32))



def test_raw_decimals_every_shape_match_json():
    # The eight-characters-at-a-time path for raw decimals: every split of 1-19
    # digits between the integer part and the fraction, signs, leading zeros of
    # the fraction, doubles a few ulps either side of float32 ties (the fast
    # rounding test's margin is 64 ulps) and numbers in the last 8 bytes of a
    # text. Each must be float32(float(text)), whichever path reads it.
    rng = np.random.default_rng(11)
    values = []
    for n_int in range(1, 9):
        for n_frac in range(0, 20 - n_int):
            for _ in range(3):
                digits = "".join(rng.choice(list("0123456789"), n_int + n_frac))
                whole = digits[:n_int].lstrip("0") or "0"
                num = whole + ("." + digits[n_int:] if n_frac else "")
                values += [num, "-" + num]
    for _ in range(400):
        f = np.float32(rng.uniform(-3000, 3000))
        mid = (float(f) + float(np.nextafter(f, np.float32(np.inf)))) / 2
        for k in (-70, -65, -64, -63, -2, -1, 1, 2, 63, 64, 65, 70):
            values.append(repr(float(mid + k * np.spacing(mid))))
        values += [f"{mid:.17g}", f"{mid:.16g}", repr(float(f)), f"0.{rng.integers(0, 10**6):06d}"]
    text = "[[[" + ",".join(values) + "],[" + ",".join(["0"] * len(values)) + "],[" + \
        ",".join(["0"] * len(values)) + "]]]"
    expect = np.array([float(v) for v in values]).astype(np.float32)
    np.testing.assert_array_equal(parse_drawings([text], kind="raw").x, expect)
    # the same numbers one per drawing, at the very end of a short text
    tails = [f"[[[{v}],[{v}],[0]]]" for v in values]
    b = parse_drawings(tails, kind="raw")
    np.testing.assert_array_equal(b.x, expect)
    np.testing.assert_array_equal(b.y, expect)

MALFORMED = [
    # (text, kind, expected reason fragment, byte offset or None)
    ("[[[1, 2], [3, 4]]", "simplified", "truncated", 17),
    ("[[[1, 2], [3, 4]]]]", "simplified", "unexpected text after the drawing", 18),
    ("[[[1, 2], [3, 4]]] x", "simplified", "unexpected text", 19),
    ("[[[1, 2], [3]]]", "simplified", "the y list of a stroke has 1 values, but x has 2", None),
    ("[[[1], [3, 4]]]", "simplified", "more than 1 values, but x has 1", None),
    ("[[[], []]]", "simplified", "empty stroke", None),
    ("[]", "simplified", "empty drawing", None),
    ("", "simplified", "empty text", 0),
    ("   ", "simplified", "truncated", None),
    ("[[[1, x], [3, 4]]]", "simplified", "expected a number, found 'x'", 6),
    ("[[[1, 2], [3, NaN]]]", "simplified", "NaN and Infinity", 14),
    ("[[[1.5, 2], [3, 4]]]", "raw", "coordinate list", None),
    ("[[[1, 2], [3, 4], [5, 6]]]", "raw", None, None),  # valid raw
    ("[[[Infinity], [3], [0]]]", "raw", "NaN and Infinity", 3),
    ("[[[-Infinity], [3], [0]]]", "raw", "NaN and Infinity", None),
    ("[[[1, 256], [3, 4]]]", "simplified", "x coordinate outside 0-255", 6),
    ("[[[1, 2], [-3, 4]]]", "simplified", "y coordinate outside 0-255", 11),
    ("[[[1.5, 2], [3, 4]]]", "simplified", "expected an integer in the x list", 3),
    ("[[[1e2], [3]]]", "simplified", "expected an integer", None),
    ("[[[1, 2], [3, 4], [5, 6]]]", "simplified", "more than 2 coordinate lists", None),
    ("[[[1, 2], [3, 4]]]", "raw", "has 2 coordinate list(s); raw strokes have 3", None),
    ("[[[1e39], [3], [0]]]", "raw", "too large for the x column (float32)", 3),
    ("[[[1], [3], [2147483648]]]", "raw", "too large for the t column", None),
    ("[[[1], [3], [1.5]]]", "raw", "expected an integer in the t list", None),
    ("[[[01], [3], [0]]]", "raw", "malformed number", None),
    ("[[[1.], [3], [0]]]", "raw", "malformed number", None),
    ("[[[1e], [3], [0]]]", "raw", "malformed number", None),
    ("[[[-], [3], [0]]]", "raw", "malformed number", None),
    ("[[[1 2], [3 4]]]", "simplified", "expected ',' or ']' inside a coordinate list", None),
    ("[[[1, 2] [3, 4]]]", "simplified", "expected ',' or ']' after a coordinate list", None),
    ("[[[1], [2]] [[3], [4]]]", "simplified", "expected ',' or ']' after a stroke", None),
    ("{\"x\": 1}", "simplified", "expected '[' opening the drawing, found '{'", 0),
    ("[1, 2]", "simplified", "expected '[' opening a stroke, found '1'", 1),
    ("[[1, 2]]", "simplified", "expected '[' opening a coordinate list, found '1'", 2),
    ("[[[[[[[[[[[[1]]]]]]]]]]]]", "simplified", "expected a number, found '['", 3),
    ("[[[1, 2], [3, 4]],]", "simplified", "expected '[' opening a stroke, found ']'", None),
    ("[[[1, 2,], [3, 4]]]", "simplified", "expected a number, found ']'", None),
    ("[[[\"1\"], [2]]]", "simplified", "expected a number, found '\"'", 3),
    ("[[[1], [2]]]\x00", "simplified", "unexpected text after the drawing: byte 0x00", None),
    ("[[[\xff], [2]]]", "simplified", "expected a number", None),
    ("[[[1], [2]]], [[[3], [4]]]", "simplified", "unexpected text", None),
]


@pytest.mark.parametrize("text,kind,reason,offset", MALFORMED,
                         ids=[f"{i}" for i in range(len(MALFORMED))])
def test_malformed_raise(text, kind, reason, offset):
    if reason is None:  # the control: a valid drawing of that kind
        assert len(parse_drawings([text], kind=kind)) == 1
        return
    with pytest.raises(StrokeParseError) as info:
        good = "[[[0], [0], [0]]]" if kind == "raw" else "[[[0], [0]]]"
        parse_drawings([good, text], kind=kind, source="my.csv")
    err = info.value
    assert reason in err.reason, err.reason
    assert err.source == "my.csv" and err.record == 1
    assert isinstance(err, ValueError)
    assert "my.csv, record 1" in str(err)
    if offset is not None:
        assert err.offset == offset


def test_malformed_count(request):
    assert sum(1 for _, _, r, _ in MALFORMED if r) >= 30


@pytest.mark.parametrize("on_error", ["skip", "warn"])
def test_skip_keeps_the_good_ones(on_error):
    good = "[[[0, 10], [0, 10]]]"
    texts = [good] + [t for t, k, r, _ in MALFORMED if r and k == "simplified"] + [good, None]
    if on_error == "warn":
        with pytest.warns(UserWarning, match=r"skipped \d+ bad drawings"):
            b = parse_drawings(texts, on_error=on_error)
    else:
        b = parse_drawings(texts, on_error=on_error)
    assert len(b) == 2
    assert len(b) + len(b.rejects) == len(texts)
    assert list(b.record) == [0, len(texts) - 2]
    assert [r.record for r in b.rejects] == list(range(1, len(texts) - 2)) + [len(texts) - 1]
    assert b.rejects[-1].reason == "missing drawing (null)"
    assert b.to_lists(1) == json.loads(good)


def test_limits():
    long = "[[[" + ",".join(["1"] * 100) + "],[" + ",".join(["1"] * 100) + "]]]"
    with pytest.raises(StrokeParseError, match="more than 50 points"):
        parse_drawings([long], max_points=50)
    many = "[" + ",".join(["[[1],[1]]"] * 20) + "]"
    with pytest.raises(StrokeParseError, match="more than 10 strokes"):
        parse_drawings([many], max_strokes=10)
    assert len(parse_drawings([long, many])) == 2


def test_huge_number_text_does_not_hang():
    text = "[[[" + "9" * 1_000_000 + "], [1], [0]]]"
    with pytest.raises(StrokeParseError):
        parse_drawings([text], kind="raw")


def test_bad_arguments():
    with pytest.raises(TypeError, match="wrap a single drawing"):
        parse_drawings("[[[1],[2]]]")
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        parse_drawings(["[[[1],[2]]]", 5])
    with pytest.raises(ValueError, match="kind must be one of"):
        parse_drawings(["[[[1],[2]]]"], kind="vector")
    with pytest.raises(ValueError, match="on_error must be one of"):
        parse_drawings(["[[[1],[2]]]"], on_error="ignore")
    with pytest.raises(TypeError, match="Arrow array of int64"):
        parse_drawings(pa.array([1, 2]))


def test_empty_input():
    b = parse_drawings([])
    assert len(b) == 0 and b.num_points == 0


def test_detect_kind(simplified_texts, raw_texts):
    assert detect_kind(simplified_texts[0]) == "simplified"
    assert detect_kind(raw_texts[0]) == "raw"
    with pytest.raises(StrokeParseError):
        detect_kind("not json")


def test_threads_identical(raw_texts):
    texts = raw_texts[:2000]
    ref = parse_drawings(texts, kind="raw")
    results = [None] * 4

    def work(i):
        results[i] = parse_drawings(texts, kind="raw")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        for name in ("x", "y", "t", "stroke_offsets", "drawing_offsets"):
            np.testing.assert_array_equal(getattr(r, name), getattr(ref, name))


# -- round trips: formatting any valid drawing and parsing it gives it back ------------------

coords = st.integers(0, 255)
f32 = st.floats(-1e6, 1e6, allow_nan=False, width=32)
times = st.integers(-2**31, 2**31 - 1)


@st.composite
def simplified_drawings(draw):
    strokes = []
    for _ in range(draw(st.integers(1, 6))):
        n = draw(st.integers(1, 30))
        strokes.append([draw(st.lists(coords, min_size=n, max_size=n)),
                        draw(st.lists(coords, min_size=n, max_size=n))])
    return strokes


@st.composite
def raw_drawings(draw):
    strokes = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(1, 20))
        strokes.append([draw(st.lists(f32, min_size=n, max_size=n)),
                        draw(st.lists(f32, min_size=n, max_size=n)),
                        draw(st.lists(times, min_size=n, max_size=n))])
    return strokes


SEPARATORS = [(", ", ": "), (",", ":")]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(simplified_drawings(), min_size=1, max_size=5), st.sampled_from(SEPARATORS))
def test_roundtrip_simplified(drawings, sep):
    texts = [json.dumps(d, separators=sep) for d in drawings]
    b = parse_drawings(texts)
    assert [b.to_lists(i) for i in range(len(b))] == drawings


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(raw_drawings(), min_size=1, max_size=4), st.sampled_from(SEPARATORS),
       st.sampled_from(["repr", "g9", "e"]))
def test_roundtrip_raw(drawings, sep, style):
    fmt = {"repr": repr, "g9": lambda v: f"{v:.9g}", "e": lambda v: f"{v:.12e}"}[style]
    texts = []
    for d in drawings:
        strokes = ["[" + sep[0].join("[" + sep[0].join(fmt(float(v)) for v in lst) + "]"
                                     for lst in s[:2])
                   + sep[0] + "[" + sep[0].join(str(v) for v in s[2]) + "]]" for s in d]
        texts.append("[" + sep[0].join(strokes) + "]")
    b = parse_drawings(texts, kind="raw")
    for i, d in enumerate(drawings):
        for s, got in zip(d, b.drawing(i), strict=True):
            expect = np.float32([float(fmt(float(v))) for v in s[0]])
            np.testing.assert_array_equal(got[0].astype(np.float32), expect)
            np.testing.assert_array_equal(got[2], np.asarray(s[2], np.int64))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(alphabet="[]0123456789,. -eE\n", max_size=80))
def test_fuzz_never_crashes(blob):
    # Any bytes either parse to what json.loads says or give a StrokeParseError.
    for kind in ("simplified", "raw"):
        try:
            b = parse_drawings([blob], kind=kind)
        except StrokeParseError:
            continue
        ref = json.loads(blob)
        assert len(b) == 1 and len(b.drawing(0)) == len(ref)


# -- lists of str / bytes read in place (kernel._parse_items) vs the packed buffer ------------

from rasterfast import StrokeBatch  # noqa: E402
from rasterfast._ext import _parse as _kernel  # noqa: E402
from rasterfast.parse import _pack, parse_buffer  # noqa: E402

_COLUMNS = ("x", "y", "t", "stroke_offsets", "drawing_offsets", "record", "key_id", "label",
            "source_id")


def _packed(texts, kind="simplified", on_error="raise", source="<input>", **limits):
    """parse_drawings as it was before the in-place path: every text packed into one
    buffer (``_pack``), then the buffer kernel."""
    data, offsets, valid = _pack(texts)
    columns, kept, rejects = parse_buffer(data, offsets, valid, kind, on_error, source=source,
                                          **limits)
    return StrokeBatch.from_columns(**columns, sources=(source,), rejects=rejects, record=kept)


def _outcome(fn, *args, **kwargs):
    """A batch, or the exception's type, message and fields."""
    try:
        return fn(*args, **kwargs)
    except (StrokeParseError, TypeError, ValueError) as err:
        return (type(err), str(err), getattr(err, "record", None), getattr(err, "offset", None))


def assert_same_outcome(got, ref):
    if isinstance(ref, tuple) or isinstance(got, tuple):
        assert got == ref
        return
    assert got.kind == ref.kind and len(got) == len(ref)
    for name in _COLUMNS:
        a, b = getattr(got, name), getattr(ref, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert got.rejects == ref.rejects
    assert got.sources == ref.sources


def _reads_in_place(texts, kind="simplified"):
    return _kernel._parse_items(tuple(texts), kind == "raw", 10**6, 65535, False) is not None


@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_in_place_equals_buffer_real(kind, simplified_texts, raw_texts):
    texts = simplified_texts if kind == "simplified" else raw_texts
    assert _reads_in_place(texts[:10], kind)
    got = parse_drawings(texts, kind)
    assert_same_outcome(got, _packed(texts, kind))
    assert_same_outcome(got, parse_drawings(pa.array(texts), kind))
    assert_same_outcome(parse_drawings([t.encode() for t in texts], kind), got)


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_in_place_equals_buffer_malformed(on_error):
    for kind in ("simplified", "raw"):
        good = "[[[0], [0], [0]]]" if kind == "raw" else "[[[0], [0]]]"
        cases = [t for t, k, _, _ in MALFORMED if k == kind]
        # each case alone, after a good one, and all of them in one list
        for texts in [[t] for t in cases] + [[good, t] for t in cases] + [[good, *cases, good]]:
            ref = _outcome(_packed, texts, kind, on_error, source="my.csv")
            got = _outcome(parse_drawings, texts, kind, on_error, source="my.csv")
            assert_same_outcome(got, ref)
            got = _outcome(parse_drawings, [t.encode("utf-8") for t in texts], kind, on_error,
                           source="my.csv")
            assert_same_outcome(got, ref)


def test_in_place_equals_buffer_limits_and_lone_lists():
    long = "[[[" + ",".join(["1"] * 100) + "],[" + ",".join(["1"] * 100) + "]]]"
    many = "[" + ",".join(["[[1],[1]]"] * 20) + "]"
    lone = "[[[" + "1," * 1000 + "1]]]"  # an x list of half the text, then no y
    for texts, kw in (([long, many], {"max_points": 50}), ([many, long], {"max_strokes": 10}),
                      ([lone, long, lone + " "], {}), (["[[[1,2],[3,4]]]"] * 3 + [lone], {})):
        assert_same_outcome(_outcome(parse_drawings, texts, on_error="skip", **kw),
                            _outcome(_packed, texts, on_error="skip", **kw))


def test_lone_long_list_is_a_grammar_error_not_capacity():
    # An x list longer than a quarter of the text (no y list after it) used to
    # overflow the points capacity: "internal error: output buffer too small".
    lone = "[[[" + "1," * 1000 + "1]]]"
    for texts in ([lone], [lone.encode()], pa.array([lone])):
        with pytest.raises(StrokeParseError, match="has 1 coordinate list"):
            parse_drawings(texts)
    with pytest.raises(StrokeParseError, match="y list of a stroke has 1 values, but x has 1001"):
        parse_drawings(["[[[" + "1," * 1000 + "1], [1]]]"])


class _Str(str):
    pass


MIXED = {
    "ascii and non-ascii str": ["[[[1, 2], [3, 4]]]", "[[[1], [2]]] \u00e9", "[[[5], [6]]]"],
    "non-ascii str only": ["[[[1], [2]]]\u2028"],
    "str and None": ["[[[1, 2], [3, 4]]]", None, "[[[5], [6]]]"],
    "None first": [None, "[[[5], [6]]]"],
    "bytes": [b"[[[1, 2], [3, 4]]]", b"[[[5], [6]]]", b"[[[\xff], [2]]]"],
    "bytes and None": [b"[[[5], [6]]]", None],
    "str and bytes": ["[[[1, 2], [3, 4]]]", b"[[[5], [6]]]"],
    "bytes and bytearray": [b"[[[1, 2], [3, 4]]]", bytearray(b"[[[5], [6]]]")],
    "memoryview": [memoryview(b"[[[5], [6]]]")],
    "str subclass": [_Str("[[[5], [6]]]"), "[[[1], [2]]]"],
    "str and int": ["[[[1], [2]]]", 5],
    "int first": [5, "[[[1], [2]]]"],
    "empty texts": ["", "", "[[[1], [2]]]"],
    "empty list": [],
    "surrogate": ["[[[1], [2]]]\udc80"],
}


@pytest.mark.parametrize("name", list(MIXED))
@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_mixed_lists_behave_as_before(name, on_error):
    texts = MIXED[name]
    for form in (texts, tuple(texts)):
        ref = _outcome(_packed, form, on_error=on_error)
        assert_same_outcome(_outcome(parse_drawings, form, on_error=on_error), ref)
    # the two items of the in-place kind read in place; the others go the general way
    in_place = all((type(t) is str and t.isascii()) or type(t) is bytes for t in texts)
    assert _reads_in_place(texts) == in_place


def test_numpy_string_arrays_behave_as_before():
    for arr in (np.array(["[[[1, 2], [3, 4]]]", "[[[5], [6]]]"]),
                np.array([b"[[[1, 2], [3, 4]]]", b"[[[5], [6]]]"]),
                np.array(["[[[1], [2]]]", "[[[1], [2]]]\u00e9"])):
        assert_same_outcome(_outcome(parse_drawings, arr, on_error="skip"),
                            _outcome(_packed, arr, on_error="skip"))


def test_argument_errors_keep_their_order():
    # a bad item is reported before a bad kind, as before the in-place path
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        parse_drawings(["[[[1],[2]]]", 5], kind="vector")
    with pytest.raises(ValueError, match="kind must be one of"):
        parse_drawings(["[[[1],[2]]]"], kind="vector")
    with pytest.raises(ValueError, match="max_points must be a positive integer"):
        parse_drawings(["[[[1],[2]]]"], max_points=0)
    with pytest.raises(ValueError, match="max_strokes must be a positive integer"):
        parse_drawings([b"[[[1],[2]]]"], max_strokes=-1)


@pytest.mark.parametrize("kind", ["simplified", "raw"])
def test_kernel_outputs_own_their_memory(kind):
    good = "[[[0, 1], [0, 1], [0, 1]]]" if kind == "raw" else "[[[0, 1], [0, 1]]]"
    raw = kind == "raw"
    dtypes = ([np.float32] * 2 if raw else [np.int16] * 2) + [np.int32] + [np.int64] * 4
    for texts, npts, nstrokes, nkept, nerr in (([good] * 3, 6, 3, 3, 0), ([], 0, 0, 0, 0),
                                              (["x", good], 2, 1, 1, 1), (["x"], 0, 0, 0, 1)):
        data, offsets, valid = _pack(texts) if texts else (np.zeros(0, np.uint8),
                                                           np.zeros(1, np.int64),
                                                           np.zeros(0, np.uint8))
        results = [_kernel._parse(data, offsets[:-1], offsets[1:], valid, raw, 10**6, 65535,
                                  False)]
        results.append(_kernel._parse_items(tuple(texts), raw, 10**6, 65535, False))
        for result in results:
            lengths = [npts, npts, npts if raw else 0, nstrokes + 1, nkept + 1, nkept, nerr]
            for arr, dtype, n in zip(result, dtypes, lengths, strict=True):
                assert arr.dtype == dtype and len(arr) == n
                assert arr.base is None and arr.flags.owndata
                assert arr.flags.writeable and arr.flags.c_contiguous
                assert arr.nbytes == arr.size * arr.itemsize
            assert result[-1].shape == (nerr, 6)
            result[0][...] = 7  # writeable, and its own: the next parse is unaffected


def test_in_place_list_mutated_by_another_thread(simplified_texts):
    # The kernel reads a snapshot (a tuple holding every item) without the GIL:
    # a thread replacing the list's items meanwhile cannot free a text under it.
    texts = list(simplified_texts[:3000])
    ref = parse_drawings(list(texts))
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            for i in range(0, len(texts), 7):
                texts[i] = "".join(texts[i])  # a fresh, equal string; the old one freed
    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(20):
            assert_same_outcome(parse_drawings(texts), ref)
    finally:
        stop.set()
        worker.join()
