"""Fuzz targets of :func:`rasterfast.parse_drawings`: both kinds, every input form and policy.

An input is several drawing texts, one per line (a line that is exactly ``\\x00`` is a
missing drawing, None). Each is parsed as a list of bytes, a list of str (the bytes
read as Latin-1, so that non-ASCII text is covered) and a sliced pyarrow binary array,
under ``on_error`` skip, raise and warn, and once more with small limits; every reading
must agree with :func:`_contract.reference_drawing` of ``json.loads``.
"""

from __future__ import annotations

import re
import warnings

import pyarrow as pa

from rasterfast import parse_drawings

from ._contract import (
    ContractViolation,
    batch_drawing,
    cached_reference,
    check_counted,
    check_error,
    json_strict,
    real_drawings,
    reference_drawing,
    require,
    same_drawing,
)

MAX_TEXTS = 8
LONG_NUMBER = re.compile(rb"[-+0-9.eE]{401,}")

EDGE_CASES = [
    b"[[[0, 255], [10, 10]]]", b"[[[5],[6]],[[1,2],[3,4]]]", b"[]", b"[[]]", b"[[[],[]]]",
    b"", b"\x00", b"null", b"[[[1],[2]]] ", b" [[[1],[2]]]", b"[[[1],[2]]],", b"[[[1],[2]",
    b"[[[-0],[0]]]", b"[[[1.0],[2]]]", b"[[[1e2],[2]]]", b"[[[256],[2]]]", b"[[[1],[2],[3]]]",
    b"[[[1, 2],[3]]]", b"[[[1],[2]]]\n[[[3],[4]]]", b"[[[1.5, -2.25],[3, 4],[0, 16]]]",
    b"[[[1e309],[1],[0]]]", b"[[[NaN],[1],[0]]]", b"[[[1],[1],[2147483648]]]",
    b"[[[3.4028236e38],[1],[0]]]", b"[[[0.1],[1e-50],[-0]]]", b"[\t[[1]\r,\n[2]]]",
    b"[[[" + b"1," * 300 + b"1],[" + b"2," * 300 + b"2],[" + b"0," * 300 + b"0]]]",
    b"[" * 5000, b"[[[" + b"9" * 500 + b"],[1],[0]]]",
]


def texts_of(data: bytes) -> list:
    """The drawing texts an input stands for."""
    lines = data.split(b"\n")[:MAX_TEXTS]
    return [None if line == b"\x00" else line for line in lines]


def show(text) -> str:
    """A text for a message, cut to 200 bytes."""
    return "None" if text is None else repr(text[:200])


@cached_reference
def _reference_one(text, kind, max_points, max_strokes):
    # the parser's one limit beyond JSON: a number of more than 400 characters is
    # malformed (ext/_parse.pyx MAX_NUMBER_CHARS), so that no text makes it slow
    if text is None or LONG_NUMBER.search(text):
        return None
    try:
        return reference_drawing(json_strict(text), kind, max_points, max_strokes)
    except ValueError:
        return None


def _reference(texts, kind, max_points, max_strokes):
    # cached per text: most texts of a mutated input are unchanged
    return [_reference_one(text, kind, max_points, max_strokes) for text in texts]


def _forms(texts):
    yield "bytes", texts
    yield "str", [None if t is None else t.decode("latin-1") for t in texts]
    arr = pa.array([b"pad"] + texts, pa.binary()).slice(1)    # offset != 0
    yield "arrow", arr


def check_parse(data: bytes, kind: str):
    """Run one input through every form and policy; raise on a broken contract."""
    texts = texts_of(data)
    n = len(texts)
    outcome = []
    for max_points, max_strokes in ((10**6, 65535), (3, 2)):
        expect = _reference(texts, kind, max_points, max_strokes)
        str_expect = None
        for form, arg in _forms(texts):
            what = f"{kind}/{form}/max_points={max_points}"
            if form == "str":   # Latin-1 text: a non-ASCII char is not JSON outside a string
                str_expect = _reference([None if t is None else t.encode("utf-8")
                                         for t in arg], kind, max_points, max_strokes)
            ref = str_expect if form == "str" else expect
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                b = parse_drawings(arg, kind, "skip", max_points=max_points,
                                   max_strokes=max_strokes)
            kept = b.record.tolist()
            check_counted(kept, b.rejects, n, what, breaks=False)
            for i, rec in enumerate(kept):
                require(ref[rec] is not None, f"{what}: text {rec} accepted, the reference "
                        f"rejects it: {show(texts[rec])}")
                same_drawing(batch_drawing(b, i), ref[rec], f"{what}: text {rec}")
            for r in b.rejects:
                require(ref[r.record] is None, f"{what}: text {r.record} rejected "
                        f"({r.reason}), the reference accepts it: {show(texts[r.record])}")
                require(r.offset >= -1 and (texts[r.record] is None
                                            or r.offset <= 2 * len(texts[r.record])),
                        f"{what}: reject offset {r.offset} outside the text")
            try:
                raised = parse_drawings(arg, kind, "raise", max_points=max_points,
                                        max_strokes=max_strokes)
            except Exception as err:  # noqa: BLE001 - check_error says which are allowed
                check_error(err, "<input>", n)
                require(bool(b.rejects), f"{what}: raise raised, skip kept all: {err}")
                require((err.record, err.reason) == (b.rejects[0].record, b.rejects[0].reason),
                        f"{what}: raise gave record {err.record} ({err.reason}); skip's "
                        f"first reject is {b.rejects[0]}")
            else:
                require(not b.rejects and len(raised) == len(b), f"{what}: raise accepted "
                        f"{len(raised)}, skip {len(b)} with {len(b.rejects)} rejects")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                warned = parse_drawings(arg, kind, "warn", max_points=max_points,
                                        max_strokes=max_strokes)
            require(len(warned) == len(b) and len(caught) == (1 if b.rejects else 0),
                    f"{what}: warn kept {len(warned)} with {len(caught)} warnings; skip kept "
                    f"{len(b)} with {len(b.rejects)} rejects")
            outcome.append(tuple(r.reason[:24] for r in b.rejects))
    return hash(tuple(outcome))


def seeds_for(kind: str):
    def seeds() -> list[bytes]:
        real = list(real_drawings(kind, 24))
        joined = [b"\n".join(real[i:i + 3]) for i in range(0, len(real), 3)]
        return real + joined + EDGE_CASES
    return seeds


def run_simplified(data: bytes):
    return check_parse(data, "simplified")


def run_raw(data: bytes):
    return check_parse(data, "raw")


TARGETS = [
    ("parse_simplified", seeds_for("simplified"), run_simplified),
    ("parse_raw", seeds_for("raw"), run_raw),
]

__all__ = ["TARGETS", "check_parse", "texts_of", "ContractViolation"]
