"""rasterfast.errors: one status enum for all kernels, one map from status to exception (#16)."""

import re
from pathlib import Path

import numpy as np
import pytest

from rasterfast import InputReadError, ShardFormatError, StrokeBatch, StrokeParseError
from rasterfast.errors import STATUS_ERRORS, Status, status_error, status_reason

EXT = Path(__file__).resolve().parent.parent / "ext"


def _pxd_names() -> list[str]:
    """The statuses as ext/_status.pxd declares them, read from the source."""
    text = (EXT / "_status.pxd").read_text()
    body = text[text.index("cdef enum:"):]
    return [n for n in re.findall(r"^    ([A-Z][A-Z0-9_]*)\b", body, re.M) if n != "N_STATUSES"]


def test_python_enum_is_the_pxd_enum():
    names = _pxd_names()
    assert len(names) > 50                       # the parse found the list
    assert [s.name for s in Status] == names     # same names, same order
    assert [int(s) for s in Status] == list(range(len(names)))


def test_every_status_has_one_exception_and_message():
    assert Status.OK not in STATUS_ERRORS
    missing = [s.name for s in Status if s != Status.OK and s not in STATUS_ERRORS]
    assert missing == []
    assert set(STATUS_ERRORS) == set(Status) - {Status.OK}


def test_kernels_take_their_statuses_from_the_one_enum():
    """No kernel numbers statuses of its own, and every status name a kernel uses is one."""
    known = {s.name for s in Status}
    used = set()
    for path in sorted(EXT.glob("_*.p*")):
        if path.name.startswith("_status.") or path.suffix not in (".pyx", ".pxd"):
            continue
        text = path.read_text()
        own = re.findall(r"^\s+((?:E|J|B)_[A-Z0-9_]+)\s*=\s*\d", text, re.M)
        assert own == [], f"{path.name} numbers statuses of its own: {own}"
        for paren, plain in re.findall(r"from _status cimport (?:\(([^)]*)\)|([^(\n]*)\n)", text):
            used |= {name.strip() for name in (paren or plain).split(",")}
        # any status-like name the kernel uses must come from the enum
        names = set(re.findall(r"\b((?:E|J|B)_[A-Z][A-Z0-9_]*)\b", text))
        assert names <= known, f"{path.name} uses statuses not in ext/_status.pxd: {names - known}"
    assert used - {""} <= known
    assert {"E_SHAPE", "E_EXPECT_DRAWING", "J_BLANK", "B_INCOMPLETE", "E_STORE_ROW"} <= used


def _context(batch):
    return {"batch": batch, "kind": "raw", "text_len": 5, "detail2": 3, "detail3": 2,
            "caller": "rasterfast.tests", "path": "a.strokes", "row": 4, "byte": 10, "left": 3,
            "key_id": 7, "points": 9, "max_len": 8, "max_points": 100, "drawing": 1}


@pytest.mark.parametrize("status", [s for s in Status if s != Status.OK], ids=lambda s: s.name)
def test_each_message_needs_only_what_it_declares(status):
    batch = StrokeBatch.from_lists([[[[0.0, 1.0], [0.0, 1.0], [0, 1]]]] * 2, "raw")
    entry = STATUS_ERRORS[status]
    # IndexError: E_INDEX, as StrokeBatch.take's own check of the indices
    assert issubclass(entry.error, (ValueError, IndexError, RuntimeError, MemoryError))
    full = _context(batch)
    assert set(entry.context) <= set(full), entry.context
    declared = {name: full[name] for name in entry.context}
    reason = status_reason(status, 1, **declared)     # a name used but not declared fails here
    assert isinstance(reason, str) and len(reason) > 10
    err = status_error(int(status), 1, source="f.ndjson", record=3, offset=2, **declared)
    assert type(err) is entry.error
    assert reason in str(err)
    if isinstance(err, StrokeParseError):
        assert (err.source, err.record, err.reason) == ("f.ndjson", 3, reason)
    if isinstance(err, ShardFormatError):
        assert err.path == "a.strokes"


def test_missing_context_and_unknown_status_are_bugs_not_crashes():
    with pytest.raises(RuntimeError, match="E_SEQUENCE_LONG needs"):
        status_reason(Status.E_SEQUENCE_LONG, 0)
    with pytest.raises(RuntimeError, match="unknown kernel status 9999"):
        status_reason(9999, 0)


def test_messages_users_see():
    batch = StrokeBatch.from_lists([[[[0.0, 1.0], [0.0, 1.0], [0, 1]]],
                                    [[[2.0, np.nan], [3.0, 4.0], [0, 1]]]], "raw")
    assert status_reason(Status.E_NONFINITE_POINT, 3, batch=batch) == (
        "drawing 1 has a NaN or infinite coordinate at point 1 (x=nan, y=4.0)")
    assert status_reason(Status.E_TRUNCATED, -1, text_len=0) == "empty text: no drawing"
    assert status_reason(Status.E_EXPECT_NUMBER, ord("x")) == "expected a number, found 'x'"
    err = status_error(Status.B_NO_STROKES, source="cat.bin", record=5, byte=120)
    assert isinstance(err, InputReadError) and err.record == 5
    assert str(err) == ("cat.bin, record 5: record has no strokes: corrupt data (record at "
                        "byte 120); the rest of the file cannot be read")
    assert "at drawing" not in status_reason(Status.E_DRAWING_OFFSETS, -1)


def test_stub_lists_the_same_statuses():
    stub = (EXT.parent / "rasterfast" / "_ext" / "_status.pyi").read_text()
    listed = re.findall(r"^    ([A-Z][A-Z0-9_]*) = (\d+)$", stub, re.M)
    assert [(name, int(v)) for name, v in listed] == [(s.name, int(s)) for s in Status]
