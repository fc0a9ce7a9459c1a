"""Slow pure-Python references for rasterfast.formatting: one drawing, one row at a time."""

from __future__ import annotations

import json

import numpy as np


def number_text(v, raw_coord: bool) -> str:
    """A number as the real files print it (see rasterfast.format_drawings)."""
    if not raw_coord:
        return str(int(v))
    d = float(np.float32(v))
    if d == 0.0 and np.signbit(d):
        return "-0.0"
    if d.is_integer() and abs(d) < 1e16:
        return str(int(d))
    return repr(d)


def drawing_text(batch, i: int, style: str) -> str:
    sep = ", " if style == "kaggle" else ","
    raw = batch.kind == "raw"
    timed = raw and batch.has_time
    so, do = batch.stroke_offsets, batch.drawing_offsets
    strokes = []
    for j in range(do[i], do[i + 1]):
        a, b = so[j], so[j + 1]
        lists = [batch.x[a:b], batch.y[a:b]] + ([batch.t[a:b]] if timed else [])
        texts = ["[" + sep.join(number_text(v, raw and k < 2) for v in lst.tolist()) + "]"
                 for k, lst in enumerate(lists)]
        strokes.append("[" + sep.join(texts) + "]")
    return "[" + sep.join(strokes) + "]"


def _ts(t, ndjson: bool) -> str:
    if np.isnat(t):
        return "null" if ndjson else ""
    s = str(np.datetime64(t, "us")).replace("T", " ")
    if ndjson:
        s = s.rstrip("0").rstrip(".")
        return f'"{s} UTC"'
    return s


def _csv(s: str) -> str:
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\r\n') else s


def kaggle_csv_text(batch, test: bool = False) -> str:
    lines = ["key_id,countrycode,drawing" if test else
             "countrycode,drawing,key_id,recognized,timestamp,word"]
    for i in range(len(batch)):
        d = drawing_text(batch, i, "kaggle")
        cc = _csv(str(batch.countrycode[i]))
        if test:
            lines.append(f'{batch.key_id[i]},{cc},"{d}"')
        else:
            rec = {1: "True", 0: "False"}.get(int(batch.recognized[i]), "")
            lines.append(f'{cc},"{d}",{batch.key_id[i]},{rec},{_ts(batch.timestamp[i], False)},'
                         f"{_csv(str(batch.word[i]))}")
    return "\n".join(lines) + "\n"


def ndjson_text(batch) -> str:
    lines = []
    for i in range(len(batch)):
        rec = {1: "true", 0: "false"}.get(int(batch.recognized[i]), "null")
        lines.append(
            f'{{"word":{json.dumps(str(batch.word[i]), ensure_ascii=False)},'
            f'"countrycode":{json.dumps(str(batch.countrycode[i]), ensure_ascii=False)},'
            f'"timestamp":{_ts(batch.timestamp[i], True)},"recognized":{rec},'
            f'"key_id":"{batch.key_id[i]}","drawing":{drawing_text(batch, i, "ndjson")}}}')
    return "\n".join(lines)
